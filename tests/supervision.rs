//! The sidecar as the Procfile's web process (docs/behaviour.md §7): it starts the app, follows it
//! through boot, forwards signals, drains, and exits with the app's code. Real child processes,
//! real signals.

use crate::common;

use std::time::{Duration, Instant};

use common::sidecar::binary;
use common::{SidecarProcess, send, test_app};
use nix::sys::signal::Signal;

/// A free port, as text for an environment variable.
fn free_port() -> String {
    common::free_port().to_string()
}

/// The sidecar in dev mode wrapping the test app with these options.
fn wrap(env: &[(&str, &str)], app_args: &[&str]) -> SidecarProcess {
    wrap_with_yaml(env, "", app_args)
}

/// The same, with a configuration file.
fn wrap_with_yaml(env: &[(&str, &str)], yaml: &str, app_args: &[&str]) -> SidecarProcess {
    let app_port = free_port();
    let mut full_env = vec![("APP_PORT", app_port.as_str()), ("PATH", "/usr/bin:/bin")];
    full_env.extend_from_slice(env);
    let config = common::sidecar::temp_file("mesh.yaml", yaml);
    let app = test_app::command();
    let mut args = vec![
        "--dev",
        "--port",
        "0",
        "--config",
        config.to_str().unwrap(),
        "--",
        app.as_str(),
    ];
    args.extend_from_slice(app_args);
    SidecarProcess::spawn(&full_env, &args)
}

#[tokio::test]
async fn app_sees_port_equal_to_app_port() {
    let mut mesh = wrap(&[], &[]);
    let addr = mesh.wait_listening();
    let reply = send(addr, "GET", "/env", &[], "").await;
    let text = reply.text();
    let (port, app_port) = text.split_once(' ').unwrap();
    assert_eq!(
        port.strip_prefix("PORT="),
        app_port.strip_prefix("APP_PORT="),
        "{text}"
    );
    assert!(
        mesh.output()
            .contains("APP_PORT and PORT set to the app port")
    );
    assert_eq!(mesh.terminate().code(), Some(0));
}

#[tokio::test]
async fn a_request_during_boot_waits_for_the_app() {
    let mut mesh = wrap(&[], &["--boot-delay-ms", "2000"]);
    let addr = mesh.wait_listening();
    assert!(
        !mesh.output().contains("test-app: listening"),
        "the app is still booting"
    );
    let reply = send(addr, "GET", "/", &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "ok");
    mesh.terminate();
}

#[test]
fn an_app_that_dies_during_boot_ends_the_sidecar_with_its_code() {
    let mut mesh = wrap(
        &[],
        &[
            "--boot-delay-ms",
            "30000",
            "--exit-after-ms",
            "300",
            "--exit-code",
            "4",
        ],
    );
    let started = Instant::now();
    assert_eq!(mesh.wait().code(), Some(4), "{}", mesh.output());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it must not wait out the boot gate"
    );
    assert!(
        mesh.output().contains("the app exited"),
        "{}",
        mesh.output()
    );
}

#[test]
fn an_app_that_exits_3_makes_the_sidecar_exit_3() {
    let mut mesh = wrap(&[], &["--exit-after-ms", "500", "--exit-code", "3"]);
    assert_eq!(mesh.wait().code(), Some(3), "{}", mesh.output());
}

#[test]
fn the_app_does_not_outlive_a_killed_sidecar() {
    let mut mesh = wrap(&[], &[]);
    mesh.wait_for_output("test-app: listening");
    let pid = mesh.app_pid();
    mesh.signal(Signal::SIGKILL);
    mesh.wait();
    let started = std::time::Instant::now();
    while alive(pid) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the app ({pid}) outlived the killed sidecar"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_app_killed_by_sigkill_makes_the_sidecar_exit_137() {
    let mut mesh = wrap(&[], &[]);
    mesh.wait_for_output("test-app: listening");
    let pid = mesh.app_pid();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    assert_eq!(mesh.wait().code(), Some(137), "{}", mesh.output());
}

