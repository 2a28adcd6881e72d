//! The dashboard's routes, under `/__applink/` in dev mode (docs/behaviour.md §13): the page, the
//! JSON API and the stream, behind the guard (`guard.rs`). In production mode the prefix is an
//! ordinary protected route.

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;

use super::Dashboard;
use super::guard::Admitted;
use super::stream::EventStream;
use crate::body::{MeshBody, full};
use crate::shutdown::Shutdown;

/// Every dashboard route starts with this.
pub(crate) const PREFIX: &str = "/__applink";

/// The page: HTML, CSS and JavaScript in one file, no CDN.
pub(super) const PAGE: &str = include_str!("page.html");

/// Whether `path` is the dashboard's.
pub(crate) fn is_dashboard_path(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Answers a request for a dashboard route, when the guard lets it through (`guard.rs`): a caller
/// on this machine, not relayed, with this run's token or cookie.
pub(crate) fn serve<B>(
    dashboard: &Dashboard,
    shutdown: &Shutdown,
    request: &Request<B>,
    local_caller: bool,
) -> Response<MeshBody> {
    let mut response = route(dashboard, shutdown, request, local_caller);
    dashboard.guard.protect(response.headers_mut());
    response
}

fn route<B>(
    dashboard: &Dashboard,
    shutdown: &Shutdown,
    request: &Request<B>,
    local_caller: bool,
) -> Response<MeshBody> {
    let admitted = match dashboard.guard.check(request, local_caller) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            return json_response(refusal.status(), &json!({"error": refusal.message()}));
        }
    };
    let (method, path) = (request.method(), request.uri().path());
    if method != Method::GET && method != Method::HEAD {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "the dashboard's routes answer GET"}),
        );
    }
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    if admitted == Admitted::Token {
        // The token has done its job: the cookie carries it from now on, and the page is opened
        // again without it, so it stays out of the address bar and the history.
        let mut response = match route {
            "" | "/" => {
                let mut response = Response::new(full(""));
                *response.status_mut() = StatusCode::SEE_OTHER;
                response
                    .headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("/__applink/"));
                response
            }
            _ => answer(dashboard, shutdown, route),
        };
        response
            .headers_mut()
            .insert(header::SET_COOKIE, dashboard.guard.set_cookie(PREFIX));
        return response;
    }
    answer(dashboard, shutdown, route)
}

/// The answer for a dashboard route (after the prefix).
fn answer(dashboard: &Dashboard, shutdown: &Shutdown, route: &str) -> Response<MeshBody> {
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
                &json!({
                    "capacity": dashboard.capacity(),
                    "notices": dashboard.notices(),
                    "requests": requests,
                }),
            )
        }
        "/api/stream" => {
            let stream = EventStream::new(dashboard.subscribe(), shutdown.watch());
            with_type(Response::new(stream.boxed_unsync()), "text/event-stream")
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

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<MeshBody> {
    let mut response = with_type(Response::new(full(value.to_string())), "application/json");
    *response.status_mut() = status;
    response
}

fn with_type(mut response: Response<MeshBody>, content_type: &'static str) -> Response<MeshBody> {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_token_sets_the_cookie_and_every_answer_is_protected() {
        let dashboard = Arc::new(Dashboard::new(1, Vec::new()));
        let shutdown = Shutdown::new();
        let ask = |target: &str, cookie: Option<&str>| {
            let mut request = Request::builder()
                .uri(target)
                .header(header::HOST, "localhost:8070");
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            serve(&dashboard, &shutdown, &request.body(()).unwrap(), true)
        };
        let refused = ask("/__applink/api/requests", None);
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(refused.headers()[header::X_FRAME_OPTIONS], "DENY");

        let entry = ask(&dashboard.entry(), None);
        assert_eq!(entry.status(), StatusCode::SEE_OTHER);
        assert_eq!(entry.headers()[header::LOCATION], "/__applink/");
        let cookie = entry.headers()[header::SET_COOKIE].to_str().unwrap();
        let pair = cookie.split(';').next().unwrap().to_string();

        let page = ask("/__applink/", Some(&pair));
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(!page.headers().contains_key(header::SET_COOKIE));
        assert_eq!(
            ask("/__applink/api/requests", Some(&pair)).status(),
            StatusCode::OK
        );
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
