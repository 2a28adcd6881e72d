//! Settings from the environment, the flags and their defaults: ports, modes, booleans, workers, budgets and logs.

use super::*;

#[test]
fn defaults() {
    let config = load(&[]).unwrap();
    assert_eq!(config.port, 8070);
    assert_eq!(config.app.port, 3000);
    assert_eq!(config.app.base_uri(), "http://127.0.0.1:3000");
    assert_eq!(config.health_route.as_deref(), Some("/healthcheck"));
    assert!(config.auth.verify_client_context);
    assert_eq!(config.timeouts.header_read, Duration::from_secs(10));
    assert_eq!(config.timeouts.idle, Duration::from_secs(100));
    assert_eq!(config.timeouts.app_pool_idle, Duration::from_millis(1500));
    // Under Heroku's 30 s router timeout and an Apex callout's 10 s.
    assert_eq!(config.timeouts.app_response, Duration::from_secs(28));
    assert_eq!(config.timeouts.auth, Duration::from_secs(5));
    assert_eq!(config.limits.data_action_target_body, 10 << 20);
    assert_eq!(config.limits.header_bytes, 64 << 10);
    assert_eq!(config.auth.cache_max_ttl, Duration::ZERO);
    let api = default_attachment(&config);
    assert_eq!(api.base_url, "https://applink.example/addons/1234");
}

#[test]
fn ports_from_env_flag_and_file() {
    assert_eq!(load(&[("PORT", "5000")]).unwrap().port, 5000);
    let cli = Flags {
        port: Some(6000),
        ..cli_with_file(None)
    };
    assert_eq!(
        load_with(&cli, &env(&[("PORT", "5000")])).unwrap().port,
        6000
    );
    assert_eq!(
        load_file("app:\n  port: 4000\n", &[]).unwrap().app.port,
        4000
    );
    assert_eq!(
        load_file("app:\n  port: \"4000\"\n", &[("APP_PORT", "4100")])
            .unwrap()
            .app
            .port,
        4100
    );
    assert!(load(&[("PORT", "http")]).unwrap_err().0.contains("PORT"));
}

#[test]
fn same_public_and_app_port_is_refused() {
    let err = load(&[("PORT", "3000")]).unwrap_err();
    assert!(err.0.contains("proxy to itself"), "{err}");
    let cli = Flags {
        port: Some(0),
        ..cli_with_file(None)
    };
    assert!(load_with(&cli, &env(&[("APP_PORT", "3000")])).is_ok());
}

#[test]
fn app_port_zero_is_refused() {
    let err = load(&[("APP_PORT", "0")]).unwrap_err();
    assert!(
        err.0.starts_with("APP_PORT=0: the app needs a fixed port"),
        "{err}"
    );
    let err = load_file("app:\n  port: 0\n", &[]).unwrap_err();
    assert!(
        err.0
            .contains(", line 2: app.port: the app needs a fixed port"),
        "{err}"
    );
}

#[test]
fn dev_mode_needs_no_addon_and_is_refused_on_a_dyno() {
    let vars = env(&[
        ("HEROKU_APPLINK_API_URL", ""),
        ("HEROKU_APPLINK_TOKEN", ""),
        ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true"),
    ]);
    assert!(load_with(&cli_with_file(None), &vars).unwrap().is_dev());
    let cli = Flags {
        dev: true,
        ..cli_with_file(None)
    };
    let err = load_with(&cli, &env(&[("DYNO", "web.1")])).unwrap_err();
    assert!(err.0.contains("DYNO=web.1"), "{err}");
    let vars = env(&[("HEROKU_APPLINK_SERVICE_MESH_DEV", "1"), ("DYNO", "web.1")]);
    assert!(load_with(&cli_with_file(None), &vars).is_err());
}

#[test]
fn go_booleans_and_the_error_for_other_spellings() {
    let config = load(&[("HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES", "T")]).unwrap();
    assert!(config.auth.bypass_all);
    for name in [
        "HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES",
        "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
        "HEROKU_APPLINK_SERVICE_MESH_DEV",
    ] {
        let err = load(&[(name, "yes")]).unwrap_err();
        assert!(
            err.0.starts_with(&format!(
                "{name}=\"yes\" is not a boolean: use true or false"
            )),
            "{err}"
        );
    }
    // A misspelt dev flag is not hidden behind the missing add-on.
    let err = load(&[
        ("HEROKU_APPLINK_API_URL", ""),
        ("HEROKU_APPLINK_SERVICE_MESH_DEV", "on"),
    ])
    .unwrap_err();
    assert!(err.0.contains("HEROKU_APPLINK_SERVICE_MESH_DEV"), "{err}");
    let config = load(&[("HEROKU_APPLINK_SERVICE_MESH_DEV", "")]).unwrap();
    assert!(!config.is_dev() && config.warnings.is_empty());
}

#[test]
fn worker_threads_can_be_set() {
    assert_eq!(load(&[]).unwrap().workers, None);
    let two = load(&[("HEROKU_APPLINK_SERVICE_MESH_WORKERS", "2")]).unwrap();
    assert_eq!(two.workers, Some(2));
    for bad in ["0", "-1", "two", "5000"] {
        let err = load(&[("HEROKU_APPLINK_SERVICE_MESH_WORKERS", bad)]).unwrap_err();
        assert!(
            err.0.contains("HEROKU_APPLINK_SERVICE_MESH_WORKERS"),
            "{err}"
        );
    }
}

#[test]
fn the_body_budget_holds_at_least_one_body_being_checked() {
    assert_eq!(load(&[]).unwrap().limits.buffered_bodies, 64 << 20);
    let load_yaml = |yaml: &str| load_with(&cli_with_file(Some(write_file(yaml))), &env(&[]));
    // Twice 1 MiB plus eight times 64 KiB: 2.5 MiB.
    let err =
        load_yaml("mesh:\n  limits:\n    dataActionTargetBody: 1MiB\n    bufferedBodies: 2MiB\n")
            .unwrap_err();
    assert!(
        err.0.contains("bufferedBodies") && err.0.contains("twice"),
        "{err}"
    );
    let config = load_yaml(
        "mesh:\n  limits:\n    dataActionTargetBody: 1MiB\n    bufferedBodies: 2560KiB\n",
    )
    .unwrap();
    assert_eq!(config.limits.buffered_bodies, 2560 << 10);
    let err =
        load_yaml("mesh:\n  limits:\n    dataActionTargetBody: 2GiB\n    bufferedBodies: 8GiB\n")
            .unwrap_err();
    assert!(err.0.contains("at most 1GiB"), "{err}");
}

#[test]
fn log_settings_are_validated() {
    assert!(
        load(&[("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT", "json")])
            .unwrap()
            .log
            .json
    );
    assert!(load(&[("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT", "xml")]).is_err());
    assert!(load(&[("HEROKU_APPLINK_SERVICE_MESH_LOG", "debug,hyper=info")]).is_ok());
    assert!(load(&[("HEROKU_APPLINK_SERVICE_MESH_LOG", "[[[")]).is_err());
}
