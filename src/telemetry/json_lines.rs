//! JSON log lines: tracing-subscriber's JSON (fields at the top level), with the request a line
//! is written for added as top-level `request_id` (and `trace_id`) when the event does not name it.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::request_scope::RequestScope;

/// Wraps the JSON event format `F`.
pub(crate) struct JsonLines<F>(pub(crate) F);

impl<S, N, F> FormatEvent<S, N> for JsonLines<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(scope) = RequestScope::with_current(Clone::clone) else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // The event's own `request_id` (the per-request line's) wins. An escaped one inside a
        // string value reads `\"request_id\":`, which this does not match.
        match line.strip_prefix('{') {
            Some(rest) if !line.contains("\"request_id\":") => {
                writer.write_str("{\"request_id\":")?;
                writer.write_str(&json_string(&scope.request_id))?;
                if let Some(trace) = &scope.trace {
                    write!(writer, ",\"trace_id\":\"{}\"", trace.trace_id())?;
                }
                if !rest.starts_with('}') {
                    writer.write_char(',')?;
                }
                writer.write_str(rest)
            }
            _ => writer.write_str(&line),
        }
    }
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
