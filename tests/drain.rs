//! No request the sidecar accepted is lost on SIGTERM (docs/behaviour.md §7, §11). The app is the
//! test app with a few sync workers: the sidecar's other connections to it wait in its listen
//! queue, and are reset the moment it stops listening.
//!
//! - Without `DYNO` the sidecar controls the order: it finishes what it accepted, and only then
//!   signals the app. Every request gets the app's answer.
//! - On a dyno, Heroku signals every process at once, so the app stops listening while requests
//!   are still queued for it; those get 503 `shutting-down` with `Retry-After` (the router's retry
//!   goes to another dyno), never 502.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::client::{read_to_close, wait_for};
use common::{FakeApp, Sidecar, SidecarProcess, send, test_app};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const REQUESTS: usize = 200;
const WORKERS: &str = "16";
const SLOW: &str = "/slow?ms=300";

/// What one request got: an HTTP answer, or a transport error.
#[derive(Debug)]
enum Outcome {
    Answered {
        status: u16,
        reason: String,
        retry_after: bool,
        body: String,
    },
    Failed(#[expect(dead_code, reason = "shown through Debug when a test fails")] String),
}

async fn get(addr: SocketAddr, target: &str) -> Outcome {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = format!("http://{addr}{target}").parse().unwrap();
    let response = match tokio::time::timeout(Duration::from_secs(60), client.get(uri)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return Outcome::Failed(e.to_string()),
        Err(_) => return Outcome::Failed("no answer within 60 s".into()),
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(e) => return Outcome::Failed(format!("body: {e}")),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    Outcome::Answered {
        status: parts.status.as_u16(),
        reason: header("x-applink-mesh-error").unwrap_or_default(),
        retry_after: header("retry-after").is_some(),
        body,
    }
}

/// Connections the app's listening socket on `127.0.0.1:port` holds in its accept queue, not yet
/// taken by a worker (/proc/net/tcp: a listener's `rx_queue` is its accept backlog).
fn queued_at(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // `0A` is LISTEN; field 4 is `tx_queue:rx_queue`, in hex.
            (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
                .then(|| fields.get(4)?.split(':').nth(1))
                .flatten()
                .and_then(|rx| usize::from_str_radix(rx, 16).ok())
        })
        .unwrap_or(0)
}

/// Sends [`REQUESTS`] requests at once and polls until every one has been forwarded: each has
/// started at a worker (`request /slow`) or waits in the app's accept queue. Counted so that no
/// request is counted twice (an answered request's connection can still look open for a moment).
async fn all_forwarded(
    mesh: &mut SidecarProcess,
    addr: SocketAddr,
    app_port: u16,
) -> Vec<tokio::task::JoinHandle<Outcome>> {
    let requests: Vec<_> = (0..REQUESTS)
        .map(|_| tokio::spawn(get(addr, SLOW)))
        .collect();
    let started = Instant::now();
    loop {
        let at_workers = mesh.output().matches("test-app: request /slow").count();
        let queued = queued_at(app_port);
        if at_workers + queued >= REQUESTS {
            return requests;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{at_workers} requests at the app's workers and {queued} queued after 30 s:\n{}",
            mesh.output()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn outcomes(requests: Vec<tokio::task::JoinHandle<Outcome>>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for request in requests {
        outcomes.push(request.await.unwrap());
    }
    outcomes
}

fn is_app_answer(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Answered { status: 200, body, .. } if body == "slow ok")
}

/// The sidecar in dev mode, not on a dyno, in front of the test app with its workers, which exits
/// 0 on SIGTERM.
fn in_dev_mode_in_front_of_the_test_app(app_port: u16) -> SidecarProcess {
    let port = app_port.to_string();
    let app = test_app::command();
    SidecarProcess::spawn(
        &[("APP_PORT", &port), ("PATH", "/usr/bin:/bin")],
        &[
            "--dev",
            "--port",
            "0",
            "--",
            &app,
            "--workers",
            WORKERS,
            "--term-exit-code",
            "0",
        ],
    )
}

#[tokio::test]
async fn without_a_dyno_every_accepted_request_completes_before_the_app_is_signalled() {
    let app_port = common::free_port();
    let mut mesh = in_dev_mode_in_front_of_the_test_app(app_port);
    let addr = mesh.wait_listening();
    mesh.wait_for_output("test-app: listening");
    let requests = all_forwarded(&mut mesh, addr, app_port).await;
    mesh.signal(Signal::SIGTERM);
    let outcomes = outcomes(requests).await;
    assert_eq!(mesh.wait().code(), Some(0), "{}", mesh.output());
    let lost: Vec<&Outcome> = outcomes.iter().filter(|o| !is_app_answer(o)).collect();
    eprintln!(
        "SIGTERM with {REQUESTS} requests in flight: {} answered by the app, {} not",
        REQUESTS - lost.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "{lost:?}");
    // The app heard the signal only once its last request was answered.
    let output = mesh.output();
    let signalled = output.find("test-app: got SIGTERM").unwrap();
    assert_eq!(
        output[signalled..]
            .matches("test-app: answered /slow")
            .count(),
        0,
        "{output}"
    );
}

#[tokio::test]
async fn on_a_dyno_a_request_the_app_can_no_longer_take_gets_shutting_down() {
    let app_port = common::free_port();
    let (mut mesh, addr) = on_a_dyno_in_front_of_the_test_app(app_port);
    let app_group = Pid::from_raw(mesh.app_pid());
    mesh.wait_for_output("test-app: listening");
    let requests = all_forwarded(&mut mesh, addr, app_port).await;
    // As Heroku does: every process of the dyno at once.
    killpg(app_group, Signal::SIGTERM).unwrap();
    mesh.signal(Signal::SIGTERM);
    let outcomes = outcomes(requests).await;
    assert_eq!(mesh.wait().code(), Some(0), "{}", mesh.output());
    let is_shutting_down = |o: &&Outcome| {
        matches!(o, Outcome::Answered { status: 503, reason, retry_after: true, .. }
            if reason == "shutting-down")
    };
    let answered = outcomes.iter().filter(|o| is_app_answer(o)).count();
    let shutting_down = outcomes.iter().filter(is_shutting_down).count();
    eprintln!(
        "SIGTERM to every process with {REQUESTS} requests in flight: {answered} answered by \
         the app, {shutting_down} × 503 shutting-down"
    );
    let other: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !is_app_answer(o) && !is_shutting_down(o))
        .collect();
    assert!(other.is_empty(), "{other:?}");
    let refused_some = shutting_down > 0;
    assert!(
        refused_some,
        "the app stopped listening with requests queued, yet none was refused"
    );
}

/// The built binary as on a dyno (`DYNO` set), `/slow` bypassed, in front of the test app with
/// `WORKERS` workers that exits 0 on SIGTERM.
fn on_a_dyno_in_front_of_the_test_app(app_port: u16) -> (SidecarProcess, std::net::SocketAddr) {
    let port = app_port.to_string();
    let app = test_app::command();
    let yaml = common::sidecar::temp_file(
        "drain.yaml",
        "mesh:\n  authentication:\n    bypassRoutes: [\"/slow\"]\n",
    );
    let env = [
        ("APP_PORT", port.as_str()),
        ("PATH", "/usr/bin:/bin"),
        ("DYNO", "web.1"),
        // Never called: the route is bypassed.
        ("HEROKU_APPLINK_API_URL", "http://127.0.0.1:9/addons/x"),
        ("HEROKU_APPLINK_TOKEN", "t"),
        (
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        ),
    ];
    let config = yaml.to_str().unwrap();
    let args = [
        "--port",
        "0",
        "--config",
        config,
        "--",
        &app,
        "--workers",
        WORKERS,
        "--term-exit-code",
        "0",
    ];
    let mut mesh = SidecarProcess::spawn(&env, &args);
    let addr = mesh.wait_listening();
    (mesh, addr)
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let slow = tokio::spawn(send(mesh.addr, "GET", "/slow?ms=800", &[], ""));
    wait_for(|| !app.received().is_empty()).await;
    let addr = mesh.addr;
    mesh.running.shutdown().await;
    assert_eq!(slow.await.unwrap().status, 200);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn a_request_arriving_during_the_drain_is_503_shutting_down() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let mut stream = TcpStream::connect(mesh.addr).await.unwrap();
    // Two pipelined requests: the second is read only once the first is answered, after the
    // drain began.
    stream
        .write_all(
            b"GET /slow?ms=600 HTTP/1.1\r\nhost: x\r\n\r\nGET /second HTTP/1.1\r\nhost: x\r\n\r\n",
        )
        .await
        .unwrap();
    wait_for(|| !app.received().is_empty()).await;
    let shutdown = tokio::spawn(mesh.running.shutdown());
    let text = read_to_close(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let second = &text[text.find("\r\n\r\nok").unwrap() + 6..];
    assert!(second.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        second.contains("x-applink-mesh-error: shutting-down"),
        "{text}"
    );
    assert_eq!(
        app.received().len(),
        1,
        "the second request never reached the app"
    );
    shutdown.await.unwrap();
}

/// A caller still sending a large body when the drain answers it `shutting-down` gets that answer,
/// not a reset: the close lingers, and the drain's own close of the (now idle) connection does not
/// cut the linger short.
#[tokio::test]
async fn a_caller_still_sending_during_the_drain_gets_its_503() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let mut stream = TcpStream::connect(mesh.addr).await.unwrap();
    let body = vec![b'a'; 32 << 20];
    let heads = format!(
        "GET /slow?ms=600 HTTP/1.1\r\nhost: x\r\n\r\nPOST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(heads.as_bytes()).await.unwrap();
    wait_for(|| !app.received().is_empty()).await;
    let shutdown = tokio::spawn(mesh.running.shutdown());
    stream
        .write_all(&body)
        .await
        .expect("the sidecar closed the connection while the caller was still sending");
    let text = read_to_close(&mut stream).await;
    let second = &text[text.find("\r\n\r\nok").expect(&text) + 6..];
    assert!(second.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        second.contains("x-applink-mesh-error: shutting-down"),
        "{text}"
    );
    assert_eq!(app.received().len(), 1, "the upload never reached the app");
    drop(stream);
    shutdown.await.unwrap();
}

#[tokio::test]
async fn the_end_of_the_drain_closes_websockets_and_idle_connections_to_the_app() {
    let app = FakeApp::start().await;
    // A long pool idle time: only the drain can close the pooled connection this soon.
    let mesh = Sidecar::dev(app.port())
        .yaml("mesh:\n  timeouts:\n    appPoolIdle: 5m\n")
        .start()
        .await;
    let stream = TcpStream::connect(mesh.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", mesh.addr), stream)
        .await
        .unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("ping"))
        .await
        .unwrap();
    assert!(ws.next().await.unwrap().is_ok());
    // The upgrade took its connection out of the pool; this request opens a new, pooled one.
    assert_eq!(send(mesh.addr, "GET", "/", &[], "").await.status, 200);
    assert_eq!(app.open_connections(), 1, "the idle pooled connection");

    mesh.running.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the WebSocket is closed");
    assert!(
        !matches!(
            end,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_)))
        ),
        "{end:?}"
    );
    wait_for(|| app.open_connections() == 0).await;
}
