//! The AppLink hop in round trips (docs/behaviour.md §5): what one authenticated request costs a
//! caller when the AppLink API is a network away. Run through `bin/bench --api-hop`, which builds
//! release. Prints figures; asserts nothing.
//!
//! The API stub (HTTPS with a CA made for the run, keep-alive for as long as the client keeps a
//! connection) sits behind a relay that delays every chunk by half the round trip each way; the
//! caller and the app are local. Two flavours: an API that offers `h2` and `http/1.1` by ALPN, and
//! one that offers `http/1.1` only. Scenarios, each in round trips (the caller's latency over the
//! RTT): the first request 1 s after start-up; warm, one request after another (median of 20);
//! 32 requests at once (median); one request after the idle period; 32 at once after it. Then
//! the TLS handshakes the stub saw per 100 requests, full and resumed.
//!
//! Settings (environment): BENCH_SIDECAR (the binary, default the release build), BENCH_RTT_MS
//! (default 20), BENCH_IDLE_S (default 30), BENCH_FLAVOURS (`h2,h1` by default).

// A benchmark tool: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
// Its arithmetic is on figures to print, where a rounded cast is what is meant.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

mod relay;
mod stub;

#[path = "../../tests/common/salesforce.rs"]
#[allow(dead_code)]
mod salesforce;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

struct Settings {
    sidecar: PathBuf,
    rtt: Duration,
    idle: Duration,
    flavours: Vec<String>,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or(default.to_string());
        Settings {
            sidecar: var(
                "BENCH_SIDECAR",
                "target/release/heroku-applink-service-mesh",
            )
            .into(),
            rtt: Duration::from_millis(var("BENCH_RTT_MS", "20").parse().unwrap_or(20)),
            idle: Duration::from_secs(var("BENCH_IDLE_S", "30").parse().unwrap_or(30)),
            flavours: var("BENCH_FLAVOURS", "h2,h1")
                .split(',')
                .map(str::to_string)
                .collect(),
        }
    }
}

/// The sidecar under test, killed when dropped.
struct Sidecar {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the sidecar in production mode against `api` (the relay), trusting `ca`, in front of
/// the app on `app_port`, and waits until it accepts connections.
fn start_sidecar(
    settings: &Settings,
    api: SocketAddr,
    ca: &std::path::Path,
    app_port: u16,
) -> Sidecar {
    let port = free_port();
    let child = Command::new(&settings.sidecar)
        .args(["--port", &port.to_string()])
        .env_clear()
        .env("APP_PORT", app_port.to_string())
        .env(
            "HEROKU_APPLINK_API_URL",
            format!(
                "https://localhost:{}/addons/{}",
                api.port(),
                salesforce::ADDON_UUID
            ),
        )
        .env("HEROKU_APPLINK_TOKEN", "bench-token")
        .env("SSL_CERT_FILE", ca)
        .env("HEROKU_APPLINK_SERVICE_MESH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", settings.sidecar.display()));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the sidecar did not listen"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Sidecar { child, addr }
}

/// One authenticated request, on a new connection; its latency.
async fn one_request(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::get("/bench")
        .body(Empty::<Bytes>::new())
        .unwrap();
    for (name, value) in salesforce::headers() {
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    request
        .headers_mut()
        .insert("host", "bench".parse().unwrap());
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "the bench's request was not answered 200"
    );
    response.into_body().collect().await.unwrap();
    started.elapsed()
}

/// `count` requests at once; their latencies.
async fn at_once(addr: SocketAddr, count: usize) -> Vec<Duration> {
    let tasks: Vec<_> = (0..count)
        .map(|_| tokio::spawn(one_request(addr)))
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.push(task.await.unwrap());
    }
    latencies
}

fn median(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[latencies.len() / 2]
}

