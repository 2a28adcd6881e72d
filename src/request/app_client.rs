//! Forwarding to the app (docs/behaviour.md §6): keep-alive connections ([`Pool`]), bodies
//! streamed both ways, upgrades tunnelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, Uri, Version, header};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::pool::{Dial, DialError, Pool};

use crate::body::MeshBody;
use crate::config::AppTarget;
use crate::request::error::MeshError;
use crate::shutdown::{Phase, Shutdown, reached};
use crate::telemetry::{Inbound, RequestScope};

/// How long a failed request to the app waits for the drain to begin before it is called an
/// outage. On a dyno Heroku sends SIGTERM to every process at once, and the app may stop listening
/// a moment before the sidecar has acted on its own signal; its failures then are the shutdown's.
const SIGNAL_SKEW: Duration = Duration::from_millis(500);

/// Opens a connection to the app: TCP to `host:port`, `TCP_NODELAY` on.
struct AppDial {
    address: String,
}

impl Dial for AppDial {
    type Io = TokioIo<TcpStream>;
    const PEER: &'static str = "the app";

    async fn dial(&self) -> Result<TokioIo<TcpStream>, DialError> {
        let stream = TcpStream::connect(&self.address).await?;
        let _ = stream.set_nodelay(true);
        Ok(TokioIo::new(stream))
    }
}

pub(crate) struct AppClient {
    pool: Pool<AppDial, MeshBody>,
    /// Set once the drain has ended: the pool's connections are closed, and no request is sent.
    closed: AtomicBool,
    /// `host:port` of the app as a `Host` value, for requests that arrive without one (HTTP/2).
    authority: HeaderValue,
    /// On a dyno (`DYNO` set), where Heroku signals the app itself when it stops the dyno.
    on_dyno: bool,
}

impl AppClient {
    /// The client, and its pool's sweep on the current runtime.
    pub(crate) fn new(app: &AppTarget, pool_idle: Duration, on_dyno: bool) -> AppClient {
        let authority = app.authority();
        AppClient {
            pool: Pool::new(
                AppDial {
                    address: authority.clone(),
                },
                app_http(),
                pool_idle,
            ),
            closed: AtomicBool::new(false),
            authority: HeaderValue::from_str(&authority)
                .unwrap_or(HeaderValue::from_static("127.0.0.1")),
            on_dyno,
        }
    }

    /// Sends `request` (headers already rewritten) to the app; its response headers must arrive
    /// before `deadline` (none for an upgrade). On a dyno, a failure during the drain is
    /// `ShuttingDown`: Heroku signalled the app too, and a retry belongs on another dyno. (Off a dyno
    /// the sidecar signals the app only after its drain, so a failure then is the app's own.)
    pub(crate) async fn send(
        &self,
        mut request: Request<MeshBody>,
        deadline: Option<Instant>,
        inbound: &Inbound,
        shutdown: &Shutdown,
    ) -> Result<Response<Incoming>, MeshError> {
        self.address_to_app(&mut request)?;
        // A request whose time is up (a slow authentication, a long boot wait) never reaches the
        // app: it would do the work for an answer nobody receives.
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(MeshError::AppTimeout);
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(MeshError::ShuttingDown);
        }
        let sent = self.pool.send(request);
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, sent)
                .await
                .map_err(|_| MeshError::AppTimeout)?,
            None => sent.await,
        };
        let e = match result {
            Ok(response) => return Ok(response),
            Err(e) => e,
        };
        if inbound.broken.load(Ordering::Relaxed) {
            // The caller's body failed (bad chunked framing, or the caller went away): not an
            // outage of the app.
            tracing::debug!(error = %e, "the request body could not be read");
            return Err(MeshError::BadRequestBody);
        }
        if self.on_dyno && (shutdown.is_draining() || shutdown.draining_within(SIGNAL_SKEW).await) {
            tracing::debug!(error = %e, connect = e.is_connect(), "request to the app failed during the drain: the app is stopping");
            return Err(MeshError::ShuttingDown);
        }
        tracing::warn!(error = %e, connect = e.is_connect(), "request to the app failed");
        Err(MeshError::AppUnavailable)
    }

    /// Points the request at the app over HTTP/1.1 in origin form, keeping its path and query and
    /// the caller's `Host`; an HTTP/2 request, which has none, gets its `:authority`.
    fn address_to_app(&self, request: &mut Request<MeshBody>) -> Result<(), MeshError> {
        if !request.headers().contains_key(header::HOST) {
            let host = request
                .uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
                .unwrap_or_else(|| self.authority.clone());
            request.headers_mut().insert(header::HOST, host);
        }
        let path = std::mem::take(request.uri_mut())
            .into_parts()
            .path_and_query
            .unwrap_or(PathAndQuery::from_static("/"));
        // Only an origin-form path goes to the app (not `OPTIONS *`).
        if !path.as_str().starts_with('/') {
            return Err(MeshError::BadPath("the path cannot be forwarded".into()));
        }
        *request.uri_mut() = Uri::from(path);
        *request.version_mut() = Version::HTTP_11;
        Ok(())
    }

    /// Closes the pool: idle connections to the app close now, busy ones when their request ends.
    pub(crate) fn close_idle(&self) {
        self.closed.store(true, Ordering::Release);
        self.pool.close();
    }
}

/// The most the sidecar reads from the app ahead of the caller, per connection: the read buffer,
/// and so the largest chunk of a response body (hyper's default grows to 400 KiB). A caller that
/// stops reading holds one chunk queued for it and one on its way, so this bounds what it costs
/// (docs/behaviour.md §11), as nginx's `proxy_buffers` do. The app's response head must fit in it
/// too: 64 KiB, the default limit of a caller's request head (Envoy's is 60 KiB).
pub(crate) const APP_READ_BUFFER: usize = 64 * 1024;

/// How the sidecar speaks HTTP/1.1 to the app.
fn app_http() -> http1::Builder {
    let mut http = http1::Builder::new();
    // Header names in canonical form (`X-Client-Context`), as the official mesh, written in Go,
    // sends them: apps that look a name up case-sensitively were written against it.
    http.title_case_headers(true);
    http.max_buf_size(APP_READ_BUFFER);
    http
}

/// Joins the caller's and the app's upgraded connections and copies bytes both ways until either
/// side closes, or the shutdown reaches [`Phase::Closed`] (the drain has ended).
pub(crate) fn tunnel(
    inbound: hyper::upgrade::OnUpgrade,
    outbound: hyper::upgrade::OnUpgrade,
    mut phase: watch::Receiver<Phase>,
) {
    // The tunnel's lines belong to the request that opened it.
    let scope = RequestScope::with_current(Clone::clone);
    let tunnel = async move {
        let (Ok(inbound), Ok(outbound)) = (inbound.await, outbound.await) else {
            tracing::debug!("upgrade did not complete on one side");
            return;
        };
        let mut inbound = TokioIo::new(inbound);
        let mut outbound = TokioIo::new(outbound);
        tokio::select! {
            result = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "upgraded connection ended with an error");
                }
            }
            _ = reached(&mut phase, Phase::Closed) => tracing::debug!("closing an upgraded connection: drain ended"),
        }
    };
    match scope {
        Some(scope) => tokio::spawn(scope.around(tunnel)),
        None => tokio::spawn(tunnel),
    };
}
