//! The connection's socket as the clocks see it: every read and write told to [`Activity`], the
//! protocol told from the connection's first bytes, HTTP/2 header blocks followed, and the
//! lingering close when hyper shuts the connection after an answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Activity;
use crate::connection::h2_header_blocks::HeaderBlocks;
use crate::connection::linger::{self, CallerSide, Linger};

/// The HTTP/2 client connection preface (RFC 9113, section 3.4): a connection that starts with it
/// speaks HTTP/2 with prior knowledge.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The connection's socket, telling [`Activity`] about every read and write, and lingering when
/// hyper closes it after an answer (after the drain's close between requests only if the caller is
/// sending; never for a tunnel).
pub(crate) struct ActivityIo<T> {
    inner: T,
    activity: Arc<Activity>,
    /// The write side is shut and the read side draining.
    closing: Option<Linger>,
    /// Which protocol the caller speaks, from the connection's first bytes.
    protocol: Protocol,
}

/// What the connection's first bytes say it speaks.
enum Protocol {
    /// This many bytes of the HTTP/2 preface have arrived so far, and nothing else.
    Undecided(usize),
    Http1,
    /// HTTP/2, and where the caller is in sending header blocks.
    Http2(HeaderBlocks),
}

impl Protocol {
    /// Follows the next bytes read; says whether this read began HTTP/2.
    fn read(&mut self, bytes: &[u8]) -> bool {
        match self {
            Protocol::Undecided(matched) => {
                let wanted = &H2_PREFACE[*matched..];
                let n = wanted.len().min(bytes.len());
                if bytes[..n] != wanted[..n] {
                    *self = Protocol::Http1;
                    return false;
                }
                *matched += n;
                if *matched < H2_PREFACE.len() {
                    return false;
                }
                let mut blocks = HeaderBlocks::new();
                blocks.read(H2_PREFACE);
                blocks.read(&bytes[n..]);
                *self = Protocol::Http2(blocks);
                true
            }
            Protocol::Http1 => false,
            Protocol::Http2(blocks) => {
                blocks.read(bytes);
                false
            }
        }
    }
}

impl<T> ActivityIo<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        ActivityIo {
            inner,
            activity,
            closing: None,
            protocol: Protocol::Undecided(0),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            if !read.is_empty() {
                let this = &mut *self;
                this.activity.on_read();
                if this.protocol.read(read) {
                    this.activity.h2.store(true, Ordering::Relaxed);
                }
                if let Protocol::Http2(blocks) = &this.protocol {
                    this.activity.header_block(blocks.in_progress());
                }
            }
        }
        polled
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.on_write_polled(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.on_write_polled(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        if polled.is_pending() {
            self.activity.on_write_blocked();
        }
        polled
    }

    /// hyper shuts a connection it is done with; a tunnel is shut by the tunnel, one direction at a
    /// time, and must not linger.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.activity.is_upgraded() {
            return Pin::new(&mut this.inner).poll_shutdown(cx);
        }
        if this.closing.is_none() {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            // Between requests (the drain's close), only a caller whose bytes are waiting gets a
            // linger; after an answer, any caller that has not closed its side.
            let between_requests = this.activity.closing_idle.load(Ordering::Relaxed);
            match linger::probe(&mut this.inner, cx) {
                CallerSide::Closed => return Poll::Ready(Ok(())),
                CallerSide::Quiet if between_requests => return Poll::Ready(Ok(())),
                CallerSide::Quiet | CallerSide::Sending => {}
            }
            this.activity.lingering.store(true, Ordering::Relaxed);
            this.closing = Some(Linger::start());
        }
        if let Some(closing) = &mut this.closing {
            ready!(closing.poll_drain(&mut this.inner, cx));
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_connections_first_bytes_can_make_it_http2() {
        // The preface split across reads, then a frame in the same read as its end.
        let mut split = Protocol::Undecided(0);
        assert!(!split.read(b"P"));
        assert!(!split.read(&H2_PREFACE[1..10]));
        let mut rest = H2_PREFACE[10..].to_vec();
        rest.extend_from_slice(&[0, 0, 1, 0x1, 0, 0, 0, 0, 1]);
        assert!(split.read(&rest));
        match &split {
            Protocol::Http2(blocks) => assert!(blocks.in_progress(), "the HEADERS frame was read"),
            _ => panic!("not HTTP/2"),
        }
        // HTTP/1.1, then a body that happens to start a read with the preface: still HTTP/1.1.
        let mut http1 = Protocol::Undecided(0);
        assert!(!http1.read(b"POST / HTTP/1.1\r\n"));
        assert!(!http1.read(H2_PREFACE));
        assert!(matches!(http1, Protocol::Http1));
        // A near miss is HTTP/1.1 at the first byte that differs.
        let mut near = Protocol::Undecided(0);
        assert!(!near.read(b"PRI * HTTP/1.1"));
        assert!(matches!(near, Protocol::Http1));
    }
}
