//! The fast trivial servers `bin/bench` puts behind the sidecar and behind nginx: the same binary is
//! the app (`bench-peer app`) and the AppLink API stub (`bench-peer api`, or `bench-peer api-empty`),
//! so every target of the benchmark calls the same code.
//!
//! One thread (a current-thread tokio runtime), HTTP/1.1 keep-alive, `127.0.0.1:<port>`:
//! - every request's body is read to its end and answered `200`, whatever the method and path:
//!   `ok` from the app; from the API stub a small JSON body, as an API answers, or (`api-empty`) an
//!   empty one. nginx's `auth_request` never reads an answer's body, so it keeps its connection to
//!   the API alive only when there is none: the bench measures nginx both ways;
//! - `GET /__bench/stats` answers `connections=<accepted so far> requests=<answered so far>`, so
//!   the bench can count new connections per request.
//!
//! `cargo run --release --manifest-path benches/peer/Cargo.toml -- app 3000`

// An example: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(Default)]
struct Counts {
    connections: Cell<u64>,
    requests: Cell<u64>,
}

async fn answer(
    request: Request<Incoming>,
    reply: &'static str,
    counts: Rc<Counts>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/__bench/stats" {
        let stats = format!(
            "connections={} requests={}",
            counts.connections.get(),
            counts.requests.get()
        );
        return Ok(Response::new(Full::new(Bytes::from(stats))));
    }
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    counts.requests.set(counts.requests.get() + 1);
    Ok(Response::new(Full::new(Bytes::from_static(
        reply.as_bytes(),
    ))))
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let reply = match args.next().as_deref() {
        Some("app") => "ok",
        Some("api") => r#"{"authenticated":true}"#,
        Some("api-empty") => "",
        _ => {
            eprintln!("usage: bench-peer app|api|api-empty PORT");
            std::process::exit(64);
        }
    };
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let counts = Rc::new(Counts::default());
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            counts.connections.set(counts.connections.get() + 1);
            let counts = counts.clone();
            tokio::task::spawn_local(async move {
                let service = service_fn(move |request| answer(request, reply, counts.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
