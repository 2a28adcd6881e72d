//! The dry run, report-only (docs/behaviour.md §4.6), with the built binary in front of a real app
//! and a fake AppLink API: a request that enforcement would refuse reaches the app without any
//! context and its line says `outcome=would-reject` and why; the checks that keep a request
//! well-formed still answer; without the risk acknowledged it is ignored, and said so; the
//! warning, `--check` and the minute's counter say it is on.

// Test code: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sidecar::{behind_api, run_binary};
use common::{Answer, FakeApi, FakeApp, SidecarProcess, salesforce, send};

const REPORT_ONLY: (&str, &str) = ("HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY", "true");
const ACKNOWLEDGED: (&str, &str) = (
    "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
    "true",
);
const DAT_TARGET: &str = "/dat?orgId=00DJS0000000123&apiName=My_Target";

/// The access line of the request to `path` (the first, when several went there).
fn line_of(mesh: &mut SidecarProcess, path: &str) -> String {
    let marker = format!("path={path} ");
    let output = mesh.wait_for_output(&marker);
    output
        .lines()
        .find(|line| line.contains(&marker) && line.contains("status="))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn what_enforcement_would_refuse_reaches_the_app_without_context() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(&app, &api, &[REPORT_ONLY, ACKNOWLEDGED]);
    let addr = mesh.wait_listening();
    let output = mesh.wait_for_output("REPORT-ONLY: nothing is enforced");
    assert!(output.contains("at=warn msg=\"REPORT-ONLY"), "{output}");

    // No context at all, half a context, and a forged decoded header: each reaches the app.
    let forged = vec![("x-applink-org-id", "00DFORGED".to_string())];
    let reply = send(addr, "GET", "/missing", &forged, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let partial = vec![salesforce::headers().remove(1)];
    assert_eq!(
        send(addr, "GET", "/partial", &partial, "").await.status,
        200
    );
    // A context the API denies.
    api.script(&[Answer::status(403)]);
    assert_eq!(
        send(addr, "GET", "/denied", &salesforce::headers(), "")
            .await
            .status,
        200
    );
    // A Data Action Target the API denies: its body, read to be checked, is forwarded whole.
    api.script(&[Answer::status(401)]);
    let signed = vec![("x-signature", "sig-abc123".to_string())];
    let reply = send(addr, "POST", DAT_TARGET, &signed, "{\"events\":[]}").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // And one that enforcement lets through keeps its context.
    assert_eq!(
        send(addr, "GET", "/allowed", &salesforce::headers(), "")
            .await
            .status,
        200
    );

    let received = app.received();
    assert_eq!(received.len(), 5, "{received:?}");
    for seen in &received[..4] {
        for name in [
            "x-client-context",
            "x-request-context",
            "x-applink-org-id",
            "x-applink-user-id",
        ] {
            assert!(
                !seen.headers.contains_key(name),
                "{} got {name}",
                seen.target
            );
        }
        assert_eq!(
            seen.headers["x-applink-request-kind"], "bypass",
            "{}",
            seen.target
        );
    }
    assert_eq!(received[3].body, "{\"events\":[]}");
    assert_eq!(received[4].headers["x-applink-org-id"], salesforce::ORG_ID);

    for (path, kind, reason) in [
        ("/missing", "unknown", "missing-context"),
        ("/partial", "unknown", "partial-context"),
        ("/denied", "salesforce", "forbidden"),
        ("/dat", "data-action-target", "forbidden"),
    ] {
        let line = line_of(&mut mesh, path);
        for part in [
            "status=200",
            "outcome=would-reject",
            &format!("reason={reason}"),
            &format!("kind={kind}"),
        ] {
            assert!(line.contains(part), "{path}: no {part} in {line}");
        }
    }
    let allowed = line_of(&mut mesh, "/allowed");
    assert!(
        allowed.contains("outcome=forwarded") && !allowed.contains("reason="),
        "{allowed}"
    );
}

/// The dry run reports the authentication decision only: a request that is not well-formed, or
/// that the sidecar cannot take, is refused as in every mode.
#[tokio::test]
async fn the_checks_that_keep_a_request_well_formed_still_answer() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(&app, &api, &[REPORT_ONLY, ACKNOWLEDGED]);
    let addr = mesh.wait_listening();
    let mut twice = salesforce::headers();
    twice.push(twice[1].clone());
    send(addr, "GET", "/twice", &twice, "")
        .await
        .assert_mesh_error(400, "duplicate-header");
    send(addr, "GET", "/a%00b", &[], "")
        .await
        .assert_mesh_error(400, "bad-path");
    assert!(app.received().is_empty(), "{:?}", app.received());
}

#[tokio::test]
async fn without_the_acknowledgement_it_is_ignored_and_said_so() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(&app, &api, &[REPORT_ONLY]);
    let addr = mesh.wait_listening();
    mesh.wait_for_output(
        "HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY is set but ignored: it forwards requests that \
         would be refused, so it needs HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS=true",
    );
    send(addr, "GET", "/missing", &[], "")
        .await
        .assert_mesh_error(401, "missing-context");
    assert!(app.received().is_empty());
    assert!(!mesh.output().contains("REPORT-ONLY"), "{}", mesh.output());
}

#[test]
fn check_says_whether_it_is_on() {
    let env = |extra: &[(&'static str, &'static str)]| {
        let mut env = vec![
            ("HEROKU_APPLINK_API_URL", "https://api.example/addons/1"),
            ("HEROKU_APPLINK_TOKEN", "t"),
            REPORT_ONLY,
        ];
        env.extend_from_slice(extra);
        env
    };
    let on = run_binary(&env(&[ACKNOWLEDGED]), &["--check"]);
    let text = String::from_utf8_lossy(&on.stdout);
    assert!(
        text.contains("HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY")
            && text.contains("true: requests that would be refused are forwarded without context"),
        "{text}"
    );
    assert!(text.contains("REPORT-ONLY: nothing is enforced"), "{text}");
    let ignored = run_binary(&env(&[]), &["--check"]);
    let text = String::from_utf8_lossy(&ignored.stdout);
    assert!(
        text.contains("IGNORED: HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS is not true"),
        "{text}"
    );
}
