//! A caller that stops reading costs little (docs/behaviour.md §11): between the app and a caller
//! that has stopped reading a large response, the sidecar holds a bounded share of the response
//! (two of its 32 KiB reads from the app and the HTTP/1.1 write buffer), not hyper's default
//! 400 KiB read-ahead on top, until `timeouts.send` cuts the caller off. Not a speed target: the
//! resident memory 100 such callers add is compared with a bound twice what they cost, and half
//! what they cost before the bound (about 95 MiB).

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::client::wait_for;
use common::{FakeApp, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Callers, and the most their held responses may add to the sidecar's resident memory.
const CALLERS: usize = 100;
const BOUND_KIB: u64 = CALLERS as u64 * 512;

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
    let mut mesh = common::sidecar::in_dev_mode(&app);
    let addr = mesh.wait_listening();
    assert_eq!(send(addr, "GET", "/", &[], "").await.status, 200);
    let before = mesh.resident_kib();
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        callers.push(stop_reading_after_the_head(addr).await);
    }
    // Every request reached the app (each caller read its response's head); then the sidecar's
    // memory stops growing once it has taken what it will take: three equal readings.
    wait_for(|| app.received().len() > CALLERS).await;
    let started = Instant::now();
    let mut readings = vec![mesh.resident_kib()];
    while readings.len() < 3
        || readings[readings.len() - 3..]
            .windows(2)
            .any(|w| w[0] != w[1])
    {
        assert!(started.elapsed() < Duration::from_secs(30), "{readings:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        readings.push(mesh.resident_kib());
    }
    let added = mesh.resident_kib().saturating_sub(before);
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
