//! The connection's deadlines (docs/behaviour.md §11) against callers that hold resources without
//! making progress: one that stops reading a response (`timeouts.send`), and one that trickles an
//! HTTP/2 header block (`timeouts.headerRead`).

use crate::common;

use std::time::{Duration, Instant};

use common::client::{read_one_response, read_to_close};
use common::{FakeApi, FakeApp, Sidecar, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A caller that asks for a large response and never reads holds its app connection only until
/// `timeouts.send` passes without progress; then both sides are closed.
#[tokio::test]
async fn a_caller_that_stops_reading_gives_up_its_app_connection_after_the_send_deadline() {
    const STALLED: usize = 60;
    let (app, _api, mesh) = with_a_one_second_send_deadline().await;
    let mut callers = stalled_readers(mesh.addr, STALLED, "/public/large").await;
    let reached = poll_until(Duration::from_secs(30), || {
        (app.received().len() == STALLED).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "{} requests reached the app",
        app.received().len()
    );
    let started = Instant::now();
    let released = poll_until(Duration::from_secs(20), || {
        (app.open_connections() == 0).then(|| started.elapsed())
    })
    .await;
    eprintln!(
        "{STALLED} stalled readers, send deadline 1 s: {} app connections held after 20 s; \
         the last released {released:?} after the last request reached the app",
        app.open_connections()
    );
    assert!(released.is_some(), "stalled readers still hold the app");
    // The caller's side was closed too: what it reads now ends short of the 64 MiB.
    let read = read_until_closed(&mut callers.pop().unwrap()).await;
    assert!(read < 64 << 20, "{read} bytes");
}

/// Callers that each ask for `path` with a small receive buffer, then read nothing.
async fn stalled_readers(addr: std::net::SocketAddr, count: usize, path: &str) -> Vec<TcpStream> {
    let mut callers = Vec::new();
    for _ in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nhost: app\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        callers.push(stream);
    }
    callers
}

/// Reads what the connection still gives until it is closed; fails if it stays open 10 s with
/// nothing to read. Returns the bytes read.
async fn read_until_closed(caller: &mut TcpStream) -> usize {
    let mut read = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), caller.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return read,
            Ok(Ok(n)) => read += n,
            Err(_) => panic!("the caller's connection is still open after the send deadline"),
        }
    }
}

/// A production sidecar in front of the fake app with `/public/**` bypassed and `send: 1s`.
async fn with_a_one_second_send_deadline() -> (FakeApp, FakeApi, Sidecar) {
    common::production_with_acknowledged(
        "mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n  timeouts:\n    send: 1s\n",
    )
    .await
}

/// Polls `check` every 10 ms until it gives a value, or `limit` passes.
async fn poll_until<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;

/// An HTTP/2 frame header: on stream 1, but SETTINGS on stream 0.
fn frame_header(length: usize, kind: u8, flags: u8) -> Vec<u8> {
    let length = u32::try_from(length).unwrap().to_be_bytes();
    let stream = u8::from(kind != SETTINGS);
    let mut header = length[1..].to_vec();
    header.extend_from_slice(&[kind, flags, 0, 0, 0, stream]);
    header
}

/// Writes `start`, then `drip` every 100 ms, until the sidecar closes the connection;
/// returns how long it stayed open, or `None` if it was still open after 15 s.
async fn trickle(addr: std::net::SocketAddr, start: &[u8], drip: &[u8]) -> Option<Duration> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(start).await.unwrap();
    let started = Instant::now();
    let closed = tokio::spawn(async move {
        // The server's SETTINGS and the like, until the end.
        let mut sink = [0u8; 1024];
        while let Ok(n) = reader.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
        started.elapsed()
    });
    while started.elapsed() < Duration::from_secs(15) {
        if closed.is_finished() {
            return Some(closed.await.unwrap());
        }
        // The attack's pace, not a wait for readiness.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if writer.write_all(drip).await.is_err() {
            return Some(closed.await.unwrap());
        }
    }
    None
}

/// The openings of two header blocks to trickle: a HEADERS frame that announces 16,000 bytes,
/// and a HEADERS frame without END_HEADERS followed by a CONTINUATION frame. (A CONTINUATION
/// frame at a time is bounded by the HTTP/2 layer too: at most 5 of them.)
fn trickled_header_blocks() -> (Vec<u8>, Vec<u8>) {
    let settings = frame_header(0, SETTINGS, 0);
    let dripped = [
        PREFACE,
        &settings,
        &frame_header(16_000, HEADERS, END_HEADERS),
    ]
    .concat();
    let continued = [
        PREFACE,
        &settings,
        &frame_header(1, HEADERS, 0),
        b"\x82",
        &frame_header(16_000, CONTINUATION, END_HEADERS),
    ]
    .concat();
    (dripped, continued)
}

/// A header block trickled a frame or a byte at a time is cut at `headerRead`, though bytes keep
/// arriving (which keeps the idle clock from ever firing).
#[tokio::test]
async fn a_trickled_http2_header_block_is_cut_at_the_header_deadline() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .yaml("mesh:\n  timeouts:\n    headerRead: 1s\n")
        .start()
        .await;
    let (dripped, continued) = trickled_header_blocks();
    for (name, start) in [
        ("in its HEADERS frame", dripped),
        ("in its CONTINUATION frame", continued),
    ] {
        let open = trickle(mesh.addr, &start, b"\x82").await;
        eprintln!(
            "an HTTP/2 header block trickled a byte at a time {name}: closed after {open:?} (headerRead 1 s)"
        );
        let open = open.unwrap_or_else(|| panic!("{name}: still open after 15 s"));
        assert!(
            open >= Duration::from_millis(900),
            "{name}: closed after {open:?}"
        );
    }
    // A complete request on HTTP/2 is still served.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri = format!("http://{}/", mesh.addr).parse().unwrap();
    let response = client.get(uri).await.unwrap();
    assert_eq!(response.status(), 200);
}

