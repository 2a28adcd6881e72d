//! The built binary as a user runs it: version, usage and configuration errors with their exit
//! codes, `--check`, the HTTPS AppLink API with a test CA, dev mode, and a secret scan of the logs.

// Test code: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::salesforce::{self, ACCESS_TOKEN, ADDON_UUID, JWT};
use common::sidecar::{TOKEN, binary, temp_file};
use common::{Answer, FakeApi, FakeApp, SidecarProcess, send};

fn run(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn version_with_an_empty_environment() {
    for flag in ["-v", "--version"] {
        let output = run(&[], &[flag]);
        assert_eq!(output.status.code(), Some(0));
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let expected = format!(
            "heroku-applink-service-mesh version {} [os: linux, arch: {arch}]\n",
            applink_mesh::VERSION
        );
        assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
        assert!(output.stderr.is_empty());
    }
}

#[test]
fn help_exits_zero() {
    let output = run(&[], &["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("--dev") && text.contains("--check") && text.contains("APP COMMAND"),
        "{text}"
    );
    for needle in [
        "Environment:",
        "HEROKU_APPLINK_SERVICE_MESH_WORKERS",
        "Exit codes:",
        "127  its program does not exist",
        "README.md",
    ] {
        assert!(text.contains(needle), "no {needle:?} in {text}");
    }
}

const ADDON: [(&str, &str); 2] = [
    ("HEROKU_APPLINK_API_URL", "https://applink.example/addons/1"),
    ("HEROKU_APPLINK_TOKEN", TOKEN),
];

#[test]
fn usage_and_configuration_errors_exit_64_with_one_line() {
    let bad_yaml = temp_file("bad.yaml", "mesh:\n  healthcheck:\n    enabled: true\n");
    let bad_yaml = bad_yaml.to_str().unwrap();
    let map_route = temp_file(
        "map-route.yaml",
        "mesh:\n  authentication:\n    bypassRoutes:\n      - pathPrefix: /api/\n",
    );
    let map_route = map_route.to_str().unwrap();
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (ADDON.to_vec(), vec!["--bogus"], "--bogus"),
        (ADDON.to_vec(), vec!["--port", "http"], "--port"),
        (vec![], vec![], "HEROKU_APPLINK_API_URL"),
        (ADDON.to_vec(), vec!["--config", bad_yaml], "enabled"),
        (
            ADDON.to_vec(),
            vec!["--config", map_route],
            "map-route.yaml, line 4: ",
        ),
        (
            ADDON.to_vec(),
            vec!["--config", "/does/not/exist.yaml"],
            "/does/not/exist.yaml",
        ),
        (
            [ADDON.as_slice(), &[("PORT", "3000")]].concat(),
            vec![],
            "proxy to itself",
        ),
        (
            vec![("DYNO", "web.1")],
            vec!["--dev"],
            "dev mode is refused",
        ),
        (
            [
                ADDON.as_slice(),
                &[("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT", "xml")],
            ]
            .concat(),
            vec![],
            "LOG_FORMAT",
        ),
    ];
    for (env, args, needle) in cases {
        let output = run(&env, &args);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(64), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains(TOKEN));
    }
    let output = run(
        &[
            ("DYNO", "web.1"),
            ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(64));
}

#[test]
fn check_prints_the_configuration_without_secrets() {
    let output = run(&ADDON, &["--check"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("attachment HEROKU_APPLINK = https://applink.example/addons/1 (default"),
        "{text}"
    );
    assert!(text.contains("<redacted>"));
    assert!(!text.contains(TOKEN));
    let output = run(&[], &["--check"]);
    assert_eq!(output.status.code(), Some(64));
}

#[test]
fn check_prints_the_warnings_a_start_would_log() {
    let yaml = temp_file(
        "ignored.yaml",
        "mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n",
    );
    let port = common::free_port().to_string();
    let env = [ADDON.as_slice(), &[("PORT", port.as_str())]].concat();
    let args = |check: bool| {
        let mut args = vec!["--config", yaml.to_str().unwrap()];
        if check {
            args.push("--check");
        }
        args.extend(["--", "/nonexistent/app", "--port", port.as_str()]);
        args
    };
    let output = run(&env, &args(true));
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(&format!("port = {port}  # env PORT\n")),
        "{text}"
    );
    let warnings: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("warning = "))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings[0].contains("[\"/public/**\"] are configured but ignored"),
        "{text}"
    );
    assert!(
        warnings[1].contains(&format!("holds the public port {port}")),
        "{text}"
    );

    // A start logs the same two (then cannot run the app: 127).
    let output = run(&env, &args(false));
    assert_eq!(output.status.code(), Some(127));
    let log = String::from_utf8(output.stdout).unwrap();
    for warning in warnings {
        let logged = format!("at=warn msg=\"{}\"", warning.replace('"', "\\\""));
        assert!(log.contains(&logged), "no {logged} in\n{log}");
    }
}

