//! The lingering close, as nginx's `lingering_close` (docs/behaviour.md §11). When the sidecar
//! closes a connection, the caller may still be sending: the rest of a body after an early 413 or
//! 503, or the rest of a head after a 431. Closing a socket with unread data makes the kernel send
//! a reset, and a caller that writes its whole request before it reads (as many HTTP clients do)
//! gets "connection reset" instead of the answer. So the answer goes out with a FIN first; then,
//! if the caller's bytes are waiting to be read, what it still sends is read and thrown away until
//! it closes its side, for at most [`LINGER_MAX`]. A connection closed between requests (idle, or
//! by the drain) has nothing waiting and closes at once, so no drain waits on a linger.
//!
//! Not covered: a caller that pauses mid-body just when the connection closes. Its next bytes meet
//! a closed socket; nginx instead waits up to 5 s for more before it closes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Sleep;

/// The longest a closing connection keeps reading what its caller still sends.
pub(crate) const LINGER_MAX: Duration = Duration::from_secs(5);
const READ_SIZE: usize = 16 * 1024;

/// Whether the caller's bytes are waiting on a connection whose write side is shut: reads (and
/// drops) what is there now.
pub(crate) fn caller_still_sending<T: AsyncRead + Unpin>(io: &mut T, cx: &mut Context<'_>) -> bool {
    let mut scratch = [0u8; 4096];
    let mut buf = ReadBuf::new(&mut scratch);
    matches!(Pin::new(io).poll_read(cx, &mut buf), Poll::Ready(Ok(()))) && !buf.filled().is_empty()
}

/// A connection whose write side is shut, draining its read side.
pub(crate) struct Linger {
    until: Pin<Box<Sleep>>,
    scratch: Box<[u8]>,
}

impl Linger {
    pub(crate) fn start() -> Self {
        Linger {
            until: Box::pin(tokio::time::sleep(LINGER_MAX)),
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
            if self.until.is_elapsed() {
                return Poll::Ready(());
            }
            let mut buf = ReadBuf::new(&mut self.scratch);
            match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                // Woken by more data, or by the deadline.
                Poll::Pending => return self.until.as_mut().poll(cx),
            }
        }
    }
}

/// Whether `written`, the start of a write, is the head of a `101 Switching Protocols`: from then
/// on the connection is a tunnel, whose shutdown must not read (and lose) the caller's bytes.
pub(crate) fn switches_protocols(written: &[u8]) -> bool {
    written.starts_with(b"HTTP/1.1 101 ")
}
