//! The language matrix, differential (docs/behaviour.md §4, §6, §7): a small idiomatic app per
//! language in `examples/languages/` (each with its standard library: strict base64, standard
//! JSON, the header looked up as that language's common idiom does it) and an app per official
//! SDK in `examples/sdk/`, each started by the built sidecar the way that ecosystem's Procfile
//! starts it (`tests/common/languages.rs`).
//!
//! For each app: an authenticated call whose answer shows the decoded context; the health route,
//! bypassed, with no context; a refused call that never reaches the app; the hostile table of
//! `tests/common/hostile.rs`, where every case is refused or read exactly as the sidecar verified
//! it; and SIGTERM while a request is in flight, which is answered, with the app's exit code
//! passed on. An app whose runtime is not installed is skipped with what to install (never in CI:
//! `.ci/run` installs them, `bin/test` the SDKs).

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::assertion::{self, KEY_VARIABLE, Mint};
use common::languages::{self, Running};
use common::salesforce::{self, CONTEXT_ID, ORG_ID};
use common::{differential, hostile, send};
use nix::sys::signal::Signal;

/// Polls the sidecar's output (the app's lines included) until it holds `text`, without blocking
/// the runtime the requests run on.
async fn until_output(mesh: &common::SidecarProcess, text: &str) {
    let started = Instant::now();
    while !mesh.output().contains(text) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no {text:?} after 30 s:\n{}",
            mesh.output()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs the matrix row for `name`.
async fn row(name: &str) {
    let started = Instant::now();
    let Some(mut running) = languages::start(name).await else {
        return;
    };
    let read = an_authenticated_call_is_read_as_verified(&running).await;
    if running.language.checks_assertion {
        the_assertion_says_what_was_verified(name, &read);
        let key = the_key_is_the_apps_alone(&mut running);
        around_the_sidecar_the_app_refuses(&running, &key).await;
        through_the_sidecar_only_its_assertion_arrives(&running, &key).await;
    }
    health_and_refusal(&running).await;
    let cases = the_hostile_table_is_read_as_verified(&running).await;
    sigterm_with_a_request_in_flight(&mut running).await;
    eprintln!(
        "languages::{name}: authenticated, health, refused, {cases} hostile cases and SIGTERM passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// An authenticated call: the app read the context its own way. (It waits at the boot gate until
/// the app listens.) Returns what the app read.
async fn an_authenticated_call_is_read_as_verified(running: &Running) -> serde_json::Value {
    let (name, mesh) = (running.language.name, &running.mesh);
    let reply = send(running.addr, "GET", "/context", &salesforce::headers(), "").await;
    assert_eq!(
        reply.status,
        200,
        "{name}: {}\n{}",
        reply.text(),
        mesh.output()
    );
    let read = reply.json();
    assert_eq!(read["language"], name, "{read}");
    assert_eq!(read["orgId"], ORG_ID, "{name}: {read}");
    assert_eq!(read["userId"], hostile::USER_ID, "{name}: {read}");
    assert_eq!(
        read["requestId"],
        format!("{CONTEXT_ID}-1234"),
        "{name}: {read}"
    );
    if running.language.reads_version {
        assert_eq!(read["version"], "1", "{name}: {read}");
    }
    assert_eq!(running.api.calls().len(), 1, "{name}: authenticated once");
    read
}

/// The health route: bypassed, no context. A refused call never reaches the app.
async fn health_and_refusal(running: &Running) {
    let (name, addr, mesh) = (running.language.name, running.addr, &running.mesh);
    let health = send(addr, "GET", "/healthcheck", &[], "").await;
    assert_eq!(health.status, 200, "{name}: {}", health.text());
    assert_eq!(health.text(), "ok");
    send(addr, "GET", "/refused", &[], "")
        .await
        .assert_mesh_error(401, "missing-context");
    let output = mesh.output();
    assert!(
        !output.contains("app: request /refused"),
        "{name}: {output}"
    );
}

/// The hostile table: refused, or read exactly as the sidecar verified it. Returns how many
/// cases ran.
async fn the_hostile_table_is_read_as_verified(running: &Running) -> usize {
    let (lines, differing) = differential::run_table(running.language.name, running.addr).await;
    for line in &lines {
        eprintln!("{line}");
    }
    assert!(
        differing.is_empty(),
        "{} case(s) read otherwise than the sidecar verified:\n{}",
        differing.len(),
        differing.join("\n")
    );
    lines.len()
}

/// SIGTERM with a request in flight: answered, and the app's exit code passed on.
async fn sigterm_with_a_request_in_flight(running: &mut Running) {
    let (name, addr) = (running.language.name, running.addr);
    let slow = tokio::spawn(async move {
        send(addr, "GET", "/slow?ms=1500", &salesforce::headers(), "").await
    });
    until_output(&running.mesh, "app: request /slow").await;
    running.mesh.signal(Signal::SIGTERM);
    let reply = slow.await.unwrap();
    assert_eq!(reply.status, 200, "{name}: {}", reply.text());
    assert_eq!(reply.text(), "slow ok");
    let code = running.mesh.wait().code();
    let output = running.mesh.output();
    assert_eq!(
        code,
        Some(running.language.exit_on_sigterm),
        "{name}: {output}"
    );
}

// The signed assertion from the app's side (docs/behaviour.md §6.1).

/// The authenticated call's assertion names what the sidecar verified.
fn the_assertion_says_what_was_verified(name: &str, read: &serde_json::Value) {
    let signed = &read["assertion"];
    assert_eq!(signed["kind"], "salesforce", "{name}: {read}");
    assert_eq!(signed["orgId"], ORG_ID, "{name}: {read}");
    assert_eq!(signed["userId"], hostile::USER_ID, "{name}: {read}");
    assert_eq!(signed["jti"], read["requestId"], "{name}: {read}");
}

/// The app was given the key, read here as the app reads it, from its environment; the sidecar
/// kept none in its own and logged none. Returns the key.
fn the_key_is_the_apps_alone(running: &mut Running) -> String {
    let name = running.language.name;
    let key = assertion::environment_variable(running.mesh.app_pid(), KEY_VARIABLE)
        .unwrap_or_else(|| panic!("{name}: the app was not given {KEY_VARIABLE}"));
    assert_eq!(key.len(), 43, "{name}: a 32-byte key in base64url");
    let own = assertion::environment_variable(running.mesh.child.id() as i32, KEY_VARIABLE);
    assert_eq!(
        own, None,
        "{name}: the key is in the sidecar's own environment"
    );
    assert!(
        !running.mesh.output().contains(&key),
        "{name}: the key was logged"
    );
    key
}

/// Assertions the app must refuse, each with the reason it gives: none at all, or one signed with
/// another key, expired, unsigned, or minted for another path or method.
#[rustfmt::skip]
fn forgeries(key: &str) -> [(&'static str, Option<Mint<'_>>, &'static str); 6] {
    let context = Mint::new(key, "GET", "/context");
    [
        ("no assertion", None, "missing"),
        ("another key", Some(Mint::new("another key", "GET", "/context")), "signature"),
        ("expired", Some(Mint { expires_in: -5, ..context }), "expired"),
        ("unsigned", Some(Mint { alg: "none", ..context }), "algorithm"),
        ("another path", Some(Mint::new(key, "GET", "/other")), "path"),
        ("another method", Some(Mint::new(key, "POST", "/context")), "method"),
    ]
}

/// A request that reaches the app's port around the sidecar, without an assertion or with a
/// forged, expired, unsigned or replayed one, is refused by the app with its reason; one minted
/// with the app's own key is let in (so the refusals are the checks).
async fn around_the_sidecar_the_app_refuses(running: &Running, key: &str) {
    let name = running.language.name;
    let app = SocketAddr::from(([127, 0, 0, 1], running.app_port));
    for (case, mint, reason) in forgeries(key) {
        let mut headers = salesforce::headers();
        headers.extend(mint.map(|mint| ("x-applink-assertion", mint.token())));
        let reply = send(app, "GET", "/context", &headers, "").await;
        assert_eq!(reply.status, 403, "{name}, {case}: {}", reply.text());
        assert_eq!(
            reply.text(),
            format!("assertion refused: {reason}"),
            "{name}, {case}"
        );
    }
    let minted = [(
        "x-applink-assertion",
        Mint::new(key, "GET", "/context").token(),
    )];
    let reply = send(app, "GET", "/context", &minted, "").await;
    assert_eq!(
        reply.status,
        200,
        "{name}, the app's own key: {}",
        reply.text()
    );
    assert_eq!(reply.json()["assertion"]["jti"], "minted-by-the-test");
}

/// Through the sidecar: a percent-encoded path reaches the app as the claim says it, raw UTF-8 is
/// refused (runtimes read it as Latin-1, as UTF-8, or not at all), and a caller's own assertion,
/// in any spelling, is replaced by the sidecar's, even one signed with the app's key.
async fn through_the_sidecar_only_its_assertion_arrives(running: &Running, key: &str) {
    let (name, sidecar) = (running.language.name, running.addr);
    let reply = send(sidecar, "GET", "/public/caf%C3%A9", &[], "").await;
    assert_eq!(
        reply.status,
        200,
        "{name}, an encoded path: {}",
        reply.text()
    );
    let head = "GET /public/caf\u{e9} HTTP/1.1\r\nhost: app.example";
    let reply = common::raw_request(sidecar, head, b"").await;
    assert_eq!(
        reply.status,
        400,
        "{name}, a raw UTF-8 path: {}",
        reply.text()
    );
    assert_eq!(reply.reason(), "bad-path");

    let forged = Mint::new(key, "GET", "/context").token();
    for spelling in [
        "X-Applink-Assertion",
        "x_applink_assertion",
        "X.Applink.Assertion",
    ] {
        let mut headers = salesforce::headers();
        headers.push((spelling, forged.clone()));
        let reply = send(sidecar, "GET", "/context", &headers, "").await;
        assert_eq!(reply.status, 200, "{name}, {spelling}: {}", reply.text());
        let signed = &reply.json()["assertion"];
        assert_eq!(signed["orgId"], ORG_ID, "{name}, {spelling}: {signed}");
        assert_ne!(signed["jti"], "minted-by-the-test", "{name}, {spelling}");
    }
}

#[tokio::test]
async fn python() {
    row("python").await;
}

#[tokio::test]
async fn node() {
    row("node").await;
}

#[tokio::test]
async fn go() {
    row("go").await;
}

#[tokio::test]
async fn ruby() {
    row("ruby").await;
}

#[tokio::test]
async fn java() {
    row("java").await;
}

#[tokio::test]
async fn php() {
    row("php").await;
}

#[tokio::test]
async fn python_sdk() {
    row("python-sdk").await;
}

#[tokio::test]
async fn node_sdk() {
    row("node-sdk").await;
}

/// The README's `web:` line for each language app is the command this matrix runs, word for word,
/// so the line a user copies starts the app (Go's names the binary its buildpack builds, `bin/app`;
/// here it is built into `target/`).
#[test]
fn the_readme_shows_the_command_each_app_runs_with() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let mut checked = 0;
    for language in languages::LANGUAGES
        .iter()
        .filter(|l| l.folder.starts_with("examples/languages/") && l.name != "go")
    {
        let line = format!(
            "`APP_PORT=3000 heroku-applink-service-mesh {}`",
            (language.command)(3000).join(" ")
        );
        assert!(
            readme.contains(&line),
            "the README does not show {}'s command as the matrix runs it: {line}",
            language.name
        );
        checked += 1;
    }
    assert_eq!(checked, 5, "the languages were not read");
}
