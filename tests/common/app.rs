//! The fake app: records what it receives and answers according to the path.
//!
//! - `/slow?ms=N`: waits N ms before answering;
//! - `/sha256`: answers the sha256 (hex) and length of the body, streamed;
//! - `/ws`: a WebSocket echo server;
//! - `/large` (or any path ending so): 200 with a 64 MiB body of zeros;
//! - `/impostor` (or any path ending so): 503 with the sidecar's own response headers (`x-applink-mesh-*`) set by the app;
//! - anything else: 200 `ok` with `x-app: fake`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

/// One request as the app saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    /// Path and query.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Trailers after a chunked body, if any arrived.
    pub trailers: Option<HeaderMap>,
}

#[derive(Clone)]
pub struct FakeApp {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: tokio::sync::watch::Sender<bool>,
    open_connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeApp {
    pub async fn start() -> FakeApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        FakeApp::serve(listener)
    }

    /// Serves on a port chosen earlier (the boot gate test starts the app late).
    pub async fn start_on(port: u16) -> FakeApp {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        FakeApp::serve(listener)
    }

    fn serve(listener: TcpListener) -> FakeApp {
        let app = FakeApp {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            stop: tokio::sync::watch::channel(false).0,
            open_connections: Arc::default(),
        };
        let received = app.received.clone();
        let open = app.open_connections.clone();
        let mut stopped = app.stop.subscribe();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted { Ok((stream, _)) => stream, Err(_) => return },
                    _ = stopped.wait_for(|s| *s) => return,
                };
                let received = received.clone();
                let mut stopped = stopped.clone();
                let open = open.clone();
                open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(request, received.clone()));
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = connection => {}
                        _ = stopped.wait_for(|s| *s) => {}
                    }
                    open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        app
    }

    /// Stops listening and drops every connection, as an app that crashed.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Connections to the app that are still open (idle keep-alive ones included).
    pub fn open_connections(&self) -> usize {
        self.open_connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The only request received; fails if there was not exactly one.
    pub fn only_request(&self) -> Received {
        let received = self.received();
        assert_eq!(
            received.len(),
            1,
            "expected exactly one request at the app, got {}",
            received.len()
        );
        received.into_iter().next().unwrap()
    }
}

/// The `/large` body; zero pages cost nothing until read.
static LARGE: [u8; 64 << 20] = [0; 64 << 20];

/// The fake app's routes: `/ws` (a WebSocket echo), `…/large`, `…/impostor` (an answer dressed
/// as the sidecar's), `/sha256` (the body's digest, streamed), and anything else (the body kept,
/// `/slow?ms=N` answered after N ms). Each records what it received.
async fn answer(
    request: Request<Incoming>,
    received: Arc<Mutex<Vec<Received>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let record = |request: Request<()>, body: Bytes, trailers: Option<HeaderMap>| {
        received
            .lock()
            .unwrap()
            .push(Received::of(request, body, trailers));
    };
    Ok(match path.as_str() {
        "/ws" => websocket(request, record),
        large if large.ends_with("/large") => {
            record(head_of(&request), Bytes::new(), None);
            Response::new(Full::new(Bytes::from_static(&LARGE)))
        }
        impostor if impostor.ends_with("/impostor") => {
            record(head_of(&request), Bytes::new(), None);
            impostor_answer()
        }
        "/sha256" => {
            let (head, answer) = sha256(request).await;
            record(head, Bytes::new(), None);
            answer
        }
        _ => keep_then_answer(request, &path, record).await,
    })
}

/// Any other route: keeps the request with its whole body and trailers, then answers `ok`, after
/// `?ms=N` milliseconds on `/slow`.
async fn keep_then_answer(
    request: Request<Incoming>,
    path: &str,
    record: impl FnOnce(Request<()>, Bytes, Option<HeaderMap>),
) -> Response<Full<Bytes>> {
    let delay = slow_ms(&request, path);
    let (parts, body) = request.into_parts();
    let (body, trailers) = match body.collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            (collected.to_bytes(), trailers)
        }
        Err(_) => (Bytes::new(), None),
    };
    record(Request::from_parts(parts, ()), body, trailers);
    if let Some(ms) = delay {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    Response::builder()
        .header("x-app", "fake")
        .header("connection", "keep-alive")
        .header("keep-alive", "timeout=5")
        .body(Full::new(Bytes::from_static(b"ok")))
        .unwrap()
}

impl Received {
    fn of(request: Request<()>, body: Bytes, trailers: Option<HeaderMap>) -> Received {
        let target = request
            .uri()
            .path_and_query()
            .map_or("/".into(), |p| p.to_string());
        let (parts, ()) = request.into_parts();
        Received {
            method: parts.method,
            target,
            headers: parts.headers,
            body,
            trailers,
        }
    }
}

/// A request's head alone, to record.
fn head_of<B>(request: &Request<B>) -> Request<()> {
    let mut head = Request::new(());
    *head.method_mut() = request.method().clone();
    *head.uri_mut() = request.uri().clone();
    *head.headers_mut() = request.headers().clone();
    head
}

/// `/slow?ms=N`: how long to wait before answering.
fn slow_ms<B>(request: &Request<B>, path: &str) -> Option<u64> {
    let ms = request.uri().query()?.strip_prefix("ms=")?.parse().ok()?;
    (path == "/slow").then_some(ms)
}

/// Accepts a WebSocket upgrade and echoes every text and binary message.
fn websocket(
    mut request: Request<Incoming>,
    record: impl FnOnce(Request<()>, Bytes, Option<HeaderMap>),
) -> Response<Full<Bytes>> {
    record(head_of(&request), Bytes::new(), None);
    let key = request
        .headers()
        .get("sec-websocket-key")
        .cloned()
        .unwrap_or(http::HeaderValue::from_static(""));
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// An answer dressed as the sidecar's own (its reason and mode headers, an AppLink header).
fn impostor_answer() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header("x-applink-mesh-error", "auth-unavailable")
        .header("x-applink-mesh-mode", "dev")
        .header("x-applink-mesh-anything", "x")
        .header("x-applink-org-id", "00Dapp")
        .body(Full::new(Bytes::from_static(b"{\"error\":\"app's own\"}")))
        .unwrap()
}

/// The body's sha256 and length, read as it streams (never held whole): `<hex> <length>`.
async fn sha256(request: Request<Incoming>) -> (Request<()>, Response<Full<Bytes>>) {
    let (parts, mut body) = request.into_parts();
    let mut hash = Sha256::new();
    let mut length = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(data) = frame.data_ref() {
            hash.update(data);
            length += data.len() as u64;
        }
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let answer = Response::new(Full::new(Bytes::from(format!("{digest} {length}"))));
    (Request::from_parts(parts, ()), answer)
}
