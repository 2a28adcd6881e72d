//! The sidecar's hop in traces and logs (docs/behaviour.md §8): a W3C `traceparent` is continued
//! with the sidecar's own span as the app's parent, a malformed one passes as sent and is never
//! refused, and every line written while a request is handled names the request (and its trace),
//! from whichever module writes it, in logfmt and in JSON.

use crate::common;

use std::time::{Duration, Instant};

use common::salesforce;
use common::sidecar::{TOKEN, behind_api};
use common::{Answer, FakeApi, FakeApp, SidecarProcess, send};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const TRACESTATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{CALLER_SPAN}-01")
}

fn with_trace(traceparent: &str) -> Vec<(&'static str, String)> {
    let mut headers = salesforce::headers();
    headers.push(("traceparent", traceparent.to_string()));
    headers.push(("tracestate", TRACESTATE.to_string()));
    headers
}

/// Waits (at most 30 s) for a whole line, newline and all, that contains `needle`: a line still
/// being copied from the process's pipe would miss its last fields.
fn wait_for_line(mesh: &mut SidecarProcess, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let output = mesh.wait_for_output(needle);
        let whole = output
            .split_inclusive('\n')
            .find(|line| line.contains(needle) && line.ends_with('\n'));
        if let Some(line) = whole {
            return line.trim_end().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{output}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The line of `output` that contains every one of `needles`.
fn line_with<'a>(output: &'a str, needles: &[&str]) -> &'a str {
    output
        .lines()
        .find(|line| needles.iter().all(|n| line.contains(n)))
        .unwrap_or_else(|| panic!("no line with {needles:?} in:\n{output}"))
}

#[tokio::test]
async fn a_traceparent_is_continued_with_the_sidecars_span_as_the_apps_parent() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(&app, &api, &[]);
    let addr = mesh.wait_listening();
    let reply = send(addr, "GET", "/traced", &with_trace(&traceparent()), "").await;
    assert_eq!(reply.status, 200);

    let received = app.only_request();
    let sent = received
        .headers
        .get("traceparent")
        .unwrap()
        .to_str()
        .unwrap();
    let fields: Vec<&str> = sent.split('-').collect();
    assert_eq!(fields.len(), 4, "{sent}");
    assert_eq!(fields[0], "00", "{sent}");
    assert_eq!(fields[1], TRACE_ID, "the caller's trace: {sent}");
    assert_eq!(fields[3], "01", "the caller's flags: {sent}");
    let sidecar_span = fields[2];
    assert_eq!(sidecar_span.len(), 16, "{sent}");
    assert_ne!(
        sidecar_span, CALLER_SPAN,
        "the app's parent is the sidecar's span"
    );
    assert_ne!(sidecar_span, "0000000000000000");
    assert_eq!(
        received.headers.get("tracestate").unwrap(),
        TRACESTATE,
        "tracestate passes as sent"
    );

    // The request's line names the trace and the sidecar's span: the one the app's span nests under.
    let line = wait_for_line(&mut mesh, "path=/traced");
    assert!(line.contains(&format!("trace_id={TRACE_ID}")), "{line}");
    assert!(line.contains(&format!("span_id={sidecar_span}")), "{line}");
    mesh.terminate();
    assert!(!mesh.output().contains(TOKEN));
}

/// Each malformed traceparent reaches the app as it was sent: uppercase, an all-zero trace or
/// span, an unknown version, a missing flags field, or not one at all.
async fn a_malformed_traceparent_passes_as_sent(addr: std::net::SocketAddr, app: &FakeApp) {
    let malformed = [
        format!("00-{}-{CALLER_SPAN}-01", TRACE_ID.to_uppercase()),
        format!("00-{}-{CALLER_SPAN}-01", "0".repeat(32)),
        format!("00-{TRACE_ID}-{}-01", "0".repeat(16)),
        format!("ff-{TRACE_ID}-{CALLER_SPAN}-01"),
        format!("00-{TRACE_ID}-{CALLER_SPAN}"),
        "not a traceparent".to_string(),
    ];
    for (i, value) in malformed.iter().enumerate() {
        let reply = send(addr, "GET", &format!("/bad{i}"), &with_trace(value), "").await;
        assert_eq!(reply.status, 200, "{value}");
        let received = app.received();
        let got = received.last().unwrap();
        assert_eq!(
            got.headers.get("traceparent").unwrap(),
            value.as_str(),
            "a malformed traceparent passes as sent"
        );
    }
}

