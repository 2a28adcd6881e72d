//! The language matrix (docs/behaviour.md §6, §7): a small idiomatic app per language in
//! `examples/languages/`, each started by the built sidecar the way that ecosystem's Procfile
//! starts it, each reading the client context with its own standard library (strict base64,
//! standard JSON, the header looked up by name as that language's common idiom does it) and
//! answering with the org id, user id, request id and `version` it read.
//!
//! For each language: an authenticated call whose answer shows the decoded context; the health
//! route, bypassed, with no context; a refused call that never reaches the app; and SIGTERM while a
//! request is in flight, which is answered, with the app's exit code passed on. A language whose
//! runtime is not installed is skipped with what to install (never in CI: `.ci/run` installs them).

// Test code: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::salesforce::{self, CONTEXT_ID, ORG_ID};
use common::{FakeApi, SidecarProcess, send};
use nix::sys::signal::Signal;

/// One language's app and how its Procfile starts it.
struct Language {
    name: &'static str,
    /// Programs the app needs on PATH, and the Debian packages that bring them.
    needs: &'static [&'static str],
    packages: &'static str,
    /// The app command after `heroku-applink-service-mesh`, run in the app's folder.
    command: fn(&Path, u16) -> Vec<String>,
    /// The exit code of the app (and so of the sidecar) after SIGTERM: 0 where the app stops
    /// gracefully, as its ecosystem's guides show; 143 (128 + SIGTERM) where its server is ended
    /// by the signal, as is its default.
    exit_on_sigterm: i32,
}

fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

const LANGUAGES: [Language; 6] = [
    Language {
        name: "python",
        needs: &["python3"],
        packages: "python3",
        command: |_, _| words(&["python3", "app.py"]),
        exit_on_sigterm: 143,
    },
    Language {
        name: "node",
        needs: &["node"],
        packages: "nodejs",
        command: |_, _| words(&["node", "app.js"]),
        exit_on_sigterm: 0,
    },
    Language {
        name: "go",
        needs: &["go"],
        packages: "golang-go",
        // The Go buildpack builds the app into bin/; here, into target/.
        command: |_, _| vec![go_binary().to_str().unwrap().to_string()],
        exit_on_sigterm: 0,
    },
    Language {
        name: "ruby",
        needs: &["ruby", "puma"],
        packages: "ruby puma",
        command: |_, _| words(&["puma", "-C", "config/puma.rb", "config.ru"]),
        exit_on_sigterm: 143,
    },
    Language {
        name: "java",
        needs: &["java"],
        packages: "default-jdk-headless libjackson2-databind-java",
        command: |_, _| {
            words(&[
                "java",
                "-cp",
                "/usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar",
                "App.java",
            ])
        },
        exit_on_sigterm: 143,
    },
    Language {
        name: "php",
        needs: &["php"],
        packages: "php-cli",
        // As a Procfile writes it: the app's port as a number.
        command: |_, port| {
            vec![
                "php".into(),
                "-S".into(),
                format!("127.0.0.1:{port}"),
                "index.php".into(),
            ]
        },
        exit_on_sigterm: 143,
    },
];

fn app_folder(language: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/languages")
        .join(language)
}

fn go_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/languages/go-app")
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Builds the Go app with the standard library only: no module download.
fn build_go() {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/languages");
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(go_binary())
        .arg(".")
        .current_dir(app_folder("go"))
        .env("GOCACHE", target.join("go-cache"))
        .env("GOPATH", target.join("go-path"))
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("HOME", &target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "go build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls the sidecar's output (the app's lines included) until it holds `text`, without blocking
/// the runtime the requests run on.
async fn until_output(mesh: &SidecarProcess, text: &str) {
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
    let language = LANGUAGES.iter().find(|l| l.name == name).unwrap();
    if let Some(missing) = language.needs.iter().find(|program| !on_path(program)) {
        common::skip(
            &format!("languages::{name}"),
            &format!(
                "{missing} is not installed (apt-get install {})",
                language.packages
            ),
        );
        return;
    }
    if name == "go" {
        build_go();
    }
    let started = Instant::now();
    let api = FakeApi::start().await;
    let app_port = common::free_port();
    let port = app_port.to_string();
    let folder = app_folder(name);
    let command = (language.command)(&folder, app_port);
    let mut args = vec!["--port", "0", "--"];
    args.extend(command.iter().map(String::as_str));
    let api_url = api.url();
    let mut mesh = SidecarProcess::spawn_in(
        &folder,
        &[
            ("APP_PORT", port.as_str()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("HEROKU_APPLINK_API_URL", api_url.as_str()),
            ("HEROKU_APPLINK_TOKEN", common::sidecar::TOKEN),
        ],
        &args,
    );
    let addr = mesh.wait_listening();

    // An authenticated call: the app read the context with its own standard library. (It waits at
    // the boot gate until the app listens.)
    let reply = send(addr, "GET", "/context", &salesforce::headers(), "").await;
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
    assert_eq!(read["userId"], "005JS000000ABCD", "{name}: {read}");
    assert_eq!(
        read["requestId"],
        format!("{CONTEXT_ID}-1234"),
        "{name}: {read}"
    );
    assert_eq!(read["version"], "1", "{name}: {read}");
    assert_eq!(api.calls().len(), 1, "{name}: authenticated once");

    // The health route: bypassed, no context.
    let health = send(addr, "GET", "/healthcheck", &[], "").await;
    assert_eq!(health.status, 200, "{name}: {}", health.text());
    assert_eq!(health.text(), "ok");

    // A refused call never reaches the app.
    send(addr, "GET", "/refused", &[], "")
        .await
        .assert_mesh_error(401, "missing-context");
    assert!(
        !mesh.output().contains("app: request /refused"),
        "{name}: {}",
        mesh.output()
    );

    // SIGTERM with a request in flight: answered, and the app's exit code passed on.
    let slow = tokio::spawn(async move {
        send(addr, "GET", "/slow?ms=1500", &salesforce::headers(), "").await
    });
    until_output(&mesh, "app: request /slow").await;
    mesh.signal(Signal::SIGTERM);
    let reply = slow.await.unwrap();
    assert_eq!(reply.status, 200, "{name}: {}", reply.text());
    assert_eq!(reply.text(), "slow ok");
    assert_eq!(
        mesh.wait().code(),
        Some(language.exit_on_sigterm),
        "{name}: {}",
        mesh.output()
    );
    eprintln!(
        "languages::{name}: authenticated, health, refused and SIGTERM rows passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
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
