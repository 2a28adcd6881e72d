//! The sample app: a tiny HTTP server that answers every request with what it received, so you
//! can see what the sidecar forwards (method, path, the decoded `x-applink-*` context headers).
//!
//! Listens on `127.0.0.1:$APP_PORT` (default 3000). `cargo run --example sample-app`.

// An example: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let context: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            name.as_str().starts_with("x-applink-") || name.as_str() == "x-request-id"
        })
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").into()))
        .collect();
    let reply = serde_json::json!({
        "hello": "from the sample app",
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "context": context,
        "forwardedClientContext": parts.headers.contains_key("x-client-context"),
        "bodyBytes": body.len(),
    });
    let mut response = Response::new(Full::new(Bytes::from(format!("{reply:#}\n"))));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("APP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("sample app listening on http://127.0.0.1:{port}");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            _ = term.recv() => {
                println!("sample app: SIGTERM, bye");
                return Ok(());
            }
            _ = tokio::signal::ctrl_c() => {
                println!("sample app: SIGINT, bye");
                return Ok(());
            }
        };
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
