//! The signed assertion (docs/behaviour.md §6.1) with the built binary: the app it starts is given
//! the key, and every request it forwards carries an HS256 JWT that the key verifies, saying what
//! the sidecar checked (the org and user only when it authenticated them). The language matrix
//! (`tests/languages.rs`) has each example app verify it and refuse what did not come through the
//! sidecar.

use crate::common;

use common::assertion::{KEY_VARIABLE, environment_variable, verified_claims};
use common::sidecar::{TOKEN, run_binary, temp_file};
use common::{FakeApi, FakeApp, SidecarProcess, salesforce, send};

const ASSERTION: (&str, &str) = ("HEROKU_APPLINK_SERVICE_MESH_ASSERTION", "true");

/// The built binary with the assertion on, forwarding to `app`, and starting a stand-in app
/// process (`sleep`) that is given the key; `api` is `None` for dev mode.
fn with_assertion(app: &FakeApp, api: Option<&FakeApi>) -> (SidecarProcess, String) {
    let app_port = app.port().to_string();
    let url = api.map(FakeApi::url).unwrap_or_default();
    let config = temp_file(
        "public.yaml",
        "mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n",
    );
    let mut env = vec![
        ("APP_PORT", app_port.as_str()),
        ("PATH", "/usr/bin:/bin"),
        (
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        ),
        ASSERTION,
    ];
    match api {
        Some(_) => env.extend([
            ("HEROKU_APPLINK_API_URL", url.as_str()),
            ("HEROKU_APPLINK_TOKEN", TOKEN),
        ]),
        None => env.push(("HEROKU_APPLINK_SERVICE_MESH_DEV", "true")),
    }
    let args = [
        "--port",
        "0",
        "--config",
        config.to_str().unwrap(),
        "--",
        "sleep",
        "600",
    ];
    let mut mesh = SidecarProcess::spawn(&env, &args);
    let key = environment_variable(mesh.app_pid(), KEY_VARIABLE).expect("the app has the key");
    (mesh, key)
}

/// The claims of the assertion the app received with its `at`th request, checked with `key`.
fn claims(app: &FakeApp, at: usize, key: &str) -> serde_json::Value {
    let seen = &app.received()[at];
    let token = seen.headers["x-applink-assertion"].to_str().unwrap();
    let claims = verified_claims(token, key);
    assert_eq!(
        claims["jti"],
        seen.headers["x-request-id"].to_str().unwrap()
    );
    assert_eq!(claims["iss"], "heroku-applink-service-mesh");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 60, "{claims}");
    claims
}

/// The request's own method, its path as sent without the query, and the org and user verified.
fn a_salesforce_request_asserts_its_verified_org_and_user(claims: &serde_json::Value) {
    assert_eq!(claims["method"], "POST");
    assert_eq!(
        claims["path"], "/a%20b",
        "the path as sent, without the query"
    );
    assert_eq!(claims["kind"], "salesforce");
    assert_eq!(claims["orgId"], salesforce::ORG_ID);
    assert_eq!(
        claims["userId"],
        salesforce::client_context()["userContext"]["userId"]
    );
}

/// A Data Action Target's org, as its query named it, and no user (it has none).
fn a_data_action_target_asserts_its_org_alone(claims: &serde_json::Value) {
    assert_eq!(
        (&claims["kind"], &claims["path"]),
        (&"data-action-target".into(), &"/dat".into())
    );
    assert_eq!(claims["orgId"], "00DJS0000000123");
    assert!(claims.get("userId").is_none(), "{claims}");
}

#[tokio::test]
async fn every_forwarded_request_carries_what_the_sidecar_checked() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let (mut mesh, key) = with_assertion(&app, Some(&api));
    let addr = mesh.wait_listening();

    // A caller's own assertion (unsigned) on two of them: replaced each time.
    let forged = [(
        "x-applink-assertion",
        "eyJhbGciOiJub25lIn0.e30.".to_string(),
    )];
    let salesforce = [salesforce::headers().as_slice(), &forged].concat();
    let signed = [("x-signature", "sig-abc123".to_string())];
    let dat = "/dat?orgId=00DJS0000000123&apiName=My_Target";
    for (method, target, headers, body) in [
        ("POST", "/a%20b?x=1", &salesforce[..], ""),
        ("POST", dat, &signed, "{}"),
        ("GET", "/public/page", &forged, ""),
    ] {
        let reply = send(addr, method, target, headers, body).await;
        assert_eq!(reply.status, 200, "{target}: {}", reply.text());
    }

    a_salesforce_request_asserts_its_verified_org_and_user(&claims(&app, 0, &key));
    a_data_action_target_asserts_its_org_alone(&claims(&app, 1, &key));
    let public = claims(&app, 2, &key);
    assert_eq!(public["kind"], "bypass");
    assert!(
        public.get("orgId").is_none() && public.get("userId").is_none(),
        "{public}"
    );

    // The key is a secret: in the app's environment only, never in the sidecar's logs.
    assert_eq!(
        environment_variable(mesh.child.id() as i32, KEY_VARIABLE),
        None
    );
    mesh.terminate();
    assert!(!mesh.output().contains(&key), "{}", mesh.output());
}

/// Dev mode authenticates nothing, so its assertions name no org or user, whatever the context.
#[tokio::test]
async fn in_dev_mode_no_org_or_user_is_asserted() {
    let app = FakeApp::start().await;
    let (mut mesh, key) = with_assertion(&app, None);
    let addr = mesh.wait_listening();
    assert_eq!(
        send(addr, "GET", "/dev", &salesforce::headers(), "")
            .await
            .status,
        200
    );
    let dev = claims(&app, 0, &key);
    assert_eq!(dev["kind"], "salesforce");
    assert!(
        dev.get("orgId").is_none() && dev.get("userId").is_none(),
        "{dev}"
    );
    assert_eq!(
        app.received()[0].headers["x-applink-org-id"],
        salesforce::ORG_ID
    );
}

#[test]
fn without_an_app_command_there_is_nobody_to_give_the_key_to() {
    let output = run_binary(
        &[ASSERTION, ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true")],
        &[],
    );
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HEROKU_APPLINK_SERVICE_MESH_ASSERTION=true needs the app command"),
        "{stderr}"
    );
}

#[test]
fn check_says_it_is_on_and_shows_no_key() {
    let output = run_binary(
        &[
            ASSERTION,
            ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true"),
            (KEY_VARIABLE, "stale-key-1"),
        ],
        &["--check", "--", "sleep", "1"],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("true: every forwarded request carries x-applink-assertion"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{KEY_VARIABLE} is set in the sidecar's environment: the app is given this boot's key instead")),
        "{text}"
    );
    assert!(!text.contains("stale-key-1"), "{text}");
}
