//! The connections to one attachment's AppLink API (docs/behaviour.md §5), kept so that a call
//! costs one round trip in every traffic shape:
//!
//! - **HTTP/2 when the API offers it** (ALPN `h2`, then `http/1.1`): concurrent calls share one
//!   connection, up to [`STREAMS_PER_CONNECTION`] at once (the least RFC 9113 recommends a
//!   server allow); another connection opens only past that. With HTTP/1.1, a call takes an idle
//!   connection or opens its own, as before. While the protocol is not yet known, concurrent calls
//!   wait for the one dial under way rather than each opening a connection.
//! - **Opened before the first request**: [`ApiConnections::warm`] dials at start-up, while the app
//!   boots, so the first call finds a connection ready; a failure there is logged once.
//! - **Kept warm**: no connection is closed for being idle while the API keeps it. When the API
//!   closes the last one (its idle timeout, a `GOAWAY`), a fresh one is opened in the background:
//!   at once if calls went out since the last one opened, else after a backoff doubling up to
//!   [`MAX_BACKOFF`], so an idle API with a short timeout is not redialled in a loop. Its TLS
//!   session is resumed (rustls keeps the tickets of the one client configuration). The
//!   background dial, its backoff and the count of live connections are in `warm`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};

use super::call_body::CallBody;
use super::failure::cause;
use super::handshake::{Connection, Io, handshake};
use crate::request::pool::{Dial, SendError};
use crate::telemetry::millis;

mod warm;

use warm::Live;

/// Calls on one HTTP/2 connection at once; past it, another connection opens.
pub(crate) const STREAMS_PER_CONNECTION: usize = 100;
/// The longest wait before a background redial.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first wait before redialling an API that closed an unused connection, or failed a dial.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// How long a call waits for a dial under way (to share its HTTP/2 connection) before it dials
/// its own.
const GATE_WAIT: Duration = Duration::from_secs(1);

/// One HTTP/2 connection and the calls it carries now.
struct H2 {
    sender: http2::SendRequest<CallBody>,
    streams: Arc<AtomicUsize>,
}

/// The connections open now.
#[derive(Default)]
struct Open {
    /// HTTP/1.1 connections, busy or ready.
    h1: Vec<http1::SendRequest<CallBody>>,
    h2: Vec<H2>,
    /// Connections whose task is still running.
    live: usize,
    /// The protocol the API chose last, once known.
    speaks_h2: Option<bool>,
}

struct Shared<D> {
    dial: D,
    /// Bounds a background dial (the calls' own deadline bounds theirs).
    dial_timeout: Duration,
    /// Who the connections are to, for the logs.
    attachment: String,
    open: Mutex<Open>,
    /// Held while a dial decides the protocol: concurrent calls wait to share an HTTP/2 one.
    deciding: tokio::sync::Mutex<()>,
    /// Whether a call went out since the last background dial.
    used: AtomicBool,
    /// The next background redial's wait, in milliseconds.
    backoff_ms: AtomicU64,
    /// A background dial is under way.
    redialling: AtomicBool,
    /// Wakes a background dial waiting out its backoff: the last connection ended again.
    wake_redial: Arc<tokio::sync::Notify>,
}

/// The connections to one attachment's API.
pub(crate) struct ApiConnections<D: Dial<Io = Io>> {
    shared: Arc<Shared<D>>,
}

/// An answer's head, and the HTTP/2 stream it holds until it is dropped: keep it while reading
/// the body, so the connection's count of calls stays true.
pub(crate) struct Answer {
    pub(crate) response: Response<Incoming>,
    _stream: Option<Stream>,
}

impl Answer {
    fn h1(response: Response<Incoming>) -> Answer {
        Answer {
            response,
            _stream: None,
        }
    }
}

/// What one try of a call came to.
enum Attempt {
    Sent(Result<Answer, SendError>),
    /// No connection took it, or the one taken closed before the call was written: it is whole.
    Unsent(Request<CallBody>),
}

