//! The test app the supervision tests run behind the sidecar. Listens on `127.0.0.1:$APP_PORT`.
//!
//! Options:
//! - `--boot-delay-ms N`: wait N ms before listening (an app that boots slowly);
//! - `--exit-after-ms N --exit-code C`: exit with C N ms after starting (during or after boot);
//! - `--term-exit-code C`: on SIGTERM or SIGINT, stop accepting, finish in-flight requests, exit C;
//! - `--ignore-term`: ignore SIGTERM and SIGINT (an app that will not stop);
//! - `--listen-port N`: listen on N instead of `$APP_PORT` (an app that reads the wrong variable);
//! - `--listen-host H`: listen on the address H instead of `127.0.0.1` (`0.0.0.0`: every
//!   interface, as many frameworks' defaults do);
//! - `--workers N`: serve at most N connections at once, each for one request, answered with
//!   `connection: close` (a pre-fork server with N sync workers): the rest wait in the listen
//!   queue, and are reset when the app stops listening;
//! - `--grandchild`: start `sleep 600` and leave it running;
//! - `--orphan`: once listening, leave an orphan (`sleep 0.3` whose parent shell has exited) and
//!   report whether whoever adopted it (PID 1) reaped it: `orphan reaped` or `orphan left a zombie`.
//!
//! Routes: `/env` answers `PORT=<PORT> APP_PORT=<APP_PORT>`; `/slow?ms=N` answers after N ms
//! (saying `request /slow` when it starts and `answered /slow` when it answers); anything else
//! answers `ok`. Lines starting `test-app:` on stdout say what it did.

// An example: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Default)]
struct Options {
    boot_delay_ms: u64,
    exit_after_ms: Option<u64>,
    exit_code: i32,
    term_exit_code: i32,
    ignore_term: bool,
    listen_port: Option<u16>,
    listen_host: Option<String>,
    workers: Option<usize>,
    grandchild: bool,
    orphan: bool,
}

fn options() -> Options {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a number after the option");
        let ms = |v: String| v.parse::<u64>().expect("a number of milliseconds");
        let code = |v: String| v.parse::<i32>().expect("an exit code");
        match arg.as_str() {
            "--boot-delay-ms" => options.boot_delay_ms = ms(value()),
            "--exit-after-ms" => options.exit_after_ms = Some(ms(value())),
            "--exit-code" => options.exit_code = code(value()),
            "--term-exit-code" => options.term_exit_code = code(value()),
            "--ignore-term" => options.ignore_term = true,
            "--listen-port" => {
                options.listen_port = Some(value().parse().expect("a port"));
            }
            "--listen-host" => options.listen_host = Some(value()),
            "--workers" => options.workers = Some(value().parse().expect("a number of workers")),
            "--grandchild" => options.grandchild = true,
            "--orphan" => options.orphan = true,
            other => panic!("unknown option {other}"),
        }
    }
    options
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "test-app: {line}");
    let _ = out.flush();
}

async fn answer(
    request: Request<Incoming>,
    in_flight: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    in_flight.fetch_add(1, Ordering::SeqCst);
    let body = match request.uri().path() {
        "/env" => format!(
            "PORT={} APP_PORT={}",
            std::env::var("PORT").unwrap_or_default(),
            std::env::var("APP_PORT").unwrap_or_default()
        ),
        "/slow" => {
            say("request /slow");
            let ms = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            say("answered /slow");
            "slow ok".to_string()
        }
        _ => "ok".to_string(),
    };
    in_flight.fetch_sub(1, Ordering::SeqCst);
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Accepts a connection once a worker is free.
async fn accept(
    listener: &TcpListener,
    workers: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let worker = workers
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    let (stream, _) = listener.accept().await?;
    Ok((stream, worker))
}

/// Leaves an orphan and reports whether it was reaped after it exited.
async fn watch_an_orphan() {
    let output = std::process::Command::new("sh")
        .args(["-c", "sleep 0.3 & echo $!"])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&output.stdout).trim().to_string();
    say(&format!("orphan pid={pid}"));
    let started = std::time::Instant::now();
    loop {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return say("orphan reaped"),
            Ok(stat) if started.elapsed() > Duration::from_secs(5) => {
                let state = stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .next()
                    .unwrap_or("?")
                    .to_string();
                return say(&format!("orphan left a zombie (state {state})"));
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let mut term = signal(SignalKind::terminate()).unwrap();
    let mut int = signal(SignalKind::interrupt()).unwrap();
    if let Some(ms) = options.exit_after_ms {
        let code = options.exit_code;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            say(&format!("exiting with {code}"));
            std::process::exit(code);
        });
    }
    if options.grandchild {
        // Left running on purpose: the sidecar must not leave it behind.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        say(&format!("grandchild pid={}", child.id()));
    }
    tokio::time::sleep(Duration::from_millis(options.boot_delay_ms)).await;
    let port: u16 = options
        .listen_port
        .unwrap_or_else(|| std::env::var("APP_PORT").unwrap().parse().unwrap());
    let host = options.listen_host.as_deref().unwrap_or("127.0.0.1");
    let listener = TcpListener::bind((host, port)).await.unwrap();
    say(&format!("listening on {port}"));

    if options.orphan {
        tokio::spawn(watch_an_orphan());
    }
    let in_flight = Arc::new(AtomicUsize::new(0));
    let workers = Arc::new(Semaphore::new(
        options.workers.unwrap_or(Semaphore::MAX_PERMITS),
    ));
    let keep_alive = options.workers.is_none();
    loop {
        tokio::select! {
            accepted = accept(&listener, &workers) => {
                let Ok((stream, worker)) = accepted else { continue };
                let in_flight = in_flight.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(request, in_flight.clone()));
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    builder.http1().keep_alive(keep_alive);
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    drop(worker);
                });
            }
            _ = term.recv() => {
                say("got SIGTERM");
                if !options.ignore_term { break; }
            }
            _ = int.recv() => {
                say("got SIGINT");
                if !options.ignore_term { break; }
            }
        }
    }
    // Drain: stop accepting, let in-flight requests finish.
    drop(listener);
    while in_flight.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    say(&format!("drained; exiting with {}", options.term_exit_code));
    std::process::exit(options.term_exit_code);
}
