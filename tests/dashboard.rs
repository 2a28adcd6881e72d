//! The dev dashboard's JSON API and stream (docs/behaviour.md §13), over real sockets: what it
//! keeps, its bound, that no secret leaves it, and that production mode does not serve it.

// Test code: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::salesforce::{self, ACCESS_TOKEN, JWT, ORG_ID};
use common::{FakeApi, FakeApp, Sidecar, send};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get_json(mesh: &Sidecar, path: &str) -> (u16, Value) {
    let reply = send(mesh.addr, "GET", path, &[], "").await;
    (reply.status.as_u16(), reply.json())
}

#[tokio::test]
async fn keeps_each_request_with_what_the_app_received_and_no_secret() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let mut with_rc = salesforce::headers();
    with_rc.push(("authorization", format!("Bearer {JWT}")));
    send(
        mesh.addr,
        "POST",
        "/accounts?secret=q",
        &with_rc,
        "{\"name\":\"Acme\"}",
    )
    .await;
    send(mesh.addr, "GET", "/plain", &[], "").await;

    let (status, list) = get_json(&mesh, "/__applink/api/requests").await;
    assert_eq!(status, 200);
    assert_eq!(list["capacity"], 500);
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

    let id = requests[1]["id"].as_u64().unwrap();
    let (status, detail) = get_json(&mesh, &format!("/__applink/api/requests/{id}")).await;
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

    // No secret in anything the dashboard serves.
    let page = send(mesh.addr, "GET", "/__applink/", &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<title>"), "the page");
    let cc = salesforce::encode(&salesforce::client_context());
    for served in [list.to_string(), detail.to_string(), page.text()] {
        for secret in [ACCESS_TOKEN, JWT, cc.as_str(), "secret=q"] {
            assert!(!served.contains(secret), "{secret} served in {served}");
        }
    }
    let (status, missing) = get_json(&mesh, "/__applink/api/requests/999").await;
    assert_eq!(status, 404);
    assert!(missing["error"].as_str().unwrap().contains("no such"));

    // A page elsewhere, through a name that resolves here (DNS rebinding), gets nothing.
    let rebound = vec![("host", "attacker.example:8070".to_string())];
    let reply = send(mesh.addr, "GET", "/__applink/api/requests", &rebound, "").await;
    assert_eq!(reply.status, 403);
    assert!(!reply.text().contains("/accounts"), "{}", reply.text());
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
    let mut stream = tokio::net::TcpStream::connect(mesh.addr).await.unwrap();
    stream
        .write_all(b"GET /__applink/api/stream HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
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
