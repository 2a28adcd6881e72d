//! The arguments a shell should have filled in: each kind named, the fix given, nothing else of the
//! command shown, and nothing said of a command that is right.

use super::{dangling_port_options, expansion_warnings, literal_port_variables};

fn words(c: &[&str]) -> Vec<String> {
    c.iter().map(|s| s.to_string()).collect()
}

fn empty_expansions(command: &[String], app_port: u16) -> Vec<String> {
    super::empty_expansions(command, app_port)
}

#[test]
fn an_argument_ending_in_a_colon_or_equals_is_named() {
    let warnings = empty_expansions(
        &words(&["./api", "--urls", "http://*:", "--port=", ":", "a=b"]),
        3000,
    );
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("'http://*:'") && warnings[0].contains("(http://*:3000)"),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("'--port='"), "{}", warnings[1]);
    assert!(
        empty_expansions(&words(&["host:"]), 3000).is_empty(),
        "the program itself"
    );
}

/// A secret that ends in `:` or `=` is named masked, its ending kept.
#[test]
fn a_secret_argument_is_named_masked() {
    let warnings = empty_expansions(
        &words(&[
            "app",
            "--token",
            "s3cret:",
            "--api-key=s3cret=",
            "postgres://u:s3cret@db:",
        ]),
        3000,
    );
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].starts_with("the app's argument '***:' ends in ':'"),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("'--api-key=***='"), "{}", warnings[1]);
    assert!(
        warnings[2].contains("'postgres://***@db:'"),
        "{}",
        warnings[2]
    );
    assert!(
        warnings.iter().all(|w| !w.contains("s3cret")),
        "{warnings:?}"
    );
}

#[test]
fn a_port_option_left_without_its_value_is_named() {
    // `APP_PORT=3000 heroku-applink-service-mesh -- rails server --port $APP_PORT` on one line.
    let warnings = dangling_port_options(&words(&["rails", "server", "--port"]), 3000);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("the app's option '--port' has no value after it")
            && warnings[0].contains("(--port 3000)"),
        "{}",
        warnings[0]
    );
    // Followed by another option, the same; `-p` and Go's `-port` too.
    let warnings = dangling_port_options(&words(&["app", "-p", "--workers", "2", "-port"]), 3000);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[1].contains("'-port'"), "{}", warnings[1]);
    // With a value (`-` is one: stdin), an option not for a port, or the program: nothing.
    for fine in [
        &["app", "--port", "3000"][..],
        &["app", "-p", "-"][..],
        &["app", "--portable", "--x"][..],
        &["app", "--workers", "-"][..],
        &["--port"][..],
    ] {
        assert!(
            dangling_port_options(&words(fine), 3000).is_empty(),
            "{fine:?}"
        );
    }
}

#[test]
fn a_port_variable_no_shell_expands_is_named() {
    for (arg, variable) in [
        ("$PORT", "$PORT"),
        ("--port=${PORT}", "$PORT"),
        ("0.0.0.0:$APP_PORT", "$APP_PORT"),
        ("${APP_PORT:-3000}", "$APP_PORT"),
    ] {
        let warnings = literal_port_variables(&words(&["app", "--listen", arg]), 3000);
        assert_eq!(warnings.len(), 1, "{arg}: {warnings:?}");
        assert!(
            warnings[0].starts_with(&format!(
                "the app's argument '{arg}' holds the text {variable}"
            )) && warnings[0].contains("sh -c"),
            "{}",
            warnings[0]
        );
    }
    // Other names, a shell that expands them, or one string (run through /bin/sh -c): nothing.
    for fine in [
        &["app", "$PORTS", "$PORT_X", "PORT", "$HOME"][..],
        &["sh", "-c", "app --port $PORT"][..],
        &["/bin/bash", "-ec", "app --port $PORT"][..],
        &["app --port $PORT"][..],
    ] {
        assert!(
            literal_port_variables(&words(fine), 3000).is_empty(),
            "{fine:?}"
        );
    }
    // A secret beside it stays masked.
    let warnings = literal_port_variables(&words(&["app", "--token", "s3cret$PORT"]), 3000);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(!warnings[0].contains("s3cret"), "{}", warnings[0]);
}

#[test]
fn a_right_command_gets_no_warning() {
    assert!(
        expansion_warnings(
            &words(&["app", "--port", "3000", "--bind", "127.0.0.1"]),
            3000
        )
        .is_empty()
    );
}
