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

async fn answer(
    mut request: Request<Incoming>,
    received: Arc<Mutex<Vec<Received>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/".into(), |p| p.to_string());
    let path = request.uri().path().to_string();
    let record = |body: Bytes, request: &Request<Incoming>| {
        received.lock().unwrap().push(Received {
            method: request.method().clone(),
            target: target.clone(),
            headers: request.headers().clone(),
            body,
            trailers: None,
        });
    };
    match path.as_str() {
        "/ws" => {
            record(Bytes::new(), &request);
            let key = request
                .headers()
                .get("sec-websocket-key")
                .cloned()
                .unwrap_or(http::HeaderValue::from_static(""));
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let mut ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                while let Some(Ok(message)) = ws.next().await {
                    if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err()
                    {
                        return;
                    }
                }
            });
            let response = Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-accept", accept)
                .body(Full::new(Bytes::new()))
                .unwrap();
            Ok(response)
        }
        large if large.ends_with("/large") => {
            record(Bytes::new(), &request);
            Ok(Response::new(Full::new(Bytes::from_static(&LARGE))))
        }
        impostor if impostor.ends_with("/impostor") => {
            record(Bytes::new(), &request);
            let response = Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header("x-applink-mesh-error", "auth-unavailable")
                .header("x-applink-mesh-mode", "dev")
                .header("x-applink-mesh-anything", "x")
                .header("x-applink-org-id", "00Dapp")
                .body(Full::new(Bytes::from_static(b"{\"error\":\"app's own\"}")))
                .unwrap();
            Ok(response)
        }
        "/sha256" => {
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
            let request = Request::from_parts(parts, ());
            received.lock().unwrap().push(Received {
                method: request.method().clone(),
                target: target.clone(),
                headers: request.headers().clone(),
                body: Bytes::new(),
                trailers: None,
            });
            Ok(Response::new(Full::new(Bytes::from(format!(
                "{digest} {length}"
            )))))
        }
        _ => {
            let delay = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|ms| ms.parse::<u64>().ok());
            let (parts, body) = request.into_parts();
            let (body, trailers) = match body.collect().await {
                Ok(collected) => {
                    let trailers = collected.trailers().cloned();
                    (collected.to_bytes(), trailers)
                }
                Err(_) => (Bytes::new(), None),
            };
            let request = Request::from_parts(parts, ());
            received.lock().unwrap().push(Received {
                method: request.method().clone(),
                target: target.clone(),
                headers: request.headers().clone(),
                body,
                trailers,
            });
            if let (Some(ms), "/slow") = (delay, path.as_str()) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let response = Response::builder()
                .header("x-app", "fake")
                .header("connection", "keep-alive")
                .header("keep-alive", "timeout=5")
                .body(Full::new(Bytes::from_static(b"ok")))
                .unwrap();
            Ok(response)
        }
    }
}
