//! Library lines a caller can cause by the thousand (docs/behaviour.md §8): the HTTP/2 library
//! writes a warning for each of a caller's protocol errors (an unsolicited PING ACK, a flood of
//! resets), so one connection could write thousands of lines a second. They are counted instead,
//! and the count is said at once the first time and then at most once a minute, as the other
//! rate-limited warnings are. A filter naming `h2` (`HEROKU_APPLINK_SERVICE_MESH_LOG=info,h2=debug`)
//! shows them one by one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{Level, Metadata};

use super::writer::LogWriter;

/// At most one notice in this long.
const NOTICE_EVERY: Duration = Duration::from_secs(60);

/// Counts the HTTP/2 library's warnings about callers and says how many, now and then.
pub(crate) struct CallerNoise {
    writer: LogWriter,
    json: bool,
    /// Counted since the last notice.
    counted: AtomicU64,
    last_notice: Mutex<Option<Instant>>,
}

impl CallerNoise {
    pub(crate) fn new(writer: LogWriter, json: bool) -> CallerNoise {
        CallerNoise {
            writer,
            json,
            counted: AtomicU64::new(0),
            last_notice: Mutex::new(None),
        }
    }

    /// Whether the event is one of the library's warnings (or errors) about a caller.
    pub(crate) fn is_noise(metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("h2") && *metadata.level() <= Level::WARN
    }

    /// Counts one such event, and writes the notice when one is due. Called from the log filter:
    /// the notice goes straight to the writer's buffer, not through the subscriber again.
    pub(crate) fn count(&self) {
        self.counted.fetch_add(1, Ordering::Relaxed);
        let Ok(mut last) = self.last_notice.try_lock() else {
            return;
        };
        if last.is_some_and(|at| at.elapsed() < NOTICE_EVERY) {
            return;
        }
        *last = Some(Instant::now());
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

    #[test]
    fn the_notice_is_a_line_of_either_format() {
        let logfmt = notice(3, false);
        assert!(logfmt.starts_with("at=warn msg=\"the HTTP/2 layer refused 3 protocol errors"));
        assert!(logfmt.ends_with(" protocol_errors=3\n"));
        let json: serde_json::Value = serde_json::from_str(&notice(3, true)).unwrap();
        assert_eq!(json["protocol_errors"], 3);
        assert_eq!(json["level"], "WARN");
    }
}