#[tokio::test]
async fn sigterm_drains_an_in_flight_request_and_exits_with_the_apps_code() {
    let mut mesh = wrap(&[], &["--term-exit-code", "12"]);
    let addr = mesh.wait_listening();
    mesh.wait_for_output("test-app: listening");
    let slow = tokio::spawn(send(addr, "GET", "/slow?ms=1500", &[], ""));
    wait_until_in_flight(&mut mesh, "/slow").await;
    mesh.signal(Signal::SIGTERM);
    let reply = slow.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "slow ok");
    assert_eq!(mesh.wait().code(), Some(12), "{}", mesh.output());
    let output = mesh.output();
    assert_eq!(
        output.matches("test-app: got SIGTERM").count(),
        1,
        "{output}"
    );
    assert!(output.contains("forwarding the signal"), "{output}");
}

#[tokio::test]
async fn a_second_sigterm_does_not_cut_the_drain_short() {
    let mut mesh = wrap(&[], &["--term-exit-code", "0"]);
    let addr = mesh.wait_listening();
    mesh.wait_for_output("test-app: listening");
    let slow = tokio::spawn(send(addr, "GET", "/slow?ms=2000", &[], ""));
    wait_until_in_flight(&mut mesh, "/slow").await;
    mesh.signal(Signal::SIGTERM);
    mesh.wait_for_output("draining: no longer accepting");
    mesh.signal(Signal::SIGTERM);
    mesh.wait_for_output("already shutting down");
    let reply = slow.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(mesh.wait().code(), Some(0), "{}", mesh.output());
    assert_eq!(
        mesh.output().matches("test-app: got SIGTERM").count(),
        1,
        "the repeat is not forwarded"
    );
}

#[tokio::test]
async fn sigint_is_forwarded_like_ctrl_c_on_a_laptop() {
    let mut mesh = wrap(&[], &["--term-exit-code", "0"]);
    mesh.wait_for_output("test-app: listening");
    mesh.signal(Signal::SIGINT);
    assert_eq!(mesh.wait().code(), Some(0), "{}", mesh.output());
    assert!(mesh.output().contains("test-app: got SIGINT"));
}

#[test]
fn on_a_dyno_sigterm_is_not_forwarded() {
    // Dev mode is refused on a dyno, so this runs in production mode against an address that is
    // never called.
    let app_port = free_port();
    let app = test_app::command();
    let yaml = common::sidecar::temp_file("drain.yaml", "mesh:\n  timeouts:\n    drain: 1s\n");
    let mut mesh = SidecarProcess::spawn(
        &[
            ("APP_PORT", &app_port),
            ("DYNO", "web.1"),
            ("HEROKU_APPLINK_API_URL", "http://127.0.0.1:9/addons/x"),
            ("HEROKU_APPLINK_TOKEN", "t"),
        ],
        &[
            "--port",
            "0",
            "--config",
            yaml.to_str().unwrap(),
            "--",
            &app,
        ],
    );
    mesh.wait_for_output("test-app: listening");
    mesh.signal(Signal::SIGTERM);
    // The app never hears it, so the drain times out and the group is killed.
    assert_eq!(mesh.wait().code(), Some(137), "{}", mesh.output());
    let output = mesh.output();
    assert!(!output.contains("test-app: got SIGTERM"), "{output}");
    assert!(output.contains("not forwarding SIGTERM"), "{output}");
}

#[test]
fn an_app_that_ignores_sigterm_is_killed_when_the_drain_times_out() {
    let mut mesh = wrap_with_yaml(
        &[],
        "mesh:\n  timeouts:\n    drain: 500ms\n",
        &["--ignore-term"],
    );
    mesh.wait_for_output("test-app: listening");
    mesh.signal(Signal::SIGTERM);
    mesh.wait_for_output("test-app: got SIGTERM");
    let started = Instant::now();
    assert_eq!(mesh.wait().code(), Some(137), "{}", mesh.output());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "killed after timeouts.drain (500ms), not the default 25 s"
    );
    assert!(
        mesh.output().contains("did not exit within timeouts.drain"),
        "{}",
        mesh.output()
    );
}

#[test]
fn a_grandchild_left_by_the_app_is_not_left_running() {
    let mut mesh = wrap(&[], &["--grandchild"]);
    let output = mesh.wait_for_output("test-app: listening");
    let grandchild: i32 = output
        .lines()
        .find_map(|l| l.strip_prefix("test-app: grandchild pid="))
        .expect("the app reports its grandchild")
        .parse()
        .unwrap();
    assert!(alive(grandchild));
    assert_eq!(mesh.terminate().code(), Some(0));
    let started = Instant::now();
    while alive(grandchild) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "grandchild {grandchild} still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_missing_program_exits_127_with_one_line() {
    let output = std::process::Command::new(binary())
        .args([
            "--dev",
            "--port",
            "0",
            "--",
            "/nonexistent/program",
            "--flag",
        ])
        .env_clear()
        .env("APP_PORT", free_port())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("'/nonexistent/program' was not found"),
        "{stderr}"
    );
}

