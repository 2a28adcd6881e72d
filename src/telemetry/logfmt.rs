//! A logfmt event formatter: `at=<level> msg="..." key=value ...`, values quoted where needed.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct Logfmt;

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
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let mut line = format!("at={level}");
        let mut visitor = LineVisitor { line: &mut line };
        event.record(&mut visitor);
        if !event.metadata().target().starts_with("applink_mesh") {
            push_pair(&mut line, "target", event.metadata().target());
        }
        writeln!(writer, "{line}")
    }
}

struct LineVisitor<'a> {
    line: &'a mut String,
}

impl Visit for LineVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "l2met" {
            // l2met measurements are pairs of their own (`count#mesh.requests=3 ...`), written bare.
            self.line.push(' ');
            self.line.push_str(value);
            return;
        }
        push_pair(self.line, key(field), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        push_pair(self.line, key(field), &format!("{value:?}"));
    }
}

fn key(field: &Field) -> &str {
    match field.name() {
        "message" => "msg",
        name => name,
    }
}

/// Appends ` key=value`, quoting and escaping the value when it needs it.
pub fn push_pair(line: &mut String, key: &str, value: &str) {
    line.push(' ');
    line.push_str(key);
    line.push('=');
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{{{:x}}}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_pair;

    #[test]
    fn quotes_only_where_needed() {
        let mut line = String::from("at=info");
        push_pair(&mut line, "path", "/a/b");
        push_pair(&mut line, "msg", "two words");
        push_pair(&mut line, "q", "say \"hi\"\n");
        push_pair(&mut line, "empty", "");
        push_pair(&mut line, "eq", "a=b");
        assert_eq!(
            line,
            r#"at=info path=/a/b msg="two words" q="say \"hi\"\n" empty="" eq="a=b""#
        );
    }
}