/// What the bench's own machine adds, measured with the API local (no delay): a warm request
/// (median of 20), and a burst of 32 (median). Caller, relay, stub, app and sidecar share the CPUs,
/// so a burst of 32 costs milliseconds of their own.
async fn rig(settings: &Settings, app_port: u16) -> (Duration, Duration) {
    let stub = stub::Stub::start(true).await;
    let relay = relay::Relay::start(stub.addr, Duration::ZERO).await;
    let sidecar = start_sidecar(settings, relay.addr, &stub.ca_file, app_port);
    one_request(sidecar.addr).await;
    let mut warm = Vec::new();
    for _ in 0..20 {
        warm.push(one_request(sidecar.addr).await);
    }
    let burst = median(at_once(sidecar.addr, 32).await);
    (median(warm), burst)
}

/// The scenarios' rows: a name, the latency, and the rig's own time for its shape.
struct Rows {
    rtt: Duration,
    rows: Vec<(String, Duration, Duration)>,
}

impl Rows {
    fn add(&mut self, name: impl Into<String>, latency: Duration, rig: Duration) {
        self.rows.push((name.into(), latency, rig));
    }

    fn print(&self) {
        let in_rtt = |latency: Duration| latency.as_secs_f64() / self.rtt.as_secs_f64();
        for (scenario, latency, rig) in &self.rows {
            println!(
                "  {scenario:<50} {:>5.2}   {:>5.2}",
                in_rtt(*latency),
                in_rtt(latency.saturating_sub(*rig))
            );
        }
    }
}

/// One flavour: the five scenarios and the handshakes.
async fn flavour(settings: &Settings, offers_h2: bool, app_port: u16, rig: (Duration, Duration)) {
    let stub = stub::Stub::start(offers_h2).await;
    let relay = relay::Relay::start(stub.addr, settings.rtt / 2).await;
    let sidecar = start_sidecar(settings, relay.addr, &stub.ca_file, app_port);
    let mut rows = Rows {
        rtt: settings.rtt,
        rows: Vec::new(),
    };
    let (warm_rig, burst_rig) = rig;

    tokio::time::sleep(Duration::from_secs(1)).await;
    let first = one_request(sidecar.addr).await;
    rows.add("the first request, 1 s after start-up", first, warm_rig);
    let mut warm = Vec::new();
    for _ in 0..20 {
        warm.push(one_request(sidecar.addr).await);
    }
    rows.add(
        "warm, one request after another (median of 20)",
        median(warm),
        warm_rig,
    );
    let burst = median(at_once(sidecar.addr, 32).await);
    rows.add("32 requests at once (median)", burst, burst_rig);
    let idle = settings.idle.as_secs();
    tokio::time::sleep(settings.idle).await;
    let after_idle = one_request(sidecar.addr).await;
    rows.add(
        format!("one request after {idle} s idle"),
        after_idle,
        warm_rig,
    );
    tokio::time::sleep(settings.idle).await;
    let burst = median(at_once(sidecar.addr, 32).await);
    rows.add(
        format!("32 at once after {idle} s idle (median)"),
        burst,
        burst_rig,
    );
    let requests = 1 + 20 + 32 + 1 + 32;
    let (full, resumed) = stub.handshakes();
    drop(sidecar);

    let offered = if offers_h2 {
        "h2 and http/1.1"
    } else {
        "http/1.1 only"
    };
    println!(
        "API offering {offered}, RTT {} ms: the caller's latency in round trips; less the rig's own",
        settings.rtt.as_millis()
    );
    rows.print();
    println!(
        "  TLS handshakes per 100 requests: {:.1} full, {:.1} resumed ({full} and {resumed} in {requests} requests)",
        full as f64 * 100.0 / f64::from(requests),
        resumed as f64 * 100.0 / f64::from(requests)
    );
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    let app = stub::start_app().await;
    let rig = rig(&settings, app).await;
    println!(
        "the rig itself, the API local: warm {:.1} ms, 32 at once {:.1} ms (median)",
        rig.0.as_secs_f64() * 1000.0,
        rig.1.as_secs_f64() * 1000.0
    );
    for flavour_name in settings.flavours.clone() {
        match flavour_name.as_str() {
            "h2" => flavour(&settings, true, app, rig).await,
            "h1" => flavour(&settings, false, app, rig).await,
            other => panic!("unknown flavour {other} (h2 or h1)"),
        }
    }
}
