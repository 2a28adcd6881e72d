//! The YAML file: its values and their messages (file and line), bypass routes and their acknowledgement, and `--check`, which spells every setting as the file does.

use super::*;

#[test]
fn file_messages_carry_the_file_and_line() {
    let path = write_file("# timeouts\nmesh:\n  timeouts:\n    auth: 2s\n    idle: 10 sec\n");
    let err = load_with(&cli_with_file(Some(path.clone())), &env(&[])).unwrap_err();
    assert_eq!(
        err.0,
        format!(
            "{}, line 5: mesh.timeouts.idle: '10 sec' has an unknown duration unit 'sec' (use ms, s, m or h)",
            path.display()
        )
    );
    for (yaml, line, needle) in [
        ("mesh:\n  port: 3000\n", 2, "belongs at app.port"),
        ("mesh:\n\ttimeouts: {}\n", 2, "indent with spaces, not tabs"),
        (
            "mesh:\n  limits:\n    headerBytes: 12\n",
            3,
            "headerBytes: must be at least 1KiB",
        ),
        (
            "\n\napp:\n  host: https://x\n",
            4,
            "app.host: 'https://x' must be",
        ),
    ] {
        let err = load_file(yaml, &[]).unwrap_err();
        assert!(
            err.0.contains(&format!(".yaml, line {line}: ")) && err.0.contains(needle),
            "{yaml:?} gave {err}"
        );
    }
}

#[test]
fn file_values_are_parsed_and_checked() {
    let yaml = "app:\n  host: localhost\nmesh:\n  healthcheck: { enable: false }\n  timeouts:\n    idle: 2m\n    appPoolIdle: 500ms\n    auth: \"3\"\n  limits:\n    dataActionTargetBody: 1MiB\n  authentication:\n    verifyClientContext: false\n    cache: { maxTtl: 30s, maxEntries: 5 }\n";
    let config = load_file(yaml, &[]).unwrap();
    assert_eq!(config.app.host, "localhost");
    assert_eq!(config.health_route, None);
    assert_eq!(config.timeouts.idle, Duration::from_secs(120));
    assert_eq!(config.timeouts.app_pool_idle, Duration::from_millis(500));
    assert_eq!(config.timeouts.auth, Duration::from_secs(3));
    assert_eq!(config.limits.data_action_target_body, 1 << 20);
    assert!(!config.auth.verify_client_context);
    assert_eq!(config.auth.cache_max_ttl, Duration::from_secs(30));
    assert_eq!(config.auth.cache_max_entries, 5);
}

#[test]
#[rustfmt::skip]
fn a_bad_file_value_is_named_by_its_key_or_line() {
    for (yaml, needle) in [
        ("mesh:\n  timeouts:\n    idle: forever\n", "mesh.timeouts.idle"),
        ("mesh:\n  timeouts:\n    auth: 0s\n", "mesh.timeouts.auth"),
        ("mesh:\n  limits:\n    headerBytes: 12XB\n", "mesh.limits.headerBytes"),
        ("mesh:\n  healthcheck:\n    route: health\n", "mesh.healthcheck.route"),
        ("app:\n  host: https://x\n", "app.host"),
        ("app:\n  host: \"127.0.0.1:3000\"\n", "app.host"),
        ("mesh:\n  authentication:\n    bypassRoutes: [public]\n", "bypassRoutes"),
        ("mesh:\n  healthcheck:\n    enable: maybe\n", "mesh.healthcheck.enable"),
        ("mesh:\n  timeout:\n    idle: 1s\n", "line 2"),
        ("app: [1, 2]\n", "app"),
    ] {
        let err = load_file(yaml, &[]).unwrap_err();
        assert!(err.0.contains(needle), "{yaml:?} gave {err}");
    }
}

#[test]
fn explicit_missing_file_is_an_error() {
    let cli = Flags {
        config: Some(PathBuf::from("/nonexistent/mesh.yaml")),
        ..Flags::default()
    };
    let err = load_with(&cli, &env(&[])).unwrap_err();
    assert!(err.0.contains("/nonexistent/mesh.yaml"), "{err}");
}

#[test]
fn bypass_routes_need_the_acknowledgement() {
    let yaml = "mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\", /favicon.ico]\n";
    let config = load_file(yaml, &[]).unwrap();
    assert!(config.auth.bypass_routes.is_empty());
    assert_eq!(
        config.auth.ignored_bypass_routes,
        [
            BypassRoute::any_method("/public/**"),
            BypassRoute::any_method("/favicon.ico")
        ]
    );
    let config = load_file(
        yaml,
        &[(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )],
    )
    .unwrap();
    assert_eq!(
        config.auth.bypass_routes,
        [
            BypassRoute::any_method("/public/**"),
            BypassRoute::any_method("/favicon.ico")
        ]
    );
    assert!(config.auth.ignored_bypass_routes.is_empty());
}

#[test]
fn check_spells_every_setting_as_the_file_does_with_its_origin() {
    let yaml = "mesh:\n  timeouts:\n    idle: 2m\n  limits:\n    headerBytes: 32KiB\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n";
    let path = write_file(yaml);
    let cli = Flags {
        port: Some(5000),
        ..cli_with_file(Some(path))
    };
    let config = load_with(&cli, &env(&[("APP_PORT", "4000")])).unwrap();
    let text = config.describe();
    for line in [
        "port = 5000  # command line --port",
        "mode = production  # default",
        "app.port = 4000  # env APP_PORT",
        "mesh.timeouts.idle = 120s  # file, line 3",
        "mesh.timeouts.headerRead = 10s  # default",
        "mesh.timeouts.appPoolIdle = 1500ms  # default",
        "mesh.timeouts.send = 60s  # default",
        "mesh.limits.dataActionTargetBody = 10MiB  # default",
        "mesh.limits.headerBytes = 32KiB  # file, line 5",
        "mesh.authentication.bypassRoutes = [\"/public/**\"]  # file; IGNORED",
        "HEROKU_APPLINK_SERVICE_MESH_LOG = info  # default",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no {line:?} in\n{text}"
        );
    }
    // Every key the file may hold is shown once.
    for (key, _) in crate::config::file::KEYS {
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with(&format!("{key} = ")))
                .count(),
            1,
            "{key}"
        );
    }
    assert!(!text.contains(TOKEN));
}

#[test]
fn the_file_keys_are_the_ones_check_knows() {
    // One file that sets every key: keys_set must name all of them, in the same order.
    let yaml = String::from(
        "app:\n  port: 4000\n  host: localhost\nmesh:\n  authentication:\n    bypassRoutes: []\n    verifyClientContext: true\n    cache:\n      maxTtl: 1s\n      maxEntries: 5\n  healthcheck:\n    enable: true\n    route: /h\n  timeouts:\n    headerRead: 1s\n    idle: 1s\n    auth: 1s\n    appResponse: 1s\n    appBoot: 1s\n    drain: 1s\n    appPoolIdle: 1s\n    send: 1s\n  limits:\n    dataActionTargetBody: 1KiB\n    bufferedBodies: 1MiB\n    headerBytes: 1KiB\n    maxInFlightRequests: 1\n",
    );
    let file = crate::config::file::parse("f.yaml", &yaml).unwrap();
    let every_key = crate::config::file::KEYS.map(|(key, _)| key);
    assert_eq!(crate::config::file_values::keys_set(&file), every_key);
}
