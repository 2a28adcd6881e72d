//! The loads: wrk at full speed, a fixed-rate generator, idle keep-alive connections, one big body.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What wrk reported.
#[derive(Debug, Default, Clone)]
pub struct WrkFigures {
    pub requests: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Non-2xx responses plus socket errors.
    pub errors: u64,
}

/// Runs wrk (1 thread, `connections` keep-alive connections) on the load CPU.
pub fn wrk(
    wrk: &str,
    cpu: &str,
    url: &str,
    headers: &[(&str, String)],
    connections: u32,
    seconds: u64,
) -> WrkFigures {
    let mut command = Command::new("taskset");
    command.args(["-c", cpu, wrk, "-t1", "--latency"]);
    command.arg(format!("-c{connections}"));
    command.arg(format!("-d{seconds}s"));
    for (name, value) in headers {
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    command.arg(url);
    let output = command.output().expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    parse_wrk(&text)
}

fn parse_wrk(text: &str) -> WrkFigures {
    let mut figures = WrkFigures::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => figures.per_second = rate.parse().unwrap_or(0.0),
            ["50%", latency] => figures.p50_ms = milliseconds(latency),
            ["99%", latency] => figures.p99_ms = milliseconds(latency),
            [count, "requests", "in", ..] => figures.requests = count.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                figures.errors += count.parse::<u64>().unwrap_or(0)
            }
            ["Socket", "errors:", rest @ ..] => {
                figures.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    figures
}

/// `1.23ms`, `456.00us`, `1.02s` in milliseconds.
fn milliseconds(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(0.0);
    match unit {
        "us" => number / 1000.0,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => number,
    }
}

/// Latency at a fixed request rate.
#[derive(Debug, Default, Clone)]
pub struct RateFigures {
    pub sent: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl RateFigures {
    /// The median run of several, field by field (each percentile its own median).
    pub fn median(runs: &[RateFigures]) -> RateFigures {
        let median = |field: fn(&RateFigures) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(field).collect();
            values.sort_by(f64::total_cmp);
            values.get(values.len() / 2).copied().unwrap_or(0.0)
        };
        RateFigures {
            sent: runs.iter().map(|r| r.sent).sum(),
            errors: runs.iter().map(|r| r.errors).sum(),
            p50_ms: median(|r| r.p50_ms),
            p99_ms: median(|r| r.p99_ms),
            p999_ms: median(|r| r.p999_ms),
            max_ms: median(|r| r.max_ms),
        }
    }
}

/// Sends `rate` requests per second for `seconds` over `connections` keep-alive connections,
/// wrk2-style: request i is due at `start + i / rate`, connection `i % connections` sends it, and
/// its latency counts from when it was due, not from when it was sent, so a stall is not hidden
/// by the requests it delayed (no coordinated omission).
pub async fn fixed_rate(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    rate: u64,
    seconds: u64,
    connections: usize,
) -> RateFigures {
    let total = (rate * seconds) as usize;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let path = path.to_string();
            let headers = headers.to_vec();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total / connections + 1);
                let mut errors = 0;
                let Ok(mut sender) = connect(addr).await else {
                    return (latencies, total / connections);
                };
                for i in (worker..total).step_by(connections) {
                    let due = start + period * i as u32;
                    wait_until(due).await;
                    let request = get(addr, &path, &headers);
                    let ok = match sender.send_request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            response.into_body().collect().await.is_ok() && status == 200
                        }
                        Err(_) => false,
                    };
                    latencies.push(due.elapsed());
                    if !ok {
                        errors += 1;
                        match connect(addr).await {
                            Ok(fresh) => sender = fresh,
                            Err(_) => break,
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for worker in workers {
        if let Ok((l, e)) = worker.await {
            latencies.extend(l);
            errors += e;
        }
    }
    latencies.sort_unstable();
    let at = |p: f64| {
        let index = ((latencies.len().saturating_sub(1)) as f64 * p) as usize;
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    RateFigures {
        sent: latencies.len(),
        errors,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: at(1.0),
    }
}

/// Waits until `due` more precisely than tokio's millisecond timer: sleep to within 2 ms, then
/// yield until it is time (the load has a CPU of its own to spin on).
async fn wait_until(due: tokio::time::Instant) {
    let coarse = due.checked_sub(Duration::from_millis(2));
    if let Some(coarse) = coarse.filter(|c| *c > tokio::time::Instant::now()) {
        tokio::time::sleep_until(coarse).await;
    }
    while tokio::time::Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

type Sender<B> = http1::SendRequest<B>;

async fn connect<B>(addr: SocketAddr) -> std::io::Result<Sender<B>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    Ok(sender)
}

fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
) -> http::Request<Empty<Bytes>> {
    let mut builder = http::Request::get(path).header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Empty::new()).expect("a valid request")
}

/// Opens `count` keep-alive connections, sends one request on each, and keeps them open until the
/// returned handle is dropped. Returns how many answered 200.
pub async fn idle_connections(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    count: usize,
) -> (usize, Vec<Sender<Empty<Bytes>>>) {
    let mut open = Vec::with_capacity(count);
    let mut ok = 0;
    for _ in 0..count {
        let Ok(mut sender) = connect(addr).await else {
            continue;
        };
        if let Ok(response) = sender.send_request(get(addr, path, headers)).await {
            if response.status() == 200 && response.into_body().collect().await.is_ok() {
                ok += 1;
            }
        }
        open.push(sender);
    }
    (ok, open)
}

/// POSTs `bytes` of `fill` in 64 KiB chunks; returns the status and how long it took.
pub async fn big_body(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    bytes: u64,
    fill: u8,
) -> (u16, Duration) {
    const CHUNK: usize = 64 * 1024;
    let chunk = Bytes::from(vec![fill; CHUNK]);
    let chunks = bytes.div_ceil(CHUNK as u64);
    let stream = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(Frame::data(chunk.clone()))),
    );
    let mut builder = http::Request::post(path)
        .header("host", addr.to_string())
        .header("content-length", chunks * CHUNK as u64);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let request = builder
        .body(StreamBody::new(stream))
        .expect("a valid request");
    let started = Instant::now();
    let Ok(mut sender) = connect(addr).await else {
        return (0, started.elapsed());
    };
    let status = match sender.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            status
        }
        Err(_) => 0,
    };
    (status, started.elapsed())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_wrk_output() {
        let figures = super::parse_wrk(
            "  Latency Distribution\n     50%  456.00us\n     99%    1.20ms\n  120 requests in 1.00s, 1 KB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:    120.50\n",
        );
        assert_eq!(figures.requests, 120);
        assert_eq!(figures.errors, 3);
        assert!((figures.p50_ms - 0.456).abs() < 1e-9);
        assert!((figures.p99_ms - 1.2).abs() < 1e-9);
        assert!((figures.per_second - 120.5).abs() < 1e-9);
    }
}
