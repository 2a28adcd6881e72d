//! hyper answers an HTTP/1.1 request head it cannot read by itself, before the sidecar sees the
//! request: 400 (a malformed request line or header), 414 (a target over 65,534 bytes) or 431 (more
//! than 100 header fields, or a head beyond its buffer of twice `limits.headerBytes`), each with an
//! empty body. This wrapper of the connection's socket writes the sidecar's own JSON refusal in
//! place of those answers (docs/behaviour.md §10), so every answer the sidecar makes carries a
//! reason and a request id.
//!
//! Only hyper's refusal is ever rewritten, never a byte of a response to a request that was read
//! (an app's body may look exactly like hyper's refusal). Two conditions must both hold:
//! - **Between responses.** hyper writes its refusal only when no response is being written. The
//!   connection's [`Activity`] counts the requests handed to the service and the responses it is
//!   done with; hyper hands every byte it holds to this socket before it flushes it, so once a
//!   flush completes, every response done before that flush is on the wire. A write may be
//!   rewritten only when every request started has its response done and flushed in this way.
//!   Never on an HTTP/2 connection, and never once a `101 Switching Protocols` has been answered
//!   (the socket then carries a tunnel).
//! - **Exactly hyper's shape.** The write is hyper's status line, `connection: close`,
//!   `content-length: 0`, a `date` line and nothing else, written on its own.
//!
//! A refusal that does not meet both (hyper's 400 for a pipelined request whose predecessor's last
//! bytes are still being flushed) goes out as hyper wrote it: unrewritten, never a mangled response.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::connection::activity::Activity;
use crate::request::error::MeshError;
use crate::request::headers::MESH_MODE;

/// hyper's status lines for the heads it refuses (after `HTTP/1.1 `, or `HTTP/1.0 ` on an HTTP/1.0
/// connection), and the error each stands for.
const STATUSES: [(&[u8], Refused); 3] = [
    (b"400 Bad Request\r\n", Refused::Malformed),
    (b"414 URI Too Long\r\n", Refused::TargetTooLong),
    (
        b"431 Request Header Fields Too Large\r\n",
        Refused::TooLarge,
    ),
];
const VERSIONS: [&[u8]; 2] = [b"HTTP/1.1 ", b"HTTP/1.0 "];
const HYPER_HEADERS: &[u8] = b"connection: close\r\ncontent-length: 0\r\n";
const DATE_NAME: &[u8] = b"date: ";
/// An IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    Malformed,
    TargetTooLong,
    TooLarge,
}

/// What the JSON refusals say that depends on the configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusals {
    pub(crate) header_limit: u64,
    pub(crate) dev: bool,
}

