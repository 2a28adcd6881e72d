//! The mistakes of a user's first hour, tried as a new user would, with the built binary: each is
//! named with its fix instead of failing silently (docs/behaviour.md §7).

use crate::common;

use std::process::Command;

use common::sidecar::binary;
use common::{SidecarProcess, send, test_app};

/// A program that is not on PATH: the one line names the PATH it was looked for on and the usual
/// causes.
#[test]
fn a_program_not_on_path_is_named_with_the_path_and_the_usual_causes() {
    let output = Command::new(binary())
        .args(["--dev", "--port", "0", "--", "nodee", "app.js"])
        .env_clear()
        .env("APP_PORT", common::free_port().to_string())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("'nodee' was not found on PATH (/usr/bin:/bin)"),
        "{stderr}"
    );
    assert!(stderr.contains("heroku buildpacks"), "{stderr}");
}

/// `~` in a path that no shell expands (in quotes, or with no shell at all).
#[test]
fn a_tilde_nobody_expands_is_named() {
    let output = Command::new(binary())
        .args(["--dev", "--port", "0", "--", "~/bin/app"])
        .env_clear()
        .env("APP_PORT", common::free_port().to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("$HOME/bin/app unquoted"), "{stderr}");
}

/// A typo in a command written as one quoted string, which runs through /bin/sh: the shell's own
/// "not found" is followed by the sidecar's explanation.
#[test]
fn a_typo_in_a_one_string_command_is_explained() {
    let app_port = common::free_port().to_string();
    let mut mesh = SidecarProcess::spawn(
        &[("APP_PORT", app_port.as_str()), ("PATH", "/usr/bin:/bin")],
        &["--dev", "--port", "0", "nodee app.js --port 3000"],
    );
    assert_eq!(mesh.wait().code(), Some(127), "{}", mesh.output());
    let output = mesh.output();
    assert!(
        output.contains("ran through /bin/sh (it is one quoted string), which exited 127"),
        "{output}"
    );
    assert!(
        output.contains("'nodee' was not found on PATH (/usr/bin:/bin)"),
        "{output}"
    );
}

/// `APP_PORT` set as a config var rather than on the Procfile line: the dyno's shell expands
/// `$APP_PORT` in the line from the environment, so the app gets its port (unlike a line that sets
/// `APP_PORT=3000` itself, where `$APP_PORT` expands to nothing).
#[tokio::test]
async fn app_port_as_a_config_var_reaches_the_apps_arguments() {
    let app_port = common::free_port().to_string();
    let procfile_line = format!(
        "exec {} --dev --port 0 -- {} --listen-port $APP_PORT",
        binary(),
        test_app::command()
    );
    // As a dyno runs the Procfile's web line: through a shell, with the config vars set.
    let mut mesh = SidecarProcess::spawn_program(
        "/bin/sh",
        &[("APP_PORT", app_port.as_str()), ("PATH", "/usr/bin:/bin")],
        &["-c", &procfile_line],
    );
    let addr = mesh.wait_listening();
    mesh.wait_for_output(&format!("test-app: listening on {app_port}"));
    assert_eq!(send(addr, "GET", "/", &[], "").await.status, 200);
    assert!(
        !mesh.output().contains("expanded to nothing"),
        "{}",
        mesh.output()
    );
}

/// Runs `APP_PORT=<a free port> heroku-applink-service-mesh --dev -- <test app> <app_args>`
/// through `/bin/sh`, as a dyno runs a Procfile line that sets `APP_PORT` itself; the port, and
/// the output up to `until`.
fn procfile_line_output(app_args: &str, until: &str) -> (String, String) {
    let app_port = common::free_port().to_string();
    let procfile_line = format!(
        "APP_PORT={app_port} exec {} --dev --port 0 -- {} {app_args}",
        binary(),
        test_app::command()
    );
    let mut mesh = SidecarProcess::spawn_program(
        "/bin/sh",
        &[("PATH", "/usr/bin:/bin")],
        &["-c", &procfile_line],
    );
    let output = mesh.wait_for_output(until);
    (app_port, output)
}

/// The same line with `APP_PORT=3000` set on it: `$APP_PORT` expanded to nothing before the
/// assignment applied, so the app's argument ends in `:` or is missing; the sidecar says so.
#[test]
fn an_argument_that_expanded_to_nothing_is_named() {
    let (app_port, output) =
        procfile_line_output("--urls http://*:$APP_PORT", "expanded to nothing");
    assert!(output.contains("'http://*:'"), "{output}");
    assert!(
        output.contains(&format!("(http://*:{app_port})")),
        "{output}"
    );
}

/// The README's own example of that mistake: `--listen-port $APP_PORT` on a line that sets
/// `APP_PORT` itself leaves `--listen-port` with no value; the sidecar names it with the fix.
#[test]
fn a_port_option_left_without_its_value_is_named() {
    let (app_port, output) =
        procfile_line_output("--listen-port $APP_PORT", "has no value after it");
    assert!(
        output.contains("'--listen-port' has no value after it"),
        "{output}"
    );
    assert!(
        output.contains(&format!("(--listen-port {app_port})")),
        "{output}"
    );
}

