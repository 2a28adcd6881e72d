//! Log output that never holds up a request: each line is appended to a bounded buffer in memory,
//! and one thread of its own writes the buffer to stdout in batches (a write every
//! [`BATCH_EVERY`] at most, or sooner when [`FLUSH_AT`] bytes are waiting). When stdout does not
//! keep up (a stalled pipe, a slow log drain) and the buffer is full, new lines are dropped and
//! counted; once stdout moves again, the count is logged.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a batch collects lines before it is written.
const BATCH_EVERY: Duration = Duration::from_millis(50);
/// Waiting bytes that make the writer thread write at once.
const FLUSH_AT: usize = 64 * 1024;
/// The most bytes held for stdout; beyond it, lines are dropped.
pub(crate) const DEFAULT_LIMIT: usize = 1024 * 1024;
/// How long the last flush may take at exit before the sidecar exits anyway (a stalled stdout).
const LAST_FLUSH: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    dropped: u64,
    /// The writer thread waits for a first line (rather than for a batch to fill).
    idle: bool,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    limit: usize,
    json: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `MakeWriter` the log subscriber writes through. Cloning shares the same buffer.
#[derive(Clone)]
pub(crate) struct LogWriter {
    shared: Arc<Shared>,
}

/// Stops the writer thread after it has written everything still buffered.
pub(crate) struct LogFlusher {
    shared: Arc<Shared>,
    /// Disconnects when the writer thread has finished.
    finished: Option<mpsc::Receiver<()>>,
}

/// Starts the writer thread over `out`, holding at most `limit` bytes; `json` says how to word
/// the dropped-lines notice.
pub(crate) fn spawn(
    out: impl Write + Send + 'static,
    limit: usize,
    json: bool,
) -> (LogWriter, LogFlusher) {
    let shared = Arc::new(Shared {
        pending: Mutex::default(),
        wake: Condvar::new(),
        limit,
        json,
    });
    let (done, finished) = mpsc::channel::<()>();
    let spawned = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                write_batches(&shared, out);
                drop(done);
            })
    };
    if let Err(e) = spawned {
        // No thread: every line is dropped rather than written from a request's thread.
        eprintln!("heroku-applink-service-mesh: cannot start the log writer ({e}); logging is off");
        shared.lock().closed = true;
    }
    (
        LogWriter {
            shared: shared.clone(),
        },
        LogFlusher {
            shared,
            finished: Some(finished),
        },
    )
}

fn dropped_notice(dropped: u64, json: bool) -> String {
    let message = format!("dropped {dropped} log lines: stdout did not keep up");
    if json {
        format!(
            "{{\"level\":\"WARN\",\"message\":\"{message}\",\"dropped_log_lines\":{dropped},\"target\":\"applink_mesh::log\"}}\n"
        )
    } else {
        format!("at=warn msg=\"{message}\" dropped_log_lines={dropped}\n")
    }
}

fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let (dropped, closed) = {
            let mut pending = shared.lock();
            while pending.lines.is_empty() && pending.dropped == 0 && !pending.closed {
                pending.idle = true;
                pending = shared.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
            pending.idle = false;
            std::mem::swap(&mut batch, &mut pending.lines);
            (std::mem::take(&mut pending.dropped), pending.closed)
        };
        // A failed write (stdout closed) loses this batch; there is nowhere else to say so.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if dropped > 0 {
            let notice = dropped_notice(dropped, shared.json);
            let _ = out.write_all(notice.as_bytes()).and_then(|()| out.flush());
        }
        if closed && shared.lock().lines.is_empty() {
            return;
        }
        if !closed {
            // Let a batch collect, unless enough is already waiting.
            let pending = shared.lock();
            if pending.lines.len() < FLUSH_AT && !pending.closed {
                let _ = shared.wake.wait_timeout(pending, BATCH_EVERY);
            }
        }
    }
}

impl LogWriter {
    /// Appends a whole line (or drops and counts it when the buffer is full).
    pub(crate) fn push(&self, line: &[u8]) {
        let mut pending = self.shared.lock();
        if pending.closed || pending.lines.len() + line.len() > self.shared.limit {
            pending.dropped += 1;
            return;
        }
        let was_empty = pending.lines.is_empty();
        pending.lines.extend_from_slice(line);
        let wake = (was_empty && pending.idle) || pending.lines.len() >= FLUSH_AT;
        drop(pending);
        if wake {
            self.shared.wake.notify_one();
        }
    }
}

impl LogFlusher {
    /// Writes what is buffered and stops the thread (waiting at most [`LAST_FLUSH`] for a stalled
    /// stdout); later lines are dropped.
    pub(crate) fn flush_and_stop(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(finished) = self.finished.take() {
            let _ = finished.recv_timeout(LAST_FLUSH);
        }
    }
}

impl Drop for LogFlusher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One event's output: the formatter writes the whole line, then it goes to the buffer at once.
pub(crate) struct LogLine<'a> {
    writer: &'a LogWriter,
}

impl Write for LogLine<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.writer.push(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> LogLine<'a> {
        LogLine { writer: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// An output whose writes block until the test lets them through.
    struct Gated {
        gate: mpsc::Receiver<()>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _ = self.gate.recv();
            self.written.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer over a [`Gated`] output holding at most `limit` bytes; the sender opens the gate.
    fn gated(limit: usize) -> (LogWriter, LogFlusher, mpsc::Sender<()>, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let (open, gate) = mpsc::channel();
        let output = Gated {
            gate,
            written: written.clone(),
        };
        let (writer, flusher) = spawn(output, limit, false);
        (writer, flusher, open, written)
    }

    #[test]
    fn the_dropped_notice_is_a_line_of_its_format() {
        let json: serde_json::Value =
            serde_json::from_str(dropped_notice(7, true).trim_end()).unwrap();
        assert_eq!(json["dropped_log_lines"], 7);
        assert_eq!(json["level"], "WARN");
        assert_eq!(
            dropped_notice(7, false),
            "at=warn msg=\"dropped 7 log lines: stdout did not keep up\" dropped_log_lines=7\n"
        );
    }

    #[test]
    fn writes_every_line_in_order_and_flushes_on_stop() {
        let (writer, flusher, open, written) = gated(DEFAULT_LIMIT);
        // Let every write through.
        drop(open);
        for i in 0..1000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        flusher.flush_and_stop();
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "line 999");
    }

    #[test]
    fn a_stalled_output_drops_and_counts_instead_of_blocking() {
        let (writer, flusher, open, written) = gated(100);
        // The output is stalled: none of these may block, and what does not fit is dropped.
        for _ in 0..50 {
            writer.make_writer().write_all(b"0123456789\n").unwrap();
        }
        // Unblock the output and stop.
        std::thread::spawn(move || while open.send(()).is_ok() {});
        flusher.flush_and_stop();
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let kept = text.lines().filter(|l| *l == "0123456789").count();
        // At most one batch taken before the output stalled, and one that fit the limit after.
        assert!(kept <= 18, "{kept} lines kept past a 100-byte limit");
        let dropped = 50 - kept;
        assert!(
            text.contains(&format!("dropped_log_lines={dropped}")),
            "{text}"
        );
    }
}