#[test]
fn port_in_use_exits_1() {
    let taken = std::net::TcpListener::bind("[::]:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run(
        &[
            ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true"),
            ("APP_PORT", "1"),
        ],
        &["--port", &port],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("already in use"));
}

/// The binary in production mode against a fake API; an HTTPS one's CA comes from `SSL_CERT_FILE`.
/// `extra` is set last, so it can replace any of these.
fn behind_api(app: &FakeApp, api: &FakeApi, extra: &[(&str, &str)]) -> SidecarProcess {
    let app_port = app.port().to_string();
    let url = api.url();
    let mut env = vec![
        ("APP_PORT", app_port.as_str()),
        ("HEROKU_APPLINK_API_URL", url.as_str()),
        ("HEROKU_APPLINK_TOKEN", TOKEN),
    ];
    if let Some(ca) = &api.ca_file {
        env.push(("SSL_CERT_FILE", ca.to_str().unwrap()));
    }
    env.extend_from_slice(extra);
    SidecarProcess::spawn(&env, &["--port", "0"])
}

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
async fn refusals_in_a_row_name_the_token_once() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    api.always(Answer::status(401));
    let mut mesh = behind_api(&app, &api, &[]);
    let addr = mesh.wait_listening();
    let warning = "HEROKU_APPLINK_TOKEN may be wrong or stale";
    for _ in 0..4 {
        send(addr, "GET", "/", &salesforce::headers(), "")
            .await
            .assert_mesh_error(403, "forbidden");
    }
    // Once the four access lines are out, the warning is not among them.
    let started = std::time::Instant::now();
    while mesh.output().matches("status=403").count() < 4 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!mesh.output().contains(warning), "{}", mesh.output());
    for _ in 0..6 {
        send(addr, "GET", "/", &salesforce::headers(), "")
            .await
            .assert_mesh_error(403, "forbidden");
    }
    mesh.wait_for_output(warning);
    mesh.terminate();
    let output = mesh.output();
    assert_eq!(output.matches(warning).count(), 1, "{output}");
    assert!(output.contains("attachment=HEROKU_APPLINK"), "{output}");
    assert!(!output.contains(TOKEN));
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
async fn no_secret_reaches_the_logs_even_at_trace() {
    let app = FakeApp::start().await;
    let api = FakeApi::start_tls().await;
    let mut mesh = behind_api(&app, &api, &[("HEROKU_APPLINK_SERVICE_MESH_LOG", "trace")]);
    let addr = mesh.wait_listening();
    let query = "secretquery=qv-8c1d";
    let good = salesforce::headers();
    let rc = good[0].1.clone();
    let cc = good[1].1.clone();
    assert_eq!(
        send(addr, "POST", &format!("/a?{query}"), &good, "body")
            .await
            .status,
        200
    );
    api.script(&[
        Answer::status(403),
        Answer::status(500),
        Answer::status(404),
    ]);
    for _ in 0..3 {
        assert_ne!(
            send(addr, "GET", &format!("/b?{query}"), &good, "")
                .await
                .status,
            200
        );
    }
    let mut bad_rc = good.clone();
    bad_rc[0].1 = format!("{rc}!!");
    send(addr, "GET", &format!("/c?{query}"), &bad_rc, "").await;
    send(addr, "GET", &format!("/d?{query}"), &good[..2], "").await;
    send(
        addr,
        "POST",
        &format!("/dat?orgId=00D&apiName=A&{query}"),
        &[("x-signature", "sig-secret-1".into())],
        "{}",
    )
    .await;
    send(addr, "GET", &format!("/e?{query}"), &[], "").await;
    mesh.terminate();

    let output = mesh.output();
    if std::env::var_os("SHOW_LOGS").is_some() {
        println!("{output}");
    }
    assert!(
        output.contains("at=trace") || output.contains("at=debug"),
        "trace level is on"
    );
    assert!(
        output.contains("path=/a "),
        "request lines are written: {output}"
    );
    for (what, secret) in [
        ("token", TOKEN),
        ("JWT", JWT),
        ("JWT signature", "c2lnbmF0dXJlLXNlY3JldA"),
        ("access token", ACCESS_TOKEN),
        ("request context", rc.as_str()),
        ("client context", cc.as_str()),
        ("query string", "qv-8c1d"),
    ] {
        assert!(
            !output.contains(secret),
            "the {what} appears in the logs:\n{output}"
        );
    }
}

#[tokio::test]
async fn json_log_lines() {
    let app = FakeApp::start().await;
    let app_port = app.port().to_string();
    let mut mesh = SidecarProcess::spawn(
        &[
            ("APP_PORT", &app_port),
            ("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT", "json"),
        ],
        &["--dev", "--port", "0"],
    );
    // The JSON listening line carries the address too.
    let addr = loop {
        let output = mesh.output();
        let found = output
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|line| {
                (line["message"] == "listening").then(|| {
                    line["addr"]
                        .as_str()
                        .unwrap()
                        .parse::<std::net::SocketAddr>()
                        .unwrap()
                })
            });
        if let Some(addr) = found {
            break std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()));
        }
        assert!(mesh.child.try_wait().unwrap().is_none(), "exited: {output}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(send(addr, "GET", "/j?q=1", &[], "").await.status, 200);
    mesh.terminate();
    let output = mesh.output();
    let lines: Vec<serde_json::Value> = output
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["path"] == "/j")
        .expect("a request line");
    assert_eq!(request["status"], 200);
    assert_eq!(request["method"], "GET");
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

