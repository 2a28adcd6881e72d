//! The built binary as a process on a machine: the HTTPS AppLink API with a test CA, dev mode,
//! dual-stack listening, worker threads from the CPUs it may use, the open-files limit.

use crate::common;

use std::process::Command;

use common::salesforce::{self, ADDON_UUID};
use common::sidecar::{behind_api, binary};
use common::{FakeApi, FakeApp, SidecarProcess, send};

#[tokio::test]
async fn authenticates_over_https_with_a_test_ca_and_exits_cleanly_on_sigterm() {
    let app = FakeApp::start().await;
    let api = FakeApi::start_tls().await;
    let mut mesh = behind_api(&app, &api, &[]);
    let addr = mesh.wait_listening();
    let reply = send(addr, "GET", "/secure", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200, "{}\n{}", reply.text(), mesh.output());
    assert_eq!(
        api.only_call().path,
        format!("/addons/{ADDON_UUID}/invocations/authentication")
    );
    assert_eq!(app.only_request().target, "/secure");
    let status = mesh.terminate();
    assert_eq!(status.code(), Some(0), "{}", mesh.output());
}

#[tokio::test]
async fn https_api_with_an_untrusted_certificate_is_503() {
    let app = FakeApp::start().await;
    let api = FakeApi::start_tls().await;
    let other_ca = FakeApi::start_tls().await.ca_file.unwrap();
    let mut mesh = behind_api(&app, &api, &[("SSL_CERT_FILE", other_ca.to_str().unwrap())]);
    let addr = mesh.wait_listening();
    send(addr, "GET", "/", &salesforce::headers(), "")
        .await
        .assert_mesh_error(503, "auth-unavailable");
    assert!(app.received().is_empty());
    mesh.wait_for_output("certificate signed by an unknown authority");
}

#[tokio::test]
async fn a_ca_certificate_served_as_the_apis_own_is_named() {
    let app = FakeApp::start().await;
    let api = FakeApi::start_tls_with_a_ca_as_server().await;
    let mut mesh = behind_api(&app, &api, &[]);
    let addr = mesh.wait_listening();
    send(addr, "GET", "/", &salesforce::headers(), "")
        .await
        .assert_mesh_error(503, "auth-unavailable");
    let output =
        mesh.wait_for_output("certificate is a CA certificate used as a server certificate");
    assert!(!output.contains("client error (Connect)"), "{output}");
}

#[tokio::test]
async fn dev_mode_forwards_with_decoded_context_and_says_so() {
    let app = FakeApp::start().await;
    let app_port = app.port().to_string();
    let mut mesh = SidecarProcess::spawn(&[("APP_PORT", &app_port)], &["--dev", "--port", "0"]);
    let addr = mesh.wait_listening();
    let cc = vec![(
        "x-client-context",
        salesforce::encode(&salesforce::client_context()),
    )];
    let reply = send(addr, "GET", "/", &cc, "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-applink-mesh-mode"], "dev");
    let seen = app.only_request();
    assert_eq!(seen.headers["x-applink-org-id"], salesforce::ORG_ID);
    assert_eq!(
        seen.headers["x-applink-org-domain-url"],
        "https://acme.my.salesforce.com"
    );
    assert_eq!(seen.headers["x-applink-username"], "admin@acme.example");
    assert!(mesh.output().contains("DEV MODE"), "{}", mesh.output());

    // No context at all: forwarded, and logged as such rather than as a bypassed route; the
    // app reads it as it reads a bypassed request.
    let reply = send(addr, "GET", "/plain", &[], "").await;
    assert_eq!(reply.status, 200);
    let output = mesh.wait_for_output("path=/plain");
    assert!(
        output.contains("path=/plain status=200") && output.contains("kind=dev-no-context"),
        "{output}"
    );
    assert_eq!(
        app.received()[1].headers["x-applink-request-kind"],
        "bypass"
    );
}