impl<D: Dial<Io = Io>> ApiConnections<D> {
    pub(crate) fn new(dial: D, dial_timeout: Duration, attachment: &str) -> ApiConnections<D> {
        ApiConnections {
            shared: Arc::new(Shared {
                dial,
                dial_timeout,
                attachment: attachment.to_string(),
                open: Mutex::new(Open::default()),
                deciding: tokio::sync::Mutex::new(()),
                used: AtomicBool::new(false),
                backoff_ms: AtomicU64::new(millis(FIRST_BACKOFF)),
                redialling: AtomicBool::new(false),
                wake_redial: Arc::new(tokio::sync::Notify::new()),
            }),
        }
    }

    /// Opens a connection in the background (at start-up, while the app boots); a failure is
    /// logged once and changes nothing else.
    pub(crate) fn warm(&self) {
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if let Err(e) = shared.open_in_background().await {
                tracing::warn!(
                    attachment = shared.attachment.as_str(),
                    cause = %cause(&e),
                    "could not open a connection to the AppLink API at start-up; the first call \
                     will open one"
                );
            }
        });
    }

    /// Sends one call; its answer's head. A call a connection gave back unwritten (the API closed
    /// it meanwhile) goes on another, a few times at most.
    pub(crate) async fn send(&self, mut request: Request<CallBody>) -> Result<Answer, SendError> {
        self.shared.used.store(true, Ordering::Relaxed);
        for _ in 0..3 {
            request = match self.shared.send_on_open(request).await {
                Attempt::Sent(response) => return response,
                Attempt::Unsent(request) => request,
            };
            request = match Shared::send_on_new(&self.shared, request).await {
                Attempt::Sent(response) => return response,
                Attempt::Unsent(request) => request,
            };
        }
        Err(SendError::Connect(
            D::PEER,
            "every connection closed before the call could be written".into(),
        ))
    }
}

