//! The command line: options after the app command are named, with where they belong.

use super::*;

#[test]
fn options_after_the_app_command_are_named() {
    let cli = with_command(&["npm", "start", "--dev"]);
    let hint = "options go before the app command: heroku-applink-service-mesh --dev -- npm …";
    // Without the add-on, the error says why dev mode is not on.
    let err = load_with(&cli, &env(&[("HEROKU_APPLINK_API_URL", "")])).unwrap_err();
    let explained = err.0.contains("`--dev` is written after the app command");
    assert!(explained && err.0.ends_with(hint), "{err}");
    // With it, a warning.
    let warnings = warnings_for(&["npm", "start", "--dev"]);
    assert!(warnings.iter().any(|w| w.ends_with(hint)), "{warnings:?}");
    let warnings = warnings_for(&["node", "--config", "x.yaml", "app.js"]);
    let fix = "heroku-applink-service-mesh --config x.yaml -- node …";
    assert!(warnings[0].ends_with(fix), "{warnings:?}");
    // The rest of the command is never shown: it may hold secrets.
    let warnings = warnings_for(&["node", "app.js", "--api-key=s3cret", "--dev"]);
    let fix = "heroku-applink-service-mesh --dev -- node …";
    assert!(
        warnings[0].ends_with(fix) && !warnings[0].contains("s3cret"),
        "{warnings:?}"
    );
}

#[test]
fn the_apps_own_options_are_left_alone() {
    // Even spelt like the sidecar's: nothing to say.
    for command in [
        &["uvicorn", "--port", "3000"][..],
        &["gunicorn", "--config", "gunicorn.conf.py", "app:app"],
        &["node", "app.js", "--config=settings.json"],
    ] {
        let warnings = warnings_for(command);
        assert!(warnings.is_empty(), "{command:?}: {warnings:?}");
    }
}

#[test]
fn the_misplaced_dev_note_goes_with_a_missing_addon_only() {
    let cli = with_command(&["npm", "start", "--dev"]);
    let err = load_with(&cli, &env(&[("HEROKU_APPLINK_SERVICE_MESH_DEV", "maybe")])).unwrap_err();
    assert!(
        err.0.starts_with("HEROKU_APPLINK_SERVICE_MESH_DEV="),
        "{err}"
    );
    assert!(!err.0.contains("Note:"), "{err}");
}

/// The command line with `command` as the app command and no file.
fn with_command(command: &[&str]) -> Flags {
    Flags {
        command: command.iter().map(|w| w.to_string()).collect(),
        ..cli_with_file(None)
    }
}

/// The start-up warnings with `command` as the app command, the add-on attached.
fn warnings_for(command: &[&str]) -> Vec<String> {
    load_with(&with_command(command), &env(&[]))
        .unwrap()
        .warnings
}