#[tokio::test]
async fn listens_dual_stack_on_ipv6_and_ipv4() {
    let app = FakeApp::start().await;
    let app_port = app.port().to_string();
    let mut mesh = SidecarProcess::spawn(&[("APP_PORT", &app_port)], &["--dev", "--port", "0"]);
    let v4 = mesh.wait_listening();
    assert!(
        mesh.output().contains("msg=listening addr=[::]:"),
        "{}",
        mesh.output()
    );
    let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, v4.port()));
    assert_eq!(send(v4, "GET", "/over-ipv4", &[], "").await.status, 200);
    assert_eq!(send(v6, "GET", "/over-ipv6", &[], "").await.status, 200);
    let targets: Vec<String> = app.received().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/over-ipv4", "/over-ipv6"]);
}

/// The runtime's threads follow the CPUs the process may use: pinned to one CPU (`taskset`, from
/// util-linux) it runs everything on its main thread (plus the log writer's); with
/// HEROKU_APPLINK_SERVICE_MESH_WORKERS=3, three workers.
#[test]
fn worker_threads_follow_the_cpus_it_may_use() {
    let cpu = a_cpu_this_process_may_use();
    let (pinned, threads) = on_one_cpu(&cpu, None);
    let chosen = pinned.contains("workers=1 ") && pinned.contains("the CPUs this process may use");
    assert!(chosen, "{pinned}");
    assert_eq!(threads, 2, "one CPU: the main thread and the log writer's");
    let (configured, threads) = on_one_cpu(&cpu, Some("3"));
    let named = configured.contains("HEROKU_APPLINK_SERVICE_MESH_WORKERS");
    assert!(configured.contains("workers=3 ") && named, "{configured}");
    assert!(
        threads >= 5,
        "{threads} threads: main, log writer and 3 workers"
    );
}

/// A CPU this process may run on, for taskset.
fn a_cpu_this_process_may_use() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    allowed
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .to_string()
}

/// Starts the binary under `taskset -c cpu` (with `HEROKU_APPLINK_SERVICE_MESH_WORKERS` when
/// given), waits until it listens, and returns its "runtime threads" line and its thread count.
fn on_one_cpu(cpu: &str, workers: Option<&str>) -> (String, usize) {
    let mut command = Command::new("taskset");
    command
        .args(["-c", cpu, binary(), "--dev", "--port", "0"])
        .env_clear()
        .env("APP_PORT", common::free_port().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(workers) = workers {
        command.env("HEROKU_APPLINK_SERVICE_MESH_WORKERS", workers);
    }
    let mut child = command.spawn().expect("taskset and the binary run");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut line, mut runtime_line) = (String::new(), String::new());
    while !line.contains("msg=listening") {
        line.clear();
        let read = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(read > 0, "the sidecar stopped before listening");
        if line.contains("msg=\"runtime threads\"") {
            runtime_line = line.clone();
        }
    }
    let threads = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .count();
    let _ = child.kill();
    let _ = child.wait();
    (runtime_line, threads)
}

/// The soft and hard open-files limits of a process, read from its `/proc/<pid>/limits`.
fn open_files_limits(pid: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let figure = |n: usize| line.split_whitespace().nth(n).unwrap().parse().unwrap();
    (figure(3), figure(4))
}

/// Reads `out` until a line contains `needle`; fails when the output ends first.
fn first_line_with(out: impl std::io::Read, needle: &str) -> String {
    let mut out = std::io::BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        let read = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(read > 0, "no line with {needle} before the output ended");
        if line.contains(needle) {
            return line;
        }
    }
}

/// The soft open-files limit is raised to the hard one at start-up, and the figure is logged
/// (`prlimit` from util-linux sets a low soft limit for the test).
#[test]
fn open_files_limit_is_raised_to_the_hard_limit() {
    let (_, hard) = open_files_limits("self");
    assert!(
        hard > 256,
        "the hard limit here is {hard}: nothing to raise"
    );
    let mut child = Command::new("prlimit")
        .args([
            &format!("--nofile=256:{hard}"),
            binary(),
            "--dev",
            "--port",
            "0",
        ])
        .env_clear()
        .env("APP_PORT", common::free_port().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prlimit and the binary run");
    let found = first_line_with(child.stdout.take().unwrap(), "msg=\"open files limit\"");
    let (soft, _) = open_files_limits(&child.id().to_string());
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found.contains(&format!("open_files={hard} ")) && found.contains("raised_from=256"),
        "{found}"
    );
    assert_eq!(soft, hard, "the soft limit after start-up");
}
