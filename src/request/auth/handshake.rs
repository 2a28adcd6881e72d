//! One new connection to the AppLink API, in the protocol the API chose by ALPN
//! (docs/behaviour.md §5): HTTP/2 when it took `h2`, else HTTP/1.1. Its task runs until the
//! connection ends, then says so.

use std::time::Duration;

use hyper::client::conn::{http1, http2};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::call_body::CallBody;

/// How often an HTTP/2 connection that received nothing is pinged (idle too: no connection is
/// closed for being idle, so a dead one must be found), and how long the answer may take, well
/// within a call's 5 s default deadline: a dead connection is closed rather than handed calls.
const PING_EVERY: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection to the API as dialled: TLS (or plain, for a loopback host).
pub(crate) type Io = MaybeHttpsStream<TokioIo<TcpStream>>;

/// A handshaken connection.
pub(crate) enum Connection {
    H1(http1::SendRequest<CallBody>),
    /// Shared by every call it carries (the sender is cloned for each).
    H2(http2::SendRequest<CallBody>),
}

/// Handshakes `io` in the protocol ALPN chose and runs the connection in a task of its own, which
/// calls `ended` when the connection ends (closed by either side, or failed).
pub(crate) async fn handshake(
    io: Io,
    ended: impl FnOnce() + Send + 'static,
) -> Result<Connection, hyper::Error> {
    let h2 = matches!(&io, MaybeHttpsStream::Https(tls)
        if tls.inner().get_ref().1.alpn_protocol() == Some(b"h2"));
    if h2 {
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(PING_EVERY)
            .keep_alive_timeout(PING_TIMEOUT)
            .keep_alive_while_idle(true)
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "an AppLink API connection (HTTP/2) ended with an error");
            }
            ended();
        });
        return Ok(Connection::H2(sender));
    }
    let (sender, connection) = http1::Builder::new().handshake(io).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "an AppLink API connection ended with an error");
        }
        ended();
    });
    Ok(Connection::H1(sender))
}
