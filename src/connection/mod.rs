//! The connection layer: the listener and its connections (HTTP/1.1 and h2c), each connection's
//! socket stack and clocks, and the graceful drain. Below it the request pipeline (`request`)
//! answers each request, except the dev dashboard's own routes, which the dashboard answers in
//! front of it; the layers of a connection's socket are `connection_stack`'s to build:
//! `head_errors` (hyper's refusals in the sidecar's words), `activity` (the clocks, the lingering
//! close through `linger`, the HTTP/2 header-block watch through `h2_header_blocks`).

pub(crate) mod activity;
mod h2_header_blocks;
mod head_errors;
mod linger;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::connection::activity::{Activity, ActivityIo, Deadlines, Expired};
use crate::connection::head_errors::{HeadErrorIo, Refusals};
use crate::dashboard::{self, Dashboard};
use crate::request::assertion::{self, AssertionKey};
use crate::request::boot_gate::BootGate;
use crate::request::state::Mesh;
use crate::request::{self, Held};
use crate::shutdown::{Phase, reached};
use crate::telemetry::{LoggedBody, Observer, millis};

/// Who is calling, as the connection saw it.
#[derive(Clone, Copy, Debug)]
struct Caller {
    /// The peer is this machine (a loopback address): the dashboard's guard asks.
    local: bool,
}

/// Why the sidecar could not start.
#[derive(Debug)]
pub enum StartError {
    /// Exit 64.
    Config(ConfigError),
    /// The public port could not be bound (in use, no permission). Exit 1.
    Bind { port: u16, error: io::Error },
    /// The operating system gave no randomness for the assertion's key. Exit 1.
    Randomness,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "{e}"),
            StartError::Bind { port, error } if error.kind() == io::ErrorKind::AddrInUse => {
                write!(
                    f,
                    "port {port} is already in use; stop what listens there or set PORT to another port"
                )
            }
            StartError::Bind { port, error } => write!(f, "cannot listen on port {port}: {error}"),
            StartError::Randomness => f.write_str(
                "the operating system gave no randomness for the assertion's key (getrandom failed)",
            ),
        }
    }
}

impl StartError {
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) => crate::cli::EXIT_USAGE,
            StartError::Bind { .. } | StartError::Randomness => 1,
        }
    }
}

/// A running sidecar.
pub struct Running {
    local_addr: SocketAddr,
    mesh: Arc<Mesh>,
    /// The dev dashboard, when there is one (also the pipeline's observer).
    dashboard: Option<Arc<Dashboard>>,
    /// The accept loop; `None` once `shutdown` has taken it.
    serving: Option<JoinHandle<()>>,
    /// The assertion's key, when it is on: the app is given it (docs/behaviour.md §6.1).
    assertion_key: Option<AssertionKey>,
}

impl Running {
    /// The bound public address (useful with `--port 0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The request counters, for the l2met reporter.
    pub(crate) fn mesh_metrics(&self) -> Arc<crate::telemetry::Metrics> {
        self.mesh.metrics.clone()
    }

    /// What the app the sidecar starts is given in its environment besides its ports: the
    /// assertion's key, when it is on.
    pub(crate) fn app_environment(&self) -> Vec<(&'static str, &str)> {
        self.assertion_key
            .iter()
            .map(|key| (assertion::KEY_VARIABLE, key.expose()))
            .collect()
    }

    /// The supervised app exited: requests no longer wait for it.
    pub(crate) fn app_exited(&self) {
        self.mesh.gate.app_gone();
    }

    /// The dev dashboard's address on this machine, with this run's token (it opens the
    /// dashboard once, then a cookie does); `None` when there is no dashboard.
    pub fn dashboard_url(&self) -> Option<String> {
        let dashboard = self.dashboard.as_ref()?;
        Some(format!(
            "http://localhost:{}{}",
            self.local_addr.port(),
            dashboard.entry()
        ))
    }

    /// The boot gate requests wait at, for the watch that tells the user where the app listens.
    pub(crate) fn boot_gate(&self) -> &BootGate {
        &self.mesh.gate
    }

