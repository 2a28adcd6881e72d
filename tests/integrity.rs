//! What the app answers reaches the caller byte for byte (docs/behaviour.md §6, §10): the rewrite
//! of the HTTP layer's bare refusals never touches a response to a request that was read, however
//! the app's bytes fall across writes, and the next response on the connection is intact.
//!
//! The app here is a raw TCP server that writes its response in scripted pieces and writes the
//! next piece only once the caller has read the previous one, so every piece boundary is a write
//! boundary at the sidecar, without sleeping.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FakeApi, FakeApp, Sidecar, send};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What hyper writes when it cannot read a request head (here with a fixed date): 103 bytes.
const BARE_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 17:34:11 GMT\r\n\r\n";
const BARE_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 17:34:11 GMT\r\n\r\n";
const BARE_414_HTTP_1_0: &[u8] = b"HTTP/1.0 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 17:34:11 GMT\r\n\r\n";
const NEXT_BODY: &[u8] = b"the next response";

/// A raw app: `/public/shaped` answers 200 with the scripted body, written piece by piece, each
/// piece once the caller has read everything before it; `/public/next` answers [`NEXT_BODY`].
struct ShapedApp {
    port: u16,
    pieces: Arc<Mutex<Vec<Vec<u8>>>>,
    /// How much of the shaped response the caller has read: nothing yet (`None`), or its head
    /// and this many body bytes.
    read_by_caller: watch::Sender<Option<usize>>,
}

impl ShapedApp {
    async fn start() -> ShapedApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = ShapedApp {
            port: listener.local_addr().unwrap().port(),
            pieces: Arc::default(),
            read_by_caller: watch::channel(None).0,
        };
        let pieces = app.pieces.clone();
        let read_by_caller = app.read_by_caller.subscribe();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, pieces.clone(), read_by_caller.clone()));
            }
        });
        app
    }
}

async fn serve(
    mut stream: TcpStream,
    pieces: Arc<Mutex<Vec<Vec<u8>>>>,
    mut read_by_caller: watch::Receiver<Option<usize>>,
) {
    let mut buffer = Vec::new();
    loop {
        let Some(end) = read_head(&mut stream, &mut buffer).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end);
        if head.starts_with("GET /public/next ") {
            let mut answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                NEXT_BODY.len()
            )
            .into_bytes();
            answer.extend_from_slice(NEXT_BODY);
            stream.write_all(&answer).await.unwrap();
            continue;
        }
        let pieces = pieces.lock().unwrap().clone();
        let length: usize = pieces.iter().map(Vec::len).sum();
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        // Each piece goes out only once the caller has read everything before it, so that every
        // piece starts a write of the sidecar's.
        let mut sent = 0;
        for piece in pieces {
            let caller_has_it = |read: &Option<usize>| read.is_some_and(|read| read >= sent);
            if read_by_caller.wait_for(caller_has_it).await.is_err() {
                return;
            }
            stream.write_all(&piece).await.unwrap();
            sent += piece.len();
        }
    }
}

/// Reads until the end of a request head (these requests have no body); its length, or `None`
/// when the connection closed.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(at + 4);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A production sidecar in front of the app with `/public/**` bypassed.
async fn sidecar(app_port: u16, api: &FakeApi) -> Sidecar {
    Sidecar::production(app_port, &api.url())
        .yaml("mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n")
        .env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )
        .start()
        .await
}

/// A response as it arrived: its head, and exactly `content-length` body bytes.
struct Framed {
    head: String,
    body: Vec<u8>,
}

/// Reads one response from `stream` (`pending` holds bytes read past the previous one), reporting
/// body bytes as they arrive; bytes past the body stay in `pending`.
async fn read_response(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    progress: Option<&watch::Sender<Option<usize>>>,
) -> Framed {
    let end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        read_more(stream, pending).await;
    };
    let head = String::from_utf8(pending[..end].to_vec()).expect("a text head");
    pending.drain(..end);
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no content-length in {head:?}"));
    loop {
        if let Some(progress) = progress {
            progress.send_replace(Some(pending.len().min(length)));
        }
        if pending.len() >= length {
            break;
        }
        read_more(stream, pending).await;
    }
    let body = pending.drain(..length).collect();
    Framed { head, body }
}

async fn read_more(stream: &mut TcpStream, pending: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
        .await
        .expect("the rest of the response within 10 s")
        .unwrap();
    assert!(n > 0, "the connection closed mid-response");
    pending.extend_from_slice(&chunk[..n]);
}

/// Asks for the shaped response and then the next one on the same keep-alive connection; returns
/// both as the caller read them, and what arrived after them, if anything.
async fn exchange(addr: SocketAddr, app: &ShapedApp, pieces: Vec<Vec<u8>>) -> (Framed, Framed) {
    *app.pieces.lock().unwrap() = pieces;
    app.read_by_caller.send_replace(None);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut pending = Vec::new();
    stream
        .write_all(b"GET /public/shaped HTTP/1.1\r\nhost: app\r\n\r\n")
        .await
        .unwrap();
    let shaped = read_response(&mut stream, &mut pending, Some(&app.read_by_caller)).await;
    stream
        .write_all(b"GET /public/next HTTP/1.1\r\nhost: app\r\n\r\n")
        .await
        .unwrap();
    let next = read_response(&mut stream, &mut pending, None).await;
    assert!(
        pending.is_empty(),
        "bytes after the next response: {:?}",
        String::from_utf8_lossy(&pending)
    );
    (shaped, next)
}

