//! `bin/invoke`, the local Salesforce-shaped client, against dev mode and against a production-mode
//! sidecar pointed at a local fake AppLink API.

use crate::common;

use std::process::Stdio;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{FakeApi, FakeApp, Sidecar};
use tokio::io::{AsyncBufReadExt, BufReader};

const ORG: &str = "00DLOCAL000000ABCD";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bin/invoke");

async fn invoke(args: &[&str]) -> String {
    let output = run_invoke(args).await;
    assert!(
        output.status.success(),
        "bin/invoke failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn run_invoke(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("bash")
        .arg(SCRIPT)
        .args(args)
        .output()
        .await
        .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `exp` claim of a JWT.
fn jwt_exp(jwt: &str) -> u64 {
    let claims = URL_SAFE_NO_PAD
        .decode(jwt.split('.').nth(1).unwrap())
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&claims).unwrap()["exp"]
        .as_u64()
        .unwrap()
}

/// `examples/fake_applink.rs` on a free port, with these options; its base URL, once it listens.
async fn fake_applink(options: &[&str]) -> (tokio::process::Child, String) {
    let path = common::test_app::build_example("fake-applink");
    let mut child = tokio::process::Command::new(path)
        .args(["--port", "0"])
        .args(options)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(url) = line.trim().strip_prefix("HEROKU_APPLINK_API_URL=") {
            let url = url.to_string();
            // Keep reading its log so it never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, url);
        }
    }
    panic!("fake-applink printed no URL");
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
    // A JWT valid for an hour, which the cache and the local API read.
    let jwt = call.body["core_jwt_token"].as_str().unwrap();
    // (Compared within a minute, not by the minute: a minute may turn between the two readings.)
    assert!(jwt_exp(jwt).abs_diff(now() + 3600) < 60, "{jwt}");
    let seen = app.only_request();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body, "{\"name\":\"Acme\"}");
    assert_eq!(seen.headers["x-applink-request-kind"], "salesforce");
}

#[tokio::test]
async fn production_mode_on_a_laptop_with_the_local_applink_api() {
    let (_api, url) = fake_applink(&["--deny-org", "00DDENIED00000ABCD"]).await;
    let app = FakeApp::start().await;
    let mesh = Sidecar::production(app.port(), &url)
        .env("HEROKU_APPLINK_TOKEN", "local-applink-token")
        .start()
        .await;
    let sidecar = format!("http://{}", mesh.addr);

    let output = invoke(&["-u", &sidecar, "-o", ORG, "-r", "/hello"]).await;
    assert!(output.starts_with("HTTP/1.1 200"), "{output}");
    let output = invoke(&["-u", &sidecar, "-o", ORG, "-r", "--expired-jwt", "/hello"]).await;
    assert!(output.starts_with("HTTP/1.1 403"), "{output}");
    assert!(
        output.contains("x-applink-mesh-error: forbidden"),
        "{output}"
    );
    let output = invoke(&["-u", &sidecar, "-o", "00DDENIED00000ABCD", "-r", "/hello"]).await;
    assert!(output.starts_with("HTTP/1.1 403"), "{output}");
    let jwt = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
    let output = invoke(&["-u", &sidecar, "-o", ORG, "-r", "--jwt", jwt, "/hello"]).await;
    assert!(output.starts_with("HTTP/1.1 200"), "{output}");
    assert_eq!(app.received().len(), 2);

    // The sidecar with another token is refused by the local API, as by the real one.
    let other = Sidecar::production(app.port(), &url)
        .env("HEROKU_APPLINK_TOKEN", "not-the-token")
        .start()
        .await;
    let output = invoke(&["-u", &format!("http://{}", other.addr), "-r", "/hello"]).await;
    assert!(output.starts_with("HTTP/1.1 403"), "{output}");
    assert_eq!(app.received().len(), 2);
}

#[tokio::test]
async fn help_goes_to_stdout_and_a_missing_sidecar_is_named() {
    let output = run_invoke(&["--help"]).await;
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.contains("--expired-jwt") && help.contains("bin/invoke [options] PATH"),
        "{help}"
    );

    let url = format!("http://127.0.0.1:{}", common::free_port());
    let output = run_invoke(&["-u", &url, "/hello"]).await;
    assert_eq!(output.status.code(), Some(7));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("is bin/dev running?"), "{stderr}");
}