    /// Whether the app has accepted a connection yet.
    pub fn app_ready(&self) -> bool {
        self.mesh.gate.is_ready()
    }

    /// Stops accepting, lets in-flight requests finish (at most `timeouts.drain`), then closes
    /// upgraded connections.
    pub async fn shutdown(mut self) {
        self.mesh.shutdown.advance(Phase::Draining);
        if let Some(serving) = self.serving.take() {
            let _ = serving.await;
        }
        // The drained requests' spans, sent before the process exits.
        if let Some(traces) = &self.mesh.traces {
            traces.flush().await;
        }
    }
}

/// A sidecar dropped without [`Running::shutdown`] (a test that ends) still stops accepting and
/// drains in the background.
impl Drop for Running {
    fn drop(&mut self) {
        self.mesh.shutdown.advance(Phase::Draining);
    }
}

/// A connection closed by one of its deadlines: a caller that read nothing of its response is
/// worth a line; an idle or slow one is not.
fn say_why_it_closes(why: Expired, deadlines: &Deadlines) {
    if why == Expired::Send {
        tracing::info!(
            send_ms = millis(deadlines.send),
            "closing a connection whose caller read nothing of its response for timeouts.send"
        );
    } else {
        tracing::debug!(reason = ?why, "closing connection");
    }
}

/// Binds the public port and starts serving.
pub async fn start(config: Arc<Config>) -> Result<Running, StartError> {
    let port = config.port;
    let listener = bind(port).map_err(|error| StartError::Bind { port, error })?;
    let local_addr = listener
        .local_addr()
        .map_err(|error| StartError::Bind { port, error })?;
    // The dev dashboard, plugged into the pipeline as the observer of its requests.
    let dashboard = config
        .dashboard()
        .map(|kept| Arc::new(Dashboard::new(kept, dashboard::notices(&config))));
    let observer = dashboard
        .clone()
        .map(|dashboard| dashboard as Arc<dyn Observer>);
    // This boot's assertion key, for the pipeline to sign with and the app to be given.
    let assertion_key = config.assertion.then(AssertionKey::draw).transpose();
    let assertion_key = assertion_key.map_err(|_| StartError::Randomness)?;
    let mesh = Mesh::new(config, observer, assertion_key.as_ref()).map_err(StartError::Config)?;
    let mesh = Arc::new(mesh);
    let serving = Some(tokio::spawn(serve(
        listener,
        mesh.clone(),
        dashboard.clone(),
    )));
    Ok(Running {
        local_addr,
        mesh,
        dashboard,
        serving,
        assertion_key,
    })
}

/// `[::]` dual-stack (Fir dynos need IPv6), falling back to `0.0.0.0` where IPv6 is unavailable.
fn bind(port: u16) -> io::Result<TcpListener> {
    match listen(SocketAddr::from(([0u16; 8], port)), true) {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(e),
        Err(e) => {
            tracing::debug!(error = %e, "IPv6 unavailable; listening on 0.0.0.0");
            listen(SocketAddr::from(([0u8; 4], port)), false)
        }
    }
}

fn listen(addr: SocketAddr, dual_stack: bool) -> io::Result<TcpListener> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

fn connection_builder(mesh: &Mesh) -> auto::Builder<TokioExecutor> {
    let header_limit = mesh.config.limits.header_bytes;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true)
        // The handler answers the JSON 431 for heads between `headerBytes` and this buffer; hyper
        // refuses heads beyond it itself, and `HeadErrorIo` turns that answer into the JSON one.
        .max_buf_size(
            usize::try_from(header_limit.saturating_mul(2))
                .unwrap_or(usize::MAX)
                .max(8192),
        );
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(header_limit).unwrap_or(u32::MAX));
    builder
}

/// How often a draining connection checks whether its requests are done.
const DRAIN_TICK: Duration = Duration::from_millis(10);