/// `'$PORT'` quoted on the Procfile line reaches the app as text (the sidecar starts the app's
/// words without a shell): named at start-up, with the two fixes.
#[test]
fn a_port_variable_no_shell_expanded_is_named() {
    let (app_port, output) =
        procfile_line_output("--listen-port '$PORT'", "which no shell expands");
    assert!(
        output.contains("the app's argument '$PORT' holds the text $PORT"),
        "{output}"
    );
    assert!(
        output.contains(&format!("Write the port as a number ({app_port})")),
        "{output}"
    );
}

/// A request that waits at the boot gate while the app listens on another port is told where the
/// app listens and the fix, once the sidecar has seen it, instead of a generic `app-booting` after
/// 25 s; and so is the next request, at once.
#[tokio::test]
async fn a_request_waiting_for_an_app_on_the_wrong_port_is_told_where_it_listens() {
    // APP_PORT stays free of listeners throughout, whatever other tests bind meanwhile.
    let (app_port, _reserved) = common::reserved_port();
    let app_port = app_port.to_string();
    let elsewhere = common::free_port().to_string();
    let app = test_app::command();
    let mut mesh = SidecarProcess::spawn(
        &[("APP_PORT", app_port.as_str()), ("PATH", "/usr/bin:/bin")],
        &[
            "--dev",
            "--port",
            "0",
            "--",
            &app,
            "--listen-port",
            &elsewhere,
        ],
    );
    let addr = mesh.wait_listening();
    mesh.wait_for_output("test-app: listening");
    for _ in 0..2 {
        let reply = send(addr, "GET", "/", &[], "").await;
        reply.assert_mesh_error(503, "app-booting");
        reply.assert_error_mentions(&format!("listen on 127.0.0.1:{elsewhere}"));
        reply.assert_error_mentions(&format!("set APP_PORT={elsewhere}"));
    }
}

/// In a Private Space (`HEROKU_PRIVATE_IP` set) other dynos can connect to any port a dyno
/// listens on: an app bound to every interface is named at start-up, with the address other dynos
/// would use and the fix; one bound to 127.0.0.1 is said to be safe. The sidecar only reads the
/// variable and the app's listeners.
#[tokio::test]
async fn an_app_on_every_interface_in_a_private_space_is_named() {
    for (host, exposed) in [("0.0.0.0", true), ("127.0.0.1", false)] {
        let app_port = common::free_port().to_string();
        let mut mesh = SidecarProcess::spawn(
            &[
                ("APP_PORT", app_port.as_str()),
                ("HEROKU_PRIVATE_IP", "127.0.0.2"),
                ("PATH", "/usr/bin:/bin"),
            ],
            &[
                "--dev",
                "--port",
                "0",
                "--",
                &test_app::command(),
                "--listen-host",
                host,
            ],
        );
        let addr = mesh.wait_listening();
        assert_eq!(send(addr, "GET", "/", &[], "").await.status, 200);
        let output = mesh.wait_for_output("in this Private Space");
        let warning = format!(
            "the app listens on every interface (0.0.0.0:{app_port}): in this Private Space other dynos can call it at 127.0.0.2:{app_port} around the sidecar"
        );
        assert_eq!(output.contains(&warning), exposed, "{host}: {output}");
        assert_eq!(
            output.contains("make the app listen on 127.0.0.1 only"),
            exposed,
            "{host}: {output}"
        );
        assert_eq!(
            output.contains("other dynos cannot call the app around the sidecar"),
            !exposed,
            "{host}: {output}"
        );
    }
}

/// The app's command line stays out of the log (docs/behaviour.md §7): the start-up line names
/// the program only, also for a one-string command, whose first program is named rather than the
/// whole string (or the shell, when quotes make its words uncertain).
#[tokio::test]
async fn the_start_line_names_the_program_never_its_arguments() {
    let app = test_app::command();
    for (one_string, program) in [
        (
            format!("{app} --listen-host 127.0.0.1 # --api-key=s3cret"),
            app.clone(),
        ),
        (
            format!("DB_PASSWORD='s3cret horse' {app}"),
            "/bin/sh".to_string(),
        ),
    ] {
        let app_port = common::free_port().to_string();
        let mut mesh = SidecarProcess::spawn(
            &[("APP_PORT", app_port.as_str()), ("PATH", "/usr/bin:/bin")],
            &["--dev", "--port", "0", "--", &one_string],
        );
        let addr = mesh.wait_listening();
        assert_eq!(send(addr, "GET", "/", &[], "").await.status, 200);
        let output = mesh.wait_for_output("started the app");
        let line = output
            .lines()
            .find(|line| line.contains("started the app"))
            .unwrap();
        assert!(line.contains(&format!("program={program} ")), "{line}");
        mesh.terminate();
        assert!(!mesh.output().contains("s3cret"), "{}", mesh.output());
    }
}
