//! hyper answers an HTTP/1.1 request head it cannot read by itself, before the sidecar sees the
//! request: 400 (a malformed request line or header), 414 (a target over 65,534 bytes) or 431 (more
//! than 100 header fields, or a head beyond its buffer of twice `limits.headerBytes`), each with an
//! empty body. This wrapper of the connection's socket writes the sidecar's own JSON refusal in
//! place of those answers (docs/behaviour.md §10), so every answer the sidecar makes carries a
//! reason and a request id.
//!
//! Recognition is exact. hyper's answer is its status line, `connection: close`,
//! `content-length: 0`, a `date` line and nothing else, written on its own as the connection's last
//! bytes. No response of the handler has that shape: every one carries `x-request-id`. Once a
//! `101 Switching Protocols` has gone out, the socket carries a tunnel and nothing is rewritten.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::MeshError;
use crate::headers::MESH_MODE;

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
            push_header(&mut answer, MESH_MODE.as_bytes(), b"dev");
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

/// Whether `written`, the start of a write, is the head of a `101 Switching Protocols`: from then
/// on the connection is a tunnel.
fn switches_protocols(written: &[u8]) -> bool {
    written.starts_with(b"HTTP/1.1 101 ")
}

/// The connection's socket, with hyper's bare refusals replaced by the sidecar's JSON ones.
pub(crate) struct HeadErrorIo<T> {
    inner: T,
    refusals: Refusals,
    /// A rewritten answer, and how much of it has been written.
    pending: Option<(Vec<u8>, usize)>,
    /// A `101` has gone out: the rest is a tunnel's, never rewritten.
    tunnel: bool,
}

impl<T> HeadErrorIo<T> {
    pub(crate) fn new(inner: T, refusals: Refusals) -> Self {
        HeadErrorIo {
            inner,
            refusals,
            pending: None,
            tunnel: false,
        }
    }

    /// Whether a `101 Switching Protocols` has gone out: the socket now carries a tunnel.
    pub(crate) fn in_tunnel(&self) -> bool {
        self.tunnel
    }

    /// The replacement for `written` if it is hyper's refusal; notes a `101` on the way.
    fn rewrite(&mut self, written: &[u8]) -> Option<Vec<u8>> {
        self.tunnel = self.tunnel || switches_protocols(written);
        if self.tunnel {
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
        let mut filled = bufs.iter().filter(|buf| !buf.is_empty());
        match (filled.next(), filled.next()) {
            (Some(only), None) => {
                if let Some(answer) = this.rewrite(only) {
                    return Poll::Ready(this.substitute(cx, answer, only.len()));
                }
            }
            (Some(first), Some(_)) => this.tunnel = this.tunnel || switches_protocols(first),
            (None, _) => {}
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn nothing_is_rewritten_in_a_tunnel() {
        let mut io = HeadErrorIo::new((), REFUSALS);
        let bare = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Fri, 27 Nov 2026 07:46:36 GMT\r\n\r\n";
        assert!(io.rewrite(bare).is_some());
        assert_eq!(
            io.rewrite(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            None
        );
        assert_eq!(io.rewrite(bare), None);
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
