//! `bin/invoke`, the local Salesforce-shaped client, against dev mode and against a production-mode
//! sidecar pointed at a local fake AppLink API.

// Test code: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FakeApi, FakeApp, Sidecar};

const ORG: &str = "00DLOCAL000000ABCD";

async fn invoke(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bin/invoke");
    let output = tokio::process::Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "bin/invoke failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn works_against_dev_mode_out_of_the_box() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let url = format!("http://{}", mesh.addr);
    let output = invoke(&["-u", &url, "-o", ORG, "-n", "dev@example.com", "/hello"]).await;
    assert!(output.starts_with("HTTP/1.1 200"), "{output}");
    assert!(output.contains("x-applink-mesh-mode: dev"), "{output}");
    let seen = app.only_request();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.headers["x-applink-org-id"], ORG);
    assert_eq!(seen.headers["x-applink-username"], "dev@example.com");
    assert!(
        seen.headers["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with(&format!("{ORG}-"))
    );
}

#[tokio::test]
async fn works_against_a_production_sidecar_and_a_local_api() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url()).start().await;
    let url = format!("http://{}", mesh.addr);

    let output = invoke(&["-u", &url, "-o", ORG, "/no-request-context"]).await;
    assert!(output.starts_with("HTTP/1.1 400"), "{output}");
    assert!(output.contains("partial-context"), "{output}");

    let output = invoke(&[
        "-u",
        &url,
        "-o",
        ORG,
        "-r",
        "-D",
        "{\"name\":\"Acme\"}",
        "/accounts",
    ])
    .await;
    assert!(output.starts_with("HTTP/1.1 200"), "{output}");
    let call = api.only_call();
    assert_eq!(call.body["org_id"], ORG);
    assert_eq!(call.body["core_jwt_token"], "local.jwt.token");
    let seen = app.only_request();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body, "{\"name\":\"Acme\"}");
    assert_eq!(seen.headers["x-applink-request-kind"], "salesforce");
}