#[test]
fn an_assignment_or_a_builtin_as_the_program_gets_its_fix() {
    // The fix names the one word at fault, a secret in it masked, never the rest of the command.
    for (command, fix) in [
        (
            vec!["NODE_ENV=production", "node", "app.js", "--token=s3cret"],
            "put variable assignments before heroku-applink-service-mesh (NODE_ENV=production \
             heroku-applink-service-mesh -- <the rest of the command>)",
        ),
        (
            vec!["API_KEY=s3cret", "node", "app.js"],
            "'API_KEY=***' is a variable assignment",
        ),
        (
            vec!["export", "TOKEN=s3cret"],
            "wrap the command in a shell: sh -c 'export …'",
        ),
        (vec!["cd", "web"], "sh -c 'cd …'"),
    ] {
        let output = std::process::Command::new(binary())
            .args(["--dev", "--port", "0", "--"])
            .args(&command)
            .env_clear()
            .env("APP_PORT", free_port())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(127), "{command:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(fix), "{command:?}: {stderr}");
        assert!(!stderr.contains("s3cret"), "{command:?}: {stderr}");
    }
}

#[test]
fn a_program_that_is_not_executable_exits_126() {
    let script = common::sidecar::temp_file("not-executable.sh", "#!/bin/sh\necho hi\n");
    let output = std::process::Command::new(binary())
        .args(["--dev", "--port", "0", "--", script.to_str().unwrap()])
        .env_clear()
        .env("APP_PORT", free_port())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(126));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("is not executable"), "{stderr}");
}

#[test]
fn port_in_use_exits_1_without_starting_the_app() {
    let taken = std::net::TcpListener::bind("[::]:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let app = test_app::command();
    let output = std::process::Command::new(binary())
        .args(["--dev", "--port", &port, "--", &app])
        .env_clear()
        .env("APP_PORT", free_port())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("test-app:"),
        "the app must not start"
    );
}