fn assert_intact(shaped: &Framed, next: &Framed, sent: &[u8]) {
    assert!(
        shaped.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        shaped.head
    );
    assert!(
        !shaped.head.contains("x-applink-mesh-error"),
        "{}",
        shaped.head
    );
    assert_eq!(
        String::from_utf8_lossy(&shaped.body),
        String::from_utf8_lossy(sent)
    );
    assert!(
        next.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        next.head
    );
    assert_eq!(next.body, NEXT_BODY);
}

/// The review's case: a body that is exactly hyper's bare 400, written on its own.
#[tokio::test]
async fn an_app_body_shaped_like_hypers_refusal_reaches_the_caller_unchanged() {
    let app = ShapedApp::start().await;
    let api = FakeApi::start().await;
    let mesh = sidecar(app.port, &api).await;
    assert_eq!(BARE_400.len(), 103);
    let (shaped, next) = exchange(mesh.addr, &app, vec![BARE_400.to_vec()]).await;
    assert_intact(&shaped, &next, BARE_400);
}

/// Pieces of an app body: refusal look-alikes and other bytes, cut at arbitrary points and at the
/// look-alikes' own edges.
fn pieces() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let segment = prop_oneof![
        3 => prop::sample::select(vec![BARE_400, BARE_431, BARE_414_HTTP_1_0]).prop_map(<[u8]>::to_vec),
        1 => Just(b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec()),
        2 => prop::collection::vec(any::<u8>(), 1..120),
    ];
    (
        prop::collection::vec((segment, any::<bool>()), 1..4),
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    )
        .prop_map(|(segments, cuts)| {
            let mut body = Vec::new();
            let mut edges = Vec::new();
            for (segment, cut_after) in segments {
                body.extend_from_slice(&segment);
                if cut_after {
                    edges.push(body.len());
                }
            }
            edges.extend(cuts.iter().map(|cut| cut.index(body.len())));
            edges.retain(|&edge| edge > 0 && edge < body.len());
            edges.sort_unstable();
            edges.dedup();
            let mut pieces = Vec::new();
            let mut start = 0;
            for edge in edges.into_iter().chain([body.len()]) {
                pieces.push(body[start..edge].to_vec());
                start = edge;
            }
            pieces
        })
}

#[test]
fn any_app_body_reaches_the_caller_byte_for_byte() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, _api, mesh) = runtime.block_on(async {
        let app = ShapedApp::start().await;
        let api = FakeApi::start().await;
        let mesh = sidecar(app.port, &api).await;
        (app, api, mesh)
    });
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&pieces(), |pieces| {
            let sent = pieces.concat();
            let (shaped, next) = runtime.block_on(exchange(mesh.addr, &app, pieces.clone()));
            prop_assert_eq!(&shaped.body, &sent, "pieces: {:?}", pieces);
            assert_intact(&shaped, &next, &sent);
            Ok(())
        })
        .unwrap();
}

/// The rewrite still answers a head hyper cannot read after a response on the same connection.
#[tokio::test]
async fn a_bad_head_after_a_response_still_gets_the_json_refusal() {
    let app = ShapedApp::start().await;
    let api = FakeApi::start().await;
    let mesh = sidecar(app.port, &api).await;
    let mut stream = TcpStream::connect(mesh.addr).await.unwrap();
    let mut pending = Vec::new();
    stream
        .write_all(b"GET /public/next HTTP/1.1\r\nhost: app\r\n\r\n")
        .await
        .unwrap();
    let next = read_response(&mut stream, &mut pending, None).await;
    assert_eq!(next.body, NEXT_BODY);
    stream
        .write_all(b"GET /public/next HTTP/1.1\r\nbad name: x\r\n\r\n")
        .await
        .unwrap();
    let refusal = read_response(&mut stream, &mut pending, None).await;
    assert!(
        refusal.head.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{}",
        refusal.head
    );
    assert!(
        refusal
            .head
            .contains("\r\nx-applink-mesh-error: malformed-request\r\n"),
        "{}",
        refusal.head
    );
    let json: serde_json::Value = serde_json::from_slice(&refusal.body).unwrap();
    assert!(json["requestId"].is_string(), "{json}");
}

/// The sidecar's own response headers (`x-applink-mesh-*`) are the sidecar's: an app cannot make
/// its answer look like the sidecar's refusal, or claim dev mode in production.
#[tokio::test]
async fn the_apps_x_applink_mesh_headers_never_reach_the_caller() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let production = sidecar(app.port(), &api).await;
    let reply = send(production.addr, "GET", "/public/impostor", &[], "").await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.text(), r#"{"error":"app's own"}"#);
    for name in [
        "x-applink-mesh-error",
        "x-applink-mesh-mode",
        "x-applink-mesh-anything",
    ] {
        assert!(
            !reply.headers.contains_key(name),
            "{name}: {:?}",
            reply.headers
        );
    }
    // Other headers of the app's are its own business.
    assert_eq!(reply.headers["x-applink-org-id"], "00Dapp");

    let dev = Sidecar::dev(app.port()).start().await;
    let reply = send(dev.addr, "GET", "/impostor", &[], "").await;
    assert_eq!(reply.status, 503);
    assert!(!reply.headers.contains_key("x-applink-mesh-error"));
    let modes: Vec<_> = reply
        .headers
        .get_all("x-applink-mesh-mode")
        .iter()
        .collect();
    assert_eq!(modes, ["dev"], "the sidecar's one value");
}
