//! One inbound connection's clock: the header-read deadline counts from a request's first byte to
//! its last header byte, an idle keep-alive connection lives `timeouts.idle`, and a response that
//! makes no progress toward the caller for `timeouts.send` (a caller that stopped reading) ends the
//! connection, and with it the request to the app. No progress is either of: a write to the
//! caller's socket that stays blocked; or a response body that has a frame taken and is then not
//! asked for another (the HTTP layer has no room for it: HTTP/2 flow control at zero, say, where
//! the socket itself never blocks). (hyper's own
//! header timeout starts as soon as it waits for a request, which would close idle keep-alive
//! connections after `headerRead`, so it is off and this module keeps time instead.)

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use crate::request::Exchange;
use crate::telemetry::millis;

mod socket;

pub(crate) use socket::ActivityIo;

const NONE: u64 = u64::MAX;
/// What the connection has been doing, in milliseconds since it opened.
pub(crate) struct Activity {
    opened: Instant,
    last_io_ms: AtomicU64,
    /// When a write to the caller last found the socket full with nothing written since; `NONE`
    /// while writes go through.
    write_blocked_ms: AtomicU64,
    /// When a byte was last written to the caller.
    last_write_ms: AtomicU64,
    /// Response bodies whose last poll gave a frame (or that were never polled): the HTTP layer
    /// owes them the next poll once the caller takes what was sent.
    bodies_waiting: AtomicU64,
    /// When a response body on this connection was last polled (or made).
    last_body_poll_ms: AtomicU64,
    /// When the first byte of a request still being read arrived; `NONE` between requests.
    first_byte_ms: AtomicU64,
    /// Requests handed to the service, and responses the service is done with (their bodies
    /// ended or dropped): the difference is what is in flight.
    requests_started: AtomicU64,
    responses_done: AtomicU64,
    h2: AtomicBool,
    /// A `101 Switching Protocols` was answered: the socket carries a tunnel from then on.
    upgraded: AtomicBool,
    /// The drain is closing the connection between requests, when nothing of the caller's is
    /// normally unread.
    closing_idle: AtomicBool,
    /// When the HTTP/2 header block in progress began (`h2_header_blocks.rs`); `NONE` when none is.
    h2_block_ms: AtomicU64,
    /// The connection is lingering (`linger.rs`), which bounds its own time: the clocks stop.
    lingering: AtomicBool,
}

/// Why a connection was closed by its clock.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    HeaderRead,
    Idle,
    /// The caller read nothing of a response for `timeouts.send`.
    Send,
}

/// The connection's deadlines (`mesh.timeouts`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadlines {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
    pub(crate) send: Duration,
}

impl From<&crate::config::Timeouts> for Deadlines {
    fn from(timeouts: &crate::config::Timeouts) -> Deadlines {
        Deadlines {
            header_read: timeouts.header_read,
            idle: timeouts.idle,
            send: timeouts.send,
        }
    }
}

