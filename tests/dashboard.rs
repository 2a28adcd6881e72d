//! The dev dashboard's JSON API and stream (docs/behaviour.md §13), over real sockets: what it
//! keeps, its bound, that no secret leaves it, and that production mode does not serve it.

use crate::common;

use std::time::Duration;

use base64::Engine;
use common::salesforce::{self, ACCESS_TOKEN, JWT, ORG_ID};
use common::{FakeApi, FakeApp, Sidecar, send};
use serde_json::Value;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Opens the dashboard as a browser would, with the URL printed at start-up; returns the
/// `Cookie` header that lets the page's own calls in.
async fn open(mesh: &Sidecar) -> (&'static str, String) {
    let url = mesh
        .running
        .dashboard_url()
        .expect("a dashboard in dev mode");
    let entry = &url[url.find("/__applink").unwrap()..];
    let reply = send(mesh.addr, "GET", entry, &[], "").await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    ("cookie", cookie.split(';').next().unwrap().to_string())
}

async fn get_json(mesh: &Sidecar, path: &str) -> (u16, Value) {
    let reply = send(mesh.addr, "GET", path, &[open(mesh).await], "").await;
    (reply.status.as_u16(), reply.json())
}

/// The page says when the dry run is on, above the requests (docs/behaviour.md §4.6, §13).
#[tokio::test]
async fn the_page_says_the_dry_run_is_on() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .env("HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY", "true")
        .env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )
        .start()
        .await;
    let (_, list) = get_json(&mesh, "/__applink/api/requests").await;
    let notices = list["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{list}");
    assert!(
        notices[0]
            .as_str()
            .unwrap()
            .starts_with("REPORT-ONLY: nothing is enforced"),
        "{list}"
    );
}

#[tokio::test]
async fn keeps_each_request_with_what_the_app_received_and_no_secret() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let mut with_rc = salesforce::headers();
    with_rc.push(("authorization", format!("Bearer {JWT}")));
    let body = "{\"name\":\"Acme\"}";
    send(mesh.addr, "POST", "/accounts?secret=q", &with_rc, body).await;
    send(mesh.addr, "GET", "/plain", &[], "").await;

    let list = the_list_is_newest_first_without_queries(&mesh).await;
    let id = list["requests"][1]["id"].as_u64().unwrap();
    let detail = the_detail_is_what_the_app_received_redacted(&mesh, id).await;
    nothing_served_holds_a_secret(&mesh, &[list, detail]).await;
    let (status, missing) = get_json(&mesh, "/__applink/api/requests/999").await;
    assert_eq!(status, 404);
    assert!(missing["error"].as_str().unwrap().contains("no such"));

    // A page elsewhere, through a name that resolves here (DNS rebinding), gets nothing.
    let rebound = vec![
        ("host", "attacker.example:8070".to_string()),
        open(&mesh).await,
    ];
    let reply = send(mesh.addr, "GET", "/__applink/api/requests", &rebound, "").await;
    assert_eq!(reply.status, 403);
    assert!(!reply.text().contains("/accounts"), "{}", reply.text());
}

/// The list: newest first, paths without their query, no dashboard call, nothing to say by
/// default.
async fn the_list_is_newest_first_without_queries(mesh: &Sidecar) -> Value {
    let (status, list) = get_json(mesh, "/__applink/api/requests").await;
    assert_eq!(status, 200);
    assert_eq!(list["capacity"], 500);
    assert_eq!(
        list["notices"],
        serde_json::json!([]),
        "nothing to say by default"
    );
    let requests = list["requests"].as_array().unwrap();
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["/plain", "/accounts"],
        "newest first, no query, no dashboard calls"
    );
    assert_eq!(requests[1]["status"], 200);
    assert_eq!(requests[1]["kind"], "salesforce");
    assert_eq!(requests[0]["kind"], "dev-no-context");
    list
}

/// One request's detail: the headers the app received (secrets redacted, never RC), the decoded
/// context, both bodies.
async fn the_detail_is_what_the_app_received_redacted(mesh: &Sidecar, id: u64) -> Value {
    let (status, detail) = get_json(mesh, &format!("/__applink/api/requests/{id}")).await;
    assert_eq!(status, 200);
    let received: Vec<(String, String)> =
        serde_json::from_value(detail["request_headers"].clone()).unwrap();
    let header = |name: &str| {
        received
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("x-applink-org-id").as_deref(), Some(ORG_ID));
    assert!(
        header("x-client-context")
            .unwrap()
            .starts_with("<redacted, ")
    );
    assert!(header("authorization").unwrap().starts_with("<redacted, "));
    assert_eq!(
        header("x-request-context"),
        None,
        "the app never receives RC"
    );
    assert_eq!(detail["client_context"]["orgId"], ORG_ID);
    assert_eq!(detail["request_body"]["text"], "{\"name\":\"Acme\"}");
    assert_eq!(detail["response_body"]["text"], "ok");
    assert_eq!(detail["forwarded"], true);
    detail
}

/// No secret in anything the dashboard serves: `answers`, and the page itself.
async fn nothing_served_holds_a_secret(mesh: &Sidecar, answers: &[Value]) {
    let page = send(mesh.addr, "GET", "/__applink/", &[open(mesh).await], "").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<title>"), "the page");
    let cc = salesforce::encode(&salesforce::client_context());
    let served = answers.iter().map(Value::to_string).chain([page.text()]);
    for served in served {
        for secret in [ACCESS_TOKEN, JWT, cc.as_str(), "secret=q"] {
            assert!(!served.contains(secret), "{secret} served in {served}");
        }
    }
}

