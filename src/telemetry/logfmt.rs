//! A logfmt event formatter: `at=<level> msg="..." key=value ...`, values quoted where needed.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::request_scope::RequestScope;

pub(crate) struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        writer.write_str("at=")?;
        writer.write_str(level)?;
        let mut visitor = LineVisitor {
            line: &mut writer,
            scratch: String::new(),
            result: Ok(()),
            has_request_id: false,
        };
        event.record(&mut visitor);
        visitor.result?;
        if !visitor.has_request_id {
            RequestScope::with_current(|scope| push_scope(&mut writer, scope)).transpose()?;
        }
        if !event.metadata().target().starts_with("applink_mesh") {
            push_pair(&mut writer, "target", event.metadata().target())?;
        }
        writer.write_char('\n')
    }
}

/// Writes each field as it is visited, straight into the line.
struct LineVisitor<'a, W> {
    line: &'a mut W,
    /// For values that arrive as `Debug` and must be looked at before they are written.
    scratch: String,
    result: fmt::Result,
    /// The event names its request itself (the per-request line does).
    has_request_id: bool,
}

impl<W: Write> Visit for LineVisitor<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        self.has_request_id |= field.name() == "request_id";
        self.result = if field.name() == "l2met" {
            // l2met measurements are pairs of their own (`count#mesh.requests=3 ...`), written bare.
            self.line
                .write_char(' ')
                .and_then(|()| self.line.write_str(value))
        } else {
            push_pair(self.line, key(field), value)
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.result.is_ok() {
            // itoa, not `write!`: the request line has five numbers, and `fmt` costs 3x as much.
            self.result = push_bare(self.line, key(field), itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.result.is_ok() {
            self.result = push_bare(self.line, key(field), itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.result.is_ok() {
            self.result = write!(self.line, " {}={value}", key(field));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.scratch.clear();
        let _ = write!(self.scratch, "{value:?}");
        self.result = push_pair(self.line, key(field), &self.scratch);
    }
}

/// The request a line is written for, when the event does not name it: ` request_id=… trace_id=…`.
fn push_scope(line: &mut impl Write, scope: &RequestScope) -> fmt::Result {
    push_pair(line, "request_id", &scope.request_id)?;
    if let Some(trace) = &scope.trace {
        write!(line, " trace_id={}", trace.trace_id())?;
    }
    Ok(())
}

fn key(field: &Field) -> &str {
    match field.name() {
        "message" => "msg",
        name => name,
    }
}

/// Appends ` key=value`, quoting and escaping the value when it needs it.
/// ` key=value` for a value that never needs quoting (a number).
fn push_bare(line: &mut impl Write, key: &str, value: &str) -> fmt::Result {
    line.write_str(" ")?;
    line.write_str(key)?;
    line.write_str("=")?;
    line.write_str(value)
}

pub(crate) fn push_pair(line: &mut impl Write, key: &str, value: &str) -> fmt::Result {
    // Whole strings, not characters: the line is a `dyn Write`, and every call goes through it.
    line.write_str(" ")?;
    line.write_str(key)?;
    line.write_str("=")?;
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'=' && c != b'\\');
    if plain {
        return line.write_str(value);
    }
    line.write_str("\"")?;
    // The runs between characters that need escaping are written as they are.
    let mut run_start = 0;
    for (at, c) in value.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            c if c.is_control() => "",
            _ => continue,
        };
        line.write_str(&value[run_start..at])?;
        if escaped.is_empty() {
            write!(line, "\\u{{{:x}}}", c as u32)?;
        } else {
            line.write_str(escaped)?;
        }
        run_start = at + c.len_utf8();
    }
    line.write_str(&value[run_start..])?;
    line.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::push_pair;

    #[test]
    fn quotes_only_where_needed() {
        let mut line = String::from("at=info");
        push_pair(&mut line, "path", "/a/b").unwrap();
        push_pair(&mut line, "msg", "two words").unwrap();
        push_pair(&mut line, "q", "say \"hi\"\n").unwrap();
        push_pair(&mut line, "empty", "").unwrap();
        push_pair(&mut line, "eq", "a=b").unwrap();
        push_pair(&mut line, "ctl", "a\u{1}é\\").unwrap();
        assert_eq!(
            line,
            r#"at=info path=/a/b msg="two words" q="say \"hi\"\n" empty="" eq="a=b" ctl="a\u{1}é\\""#
        );
    }
}
