//! Keep-alive HTTP/1.1 connections to the app: one origin, so a list rather than a keyed pool. (The
//! AppLink API's connections, HTTP/2 or HTTP/1.1 and kept warm, are `auth::connections`; they
//! share [`Dial`] and [`SendError`].)
//!
//! Why not hyper-util's pooled client, which this replaced (issue 22): per request it hashed its
//! pool key with SipHash, checked a connection out through its waiter machinery, and spawned a
//! task to put the connection back once it was ready again; about 8,700 instructions of the ~54,000
//! a forwarded request costs (callgrind, dev mode), and as much again on every AppLink API call.
//! Here a request takes the most recently used connection that is ready and was not idle for the
//! pool's idle period; a connection is listed again once its answer's head is in, busy until its
//! body ends, and `is_ready` says when it may carry the next request. What the pooled client did
//! that matters is kept: a request that a reused connection closed before writing is sent again on
//! a new one (`try_send_request` hands it back), idle connections close after the idle period, and
//! [`Pool::close`] closes idle connections at once and busy ones when their response ends.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use tokio::time::Instant;

/// What a connection failed to open with: an I/O error, or a TLS or DNS one behind a connector.
pub(crate) type DialError = Box<dyn StdError + Send + Sync>;

/// Opens a new connection to the pool's origin.
pub(crate) trait Dial: Send + Sync + 'static {
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;
    /// Who is dialled, for the logs: `the app`.
    const PEER: &'static str;

    fn dial(&self) -> impl Future<Output = Result<Self::Io, DialError>> + Send;
}

/// Why a request did not get a response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be opened to the peer named.
    Connect(&'static str, DialError),
    /// The connection failed while the request was sent or the response awaited.
    Http(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(peer, e) => write!(f, "cannot connect to {peer}: {e}"),
            SendError::Http(e) => write!(f, "{e}"),
        }
    }
}

impl StdError for SendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SendError::Connect(_, e) => Some(e.as_ref()),
            SendError::Http(e) => Some(e),
        }
    }
}

impl SendError {
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, SendError::Connect(..))
    }
}

struct Pooled<B> {
    sender: SendRequest<B>,
    /// When it was last seen carrying a request (taken, or busy at a sweep).
    used: Instant,
}

/// The listed connections, and whether the pool is closed.
struct Connections<B> {
    list: Vec<Pooled<B>>,
    closed: bool,
}

pub(crate) struct Pool<D, B> {
    dial: D,
    /// How each new connection speaks HTTP/1.1.
    http: http1::Builder,
    /// How long a connection may stay idle.
    idle: Duration,
    connections: Arc<Mutex<Connections<B>>>,
}

impl<D, B> Pool<D, B>
where
    D: Dial,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    /// An empty pool; a task (on the current runtime) closes connections idle for `idle`.
    pub(crate) fn new(dial: D, http: http1::Builder, idle: Duration) -> Pool<D, B> {
        let connections = Arc::new(Mutex::new(Connections {
            list: Vec::new(),
            closed: false,
        }));
        tokio::spawn(sweep(Arc::downgrade(&connections), idle));
        Pool {
            dial,
            http,
            idle,
            connections,
        }
    }

    /// Sends `request` (origin-form, headers final) on a ready connection, or a new one.
    pub(crate) async fn send(
        &self,
        mut request: Request<B>,
    ) -> Result<Response<Incoming>, SendError> {
        let upgrade = request.headers().contains_key(http::header::UPGRADE);
        if let Some(mut sender) = self.take_ready() {
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.keep(sender, upgrade);
                    return Ok(response);
                }
                // The connection closed before the request was written (the peer timed it out
                // while it was idle): the request is whole, and goes on a new connection.
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(SendError::Http(failed.into_error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        // Listed only once the answer's head is in: before that, hyper may call a connection
        // ready that has a request queued.
        let response = sender
            .send_request(request)
            .await
            .map_err(SendError::Http)?;
        self.keep(sender, upgrade);
        Ok(response)
    }

    /// The most recently used connection that can take a request now; closed ones, and ready ones
    /// idle for the idle period (the peer may be closing them), are dropped.
    fn take_ready(&self) -> Option<SendRequest<B>> {
        let now = Instant::now();
        let mut connections = self.lock();
        connections.list.retain(|pooled| {
            let expired = pooled.sender.is_ready() && now.duration_since(pooled.used) >= self.idle;
            !pooled.sender.is_closed() && !expired
        });
        let at = connections
            .list
            .iter()
            .rposition(|pooled| pooled.sender.is_ready())?;
        Some(connections.list.remove(at).sender)
    }

    /// Puts a connection that carries a request back in the list (busy until its response ends);
    /// one that switches protocols leaves HTTP for good.
    fn keep(&self, sender: SendRequest<B>, upgrade: bool) {
        let mut connections = self.lock();
        // After the close, a connection that was busy then closes when its response ends.
        if !upgrade && !connections.closed {
            connections.list.push(Pooled {
                sender,
                used: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> Result<SendRequest<B>, SendError> {
        let io = self
            .dial
            .dial()
            .await
            .map_err(|e| SendError::Connect(D::PEER, e))?;
        let (sender, connection) = self.http.handshake(io).await.map_err(SendError::Http)?;
        tokio::spawn(async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!(error = %e, "a pooled connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Closes the idle connections now, the busy ones when their request ends; no connection is
    /// listed again.
    pub(crate) fn close(&self) {
        let mut connections = self.lock();
        connections.closed = true;
        connections.list.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connections<B>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every half `idle`, closes the connections that have been ready (idle) for `idle`, and marks the
/// busy ones as used now; ends with the pool.
async fn sweep<B: Send + 'static>(connections: Weak<Mutex<Connections<B>>>, idle: Duration) {
    let period = (idle / 2).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(period).await;
        let Some(connections) = connections.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut connections = connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.list.retain_mut(|pooled| {
            if pooled.sender.is_closed() {
                return false;
            }
            if !pooled.sender.is_ready() {
                pooled.used = now;
                return true;
            }
            now.duration_since(pooled.used) < idle
        });
    }
}
