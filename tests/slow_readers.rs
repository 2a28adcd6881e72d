//! A caller that stops reading costs little (docs/behaviour.md §11): between the app and a caller
//! that has stopped reading a large response, the sidecar holds a bounded share of the response
//! (two of its 32 KiB reads from the app and the HTTP/1.1 write buffer), not hyper's default
//! 400 KiB read-ahead on top, until `timeouts.send` cuts the caller off. Not a speed target: the
//! resident memory 100 such callers add is compared with a bound twice what they cost, and half
//! what they cost before the bound (about 95 MiB).

// Test code: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{FakeApp, SidecarProcess, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Callers, and the most their held responses may add to the sidecar's resident memory.
const CALLERS: usize = 100;
const BOUND_KIB: u64 = CALLERS as u64 * 512;

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

/// A caller with a small receive buffer that asks for the large response, reads its head, and
/// then reads nothing more.
async fn stop_reading_after_the_head(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut stream = TcpStream::from_std(socket.into()).unwrap();
    stream
        .write_all(b"GET /large HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 512];
    let n = stream.read(&mut head).await.unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    stream
}

#[tokio::test]
async fn callers_that_stop_reading_hold_a_bounded_share_of_their_responses() {
    let app = FakeApp::start().await;
    let app_port = app.port().to_string();
    let mut mesh = SidecarProcess::spawn(
        &[
            ("APP_PORT", app_port.as_str()),
            ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true"),
        ],
        &["--port", "0"],
    );
    let addr = mesh.wait_listening();
    assert_eq!(send(addr, "GET", "/", &[], "").await.status, 200);
    let pid = mesh.child.id();
    let before = resident_kib(pid);
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        callers.push(stop_reading_after_the_head(addr).await);
    }
    // Until the sidecar has taken what it will take: its memory stops growing.
    let started = Instant::now();
    let mut last = resident_kib(pid);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = resident_kib(pid);
        if now == last || started.elapsed() > Duration::from_secs(20) {
            break;
        }
        last = now;
    }
    let added = resident_kib(pid).saturating_sub(before);
    eprintln!(
        "{CALLERS} callers that stopped reading added {added} KiB to the sidecar ({} KiB each)",
        added / CALLERS as u64
    );
    assert!(
        added < BOUND_KIB,
        "{CALLERS} slow readers added {added} KiB, more than {BOUND_KIB} KiB"
    );
    drop(callers);
    mesh.terminate();
}