impl Deadlines {
    /// How often to look at the clocks: a quarter of the shortest, kept between 25 ms and 1 s.
    pub(crate) fn tick(&self) -> Duration {
        (self.header_read.min(self.idle).min(self.send) / 4)
            .clamp(Duration::from_millis(25), Duration::from_secs(1))
    }
}

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            write_blocked_ms: AtomicU64::new(NONE),
            last_write_ms: AtomicU64::new(0),
            bodies_waiting: AtomicU64::new(0),
            last_body_poll_ms: AtomicU64::new(0),
            h2_block_ms: AtomicU64::new(NONE),
            first_byte_ms: AtomicU64::new(NONE),
            requests_started: AtomicU64::new(0),
            responses_done: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            closing_idle: AtomicBool::new(false),
            lingering: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        millis(self.opened.elapsed())
    }

    /// Notes a read.
    fn on_read(&self) {
        let now = self.now_ms();
        self.last_io_ms.store(now, Ordering::Relaxed);
        if self.in_flight() == 0 {
            let _ =
                self.first_byte_ms
                    .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn on_write(&self) {
        let now = self.now_ms();
        self.last_io_ms.store(now, Ordering::Relaxed);
        self.last_write_ms.store(now, Ordering::Relaxed);
        self.write_blocked_ms.store(NONE, Ordering::Relaxed);
    }

    /// Whether an HTTP/2 header block is in progress, as of the last read.
    fn header_block(&self, in_progress: bool) {
        if in_progress {
            let _ = self.h2_block_ms.compare_exchange(
                NONE,
                self.now_ms(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        } else {
            self.h2_block_ms.store(NONE, Ordering::Relaxed);
        }
    }

    /// A write found the caller's socket full: the send clock starts, unless it runs already.
    fn on_write_blocked(&self) {
        let now = self.now_ms();
        let _ =
            self.write_blocked_ms
                .compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// What a write to the caller's socket came to.
    fn on_write_polled(&self, polled: &Poll<io::Result<usize>>) {
        match polled {
            Poll::Ready(Ok(n)) if *n > 0 => self.on_write(),
            Poll::Pending => self.on_write_blocked(),
            Poll::Ready(_) => {}
        }
    }

    /// A request's headers have been read: its deadline is met. Dropping the returned guard marks
    /// it done.
    pub(crate) fn request_started(self: &Arc<Self>) -> ActiveRequest {
        self.requests_started.fetch_add(1, Ordering::AcqRel);
        self.first_byte_ms.store(NONE, Ordering::Release);
        ActiveRequest {
            activity: self.clone(),
            body_waiting: false,
        }
    }

    /// Requests whose responses are not done yet.
    fn in_flight(&self) -> u64 {
        // Done first: a response cannot be done before its request started, so this never
        // counts below zero.
        let done = self.responses_done.load(Ordering::Acquire);
        self.requests_started
            .load(Ordering::Acquire)
            .saturating_sub(done)
    }

    /// How many requests have been handed to the service.
    pub(crate) fn requests_started(&self) -> u64 {
        self.requests_started.load(Ordering::Acquire)
    }

    /// How many responses the service is done with: hyper holds all their bytes (written, or in
    /// its write buffer until the next flush).
    pub(crate) fn responses_done(&self) -> u64 {
        self.responses_done.load(Ordering::Acquire)
    }

    /// Whether the connection speaks HTTP/2.
    pub(crate) fn is_h2(&self) -> bool {
        self.h2.load(Ordering::Relaxed)
    }

    /// Whether a `101 Switching Protocols` was answered: the socket now carries a tunnel.
    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }

    /// Whether a graceful shutdown would not cut an HTTP/1.1 request short: nothing in flight, or
    /// HTTP/2, where in-flight streams finish after GOAWAY.
    pub(crate) fn can_shut_down(&self) -> bool {
        self.is_h2() || self.in_flight() == 0
    }

    /// The drain shuts the connection down between requests, so its close lingers only if the
    /// caller's bytes are waiting.
    pub(crate) fn closing_between_requests(&self) {
        self.closing_idle.store(true, Ordering::Relaxed);
    }

    /// Whether a deadline has passed.
    pub(crate) fn expired(&self, deadlines: &Deadlines) -> Option<Expired> {
        if self.lingering.load(Ordering::Relaxed) {
            return None;
        }
        let now = self.now_ms();
        // The send clocks run whatever is in flight: it is a response that is stuck.
        let send = millis(deadlines.send);
        let blocked = self.write_blocked_ms.load(Ordering::Relaxed);
        if blocked != NONE && now.saturating_sub(blocked) > send {
            return Some(Expired::Send);
        }
        // A body the HTTP layer stopped asking for: on HTTP/1.1 only while nothing is written
        // either (a very slow reader still drains what is buffered, and is not cut); on HTTP/2,
        // where control frames keep the socket busy, on its own.
        let last_poll = self.last_body_poll_ms.load(Ordering::Relaxed);
        let last_write = self.last_write_ms.load(Ordering::Relaxed);
        let body_stalled =
            self.bodies_waiting.load(Ordering::Relaxed) > 0 && now.saturating_sub(last_poll) > send;
        if body_stalled && (self.is_h2() || now.saturating_sub(last_write) > send) {
            return Some(Expired::Send);
        }
        // So does an HTTP/2 header block's: other streams may be in flight meanwhile.
        let block = self.h2_block_ms.load(Ordering::Relaxed);
        if block != NONE && now.saturating_sub(block) > millis(deadlines.header_read) {
            return Some(Expired::HeaderRead);
        }
        if self.in_flight() > 0 {
            return None;
        }
        let (header_read, idle) = (deadlines.header_read, deadlines.idle);
        let h2 = self.h2.load(Ordering::Relaxed);
        let first_byte = self.first_byte_ms.load(Ordering::Acquire);
        if !h2 && first_byte != NONE {
            return (now.saturating_sub(first_byte) > millis(header_read))
                .then_some(Expired::HeaderRead);
        }
        let last = self.last_io_ms.load(Ordering::Relaxed);
        (now.saturating_sub(last) > millis(idle)).then_some(Expired::Idle)
    }
}

/// A request in flight on its connection, until its response is done.
pub(crate) struct ActiveRequest {
    activity: Arc<Activity>,
    /// Its response body counts in `bodies_waiting`.
    body_waiting: bool,
}

impl ActiveRequest {
    /// Counts the response body in `bodies_waiting`, or stops counting it.
    fn set_body_waiting(&mut self, waiting: bool) {
        if waiting != self.body_waiting {
            self.body_waiting = waiting;
            if waiting {
                self.activity.bodies_waiting.fetch_add(1, Ordering::Relaxed);
            } else {
                self.activity.bodies_waiting.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Exchange for ActiveRequest {
    /// The response is made: its body waits for its first poll.
    fn response_started(&mut self) {
        self.activity
            .last_body_poll_ms
            .store(self.activity.now_ms(), Ordering::Relaxed);
        self.set_body_waiting(true);
    }

    /// The response body was polled: it gave a frame (and waits for the next poll), or it waits
    /// on the app (or ended).
    fn response_polled(&mut self, gave_frame: bool) {
        self.activity
            .last_body_poll_ms
            .store(self.activity.now_ms(), Ordering::Relaxed);
        self.set_body_waiting(gave_frame);
    }

    /// The response switches protocols: from then on the connection is a tunnel, whose bytes
    /// are the app's and the caller's alone.
    fn switching_protocols(&self) {
        self.activity.upgraded.store(true, Ordering::Release);
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.set_body_waiting(false);
        let activity = &self.activity;
        activity
            .last_io_ms
            .store(activity.now_ms(), Ordering::Relaxed);
        activity.responses_done.fetch_add(1, Ordering::AcqRel);
    }
}