impl Refusals {
    /// The sidecar's answer in place of `written`, when `written` is one of hyper's own refusals.
    fn rewrite(&self, written: &[u8]) -> Option<Vec<u8>> {
        let version = VERSIONS.iter().find(|v| written.starts_with(v))?;
        let (status, refused) = STATUSES
            .iter()
            .find(|(status, _)| written[version.len()..].starts_with(status))?;
        let status_line = &written[..version.len() + status.len()];
        let rest = written[status_line.len()..].strip_prefix(HYPER_HEADERS)?;
        let dated = rest.strip_prefix(DATE_NAME)?;
        if dated.get(DATE_LEN..) != Some(b"\r\n\r\n") {
            return None;
        }
        let date = &dated[..DATE_LEN];
        let error = match refused {
            Refused::Malformed => MeshError::MalformedHead,
            Refused::TargetTooLong => MeshError::UriTooLong,
            Refused::TooLarge => MeshError::HeadersTooLarge {
                limit: self.header_limit,
            },
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        tracing::debug!(
            status = error.status().as_u16(),
            reason = error.reason(),
            request_id = %request_id,
            "refused a request head the HTTP layer could not read"
        );
        let body = error.json_body(&request_id);
        let mut answer = Vec::with_capacity(256 + body.len());
        answer.extend_from_slice(status_line);
        for (name, value) in &error.headers(&request_id) {
            push_header(&mut answer, name.as_str().as_bytes(), value.as_bytes());
        }
        if self.dev {
            push_header(&mut answer, MESH_MODE.as_str().as_bytes(), b"dev");
        }
        push_header(&mut answer, b"connection", b"close");
        push_header(
            &mut answer,
            b"content-length",
            body.len().to_string().as_bytes(),
        );
        push_header(&mut answer, b"date", date);
        answer.extend_from_slice(b"\r\n");
        answer.extend_from_slice(body.as_bytes());
        Some(answer)
    }
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The connection's socket, with hyper's bare refusals replaced by the sidecar's JSON ones.
pub(crate) struct HeadErrorIo<T> {
    inner: T,
    refusals: Refusals,
    activity: Arc<Activity>,
    /// How many responses are known to be on the wire: those done before the last completed
    /// flush.
    responses_flushed: u64,
    /// A rewritten answer, and how much of it has been written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> HeadErrorIo<T> {
    pub(crate) fn new(inner: T, refusals: Refusals, activity: Arc<Activity>) -> Self {
        HeadErrorIo {
            inner,
            refusals,
            activity,
            responses_flushed: 0,
            pending: None,
        }
    }

    /// Whether what is written now can only be hyper's own: no response is owed or unflushed,
    /// and the connection is HTTP/1 and no tunnel.
    fn between_responses(&self) -> bool {
        let activity = &self.activity;
        !activity.is_h2()
            && !activity.is_upgraded()
            && activity.requests_started() == self.responses_flushed
    }

    /// The replacement for `written` if it is hyper's refusal.
    fn rewrite(&self, written: &[u8]) -> Option<Vec<u8>> {
        if !self.between_responses() {
            return None;
        }
        self.refusals.rewrite(written)
    }
}

impl<T: AsyncWrite + Unpin> HeadErrorIo<T> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((answer, written)) = &mut self.pending {
            if *written == answer.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `written` in and writes the rewritten answer instead, as far as the socket allows now;
    /// the rest goes out on flush or shutdown, which hyper calls next.
    fn substitute(
        &mut self,
        cx: &mut Context<'_>,
        answer: Vec<u8>,
        len: usize,
    ) -> io::Result<usize> {
        self.pending = Some((answer, 0));
        match self.poll_pending(cx) {
            Poll::Ready(Err(e)) => Err(e),
            Poll::Ready(Ok(())) | Poll::Pending => Ok(len),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadErrorIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadErrorIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(answer) = this.rewrite(buf) {
            return Poll::Ready(this.substitute(cx, answer, buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        // hyper writes its refusal as one buffer.
        let mut filled = bufs.iter().filter(|buf| !buf.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && let Some(answer) = this.rewrite(only)
        {
            return Poll::Ready(this.substitute(cx, answer, only.len()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// hyper flushes only once it has written everything it holds: every response done before
    /// this call is on the wire when it completes.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let done = self.activity.responses_done();
        ready!(self.poll_pending(cx))?;
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        self.responses_flushed = done;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Exchange;

    const REFUSALS: Refusals = Refusals {
        header_limit: 32768,
        dev: false,
    };

    fn split(answer: &[u8]) -> (String, serde_json::Value) {
        let text = std::str::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_string(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn each_of_hypers_refusals_becomes_the_json_one() {
        let date = "date: Fri, 27 Nov 2026 07:46:36 GMT\r\n";
        for (line, status, reason) in [
            ("HTTP/1.1 400 Bad Request", 400, "malformed-request"),
            ("HTTP/1.1 414 URI Too Long", 414, "uri-too-long"),
            (
                "HTTP/1.1 431 Request Header Fields Too Large",
                431,
                "headers-too-large",
            ),
        ] {
            let bare = format!("{line}\r\nconnection: close\r\ncontent-length: 0\r\n{date}\r\n");
            let answer = REFUSALS.rewrite(bare.as_bytes()).expect(line);
            let (head, body) = split(&answer);
            assert!(head.starts_with(&format!("{line}\r\n")), "{head}");
            assert!(head.contains(&format!("\r\nx-applink-mesh-error: {reason}\r\n")));
            assert!(head.contains("\r\ncontent-type: application/json\r\n"));
            assert!(head.contains("\r\nconnection: close\r\n"));
            assert!(head.contains(date.trim_end()));
            let id = body["requestId"].as_str().unwrap();
            assert!(head.contains(&format!("\r\nx-request-id: {id}\r\n")));
            let length = format!("\r\ncontent-length: {}\r\n", answer.len() - head.len() - 4);
            assert!(head.contains(&length), "{head}");
            assert!(body["error"].as_str().unwrap().len() > 10, "{status}");
        }
    }

    #[test]
    fn dev_mode_says_so_and_http_1_0_is_answered_alike() {
        let dev = Refusals {
            dev: true,
            ..REFUSALS
        };
        let bare = b"HTTP/1.0 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Fri, 27 Nov 2026 07:46:36 GMT\r\n\r\n";
        let (head, _) = split(&dev.rewrite(bare).unwrap());
        assert!(head.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\nx-applink-mesh-mode: dev\r\n"), "{head}");
    }

    const BARE: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Fri, 27 Nov 2026 07:46:36 GMT\r\n\r\n";

    fn flush(io: &mut HeadErrorIo<tokio::io::Sink>) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let flushed = Pin::new(io).poll_flush(&mut cx);
        assert!(matches!(flushed, Poll::Ready(Ok(()))));
    }

    #[test]
    fn only_between_responses_is_anything_rewritten() {
        let activity = Activity::new();
        let mut io = HeadErrorIo::new(tokio::io::sink(), REFUSALS, activity.clone());
        assert!(io.rewrite(BARE).is_some(), "before any request");
        let request = activity.request_started();
        assert_eq!(io.rewrite(BARE), None, "while a response is owed");
        flush(&mut io);
        assert_eq!(
            io.rewrite(BARE),
            None,
            "flushed, but the response is not done"
        );
        drop(request);
        assert_eq!(
            io.rewrite(BARE),
            None,
            "done, but its last bytes may be unflushed"
        );
        flush(&mut io);
        assert!(io.rewrite(BARE).is_some(), "done and flushed");
    }

    #[test]
    fn nothing_is_rewritten_in_a_tunnel() {
        let activity = Activity::new();
        let mut io = HeadErrorIo::new(tokio::io::sink(), REFUSALS, activity.clone());
        activity.request_started().switching_protocols();
        flush(&mut io);
        assert_eq!(io.rewrite(BARE), None);
    }

    #[test]
    fn anything_else_is_written_as_it_is() {
        for other in [
            // What the handler writes always has more headers (x-request-id, at least).
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\nx-request-id: 1\r\n\r\n",
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\nbody",
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: short\r\n\r\n",
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n",
            // hyper always dates its answer.
            "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            "",
        ] {
            assert_eq!(REFUSALS.rewrite(other.as_bytes()), None, "{other:?}");
        }
    }
}