/// Why a new PID namespace cannot be made here (not root, no `unshare`, a sandbox that forbids
/// it), or `None` when it can.
fn no_pid_namespace() -> Option<String> {
    // Without root, `unshare --pid` fails too; its message says why.
    match std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
    {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!(
            "unshare --pid fails: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(e) => Some(format!("no unshare: {e}")),
    }
}

#[test]
fn as_pid_1_it_reaps_orphans_and_keeps_the_apps_exit_code() {
    if let Some(why) = no_pid_namespace() {
        common::skip(
            "as_pid_1_it_reaps_orphans_and_keeps_the_apps_exit_code",
            &format!("{why} (it needs root and unshare, from util-linux)"),
        );
        return;
    }
    // A new PID namespace makes the sidecar PID 1 there, as in a Cloud Native Buildpack image.
    let app = test_app::command();
    let sidecar = [binary(), "--dev", "--port", "0", "--"];
    let orphaning_app = [
        &app,
        "--orphan",
        "--exit-after-ms",
        "2500",
        "--exit-code",
        "3",
    ];
    let output = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .args(sidecar)
        .args(orphaning_app)
        .env_clear()
        .env("APP_PORT", free_port())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("unshare runs (util-linux, as root)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("test-app: orphan reaped"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(3), "{stdout}");
}

/// Whether a process is running (a zombie waiting to be reaped by someone else counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Polls until the app reports that a request for `path` has reached it.
async fn wait_until_in_flight(mesh: &mut SidecarProcess, path: &str) {
    let line = format!("test-app: request {path}");
    let started = Instant::now();
    while !mesh.output().contains(&line) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{path} never reached the app:\n{}",
            mesh.output()
        );
        assert!(
            mesh.child.try_wait().unwrap().is_none(),
            "{}",
            mesh.output()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Procfile that quotes the whole app command (`heroku-applink-service-mesh "app --opt"`) runs it
/// through `/bin/sh -c 'exec …'`: the shell expands it, and signals and the exit code still reach
/// the app itself.
#[tokio::test]
async fn an_app_command_written_as_one_string_runs_through_the_shell() {
    let app_port = free_port();
    let one_string = format!("{} --term-exit-code $EXIT_CODE", test_app::command());
    let mut mesh = SidecarProcess::spawn(
        &[
            ("APP_PORT", app_port.as_str()),
            ("PATH", "/usr/bin:/bin"),
            ("EXIT_CODE", "9"),
        ],
        &["--dev", "--port", "0", &one_string],
    );
    let addr = mesh.wait_listening();
    mesh.wait_for_output("test-app: listening");
    assert_eq!(send(addr, "GET", "/", &[], "").await.status, 200);
    mesh.signal(Signal::SIGTERM);
    assert_eq!(mesh.wait().code(), Some(9), "{}", mesh.output());
    let output = mesh.output();
    assert!(output.contains("running it through /bin/sh -c"), "{output}");
    assert_eq!(
        output.matches("test-app: got SIGTERM").count(),
        1,
        "{output}"
    );
}

/// An app that listens on another port than APP_PORT: the log names the port it does listen on
/// and the fix, and once `timeouts.appBoot` has passed the sidecar stops the app and exits 1, so
/// that the platform restarts the dyno (Heroku's own boot timeout never fires while the sidecar
/// holds $PORT).
#[test]
fn an_app_listening_elsewhere_is_named_and_ends_the_sidecar_at_app_boot() {
    let elsewhere = free_port();
    // APP_PORT stays free of listeners throughout, whatever other tests bind meanwhile.
    let (app_port, _reserved) = common::reserved_port();
    let app_port = app_port.to_string();
    let mut mesh = wrap_with_yaml(
        &[("APP_PORT", app_port.as_str())],
        "mesh:\n  timeouts:\n    appBoot: 3s\n",
        &["--listen-port", elsewhere.as_str()],
    );
    let warning = mesh.wait_for_output(&format!("set APP_PORT={elsewhere}"));
    assert!(
        warning.contains(
            "still waiting for the app to accept a connection where the sidecar forwards"
        ),
        "{warning}"
    );
    assert_eq!(mesh.wait().code(), Some(1), "{}", mesh.output());
    let output = mesh.output();
    assert!(
        output
            .contains("never started listening where the sidecar forwards within timeouts.appBoot"),
        "{output}"
    );
    assert!(
        output.contains("test-app: got SIGTERM"),
        "the app was not stopped: {output}"
    );
}

/// Something already listens on APP_PORT when the app starts (an earlier run still up): the
/// sidecar says so at once, and again as the likely cause when the app exits.
#[test]
fn a_taken_app_port_is_named_with_its_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut mesh = wrap(&[("APP_PORT", port.as_str())], &[]);
    let status = mesh.wait();
    assert_ne!(status.code(), Some(0), "{}", mesh.output());
    let output = mesh.output();
    assert!(
        output.contains("something already listens on the app's port before the app started"),
        "{output}"
    );
    assert!(
        output.contains("something else was already listening on its port when it started"),
        "{output}"
    );
}

/// A Procfile that hands the public port to the app (`-- app --port $PORT`): the app cannot bind
/// it, and the sidecar names the mistake and the fix, `$APP_PORT`.
#[test]
fn the_public_port_handed_to_the_app_is_named() {
    let public = free_port();
    let app = test_app::command();
    let app_port = free_port();
    let mut mesh = SidecarProcess::spawn(
        &[("APP_PORT", app_port.as_str()), ("PATH", "/usr/bin:/bin")],
        &[
            "--dev",
            "--port",
            &public,
            "--",
            &app,
            "--listen-port",
            &public,
        ],
    );
    let status = mesh.wait();
    assert_ne!(status.code(), Some(0), "{}", mesh.output());
    let output = mesh.output();
    assert!(
        output.contains("the app's command line holds the public port"),
        "{output}"
    );
    // The fix is a line that works: the app's port as a number, not `$APP_PORT`, which a
    // Procfile line that sets APP_PORT itself expands to nothing.
    let fixed = format!("--listen-port {app_port}");
    assert!(output.contains(&fixed), "{output}");
    assert!(
        output.contains("give the app its own port as a number"),
        "{output}"
    );
}
