//! Requests per second straight to a local app versus through the sidecar on the authenticated
//! path (against a local fake AppLink API), in one process on this machine. Prints figures; it
//! asserts nothing about speed.
//!
//! `cargo bench --bench throughput` (or `bin/bench`). BENCH_SECONDS and BENCH_CONCURRENCY tune it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{FakeApi, FakeApp, Sidecar, salesforce};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

struct Figures {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn load(
    addr: SocketAddr,
    headers: Vec<(&'static str, String)>,
    concurrency: usize,
    seconds: u64,
) -> Figures {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let headers = headers.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < until {
                    let mut request = http::Request::get(format!("http://{addr}/bench"))
                        .body(Empty::new())
                        .unwrap();
                    for (name, value) in &headers {
                        request.headers_mut().insert(*name, value.parse().unwrap());
                    }
                    let sent = Instant::now();
                    match client.request(request).await {
                        Ok(response) if response.status() == 200 => {
                            let _ = response.into_body().collect().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |p: usize| {
        latencies
            .get(latencies.len().saturating_sub(1) * p / 100)
            .copied()
            .unwrap_or_default()
    };
    Figures {
        requests: latencies.len(),
        errors,
        elapsed,
        p50: at(50),
        p99: at(99),
    }
}

fn report(name: &str, f: &Figures) {
    println!(
        "{name:<34} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {} errors, {:.1} s)",
        f.requests as f64 / f.elapsed.as_secs_f64(),
        f.p50.as_secs_f64() * 1000.0,
        f.p99.as_secs_f64() * 1000.0,
        f.requests,
        f.errors,
        f.elapsed.as_secs_f64()
    );
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a listing; there are no tests here.
    }
    let seconds = setting("BENCH_SECONDS", 5);
    let concurrency = setting("BENCH_CONCURRENCY", 32) as usize;
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url()).start().await;
    let dev = Sidecar::dev(app.port()).start().await;
    let cached = Sidecar::production(app.port(), &api.url())
        .yaml("mesh:\n  authentication:\n    cache: { maxTtl: 60s }\n")
        .start()
        .await;
    // The cache keeps results only for JWTs with an `exp` claim.
    let cacheable = salesforce::headers_with_jwt_expiring_in(3600);
    println!(
        "throughput: {concurrency} concurrent keep-alive clients, {seconds} s each, all in one process on this machine"
    );

    // Warm up every path once.
    load(app.addr, Vec::new(), 4, 1).await;
    load(mesh.addr, salesforce::headers(), 4, 1).await;

    report(
        "direct to the app",
        &load(app.addr, Vec::new(), concurrency, seconds).await,
    );
    report(
        "through the sidecar, dev mode",
        &load(dev.addr, Vec::new(), concurrency, seconds).await,
    );
    let before = api.calls().len();
    report(
        "through the sidecar, authenticated",
        &load(mesh.addr, salesforce::headers(), concurrency, seconds).await,
    );
    let uncached_calls = api.calls().len() - before;
    report(
        "through the sidecar, auth cache on",
        &load(cached.addr, cacheable, concurrency, seconds).await,
    );
    let cached_calls = api.calls().len() - before - uncached_calls;
    println!("AppLink API calls: {uncached_calls} without the cache, {cached_calls} with it");
}
