//! Library lines a caller can cause by the thousand (docs/behaviour.md §8): the HTTP/2 library
//! writes a warning for each of a caller's protocol errors (an unsolicited PING ACK, a flood of
//! resets), so one connection could write thousands of lines a second. They are counted instead,
//! and the count is said at once the first time, then at most once a minute, and at exit for what
//! is left, as the other rate-limited warnings are. A filter naming `h2`
//! (`HEROKU_APPLINK_SERVICE_MESH_LOG=info,h2=debug`) shows them one by one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::{Level, Metadata};

use super::at_most::AtMostEvery;
use super::writer::LogWriter;

/// Counts the HTTP/2 library's warnings about callers and says how many, now and then.
pub(crate) struct CallerNoise {
    writer: LogWriter,
    json: bool,
    /// Counted since the last notice.
    counted: AtomicU64,
    notices: AtMostEvery,
}

impl CallerNoise {
    /// The counter, unless `filter` (the log filter) shows the library's lines itself (it names
    /// `h2`) or shows no warnings at all.
    pub(crate) fn for_filter(filter: &str, writer: LogWriter, json: bool) -> Option<CallerNoise> {
        let names_h2 = filter.split(',').any(|directive| {
            let target = directive.split('=').next().unwrap_or_default().trim();
            target == "h2" || target.starts_with("h2::")
        });
        let level = filter
            .split(',')
            .find(|directive| !directive.contains('='))
            .map(|level| level.trim().to_ascii_lowercase());
        let quiet = matches!(level.as_deref(), Some("error" | "off"));
        (!names_h2 && !quiet).then(|| CallerNoise {
            writer,
            json,
            counted: AtomicU64::new(0),
            notices: AtMostEvery::new(Duration::from_secs(60)),
        })
    }

    /// Whether the event is one of the library's warnings (or errors) about a caller.
    pub(crate) fn is_noise(metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("h2") && *metadata.level() <= Level::WARN
    }

    /// Counts one such event, and writes the notice when one is due. Called from the log filter:
    /// the notice goes straight to the writer's buffer, not through the subscriber again.
    pub(crate) fn count(&self) {
        self.counted.fetch_add(1, Ordering::Relaxed);
        if self.notices.due() {
            self.say();
        }
    }

    /// At exit: what was counted since the last notice.
    pub(crate) fn say_the_rest(&self) {
        if self.counted.load(Ordering::Relaxed) > 0 {
            self.say();
        }
    }

    fn say(&self) {
        let counted = self.counted.swap(0, Ordering::Relaxed);
        self.writer.push(notice(counted, self.json).as_bytes());
    }
}

fn notice(counted: u64, json: bool) -> String {
    let message = format!(
        "the HTTP/2 layer refused {counted} protocol errors of callers since the last notice \
         (said at most once a minute; HEROKU_APPLINK_SERVICE_MESH_LOG=info,h2=debug shows each)"
    );
    if json {
        format!(
            "{{\"level\":\"WARN\",\"message\":\"{message}\",\"protocol_errors\":{counted},\"target\":\"applink_mesh::log\"}}\n"
        )
    } else {
        format!("at=warn msg=\"{message}\" protocol_errors={counted}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::writer;

    #[test]
    fn the_notice_is_a_line_of_either_format() {
        let logfmt = notice(3, false);
        assert!(logfmt.starts_with("at=warn msg=\"the HTTP/2 layer refused 3 protocol errors"));
        assert!(logfmt.ends_with(" protocol_errors=3\n"));
        let json: serde_json::Value = serde_json::from_str(&notice(3, true)).unwrap();
        assert_eq!(json["protocol_errors"], 3);
        assert_eq!(json["level"], "WARN");
    }

    #[test]
    fn counted_unless_the_filter_shows_the_library_or_no_warnings() {
        let (out, _flusher) = writer::spawn(std::io::sink(), 1024, false);
        let counts = |filter: &str| CallerNoise::for_filter(filter, out.clone(), false).is_some();
        assert!(counts("info"));
        assert!(counts("warn,applink_mesh=debug"));
        assert!(counts("info,oauth2=debug"), "a target that merely holds h2");
        assert!(!counts("info,h2=debug"));
        assert!(!counts("info,h2::proto=trace"));
        assert!(!counts("error"));
        assert!(!counts("off"));
    }
}
