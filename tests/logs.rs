//! What the built binary logs (docs/behaviour.md §8): no secret at any level, JSON lines, a
//! refusal cause named once, and a stalled stdout that never holds up a request.

use crate::common;

use std::process::Command;

use common::salesforce::{self, ACCESS_TOKEN, JWT};
use common::sidecar::{TOKEN, behind_api, binary};
use common::{Answer, FakeApi, FakeApp, SidecarProcess, send};

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
async fn no_secret_reaches_the_logs_even_at_trace() {
    let app = FakeApp::start().await;
    let api = FakeApi::start_tls().await;
    let mut mesh = behind_api(&app, &api, &[("HEROKU_APPLINK_SERVICE_MESH_LOG", "trace")]);
    let addr = mesh.wait_listening();
    let good = salesforce::headers();
    every_outcome_with_secrets_in_it(addr, &api, &good).await;
    mesh.terminate();

    let output = mesh.output();
    if std::env::var_os("SHOW_LOGS").is_some() {
        println!("{output}");
    }
    let tracing = output.contains("at=trace") || output.contains("at=debug");
    assert!(tracing, "trace level is on");
    assert!(
        output.contains("path=/a "),
        "request lines are written: {output}"
    );
    for (what, secret) in [
        ("token", TOKEN),
        ("JWT", JWT),
        ("JWT signature", "c2lnbmF0dXJlLXNlY3JldA"),
        ("access token", ACCESS_TOKEN),
        ("request context", good[0].1.as_str()),
        ("client context", good[1].1.as_str()),
        ("query string", SECRET_QUERY_VALUE),
    ] {
        assert!(
            !output.contains(secret),
            "the {what} appears in the logs:\n{output}"
        );
    }
}

/// A query value that must never be logged.
const SECRET_QUERY_VALUE: &str = "qv-8c1d";

/// One request of each outcome, each with a secret query: forwarded, denied, failed and answered
/// unexpectedly by the API, a bad RC, half a context, a Data Action Target, no context.
async fn every_outcome_with_secrets_in_it(
    addr: std::net::SocketAddr,
    api: &FakeApi,
    good: &[(&'static str, String)],
) {
    let query = format!("secretquery={SECRET_QUERY_VALUE}");
    let forwarded = send(addr, "POST", &format!("/a?{query}"), good, "body").await;
    assert_eq!(forwarded.status, 200);
    api.script(&[
        Answer::status(403),
        Answer::status(500),
        Answer::status(404),
    ]);
    for _ in 0..3 {
        let refused = send(addr, "GET", &format!("/b?{query}"), good, "").await;
        assert_ne!(refused.status, 200);
    }
    let mut bad_rc = good.to_vec();
    bad_rc[0].1 = format!("{}!!", good[0].1);
    send(addr, "GET", &format!("/c?{query}"), &bad_rc, "").await;
    send(addr, "GET", &format!("/d?{query}"), &good[..2], "").await;
    let signed = [("x-signature", "sig-secret-1".to_string())];
    let target = format!("/dat?orgId=00D&apiName=A&{query}");
    send(addr, "POST", &target, &signed, "{}").await;
    send(addr, "GET", &format!("/e?{query}"), &[], "").await;
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
    let addr = mesh.wait_listening();
    assert_eq!(send(addr, "GET", "/j?q=1", &[], "").await.status, 200);
    mesh.terminate();
    let lines = mesh.json_lines();
    let request = lines
        .iter()
        .find(|l| l["path"] == "/j")
        .expect("a request line");
    assert_eq!(request["status"], 200);
    assert_eq!(request["method"], "GET");
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
    let addr = listening_on(port).await;
    // Each request logs a ~4 KiB line: 600 of them are far more than the pipe (64 KiB) and the
    // sidecar's own log buffer (1 MiB) hold. With a blocking writer the 20th would hang.
    let path = format!("/{}", "p".repeat(4000));
    for _ in 0..600 {
        let within = std::time::Duration::from_secs(20);
        let reply = tokio::time::timeout(within, send(addr, "GET", &path, &[], "")).await;
        assert_eq!(
            reply
                .expect("a request was held up by the stalled log")
                .status,
            200
        );
    }
    let output = read_stdout_then_stop(&mut child);
    let logged = output.matches("at=info method=GET").count();
    assert!(logged < 600, "{logged} request lines: nothing was dropped");
    let dropped = dropped_lines_counted(&output);
    // Lines logged while shutting down may be counted as dropped too.
    let all = logged + dropped >= 600;
    assert!(
        all,
        "{logged} written and {dropped} counted: some request lines vanished"
    );
}

/// Polls (at most 30 s) until something listens on the port, then returns its address. The
/// sidecar's stdout is a pipe nobody reads, so its "listening" line cannot be waited for.
async fn listening_on(port: u16) -> std::net::SocketAddr {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(started.elapsed().as_secs() < 30, "not listening");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    addr
}

/// The sum of the `dropped_log_lines=N` figures in the output.
fn dropped_lines_counted(output: &str) -> usize {
    output
        .split("dropped_log_lines=")
        .skip(1)
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum()
}

/// Reads the stalled stdout at last, stops the sidecar (SIGTERM, exit 0) and returns what it wrote.
fn read_stdout_then_stop(child: &mut std::process::Child) -> String {
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
    reader.join().unwrap()
}

/// One connection cannot flood the log (docs/behaviour.md §8): the HTTP/2 library writes a warning
/// for each unsolicited PING ACK a caller sends; 2,000 of them make a counted notice at once and
/// one at exit (a minute has not passed), not 2,000 lines, and the counts add up.
#[tokio::test]
async fn a_flood_of_http2_protocol_errors_is_one_counted_line() {
    let app = FakeApp::start().await;
    let mut mesh = common::sidecar::in_dev_mode(&app);
    let addr = mesh.wait_listening();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The HTTP/2 preface, an empty SETTINGS frame, then PING frames flagged ACK that were never
    // asked for (type 6, flags 1, stream 0, 8 bytes of data).
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    for n in 0..2_000u64 {
        bytes.extend_from_slice(&[0, 0, 8, 6, 1, 0, 0, 0, 0]);
        bytes.extend_from_slice(&n.to_be_bytes());
    }
    tokio::io::AsyncWriteExt::write_all(&mut stream, &bytes)
        .await
        .unwrap();
    mesh.wait_for_output("protocol_errors=");
    drop(stream);
    mesh.terminate();
    let output = mesh.output();
    let per_frame = output.lines().filter(|l| l.contains("PING")).count();
    assert_eq!(per_frame, 0, "{output}");
    // One notice at once, and the rest counted and said once at exit: every frame is counted.
    let counts: Vec<u64> = output
        .split("protocol_errors=")
        .skip(1)
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 2, "{output}");
    assert_eq!(counts.iter().sum::<u64>(), 2_000, "{output}");
}