/// Two traceparent headers: the trace is ambiguous, so it is not continued; both pass as sent.
async fn two_traceparents_pass_as_sent(addr: std::net::SocketAddr, app: &FakeApp) {
    let mut two = with_trace(&traceparent());
    two.push(("traceparent", traceparent()));
    assert_eq!(send(addr, "GET", "/two", &two, "").await.status, 200);
    let received = app.received();
    let values: Vec<_> = received
        .last()
        .unwrap()
        .headers
        .get_all("traceparent")
        .iter()
        .collect();
    assert_eq!(values, [traceparent().as_str(), traceparent().as_str()]);
}

#[tokio::test]
async fn without_a_valid_traceparent_nothing_is_added_and_nothing_is_refused() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(&app, &api, &[]);
    let addr = mesh.wait_listening();

    assert_eq!(
        send(addr, "GET", "/none", &salesforce::headers(), "")
            .await
            .status,
        200
    );
    let received = app.received();
    assert!(received[0].headers.get("traceparent").is_none());

    a_malformed_traceparent_passes_as_sent(addr, &app).await;
    two_traceparents_pass_as_sent(addr, &app).await;

    wait_for_line(&mut mesh, "path=/two");
    mesh.terminate();
    let output = mesh.output();
    assert!(!output.contains("trace_id="), "{output}");
}

#[tokio::test]
async fn every_line_written_for_a_request_names_it_and_its_trace() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(&app, &api, &[]);
    let addr = mesh.wait_listening();
    let request_id = salesforce::headers()
        .into_iter()
        .find(|(name, _)| *name == "x-request-id")
        .unwrap()
        .1;

    // The auth client's line: the API answers what it should not (logged as an error).
    api.script(&[Answer::status(404)]);
    let reply = send(addr, "GET", "/auth", &with_trace(&traceparent()), "").await;
    reply.assert_mesh_error(502, "auth-error");
    let line = wait_for_line(&mut mesh, "answered an authentication call unexpectedly");
    assert!(line.contains(&format!("request_id={request_id}")), "{line}");
    assert!(line.contains(&format!("trace_id={TRACE_ID}")), "{line}");

    // The app client's line: the app is gone.
    app.stop();
    let reply = send(addr, "GET", "/app", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 502);
    let line = wait_for_line(&mut mesh, "request to the app failed");
    assert!(line.contains(&format!("request_id={request_id}")), "{line}");
    assert!(!line.contains("trace_id="), "no trace on this one: {line}");

    // Lines outside any request name none.
    mesh.terminate();
    let output = mesh.output();
    let listening = line_with(&output, &["msg=listening"]);
    assert!(!listening.contains("request_id="), "{listening}");
    // The per-request line names its request once.
    let access = line_with(&output, &["path=/auth"]);
    assert_eq!(access.matches("request_id=").count(), 1, "{access}");
}

#[tokio::test]
async fn json_lines_name_the_request_at_the_top_level() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(
        &app,
        &api,
        &[("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT", "json")],
    );
    let addr = mesh.wait_listening();
    api.script(&[Answer::status(404)]);
    send(addr, "GET", "/auth", &with_trace(&traceparent()), "")
        .await
        .assert_mesh_error(502, "auth-error");
    mesh.wait_for_output("answered an authentication call unexpectedly");
    mesh.terminate();
    let lines = mesh.json_lines();
    let warning = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("answered an authentication call unexpectedly"))
        })
        .unwrap();
    assert!(
        warning["request_id"]
            .as_str()
            .is_some_and(|id| id.ends_with("-1234")),
        "{warning}"
    );
    assert_eq!(warning["trace_id"], TRACE_ID, "{warning}");
    let access = lines.iter().find(|l| l["path"] == "/auth").unwrap();
    assert_eq!(access["trace_id"], TRACE_ID, "{access}");
    assert_eq!(access["status"], 502, "{access}");
}
