//! The dry run, report-only (docs/behaviour.md §4.6), with the built binary in front of a real app
//! and a fake AppLink API: a request that enforcement would refuse reaches the app without any
//! context and its line says `outcome=would-reject` and why; the checks that keep a request
//! well-formed still answer; without the risk acknowledged it is ignored, and said so; the
//! warning, `--check` and the minute's counter say it is on.

use crate::common;

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

/// Sends, through the dry run, what enforcement would refuse (no context, half a context, a context
/// and a Data Action Target the API denies) and one it lets through; each is answered by the app.
async fn send_the_four_refusals_and_one_allowed(addr: std::net::SocketAddr, api: &FakeApi) {
    // A forged decoded header rides along the first.
    let forged = vec![("x-applink-org-id", "00DFORGED".to_string())];
    let partial = vec![salesforce::headers().remove(1)];
    let statuses = [
        send(addr, "GET", "/missing", &forged, "").await.status,
        send(addr, "GET", "/partial", &partial, "").await.status,
        {
            api.script(&[Answer::status(403)]);
            send(addr, "GET", "/denied", &salesforce::headers(), "")
                .await
                .status
        },
        {
            api.script(&[Answer::status(401)]);
            let signed = vec![("x-signature", "sig-abc123".to_string())];
            send(addr, "POST", DAT_TARGET, &signed, "{\"events\":[]}")
                .await
                .status
        },
        send(addr, "GET", "/allowed", &salesforce::headers(), "")
            .await
            .status,
    ];
    assert_eq!(statuses, [200; 5]);
}

/// The first four reached the app without any context, as a bypass, the Data Action Target's
/// body whole; the last with its context.
fn the_app_received_no_context_but_for_the_allowed(app: &FakeApp) {
    let received = app.received();
    assert_eq!(received.len(), 5, "{received:?}");
    let context = [
        "x-client-context",
        "x-request-context",
        "x-applink-org-id",
        "x-applink-user-id",
    ];
    for seen in &received[..4] {
        let got: Vec<_> = context
            .iter()
            .filter(|name| seen.headers.contains_key(**name))
            .collect();
        assert!(got.is_empty(), "{} got {got:?}", seen.target);
        assert_eq!(
            seen.headers["x-applink-request-kind"], "bypass",
            "{}",
            seen.target
        );
    }
    assert_eq!(received[3].body, "{\"events\":[]}");
    assert_eq!(received[4].headers["x-applink-org-id"], salesforce::ORG_ID);
}

#[tokio::test]
async fn what_enforcement_would_refuse_reaches_the_app_without_context() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut mesh = behind_api(&app, &api, &[REPORT_ONLY, ACKNOWLEDGED]);
    let addr = mesh.wait_listening();
    let output = mesh.wait_for_output("REPORT-ONLY: nothing is enforced");
    assert!(output.contains("at=warn msg=\"REPORT-ONLY"), "{output}");

    send_the_four_refusals_and_one_allowed(addr, &api).await;
    the_app_received_no_context_but_for_the_allowed(&app);
    for (path, kind, reason) in [
        ("/missing", "unknown", "missing-context"),
        ("/partial", "unknown", "partial-context"),
        ("/denied", "salesforce", "forbidden"),
        ("/dat", "data-action-target", "forbidden"),
    ] {
        let line = line_of(&mut mesh, path);
        let parts = [
            "status=200",
            "outcome=would-reject",
            &format!("reason={reason}"),
            &format!("kind={kind}"),
        ];
        for part in parts {
            assert!(line.contains(part), "{path}: no {part} in {line}");
        }
    }
    let allowed = line_of(&mut mesh, "/allowed");
    let forwarded = allowed.contains("outcome=forwarded") && !allowed.contains("reason=");
    assert!(forwarded, "{allowed}");
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
