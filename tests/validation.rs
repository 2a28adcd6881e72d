//! Classifying and validating requests (docs/behaviour.md §4.3–4.4): every rejection with the
//! request that causes it.

use crate::common;

use common::client::parse_response;
use common::salesforce::{self, ORG_ID, encode};
use common::{raw_request, send};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn without(headers: Vec<(&'static str, String)>, name: &str) -> Vec<(&'static str, String)> {
    headers.into_iter().filter(|(n, _)| *n != name).collect()
}

#[tokio::test]
async fn no_context_is_401() {
    let (app, api, mesh) = common::production().await;
    let reply = send(mesh.addr, "GET", "/orders", &[], "").await;
    reply.assert_mesh_error(401, "missing-context");
    assert!(app.received().is_empty() && api.calls().is_empty());
}

#[tokio::test]
async fn one_context_header_alone_is_400() {
    let (app, _api, mesh) = common::production().await;
    for missing in ["x-client-context", "x-request-context"] {
        let reply = send(
            mesh.addr,
            "GET",
            "/",
            &without(salesforce::headers(), missing),
            "",
        )
        .await;
        reply.assert_mesh_error(400, "partial-context");
        reply.assert_error_mentions(missing);
    }
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn repeated_protected_headers_are_400() {
    let (app, api, mesh) = common::production().await;
    for name in [
        "x-request-context",
        "x-client-context",
        "x-signature",
        "x-request-id",
    ] {
        let mut headers = salesforce::headers();
        match headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
        {
            Some(value) => headers.push((name, value)),
            None => headers.extend([(name, "a".to_string()), (name, "b".to_string())]),
        }
        let reply = send(mesh.addr, "GET", "/", &headers, "").await;
        reply.assert_mesh_error(400, "duplicate-header");
        reply.assert_error_mentions(name);
    }
    assert!(app.received().is_empty() && api.calls().is_empty());
}

#[tokio::test]
async fn bad_request_context_names_the_problem() {
    let (app, api, mesh) = common::production().await;
    let cc = salesforce::client_context();
    let mut missing_org = salesforce::request_context();
    missing_org.as_object_mut().unwrap().remove("orgId");
    let mut empty_auth = salesforce::request_context();
    empty_auth["auth"] = json!("");
    for (rc_value, expected) in [
        ("not base64 at all!".to_string(), "not base64"),
        (encode(&json!([1, 2])), "not a JSON object"),
        (encode(&missing_org), "orgId"),
        (encode(&empty_auth), "auth"),
    ] {
        let mut headers = salesforce::with(salesforce::request_context(), cc.clone());
        headers[0].1 = rc_value;
        let reply = send(mesh.addr, "GET", "/", &headers, "").await;
        reply.assert_mesh_error(400, "bad-request-context");
        reply.assert_error_mentions(expected);
    }
    assert!(app.received().is_empty() && api.calls().is_empty());
}

#[tokio::test]
async fn request_context_is_decoded_leniently() {
    let (app, _api, mesh) = common::production().await;
    use base64::Engine;
    let raw = salesforce::request_context().to_string();
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
    let mut headers = salesforce::headers();
    headers[0].1 = url_safe;
    assert_eq!(send(mesh.addr, "GET", "/", &headers, "").await.status, 200);
    assert_eq!(app.received().len(), 1);
}

#[tokio::test]
async fn request_id_must_contain_the_context_id() {
    let (app, api, mesh) = common::production().await;
    let mut headers = salesforce::headers();
    headers[2].1 = "some-other-id".into();
    send(mesh.addr, "GET", "/", &headers, "")
        .await
        .assert_mesh_error(400, "request-id-mismatch");
    let reply = send(
        mesh.addr,
        "GET",
        "/",
        &without(salesforce::headers(), "x-request-id"),
        "",
    )
    .await;
    reply.assert_mesh_error(400, "request-id-mismatch");
    assert!(app.received().is_empty() && api.calls().is_empty());
}

#[tokio::test]
async fn data_action_target_requirements() {
    let (app, api, mesh) = common::production().await;
    let sig = vec![("x-signature", "sig".to_string())];
    for (target, body, expected) in [
        ("/dat?apiName=A", &b"{}"[..], "orgId"),
        ("/dat?orgId=00D", &b"{}"[..], "apiName"),
        ("/dat?orgId=&apiName=A", &b"{}"[..], "orgId"),
        ("/dat?orgId=00D&apiName=A", &b"\xff\xfe"[..], "UTF-8"),
    ] {
        let reply = send(mesh.addr, "POST", target, &sig, body.to_vec()).await;
        reply.assert_mesh_error(400, "bad-data-action-target");
        reply.assert_error_mentions(expected);
    }
    assert!(app.received().is_empty() && api.calls().is_empty());
}

/// POSTs `body` as a Data Action Target (`orgId`, `apiName`, a signature).
async fn send_data_action_target(addr: std::net::SocketAddr, body: Vec<u8>) -> common::Reply {
    let sig = [("x-signature", "sig".to_string())];
    send(addr, "POST", "/dat?orgId=00D&apiName=A", &sig, body).await
}

#[tokio::test]
async fn data_action_target_body_over_the_limit_is_413() {
    let (_app, api, mesh) =
        common::production_with("mesh:\n  limits:\n    dataActionTargetBody: 1KiB\n").await;
    let reply = send_data_action_target(mesh.addr, vec![b'a'; 1025]).await;
    reply.assert_mesh_error(413, "payload-too-large");
    // Chunked, so the limit is found while reading rather than from Content-Length.
    let chunk = format!("{:x}\r\n{}\r\n", 700, "b".repeat(700));
    let body = format!("{chunk}{chunk}0\r\n\r\n");
    let reply = raw_request(
        mesh.addr,
        "POST /dat?orgId=00D&apiName=A HTTP/1.1\r\nhost: x\r\nx-signature: sig\r\ntransfer-encoding: chunked",
        body.as_bytes(),
    )
    .await;
    reply.assert_mesh_error(413, "payload-too-large");
    let reply = send_data_action_target(mesh.addr, vec![b'a'; 1024]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(api.calls().len(), 1);
}

/// A caller that sends its whole body before it reads the answer, as many HTTP clients do, gets the
/// early refusal, not a reset: the sidecar reads and discards what is still coming before it closes
/// (a lingering close, as nginx does).
#[tokio::test]
async fn an_early_refusal_reaches_a_caller_still_sending() {
    let (app, _api, mesh) =
        common::production_with("mesh:\n  limits:\n    dataActionTargetBody: 1KiB\n").await;
    // raw_request writes the whole request, then reads.
    let body = vec![b'a'; 32 << 20];
    let head = "POST /dat?orgId=00D&apiName=A HTTP/1.1\r\nhost: x\r\nx-signature: sig";
    raw_request(mesh.addr, head, &body)
        .await
        .assert_mesh_error(413, "payload-too-large");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let (app, _api, mesh) =
        common::production_with("mesh:\n  limits:\n    headerBytes: 4KiB\n").await;
    let headers = vec![("x-big", "a".repeat(5000))];
    send(mesh.addr, "GET", "/", &headers, "")
        .await
        .assert_mesh_error(431, "headers-too-large");
    assert!(app.received().is_empty());
}

/// hyper refuses some heads before the sidecar sees them; the caller still gets the JSON refusal.
#[tokio::test]
async fn heads_the_http_layer_refuses_get_the_json_refusal_too() {
    let (app, _api, mesh) = common::production().await;
    let many: String = (0..101).map(|i| format!("\r\nx-h{i}: v")).collect();
    raw_request(mesh.addr, &format!("GET / HTTP/1.1\r\nhost: x{many}"), b"")
        .await
        .assert_mesh_error(431, "headers-too-large");
    // Over twice the default headerBytes (64 KiB), where hyper stops buffering.
    let big = "a".repeat(200 * 1024);
    raw_request(
        mesh.addr,
        &format!("GET / HTTP/1.1\r\nhost: x\r\nx-big: {big}"),
        b"",
    )
    .await
    .assert_mesh_error(431, "headers-too-large");
    raw_request(mesh.addr, "GET / HTTP/1.1\r\nhost: x\r\nbad name: 1", b"")
        .await
        .assert_mesh_error(400, "malformed-request");
    let target = format!("/{}", "a".repeat(70_000));
    raw_request(mesh.addr, &format!("GET {target} HTTP/1.1\r\nhost: x"), b"")
        .await
        .assert_mesh_error(414, "uri-too-long");

    // Pipelined after a request the handler answered, on the same connection.
    let mut stream = tokio::net::TcpStream::connect(mesh.addr).await.unwrap();
    let pipelined =
        format!("GET / HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nhost: x{many}\r\n\r\n");
    stream.write_all(pipelined.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let second = bytes
        .windows(12)
        .position(|w| w == b"HTTP/1.1 431")
        .expect("no second answer");
    parse_response(&bytes[..second]).assert_mesh_error(401, "missing-context");
    parse_response(&bytes[second..]).assert_mesh_error(431, "headers-too-large");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn nul_in_path_is_400() {
    let (app, _api, mesh) = common::production().await;
    let reply = raw_request(mesh.addr, "GET /a%00b HTTP/1.1\r\nhost: x", b"").await;
    reply.assert_mesh_error(400, "bad-path");
    assert!(app.received().is_empty());
}

/// Bytes above 127 in the request target, not percent-encoded: runtimes read them as Latin-1, as
/// UTF-8 or not at all, so the path the sidecar matched is not the one the app reads.
#[tokio::test]
async fn raw_non_ascii_in_the_target_is_400() {
    let (app, _api, mesh) = common::production_with_public_bypass().await;
    for target in ["/public/caf\u{e9}", "/public/cafe?name=caf\u{e9}"] {
        let head = format!("GET {target} HTTP/1.1\r\nhost: x");
        let reply = raw_request(mesh.addr, &head, b"").await;
        reply.assert_mesh_error(400, "bad-path");
        reply.assert_error_mentions("percent-encode");
    }
    assert!(app.received().is_empty());
    let encoded = raw_request(
        mesh.addr,
        "GET /public/caf%C3%A9?n=%C3%A9 HTTP/1.1\r\nhost: x",
        b"",
    )
    .await;
    assert_eq!(encoded.status, 200, "{}", encoded.text());
}

#[tokio::test]
async fn smuggled_and_spoofed_context_headers_never_reach_the_app() {
    let (app, _api, mesh) = common::production().await;
    let mut headers = salesforce::headers();
    headers.push(("x-applink-org-id", "00DSPOOFED0000000".into()));
    headers.push(("x-applink-user-id", "005SPOOF".into()));
    assert_eq!(send(mesh.addr, "GET", "/", &headers, "").await.status, 200);
    let seen = app.only_request();
    assert_eq!(seen.headers["x-applink-org-id"], ORG_ID);
    assert_eq!(seen.headers.get_all("x-applink-org-id").iter().count(), 1);
    assert_eq!(seen.headers["x-applink-user-id"], "005JS000000ABCD");

    // Underscore spellings are removed before anything else looks at the headers.
    let reply = raw_request(
        mesh.addr,
        &format!(
            "GET /health HTTP/1.1\r\nhost: x\r\nx_client_context: {}\r\nx_applink_org_id: spoof\r\nx-request-id: abc",
            encode(&salesforce::client_context())
        ),
        b"",
    )
    .await;
    reply.assert_mesh_error(401, "missing-context");
    assert_eq!(app.received().len(), 1);
}

#[tokio::test]
async fn a_data_action_target_body_sent_too_slowly_is_cut_off() {
    let (app, api, mesh) =
        common::production_with("mesh:\n  timeouts:\n    appResponse: 300ms\n").await;
    let mut stream = tokio::net::TcpStream::connect(mesh.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"POST /dat?orgId=00D&apiName=A HTTP/1.1\r\nhost: x\r\nx-signature: s\r\ncontent-length: 10\r\n\r\n{\"a\"")
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("an answer, not a wait for the rest of the body")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        response.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(
        text.contains("x-applink-mesh-error: bad-data-action-target"),
        "{text}"
    );
    assert!(app.received().is_empty() && api.calls().is_empty());
}

/// The AppLink API receives the body JSON-escaped, up to six times its size: that size is what the
/// limit counts (1,000 control characters become 6,000 bytes).
#[tokio::test]
async fn data_action_target_limit_counts_the_escaped_body() {
    let (_app, api, mesh) =
        common::production_with("mesh:\n  limits:\n    dataActionTargetBody: 4KiB\n").await;
    let reply = send_data_action_target(mesh.addr, vec![0x01u8; 1000]).await;
    reply.assert_mesh_error(413, "payload-too-large");
    assert!(api.calls().is_empty());
    let reply = send_data_action_target(mesh.addr, vec![b'a'; 1000]).await;
    assert_eq!(reply.status, 200);
}

/// Data Action Target bodies held at once share `limits.bufferedBodies`: beyond it a request is
/// answered 503 `overloaded` at once rather than buffered, and the budget comes back afterwards.
#[tokio::test]
async fn buffered_bodies_share_one_memory_budget() {
    let (_app, api, mesh) = common::production_with(
        "mesh:\n  limits:\n    dataActionTargetBody: 64KiB\n    bufferedBodies: 200KiB\n    headerBytes: 4KiB\n",
    )
    .await;
    // The API takes its time, so the bodies are all held at once.
    api.always(common::Answer {
        delay: std::time::Duration::from_millis(1500),
        ..common::Answer::status(200)
    });
    let calls = (0..4).map(|_| send_data_action_target(mesh.addr, vec![b'a'; 60 * 1024]));
    let replies = futures_util::future::join_all(calls).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    let overloaded: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(!overloaded.is_empty(), "{statuses:?}");
    for reply in overloaded {
        reply.assert_mesh_error(503, "overloaded");
    }
    api.always(common::Answer::status(200));
    let reply = send_data_action_target(mesh.addr, vec![b'a'; 60 * 1024]).await;
    assert_eq!(reply.status, 200, "the budget was not given back");
}

/// A caller that announces a large body and sends none holds none of the budget: memory is
/// reserved as bytes arrive, not as they are promised.
#[tokio::test]
async fn a_promised_body_reserves_nothing() {
    use tokio::io::AsyncWriteExt;
    let (_app, _api, mesh) = common::production_with(
        "mesh:\n  limits:\n    dataActionTargetBody: 64KiB\n    bufferedBodies: 160KiB\n    headerBytes: 4KiB\n",
    )
    .await;
    let mut liars = Vec::new();
    for _ in 0..5 {
        let mut stream = tokio::net::TcpStream::connect(mesh.addr).await.unwrap();
        stream
            .write_all(b"POST /dat?orgId=00D&apiName=A HTTP/1.1\r\nhost: x\r\nx-signature: sig\r\ncontent-length: 60000\r\n\r\n")
            .await
            .unwrap();
        liars.push(stream);
    }
    let reply = send_data_action_target(mesh.addr, vec![b'a'; 60_000]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    drop(liars);
}