/// An HTTP/2 caller that opens no flow-control window never blocks the socket (nothing can be
/// written to it), yet holds its streams' responses and app connections; the send deadline counts
/// a response body the HTTP layer has stopped asking for, too.
#[tokio::test]
async fn an_http2_caller_with_no_window_gives_up_its_app_connections_after_the_send_deadline() {
    const STREAMS: usize = 8;
    let (app, _api, mesh) = with_a_one_second_send_deadline().await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .http2_initial_stream_window_size(0)
        .http2_initial_connection_window_size(65_535)
        .http2_adaptive_window(false)
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("http://{}/public/large", mesh.addr)
        .parse()
        .unwrap();
    let mut responses = Vec::new();
    for _ in 0..STREAMS {
        // The heads arrive; the bodies cannot.
        let response = tokio::time::timeout(Duration::from_secs(10), client.get(uri.clone()))
            .await
            .expect("the head within 10 s")
            .unwrap();
        assert_eq!(response.status(), 200);
        responses.push(response);
    }
    assert_eq!(app.received().len(), STREAMS);
    let started = Instant::now();
    let released = poll_until(Duration::from_secs(20), || {
        (app.open_connections() == 0).then(|| started.elapsed())
    })
    .await;
    eprintln!(
        "{STREAMS} HTTP/2 streams with no window, send deadline 1 s: {} app connections held after 20 s; \
         released {released:?} after the last head",
        app.open_connections()
    );
    assert!(
        released.is_some(),
        "a window-less caller still holds the app"
    );
    drop(responses);
}

#[tokio::test]
async fn slow_app_is_504() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .yaml("mesh:\n  timeouts:\n    appResponse: 300ms\n")
        .start()
        .await;
    send(mesh.addr, "GET", "/slow?ms=3000", &[], "")
        .await
        .assert_mesh_error(504, "app-timeout");
    assert_eq!(
        send(mesh.addr, "GET", "/slow?ms=10", &[], "").await.status,
        200
    );
}

#[tokio::test]
async fn idle_keep_alive_outlives_the_header_deadline() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .yaml("mesh:\n  timeouts:\n    headerRead: 200ms\n    idle: 20s\n")
        .start()
        .await;
    let mut stream = TcpStream::connect(mesh.addr).await.unwrap();
    for _ in 0..2 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let response = read_one_response(&mut stream).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        // Idle for longer than headerRead: the connection must stay open.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off_and_idle_connections_closed() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .yaml("mesh:\n  timeouts:\n    headerRead: 300ms\n    idle: 600ms\n")
        .start()
        .await;
    let mut slow = TcpStream::connect(mesh.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buffer))
        .await
        .expect("closed");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected the connection closed"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early: {:?}",
        started.elapsed()
    );

    let mut idle = TcpStream::connect(mesh.addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        read_one_response(&mut idle)
            .await
            .starts_with("HTTP/1.1 200")
    );
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buffer))
        .await
        .expect("closed when idle");
    assert!(matches!(read, Ok(0) | Err(_)));
    assert!(app.received().len() == 1);
}

/// The connection's clocks wait for a linger: a head refused with 431 while it is still arriving,
/// slowly, for longer than `headerRead`, still gets its answer.
#[tokio::test]
async fn a_slow_head_refused_midway_gets_its_431() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .yaml("mesh:\n  limits:\n    headerBytes: 4KiB\n  timeouts:\n    headerRead: 300ms\n")
        .start()
        .await;
    let mut stream = TcpStream::connect(mesh.addr).await.unwrap();
    // Past hyper's buffer (twice headerBytes): refused at once, while the caller goes on.
    let head = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}",
        "a".repeat(9 * 1024)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // A slow caller: the rest of its head over 1.2 s, four times headerRead.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream
            .write_all(&[b'a'; 512])
            .await
            .expect("the sidecar closed the connection while the caller was still sending");
    }
    stream.write_all(b"\r\n\r\n").await.unwrap();
    let text = read_to_close(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(
        text.contains("x-applink-mesh-error: headers-too-large"),
        "{text}"
    );
    assert!(app.received().is_empty());
}

/// The app's deadline counts from the request's arrival, authentication included: an API call
/// and an app that each take 700 ms miss a 1 s `appResponse`.
#[tokio::test]
async fn the_app_deadline_counts_from_arrival() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    api.always(common::Answer {
        delay: Duration::from_millis(700),
        ..common::Answer::status(200)
    });
    let mesh = Sidecar::production(app.port(), &api.url())
        .yaml("mesh:\n  timeouts:\n    appResponse: 1s\n")
        .start()
        .await;
    send(
        mesh.addr,
        "GET",
        "/slow?ms=700",
        &common::salesforce::headers(),
        "",
    )
    .await
    .assert_mesh_error(504, "app-timeout");
    assert_eq!(api.calls().len(), 1);
}
