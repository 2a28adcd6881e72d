//! The client context, `x-client-context` (docs/behaviour.md §4.4, §6): its org cross-checked with
//! the request context's, its spelling checked as Salesforce writes it, and what reaches the app of
//! it: the caller's very bytes.

use crate::common;

use common::salesforce::{self, ORG_ID};
use common::send;
use serde_json::json;

#[tokio::test]
async fn client_context_org_must_match() {
    let (app, api, mesh) = common::production().await;
    for org in ["00DJS0000000999ABC", "00Dshort", "00DJS0000000123AB!"] {
        let mut cc = salesforce::client_context();
        cc["orgId"] = json!(org);
        let reply = send(
            mesh.addr,
            "GET",
            "/",
            &salesforce::with(salesforce::request_context(), cc),
            "",
        )
        .await;
        reply.assert_mesh_error(400, "bad-client-context");
    }
    // 15 characters agree with the first 15 of 18.
    let mut cc = salesforce::client_context();
    cc["orgId"] = json!(&ORG_ID[..15]);
    assert_eq!(
        send(
            mesh.addr,
            "GET",
            "/",
            &salesforce::with(salesforce::request_context(), cc),
            ""
        )
        .await
        .status,
        200
    );
    assert_eq!(app.received().len(), 1);
    assert_eq!(api.calls().len(), 1);
}

#[tokio::test]
async fn cross_check_can_be_turned_off() {
    let (_app, _api, mesh) =
        common::production_with("mesh:\n  authentication:\n    verifyClientContext: false\n").await;
    let mut cc = salesforce::client_context();
    cc["orgId"] = json!("00DJS0000000999ABC");
    let reply = send(
        mesh.addr,
        "GET",
        "/",
        &salesforce::with(salesforce::request_context(), cc),
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn undecodable_client_context_is_refused_when_verified() {
    let (app, _api, mesh) = common::production().await;
    let mut headers = salesforce::headers();
    headers[1].1 = "bm90IGpzb24=".into(); // "not json"
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    reply.assert_mesh_error(400, "bad-client-context");
    reply.assert_error_mentions("not JSON");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn undecodable_client_context_is_forwarded_unverified_without_context_headers() {
    let (app, _api, mesh) =
        common::production_with("mesh:\n  authentication:\n    verifyClientContext: false\n").await;
    let mut headers = salesforce::headers();
    headers[1].1 = "bm90IGpzb24".into(); // "not json"
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    assert_eq!(reply.status, 200);
    let seen = app.only_request();
    assert_eq!(seen.headers["x-client-context"], "bm90IGpzb24");
    assert!(!seen.headers.contains_key("x-applink-org-id"));
    assert_eq!(seen.headers["x-applink-request-kind"], "salesforce");
}

/// The app reads the client context byte for byte as the caller sent it, never re-encoded. Checked,
/// it must be spelled as Salesforce spells it (padded standard base64, no whitespace), since the
/// app's decoder may refuse anything else (Go's, Ruby's and strict Python's refuse what is not
/// padded, Java's a space); unchecked (compat), any spelling the sidecar can read is forwarded as
/// it came, here without padding and with a space inside.
#[tokio::test]
async fn the_client_context_is_forwarded_as_it_came() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let json = salesforce::client_context().to_string();
    let spelled = STANDARD_NO_PAD.encode(&json);
    let spelled = format!("{} {}", &spelled[..20], &spelled[20..]);
    let mut headers = salesforce::headers();
    headers[1].1 = spelled.clone();

    let (app, _api, mesh) = common::production().await;
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    reply.assert_mesh_error(400, "bad-client-context");
    reply.assert_error_mentions("standard base64 with padding and without whitespace");
    assert!(app.received().is_empty());
    let valid = salesforce::headers();
    assert_eq!(send(mesh.addr, "GET", "/", &valid, "").await.status, 200);
    assert_eq!(
        app.only_request().headers["x-client-context"],
        valid[1].1.as_str()
    );

    let (app, _api, mesh) =
        common::production_with("mesh:\n  authentication:\n    verifyClientContext: false\n").await;
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    assert_eq!(reply.status, 200);
    let seen = app.only_request();
    assert_eq!(seen.headers["x-client-context"], spelled.as_str());
    assert_eq!(seen.headers["x-applink-org-id"], ORG_ID);
}

/// The cross-check reads the standard alphabet only: the app decodes the caller's very bytes, and
/// some decoders drop URL-safe characters (Python's `b64decode`), so a URL-safe context could be
/// one org for the check and another for the app.
#[tokio::test]
async fn a_url_safe_client_context_is_refused_when_checked() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE;
    let mut cc = salesforce::client_context();
    // Characters whose standard base64 has `/` and `+`, so the URL-safe one has `_` and `-`.
    cc["note"] = "???>>>".into();
    let url_safe = URL_SAFE.encode(cc.to_string());
    assert!(
        url_safe.contains('_') && url_safe.contains('-'),
        "{url_safe}"
    );
    let mut headers = salesforce::headers();
    headers[1].1 = url_safe.clone();

    let (app, api, mesh) = common::production().await;
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    reply.assert_mesh_error(400, "bad-client-context");
    reply.assert_error_mentions("standard base64");
    assert!(app.received().is_empty() && api.calls().is_empty());

    // Unchecked (compat), it is forwarded as it came.
    let (app, _api, mesh) =
        common::production_with("mesh:\n  authentication:\n    verifyClientContext: false\n").await;
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        app.only_request().headers["x-client-context"],
        url_safe.as_str()
    );
}
