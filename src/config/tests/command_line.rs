//! The command line: options after the app command are named, with where they belong.

use super::*;

#[test]
fn options_after_the_app_command_are_named() {
    let cli = Flags {
        command: vec!["npm".into(), "start".into(), "--dev".into()],
        ..cli_with_file(None)
    };
    let hint = "options go before the app command: heroku-applink-service-mesh --dev -- npm …";
    // Without the add-on, the error says why dev mode is not on.
    let err = load_with(&cli, &env(&[("HEROKU_APPLINK_API_URL", "")])).unwrap_err();
    assert!(
        err.0.contains("`--dev` is written after the app command") && err.0.ends_with(hint),
        "{err}"
    );
    // With it, a warning.
    let config = load_with(&cli, &env(&[])).unwrap();
    assert!(
        config.warnings.iter().any(|w| w.ends_with(hint)),
        "{:?}",
        config.warnings
    );
    let cli = Flags {
        command: vec![
            "node".into(),
            "--config".into(),
            "x.yaml".into(),
            "app.js".into(),
        ],
        ..cli_with_file(None)
    };
    let config = load_with(&cli, &env(&[])).unwrap();
    assert!(
        config.warnings[0].ends_with("heroku-applink-service-mesh --config x.yaml -- node …"),
        "{:?}",
        config.warnings
    );
    // The rest of the command is never shown: it may hold secrets.
    let cli = Flags {
        command: ["node", "app.js", "--api-key=s3cret", "--dev"]
            .iter()
            .map(|w| w.to_string())
            .collect(),
        ..cli_with_file(None)
    };
    let config = load_with(&cli, &env(&[])).unwrap();
    assert!(
        config.warnings[0].ends_with("heroku-applink-service-mesh --dev -- node …")
            && !config.warnings[0].contains("s3cret"),
        "{:?}",
        config.warnings
    );
    // The app's own options, even spelt like the sidecar's: nothing to say.
    for command in [
        &["uvicorn", "--port", "3000"][..],
        &["gunicorn", "--config", "gunicorn.conf.py", "app:app"],
        &["node", "app.js", "--config=settings.json"],
    ] {
        let cli = Flags {
            command: command.iter().map(|w| w.to_string()).collect(),
            ..cli_with_file(None)
        };
        let config = load_with(&cli, &env(&[])).unwrap();
        assert!(
            config.warnings.is_empty(),
            "{command:?}: {:?}",
            config.warnings
        );
    }
    // The note goes with a missing add-on only, not with other errors.
    let cli = Flags {
        command: vec!["npm".into(), "start".into(), "--dev".into()],
        ..cli_with_file(None)
    };
    let err = load_with(&cli, &env(&[("HEROKU_APPLINK_SERVICE_MESH_DEV", "maybe")])).unwrap_err();
    assert!(
        err.0.starts_with("HEROKU_APPLINK_SERVICE_MESH_DEV="),
        "{err}"
    );
    assert!(!err.0.contains("Note:"), "{err}");
}
