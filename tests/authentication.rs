//! Authentication against the AppLink API (docs/behaviour.md §5): the calls it receives and the
//! outcome table.

use crate::common;

use std::time::Duration;

use common::api::API_SECRET_TEXT;
use common::salesforce::{self, ADDON_UUID, CONTEXT_ID, JWT, ORG_ID};
use common::sidecar::TOKEN;
use common::{Answer, FakeApi, FakeApp, Sidecar, send};
use serde_json::json;

#[tokio::test]
async fn salesforce_request_is_authenticated_with_the_exact_body_and_forwarded() {
    let (app, api, mesh) = common::production().await;
    let reply = send(
        mesh.addr,
        "POST",
        "/accounts?limit=5",
        &salesforce::headers(),
        "{\"a\":1}",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "ok");

    the_api_was_asked_with_the_context_and_the_bearer(&api.only_call());
    the_app_got_the_request_and_its_decoded_context(&app.only_request());
}

/// The one API call: the add-on's path, RC's fields as the API names them, the bearer, and the
/// request id under both its names.
fn the_api_was_asked_with_the_context_and_the_bearer(call: &common::api::Call) {
    assert_eq!(
        call.path,
        format!("/addons/{ADDON_UUID}/invocations/authentication")
    );
    assert_eq!(
        call.body,
        json!({
            "org_domain_url": "https://acme.my.salesforce.com",
            "core_jwt_token": JWT,
            "org_id": ORG_ID,
            "app_uuid": "6f1e6c2e-2d6b-4a8e-9a2f-1f2e3d4c5b6a",
        })
    );
    assert_eq!(call.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(call.headers["content-type"], "application/json");
    let rid = format!("{CONTEXT_ID}-1234");
    assert_eq!(call.headers["x-request-id"], rid.as_str());
    assert_eq!(call.headers["request_id"], rid.as_str());
}

/// The app got the target and the body as sent, the kind and org decoded, CC and never RC.
fn the_app_got_the_request_and_its_decoded_context(seen: &common::app::Received) {
    assert_eq!(seen.target, "/accounts?limit=5");
    assert_eq!(seen.body, "{\"a\":1}");
    assert_eq!(seen.headers["x-applink-request-kind"], "salesforce");
    assert_eq!(seen.headers["x-applink-org-id"], ORG_ID);
    assert!(
        seen.headers.contains_key("x-client-context"),
        "CC passes through for the SDKs"
    );
    assert!(
        !seen.headers.contains_key("x-request-context"),
        "RC is never forwarded"
    );
}

#[tokio::test]
async fn data_action_target_is_authenticated_with_the_exact_body() {
    let (app, api, mesh) = common::production().await;
    let payload = "{\"events\":[{\"id\":1,\"name\":\"caf\u{e9}\"}]}";
    let headers = vec![("x-signature", "sig-abc123".to_string())];
    let reply = send(
        mesh.addr,
        "POST",
        "/dat/hook?orgId=00DJS0000000123&apiName=My_Target",
        &headers,
        payload,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let call = api.only_call();
    assert_eq!(
        call.path,
        format!("/addons/{ADDON_UUID}/data_action_targets/authenticate")
    );
    assert_eq!(
        call.body,
        json!({"api_name": "My_Target", "org_id": "00DJS0000000123", "signature": "sig-abc123", "payload": payload})
    );
    assert_eq!(call.headers["authorization"], format!("Bearer {TOKEN}"));

    let seen = app.only_request();
    assert_eq!(seen.body, payload, "the buffered body is forwarded whole");
    assert_eq!(seen.headers["x-applink-request-kind"], "data-action-target");
    assert_eq!(seen.headers["x-applink-org-id"], "00DJS0000000123");
    assert_eq!(seen.headers["x-signature"], "sig-abc123");
}

/// A refusal says its reason and never the API's own words; a 503 says when to retry.
fn answered_as_the_table_says(reply: &common::Reply, api_status: u16, status: u16, reason: &str) {
    if reason.is_empty() {
        assert_eq!(reply.status, status, "API {api_status}: {}", reply.text());
        assert_eq!(reply.reason(), "");
    } else {
        reply.assert_mesh_error(status, reason);
        assert!(
            !reply.text().contains(API_SECRET_TEXT),
            "the API's answer leaked: {}",
            reply.text()
        );
    }
    if status == 503 {
        assert!(
            reply.headers.contains_key("retry-after"),
            "503 without Retry-After"
        );
    }
}

#[tokio::test]
async fn outcome_table() {
    let (app, api, mesh) = common::production().await;
    let table: [(u16, u16, &str); 9] = [
        (200, 200, ""),
        (204, 200, ""),
        (401, 403, "forbidden"),
        (403, 403, "forbidden"),
        (429, 503, "auth-unavailable"),
        (500, 503, "auth-unavailable"),
        (503, 503, "auth-unavailable"),
        (404, 502, "auth-error"),
        (302, 502, "auth-error"),
    ];
    for (api_status, status, reason) in table {
        api.script(&[Answer::status(api_status)]);
        let reply = send(mesh.addr, "GET", "/x", &salesforce::headers(), "").await;
        answered_as_the_table_says(&reply, api_status, status, reason);
    }
    assert_eq!(
        app.received().len(),
        2,
        "only the two 2xx outcomes reach the app"
    );
    assert_eq!(
        api.calls().len(),
        table.len(),
        "a redirect is never followed"
    );
}

#[tokio::test]
async fn auth_deadline_is_504() {
    let (app, api, mesh) = common::production_with("mesh:\n  timeouts:\n    auth: 300ms\n").await;
    api.always(Answer {
        delay: Duration::from_secs(5),
        ..Answer::status(200)
    });
    let reply = send(mesh.addr, "GET", "/x", &salesforce::headers(), "").await;
    reply.assert_mesh_error(504, "auth-timeout");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn unreachable_api_is_503_after_one_retry() {
    let app = FakeApp::start().await;
    // A port that refuses connections: bind, note it, close.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mesh = Sidecar::production(app.port(), &format!("http://{closed}/addons/x"))
        .start()
        .await;
    let reply = send(mesh.addr, "GET", "/x", &salesforce::headers(), "").await;
    reply.assert_mesh_error(503, "auth-unavailable");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn cache_is_off_by_default_and_serves_positive_results_when_on() {
    let (_app, api, mesh) = common::production().await;
    for _ in 0..2 {
        assert_eq!(
            send(mesh.addr, "GET", "/x", &salesforce::headers(), "")
                .await
                .status,
            200
        );
    }
    assert_eq!(api.calls().len(), 2, "no cache unless configured");

    let (app, api, mesh) =
        common::production_with("mesh:\n  authentication:\n    cache: { maxTtl: 60s }\n").await;
    let headers = salesforce::headers_with_jwt_expiring_in(300);
    let replies =
        futures_util::future::join_all((0..4).map(|_| send(mesh.addr, "GET", "/x", &headers, "")))
            .await;
    assert!(replies.iter().all(|r| r.status == 200));
    assert_eq!(send(mesh.addr, "GET", "/y", &headers, "").await.status, 200);
    assert_eq!(
        api.calls().len(),
        1,
        "concurrent identical calls coalesce and the result is cached"
    );
    assert_eq!(app.received().len(), 5);

    // A JWT without exp is never cached; a denial is never cached.
    api.script(&[Answer::status(403)]);
    let plain = salesforce::headers();
    assert_eq!(send(mesh.addr, "GET", "/x", &plain, "").await.status, 403);
    assert_eq!(send(mesh.addr, "GET", "/x", &plain, "").await.status, 200);
    assert_eq!(send(mesh.addr, "GET", "/x", &plain, "").await.status, 200);
    assert_eq!(api.calls().len(), 4);
}

#[tokio::test]
async fn a_call_that_fails_before_any_response_is_retried_once() {
    let (app, api, mesh) = common::production().await;
    api.script(&[Answer::hang_up()]);
    let reply = send(mesh.addr, "GET", "/x", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(api.calls().len(), 2, "the hung-up call and its retry");

    api.script(&[Answer::hang_up(), Answer::hang_up()]);
    let reply = send(mesh.addr, "GET", "/x", &salesforce::headers(), "").await;
    reply.assert_mesh_error(503, "auth-unavailable");
    assert_eq!(api.calls().len(), 4, "one retry, not more");
    assert_eq!(app.received().len(), 1);
}

/// A burst never opens more than the bounded number of AppLink API calls at once: the rest wait
/// for a slot within `timeouts.auth`, and all of them are answered.
#[tokio::test]
async fn concurrent_api_calls_are_bounded() {
    let (_app, api, mesh) = common::production().await;
    api.always(Answer {
        delay: Duration::from_millis(500),
        ..Answer::status(200)
    });
    let headers = salesforce::headers();
    let burst = (0..200).map(|_| send(mesh.addr, "GET", "/burst", &headers, ""));
    let replies = futures_util::future::join_all(burst).await;
    assert!(replies.iter().all(|r| r.status == 200));
    assert_eq!(api.calls().len(), 200);
    let peak = api.peak_concurrency();
    assert!(peak <= 128, "{peak} AppLink API calls at once");
    assert!(peak > 1, "the burst never overlapped ({peak})");
}

/// A request whose context names this add-on.
fn headers_for_addon(uuid: &str) -> Vec<(&'static str, String)> {
    let mut rc = salesforce::request_context();
    rc["addonUuid"] = uuid.into();
    salesforce::with(rc, salesforce::client_context())
}

#[tokio::test]
async fn each_attachment_authenticates_the_requests_for_its_addon() {
    let app = FakeApp::start().await;
    let (default_api, purple_api) = (FakeApi::start().await, FakeApi::start().await);
    let mesh = Sidecar::production(app.port(), &default_api.url())
        .env(
            "HEROKU_APPLINK_PURPLE_API_URL",
            &purple_api.url_for_addon(PURPLE),
        )
        .env("HEROKU_APPLINK_PURPLE_TOKEN", "purple-token")
        // Not an AppLink attachment: its URL names no add-on.
        .env("BILLING_API_URL", "https://billing.example/v1")
        .env("BILLING_TOKEN", "billing-token")
        .start()
        .await;
    the_uuid_picks_its_attachment(&mesh, &default_api, &purple_api).await;
    no_uuid_or_the_defaults_goes_to_the_default(&mesh, &default_api, &purple_api).await;

    // A uuid no attachment holds is refused and never sent to any add-on's API.
    let unknown = headers_for_addon("00000000-dead-4bee-8000-000000000000");
    let reply = send(mesh.addr, "GET", "/", &unknown, "").await;
    reply.assert_mesh_error(403, "unknown-addon");
    reply.assert_error_mentions("not attached to this app");
    assert_eq!(default_api.calls().len(), 2);
    assert_eq!(purple_api.calls().len(), 1);
    assert_eq!(app.received().len(), 3);
}

/// The add-on attached as `HEROKU_APPLINK_PURPLE`.
const PURPLE: &str = "9a8b7c6d-1111-4222-8333-944455566677";

/// The uuid picks the attachment, whatever its case: its token, its add-on's path, and the
/// default attachment not asked.
async fn the_uuid_picks_its_attachment(
    mesh: &Sidecar,
    default_api: &FakeApi,
    purple_api: &FakeApi,
) {
    let headers = headers_for_addon(&PURPLE.to_uppercase());
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let call = purple_api.only_call();
    assert_eq!(call.headers["authorization"], "Bearer purple-token");
    assert_eq!(
        call.path,
        format!("/addons/{PURPLE}/invocations/authentication")
    );
    assert!(
        default_api.calls().is_empty(),
        "the default attachment was not asked"
    );
}

/// Its own add-on's uuid, and no uuid at all, go to the default attachment, with its token.
async fn no_uuid_or_the_defaults_goes_to_the_default(
    mesh: &Sidecar,
    default_api: &FakeApi,
    purple_api: &FakeApi,
) {
    let mut without = salesforce::request_context();
    without.as_object_mut().unwrap().remove("addonUuid");
    for headers in [
        salesforce::headers(),
        salesforce::with(without, salesforce::client_context()),
    ] {
        let reply = send(mesh.addr, "GET", "/", &headers, "").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let calls = default_api.calls();
    assert_eq!(calls.len(), 2);
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        calls
            .iter()
            .all(|c| c.headers["authorization"] == bearer.as_str())
    );
    assert_eq!(purple_api.calls().len(), 1);
}

#[tokio::test]
async fn a_non_string_addon_uuid_is_a_bad_request_context() {
    let (app, api, mesh) = common::production().await;
    for wrong in [json!(42), json!(true), json!(["x"]), json!({"uuid": "x"})] {
        let mut rc = salesforce::request_context();
        rc["addonUuid"] = wrong;
        let headers = salesforce::with(rc, salesforce::client_context());
        let reply = send(mesh.addr, "GET", "/", &headers, "").await;
        reply.assert_mesh_error(400, "bad-request-context");
        reply.assert_error_mentions("addonUuid");
    }
    assert!(api.calls().is_empty() && app.received().is_empty());
    // `null` is absent: the default attachment checks it.
    let mut rc = salesforce::request_context();
    rc["addonUuid"] = json!(null);
    let headers = salesforce::with(rc, salesforce::client_context());
    assert_eq!(send(mesh.addr, "GET", "/", &headers, "").await.status, 200);
}

/// An AppLink API that reads a call's bytes slowly (64 KiB every 50 ms) and never answers; it
/// reports how many bytes it read and whether the sidecar closed the connection.
async fn slow_reading_api() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<(u64, bool)>,
) {
    use tokio::io::AsyncReadExt;
    // A small receive buffer, so what the kernels hold in flight stays far below the call's size
    // whatever this machine's tcp_rmem allows.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 << 10).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, reported) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 64 << 10];
        let mut read = 0u64;
        let closed = loop {
            match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(n)) => read += n as u64,
                Err(_) => break false,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let _ = report.send((read, closed));
    });
    (addr, reported)
}

#[tokio::test]
async fn nothing_is_written_to_the_api_after_the_auth_deadline() {
    let app = FakeApp::start().await;
    let (api, reported) = slow_reading_api().await;
    let mesh = Sidecar::production(app.port(), &format!("http://{api}/addons/{ADDON_UUID}"))
        .yaml("mesh:\n  timeouts:\n    auth: 1s\n  limits:\n    dataActionTargetBody: 24MiB\n")
        .start()
        .await;
    // A 24 MiB Data Action Target body: the call to the API is as large, and the API reads it at
    // about 1.3 MiB/s, so the deadline passes long before the call is written. What may be in
    // flight at the deadline (hyper's queue, both kernels' buffers: 4.6 MB here) stays well
    // under half of it.
    let body = vec![b'a'; 24 << 20];
    let headers = vec![("x-signature", "sig".to_string())];
    let reply = send(
        mesh.addr,
        "POST",
        "/dat?orgId=00DJS0000000123ABC&apiName=A",
        &headers,
        body,
    )
    .await;
    reply.assert_mesh_error(504, "auth-timeout");
    // The sidecar closes the call at the deadline: the API reads what was already in flight
    // (socket buffers), then the end of the connection, never the whole call.
    let (read, closed) = tokio::time::timeout(Duration::from_secs(60), reported)
        .await
        .unwrap()
        .unwrap();
    assert!(
        closed,
        "the connection to the API was left open after the deadline"
    );
    assert!(
        read < 12 << 20,
        "the whole call was written after its deadline ({read} bytes)"
    );
    assert!(app.received().is_empty());
}
