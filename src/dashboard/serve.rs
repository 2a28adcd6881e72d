//! The dashboard's routes, under `/__applink/` in dev mode (docs/behaviour.md §13): the page, the
//! JSON API and the stream. In production mode the prefix is an ordinary protected route.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;

use super::Dashboard;
use super::stream::EventStream;
use crate::body::{MeshBody, full};
use crate::shutdown::Shutdown;

/// Every dashboard route starts with this.
pub(crate) const PREFIX: &str = "/__applink";

/// The page: HTML, CSS and JavaScript in one file, no CDN.
const PAGE: &str = include_str!("page.html");

/// Whether `path` is the dashboard's.
pub(crate) fn is_dashboard_path(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Answers a request for a dashboard route. Only a caller on this machine that names it as
/// `localhost` or a loopback address gets an answer: the dev sidecar listens on every interface,
/// and a web page elsewhere could otherwise read the dashboard through a rebound DNS name. A
/// request relayed by a local tunnel or proxy (it says so with `Forwarded` or `X-Forwarded-*`)
/// comes from elsewhere, even with its `Host` rewritten to `localhost`.
pub(crate) fn serve<B>(
    dashboard: &Arc<Dashboard>,
    shutdown: &Shutdown,
    request: &Request<B>,
    local_caller: bool,
) -> Response<MeshBody> {
    if !(local_caller && names_this_machine(request) && !relayed(request)) {
        return json_response(
            StatusCode::FORBIDDEN,
            &json!({"error": "the dashboard answers only on this machine: open it at http://localhost:<port>/__applink/"}),
        );
    }
    let (method, path) = (request.method(), request.uri().path());
    if method != Method::GET && method != Method::HEAD {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "the dashboard's routes answer GET"}),
        );
    }
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    match route {
        "" | "/" => with_type(Response::new(full(PAGE)), "text/html; charset=utf-8"),
        "/api/requests" => {
            let requests: Vec<_> = dashboard
                .records()
                .iter()
                .map(|r| r.summary.clone())
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"capacity": dashboard.capacity(), "requests": requests}),
            )
        }
        "/api/stream" => {
            let stream = EventStream::new(dashboard.subscribe(), shutdown.watch());
            let mut response = with_type(Response::new(stream.boxed_unsync()), "text/event-stream");
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        other => match other
            .strip_prefix("/api/requests/")
            .and_then(|id| id.parse::<u64>().ok())
            .and_then(|id| dashboard.record(id))
        {
            Some(record) => json_response(StatusCode::OK, &json!(*record)),
            None => json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": "no such dashboard route or request (it may have left the ring)"}),
            ),
        },
    }
}

/// A proxy or tunnel on this machine relayed the request.
fn relayed<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    ["forwarded", "x-forwarded-for", "x-forwarded-host"]
        .iter()
        .any(|name| headers.contains_key(*name))
}

/// The host the request names (`Host`, or an HTTP/2 `:authority`) is `localhost` or a loopback
/// address.
fn names_this_machine<B>(request: &Request<B>) -> bool {
    let host = request.uri().host().map(str::to_string).or_else(|| {
        let value = request.headers().get(header::HOST)?.to_str().ok()?;
        let authority: http::uri::Authority = value.parse().ok()?;
        Some(authority.host().to_string())
    });
    host.is_some_and(|host| crate::config::is_loopback(&host))
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<MeshBody> {
    let mut response = with_type(Response::new(full(value.to_string())), "application/json");
    *response.status_mut() = status;
    response
}

fn with_type(mut response: Response<MeshBody>, content_type: &'static str) -> Response<MeshBody> {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_served() {
        let dashboard = Arc::new(Dashboard::new(1));
        let shutdown = Shutdown::new();
        let ask = |host: &str, local: bool| {
            let request = Request::builder()
                .uri("/__applink/api/requests")
                .header(header::HOST, host)
                .body(())
                .unwrap();
            serve(&dashboard, &shutdown, &request, local).status()
        };
        for host in [
            "localhost:8070",
            "127.0.0.1:8070",
            "[::1]:8070",
            "LOCALHOST",
            "[::ffff:127.0.0.1]:8070",
        ] {
            assert_eq!(ask(host, true), StatusCode::OK, "{host}");
        }
        // A local tunnel that rewrote Host to localhost still says it relayed the request.
        for relayed in ["forwarded", "x-forwarded-for", "x-forwarded-host"] {
            let request = Request::builder()
                .uri("/__applink/api/requests")
                .header(header::HOST, "localhost:8070")
                .header(relayed, "203.0.113.7")
                .body(())
                .unwrap();
            let status = serve(&dashboard, &shutdown, &request, true).status();
            assert_eq!(status, StatusCode::FORBIDDEN, "{relayed}");
        }
        assert_eq!(
            ask("localhost:8070", false),
            StatusCode::FORBIDDEN,
            "a caller elsewhere"
        );
        for host in ["evil.example", "evil.example:8070", "192.168.1.5:8070", ""] {
            assert_eq!(ask(host, true), StatusCode::FORBIDDEN, "{host:?}");
        }
    }

    #[test]
    fn the_prefix_is_a_whole_segment() {
        assert!(is_dashboard_path("/__applink"));
        assert!(is_dashboard_path("/__applink/"));
        assert!(is_dashboard_path("/__applink/api/requests"));
        assert!(!is_dashboard_path("/__applinkx"));
        assert!(!is_dashboard_path("/api/__applink"));
    }
}