#[tokio::test]
async fn the_ring_is_bounded() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .env("HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS", "3")
        .start()
        .await;
    for n in 0..5 {
        send(mesh.addr, "GET", &format!("/r{n}"), &[], "").await;
    }
    let (_, list) = get_json(&mesh, "/__applink/api/requests").await;
    let ids: Vec<u64> = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [5, 4, 3]);
    assert_eq!(get_json(&mesh, "/__applink/api/requests/1").await.0, 404);
    assert_eq!(get_json(&mesh, "/__applink/api/requests/3").await.0, 200);
}

/// Reads the stream into `seen` until it holds `needle`.
async fn read_until(stream: &mut tokio::net::TcpStream, seen: &mut String, needle: &str) {
    let mut buffer = [0u8; 4096];
    while !seen.contains(needle) {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the stream closed before {needle:?}: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
}

#[tokio::test]
async fn the_stream_sends_each_new_request() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let (_, cookie) = open(&mesh).await;
    let mut stream = tokio::net::TcpStream::connect(mesh.addr).await.unwrap();
    let head = format!(
        "GET /__applink/api/stream HTTP/1.1\r\nhost: localhost\r\ncookie: {cookie}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = String::new();
    // The stream is open once its first comment arrives.
    read_until(&mut stream, &mut seen, ": open").await;
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
    send(mesh.addr, "GET", "/streamed", &[], "").await;
    read_until(&mut stream, &mut seen, "\"path\":\"/streamed\"").await;
    assert!(seen.contains("event: request\ndata: {"), "{seen}");
}

#[tokio::test]
async fn production_mode_serves_no_dashboard() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url()).start().await;
    for path in ["/__applink/", "/__applink/api/requests"] {
        let reply = send(mesh.addr, "GET", path, &[], "").await;
        reply.assert_mesh_error(401, "missing-context");
    }
    assert!(app.received().is_empty() && api.calls().is_empty());
}

/// The dashboard answers only with this run's token (then its cookie), never through a relay, and
/// tells the browser not to frame it or run anything but its own script.
#[tokio::test]
async fn the_dashboard_needs_this_runs_token_and_cannot_be_framed() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let url = mesh.running.dashboard_url().unwrap();
    assert!(url.starts_with("http://localhost:"), "{url}");
    let entry = &url[url.find("/__applink").unwrap()..];
    without_this_runs_token_403(&mesh).await;
    let cookie = the_token_gives_a_cookie(&mesh, entry).await;
    let page = send(
        mesh.addr,
        "GET",
        "/__applink/",
        std::slice::from_ref(&cookie),
        "",
    )
    .await;
    assert_eq!(page.status, 200);
    the_page_runs_only_its_own_script_and_cannot_be_framed(&page);

    // Any mark of a relay: 403, cookie or not.
    let marks = [
        "x-real-ip",
        "via",
        "cf-connecting-ip",
        "true-client-ip",
        "forwarded",
        "x-forwarded-for",
    ];
    for mark in marks {
        let headers = [cookie.clone(), (mark, "203.0.113.7".to_string())];
        let reply = send(mesh.addr, "GET", "/__applink/api/requests", &headers, "").await;
        assert_eq!(reply.status, 403, "{mark}");
    }
}

/// Without the token, or with another one: 403, saying where the URL is, and never framed.
async fn without_this_runs_token_403(mesh: &Sidecar) {
    let another_cookie = vec![("cookie", "applink_dashboard_000000000000=x".to_string())];
    for (path, headers) in [
        ("/__applink/", vec![]),
        ("/__applink/api/requests", vec![]),
        ("/__applink/?token=0123456789abcdef0123456789abcdef", vec![]),
        ("/__applink/", another_cookie),
    ] {
        let reply = send(mesh.addr, "GET", path, &headers, "").await;
        assert_eq!(reply.status, 403, "{path} {headers:?}");
        reply.assert_error_mentions("printed at start-up");
        assert_eq!(reply.headers["x-frame-options"], "DENY");
    }
}

/// The token: a strict cookie, and the page again without the token in the address. Returns the
/// `Cookie` header.
async fn the_token_gives_a_cookie(mesh: &Sidecar, entry: &str) -> (&'static str, String) {
    let first = send(mesh.addr, "GET", entry, &[], "").await;
    assert_eq!(first.status, 303);
    assert_eq!(first.headers["location"], "/__applink/");
    let set_cookie = first.headers["set-cookie"].to_str().unwrap();
    for flag in ["; Path=/__applink", "; HttpOnly", "; SameSite=Strict"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    ("cookie", set_cookie.split(';').next().unwrap().to_string())
}

/// The page's policy: nothing by default, never framed, its one script allowed by its hash and
/// nothing else inline.
fn the_page_runs_only_its_own_script_and_cannot_be_framed(page: &common::Reply) {
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let html = page.text();
    let script = html
        .split("<script>")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script));
    assert!(
        policy.contains(&format!("script-src 'sha256-{hash}'")),
        "{policy}"
    );
    assert_eq!(html.matches("<script").count(), 1);
    assert!(
        !html.contains(" style=\""),
        "inline style attributes would be refused"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
}