/// stdout is a pipe nobody reads (a stalled log drain): requests keep being answered, the lines
/// that do not fit are dropped, and the count is logged once stdout moves again.
#[tokio::test]
async fn a_stalled_stdout_never_holds_up_requests() {
    let app = FakeApp::start().await;
    let port = common::free_port();
    let mut child = Command::new(binary())
        .args(["--dev", "--port", &port.to_string()])
        .env_clear()
        .env("APP_PORT", app.port().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(started.elapsed().as_secs() < 30, "not listening");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Each request logs a ~4 KiB line: 600 of them are far more than the pipe (64 KiB) and the
    // sidecar's own log buffer (1 MiB) hold. With a blocking writer the 20th would hang.
    let path = format!("/{}", "p".repeat(4000));
    for _ in 0..600 {
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            send(addr, "GET", &path, &[], ""),
        )
        .await
        .expect("a request was held up by the stalled log");
        assert_eq!(reply.status, 200);
    }
    // Now read stdout, and stop the sidecar.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let output = reader.join().unwrap();
    let logged = output.matches("at=info method=GET").count();
    assert!(logged < 600, "{logged} request lines: nothing was dropped");
    let dropped: usize = output
        .split("dropped_log_lines=")
        .skip(1)
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    // Lines logged while shutting down may be counted as dropped too.
    assert!(
        logged + dropped >= 600,
        "{logged} written and {dropped} counted: some request lines vanished"
    );
}

/// The runtime's threads follow the CPUs the process may use: pinned to one CPU (`taskset`, from
/// util-linux) it runs everything on its main thread (plus the log writer's); with
/// HEROKU_APPLINK_SERVICE_MESH_WORKERS=3, three workers.
#[test]
fn worker_threads_follow_the_cpus_it_may_use() {
    // A CPU this process may run on, for taskset.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    let cpu = allowed
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .to_string();
    // Starts the binary under taskset, waits for its runtime line, counts its threads.
    let start = |workers: Option<&str>| {
        let mut command = Command::new("taskset");
        command
            .args(["-c", &cpu, binary(), "--dev", "--port", "0"])
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
        let mut line = String::new();
        let mut runtime_line = String::new();
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
    };
    let (pinned, threads) = start(None);
    assert!(
        pinned.contains("workers=1 ") && pinned.contains("the CPUs this process may use"),
        "{pinned}"
    );
    assert_eq!(threads, 2, "one CPU: the main thread and the log writer's");
    let (configured, threads) = start(Some("3"));
    assert!(
        configured.contains("workers=3 ")
            && configured.contains("HEROKU_APPLINK_SERVICE_MESH_WORKERS"),
        "{configured}"
    );
    assert!(
        threads >= 5,
        "{threads} threads: main, log writer and 3 workers"
    );
}

/// The soft open-files limit is raised to the hard one at start-up, and the figure is logged
/// (`prlimit` from util-linux sets a low soft limit for the test).
#[test]
fn open_files_limit_is_raised_to_the_hard_limit() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let hard: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|h| h.parse().ok())
        .unwrap();
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
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let found = loop {
        line.clear();
        let read = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(read > 0, "no open files line before the output ended");
        if line.contains("msg=\"open files limit\"") {
            break line.clone();
        }
    };
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found.contains(&format!("open_files={hard} ")) && found.contains("raised_from=256"),
        "{found}"
    );
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().nth(3),
        Some(hard.to_string().as_str()),
        "{open_files}"
    );
}

#[test]
fn a_yml_file_is_named_with_its_fix() {
    let folder = std::env::temp_dir().join(format!("applink-mesh-yml-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("heroku-applink-service-mesh.yml"),
        "mesh:\n  timeouts:\n    idle: 5s\n",
    )
    .unwrap();
    let output = Command::new(binary())
        .arg("--check")
        .current_dir(&folder)
        .env_clear()
        .envs(ADDON)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&folder).unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(
            "heroku-applink-service-mesh.yml is not read: rename it to \
             heroku-applink-service-mesh.yaml, or pass --config heroku-applink-service-mesh.yml"
        ),
        "{text}"
    );
}

#[test]
fn dev_after_the_app_command_is_named() {
    let output = run(&[], &["npm", "start", "--dev"]);
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("HEROKU_APPLINK_API_URL and HEROKU_APPLINK_TOKEN must be set")
            && stderr.trim_end().ends_with(
                "options go before the app command: heroku-applink-service-mesh --dev -- npm start"
            ),
        "{stderr}"
    );
}