async fn serve(listener: TcpListener, mesh: Arc<Mesh>, dashboard: Option<Arc<Dashboard>>) {
    let builder = Arc::new(connection_builder(&mesh));
    // Every connection holds a sender; when all are gone, every connection has finished.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let mut phase = mesh.shutdown.watch();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let caller = Caller { local: peer.ip().to_canonical().is_loopback() };
                    tokio::spawn(connection(stream, caller, mesh.clone(), dashboard.clone(), builder.clone(), open_tx.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = reached(&mut phase, Phase::Draining) => break,
        }
    }
    drop(listener);
    drop(open_tx);
    tracing::info!(
        drain_ms = millis(mesh.config.timeouts.drain),
        "draining: no longer accepting connections"
    );
    if tokio::time::timeout(mesh.config.timeouts.drain, open_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("drain timed out with requests still in flight");
    }
    // The drain has ended: close upgraded connections, and drop the idle pooled connections to the
    // app so an app that waits for its open connections can exit.
    mesh.shutdown.advance(Phase::Closed);
    mesh.app.close_idle();
}

/// The layers between the socket and hyper, innermost first: `HeadErrorIo` sits on the socket, so
/// its rewrite of hyper's refusal replaces exactly the bytes hyper wrote; `ActivityIo` wraps it,
/// so the clocks see every byte that moves (the rewritten answer included) and the lingering
/// close drains the socket itself. Both read the connection's [`Activity`]: requests started and
/// responses done, an upgrade, the protocol.
fn connection_stack(
    stream: TcpStream,
    refusals: Refusals,
    activity: &Arc<Activity>,
) -> ActivityIo<HeadErrorIo<TcpStream>> {
    ActivityIo::new(
        HeadErrorIo::new(stream, refusals, activity.clone()),
        activity.clone(),
    )
}

/// One request's way in: the dev dashboard's own routes answered here, in front of the pipeline
/// (which knows the dashboard only as the observer of the requests it handles); every request,
/// those included, handled and logged by the pipeline.
fn route<E: request::Exchange>(
    mesh: &Arc<Mesh>,
    dashboard: Option<&Dashboard>,
    caller: Caller,
    active: E,
    incoming: Request<Incoming>,
) -> impl Future<Output = Result<Response<LoggedBody<Held<E>>>, Infallible>> + Send + use<E> {
    let dashboard_answer = dashboard
        .filter(|dashboard| dashboard.owns(incoming.uri().path()))
        .map(|dashboard| dashboard.answer(&incoming, &mesh.shutdown, caller.local));
    let mesh = mesh.clone();
    async move { Ok(request::handle(mesh, incoming, active, dashboard_answer).await) }
}

async fn connection(
    stream: TcpStream,
    caller: Caller,
    mesh: Arc<Mesh>,
    dashboard: Option<Arc<Dashboard>>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    _open: mpsc::Sender<()>,
) {
    let mut phase = mesh.shutdown.watch();
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let refusals = Refusals {
        header_limit: mesh.config.limits.header_bytes,
        dev: mesh.config.is_dev(),
    };
    let io = TokioIo::new(connection_stack(stream, refusals, &activity));
    let service = {
        let (mesh, activity) = (mesh.clone(), activity.clone());
        service_fn(move |incoming| {
            let active = activity.request_started();
            route(&mesh, dashboard.as_deref(), caller, active, incoming)
        })
    };
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let deadlines = Deadlines::from(&mesh.config.timeouts);
    let tick = deadlines.tick();
    // The drain: an idle connection, or an HTTP/2 one (whose GOAWAY lets open streams finish), is
    // shut down at once; a busy HTTP/1.1 one once its request is done. A request that arrives on it
    // meanwhile (pipelined, or racing the drain) is answered `shutting-down` by the handler.
    let mut draining = false;
    let mut shut_down = false;
    loop {
        let pause = if draining { DRAIN_TICK } else { tick };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = reached(&mut phase, Phase::Draining), if !draining => draining = true,
            _ = tokio::time::sleep(pause) => {
                if let Some(why) = activity.expired(&deadlines) {
                    // Dropping the connection drops its request, and so the app's connection.
                    say_why_it_closes(why, &deadlines);
                    return;
                }
            }
        }
        if draining && !shut_down && activity.can_shut_down() {
            shut_down = true;
            activity.closing_between_requests();
            connection.as_mut().graceful_shutdown();
        }
    }
}