impl<D: Dial<Io = Io>> Shared<D> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends on an open connection with room (HTTP/2) or a ready one (HTTP/1.1).
    async fn send_on_open(&self, request: Request<CallBody>) -> Attempt {
        if let Some((sender, stream)) = self.h2_with_room() {
            return self.send_h2(sender, stream, request).await;
        }
        let Some(mut sender) = self.ready_h1() else {
            return Attempt::Unsent(request);
        };
        match sender.try_send_request(request).await {
            Ok(response) => {
                self.lock().h1.push(sender);
                Attempt::Sent(Ok(Answer::h1(response)))
            }
            // Closed by the API while idle, before the call was written: the call goes on another.
            Err(mut failed) => match failed.take_message() {
                Some(unsent) => Attempt::Unsent(unsent),
                None => Attempt::Sent(Err(SendError::Http(failed.into_error()))),
            },
        }
    }

    /// Sends on a new connection: one the call opens (HTTP/1.1), or the HTTP/2 one that a dial
    /// under way, or this one, opens and shares.
    async fn send_on_new(shared: &Arc<Self>, request: Request<CallBody>) -> Attempt {
        let known_h1 = shared.lock().speaks_h2 == Some(false);
        // A dial under way is waited for a moment at most: one that stalls (a lost SYN, a slow
        // handshake) must not spend every waiting call's deadline; past it, a call dials its own.
        let gate = if known_h1 {
            None
        } else if let Ok(gate) = tokio::time::timeout(GATE_WAIT, shared.deciding.lock()).await {
            // The dial this call waited for may have opened a connection it can take: it goes
            // back to the open ones.
            if shared.can_take_a_call() {
                return Attempt::Unsent(request);
            }
            (shared.lock().speaks_h2 != Some(false)).then_some(gate)
        } else {
            None
        };
        let opened = match Shared::open(shared).await {
            Ok(opened) => opened,
            Err(e) => return Attempt::Sent(Err(e)),
        };
        drop(gate);
        match opened {
            Opened::H2(sender, stream) => shared.send_h2(sender, stream, request).await,
            Opened::H1(mut sender) => {
                let response = sender.send_request(request).await;
                if response.is_ok() {
                    shared.lock().h1.push(sender);
                }
                Attempt::Sent(response.map(Answer::h1).map_err(SendError::Http))
            }
        }
    }

    /// Sends on an HTTP/2 connection, the call counted among its streams (`stream`, held by the
    /// answer until it is dropped); a connection that failed is dropped from the list, so a retry
    /// takes another.
    async fn send_h2(
        &self,
        mut sender: http2::SendRequest<CallBody>,
        stream: Stream,
        request: Request<CallBody>,
    ) -> Attempt {
        if sender.ready().await.is_err() {
            self.forget_closed_h2();
            return Attempt::Unsent(request);
        }
        match sender.try_send_request(request).await {
            Ok(response) => Attempt::Sent(Ok(Answer {
                response,
                _stream: Some(stream),
            })),
            Err(mut failed) => {
                self.forget_closed_h2();
                match failed.take_message() {
                    Some(unsent) => Attempt::Unsent(unsent),
                    None => Attempt::Sent(Err(SendError::Http(failed.into_error()))),
                }
            }
        }
    }

    /// Whether an open connection could take a call now.
    fn can_take_a_call(&self) -> bool {
        let open = self.lock();
        open.h2.iter().any(|h2| {
            !h2.sender.is_closed() && h2.streams.load(Ordering::Relaxed) < STREAMS_PER_CONNECTION
        }) || open.h1.iter().any(http1::SendRequest::is_ready)
    }

    /// An HTTP/2 connection with room for one more call, the call's stream counted on it at once
    /// (under the lock, so that concurrent calls cannot overfill it).
    fn h2_with_room(&self) -> Option<(http2::SendRequest<CallBody>, Stream)> {
        let mut open = self.lock();
        open.h2.retain(|h2| !h2.sender.is_closed());
        open.h2
            .iter()
            .find(|h2| h2.streams.load(Ordering::Relaxed) < STREAMS_PER_CONNECTION)
            .map(|h2| (h2.sender.clone(), Stream::count(h2.streams.clone())))
    }

    /// A ready HTTP/1.1 connection, the most recently listed.
    fn ready_h1(&self) -> Option<http1::SendRequest<CallBody>> {
        let mut open = self.lock();
        open.h1.retain(|sender| !sender.is_closed());
        let at = open.h1.iter().rposition(http1::SendRequest::is_ready)?;
        Some(open.h1.remove(at))
    }

    /// Drops the HTTP/2 connections that refuse calls now (a `GOAWAY`, a failure).
    fn forget_closed_h2(&self) {
        self.lock().h2.retain(|h2| !h2.sender.is_closed());
    }

    /// Dials and handshakes a new connection, in the protocol the API chose; when its task ends,
    /// a connection is kept warm ([`connection_ended`]).
    async fn open(shared: &Arc<Self>) -> Result<Opened, SendError> {
        let io = shared
            .dial
            .dial()
            .await
            .map_err(|e| SendError::Connect(D::PEER, e))?;
        // Counted before its task can end, and uncounted whichever way it ends (the task done,
        // aborted or panicked, or the handshake failed): the guard goes with the task.
        shared.lock().live += 1;
        let live = Live(Arc::downgrade(shared));
        let connection = handshake(io, move || drop(live))
            .await
            .map_err(SendError::Http)?;
        let mut open = shared.lock();
        Ok(match connection {
            Connection::H2(sender) => {
                open.speaks_h2 = Some(true);
                let streams = Arc::new(AtomicUsize::new(0));
                let stream = Stream::count(streams.clone());
                open.h2.push(H2 {
                    sender: sender.clone(),
                    streams,
                });
                Opened::H2(sender, stream)
            }
            Connection::H1(sender) => {
                open.speaks_h2 = Some(false);
                Opened::H1(sender)
            }
        })
    }
}

/// A new connection, as the API chose its protocol (on HTTP/2, one stream counted for the call that
/// opened it; the background dial drops it at once).
enum Opened {
    H1(http1::SendRequest<CallBody>),
    H2(http2::SendRequest<CallBody>, Stream),
}

/// One call counted among an HTTP/2 connection's streams until it is dropped.
pub(crate) struct Stream(Arc<AtomicUsize>);

impl Stream {
    fn count(streams: Arc<AtomicUsize>) -> Stream {
        streams.fetch_add(1, Ordering::Relaxed);
        Stream(streams)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
