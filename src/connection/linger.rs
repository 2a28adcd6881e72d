//! The lingering close, as nginx's `lingering_close` (docs/behaviour.md §11). When the sidecar
//! closes a connection, the caller may still be sending: the rest of a body after an early 413 or
//! 503, or the rest of a head after a 431. Closing a socket with unread data makes the kernel send
//! a reset, and a caller that writes its whole request before it reads (as many HTTP clients do)
//! gets "connection reset" instead of the answer. So when hyper closes a connection after an
//! answer, the answer goes out with a FIN first, and what the caller still sends is read and thrown
//! away until it closes its side, for at most [`LINGER_MAX`]. A caller that has sent everything
//! closes as soon as it has the answer, so the linger ends at once. The drain's close of a
//! connection between requests lingers only if the caller's bytes are already waiting (`conn.rs`):
//! an idle pooled connection whose client does not watch it would otherwise hold the exit for the
//! whole linger. A linger once started runs to its end, and the connection's clocks wait for it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The longest a closing connection keeps reading what its caller still sends.
const LINGER_MAX: Duration = Duration::from_secs(5);
const READ_SIZE: usize = 16 * 1024;

/// What the caller's side of a connection whose write side is shut looks like right now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CallerSide {
    /// It closed its side, or the socket failed: nothing to linger for.
    Closed,
    /// Nothing waiting just now.
    Quiet,
    /// Its bytes were waiting (read and dropped).
    Sending,
}

/// Reads (and drops) what is waiting now; the common case, a caller that already closed, is
/// answered without the linger's allocations.
pub(crate) fn probe<T: AsyncRead + Unpin>(io: &mut T, cx: &mut Context<'_>) -> CallerSide {
    let mut scratch = [0u8; 4096];
    let mut buf = ReadBuf::new(&mut scratch);
    match Pin::new(io).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) if buf.filled().is_empty() => CallerSide::Closed,
        Poll::Ready(Ok(())) => CallerSide::Sending,
        Poll::Ready(Err(_)) => CallerSide::Closed,
        Poll::Pending => CallerSide::Quiet,
    }
}

/// A connection whose write side is shut, draining its read side.
pub(crate) struct Linger {
    /// Wakes the task at the deadline when the caller sends nothing. Its deadline is also
    /// checked on every poll: a timer polled only after tokio's per-task budget ran out would
    /// never be registered, so the timer alone could not end a linger against a fast sender.
    timer: Pin<Box<Sleep>>,
    scratch: Box<[u8]>,
}

impl Linger {
    pub(crate) fn start() -> Self {
        Linger {
            timer: Box::pin(tokio::time::sleep(LINGER_MAX)),
            scratch: vec![0; READ_SIZE].into_boxed_slice(),
        }
    }

    /// Reads and discards until the caller closes its side, the socket fails, or time is up.
    pub(crate) fn poll_drain<T: AsyncRead + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        loop {
            if Instant::now() >= self.timer.deadline() {
                return Poll::Ready(());
            }
            let mut buf = ReadBuf::new(&mut self.scratch);
            match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                // Woken by more data, or by the deadline.
                Poll::Pending => return self.timer.as_mut().poll(cx),
            }
        }
    }
}
