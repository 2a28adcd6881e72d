use std::collections::HashMap;

use super::*;

const TOKEN: &str = "tok-very-secret-123";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = [
        (
            "HEROKU_APPLINK_API_URL",
            "https://applink.example/addons/1234/",
        ),
        ("HEROKU_APPLINK_TOKEN", TOKEN),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in pairs {
        if v.is_empty() {
            map.remove(*k);
        } else {
            map.insert(k.to_string(), v.to_string());
        }
    }
    map
}

fn default_attachment(config: &Config) -> &ApiConfig {
    let Mode::Production(attachments) = &config.mode else {
        panic!("production expected")
    };
    attachments.iter().next().unwrap()
}

fn load_with(flags: &Flags, vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
    Config::load(flags, vars)
}

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_with(&cli_with_file(None), &env(pairs))
}

fn cli_with_file(file: Option<PathBuf>) -> Flags {
    // Point at a file that cannot exist so the working directory's file is never read.
    Flags {
        config: Some(file.unwrap_or_else(|| write_file(""))),
        ..Flags::default()
    }
}

fn write_file(text: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "applink-mesh-config-{}-{n}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

fn load_file(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_with(&cli_with_file(Some(write_file(text))), &env(pairs))
}

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
fn missing_addon_names_the_variables_and_the_fix() {
    let err = load(&[("HEROKU_APPLINK_TOKEN", "")]).unwrap_err();
    assert!(
        err.0.contains("HEROKU_APPLINK_API_URL") && err.0.contains("HEROKU_APPLINK_TOKEN"),
        "{err}"
    );
    assert!(err.0.contains("--dev") && err.0.contains("add-on"), "{err}");
}

#[test]
fn renamed_attachment() {
    let config = load(&[
        ("HEROKU_APPLINK_API_URL", ""),
        ("HEROKU_APPLINK_TOKEN", ""),
        ("HEROKU_APPLINK_SERVICE_MESH_ADDON", "HEROKU_APPLINK_PURPLE"),
        (
            "HEROKU_APPLINK_PURPLE_API_URL",
            "https://purple.example/addons/9",
        ),
        ("HEROKU_APPLINK_PURPLE_TOKEN", "t"),
    ])
    .unwrap();
    assert_eq!(
        default_attachment(&config).base_url,
        "https://purple.example/addons/9"
    );
    let err = load(&[("HEROKU_APPLINK_SERVICE_MESH_ADDON", "OTHER")]).unwrap_err();
    assert!(err.0.contains("OTHER_API_URL"), "{err}");
}

#[test]
fn api_url_must_be_https_unless_loopback() {
    assert!(load(&[("HEROKU_APPLINK_API_URL", "http://applink.example/x")]).is_err());
    assert!(load(&[("HEROKU_APPLINK_API_URL", "http://127.0.0.1:9/x")]).is_ok());
    assert!(load(&[("HEROKU_APPLINK_API_URL", "ftp://x")]).is_err());
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

    for (yaml, needle) in [
        (
            "mesh:\n  timeouts:\n    idle: forever\n",
            "mesh.timeouts.idle",
        ),
        ("mesh:\n  timeouts:\n    auth: 0s\n", "mesh.timeouts.auth"),
        (
            "mesh:\n  limits:\n    headerBytes: 12XB\n",
            "mesh.limits.headerBytes",
        ),
        (
            "mesh:\n  healthcheck:\n    route: health\n",
            "mesh.healthcheck.route",
        ),
        ("app:\n  host: https://x\n", "app.host"),
        ("app:\n  host: \"127.0.0.1:3000\"\n", "app.host"),
        (
            "mesh:\n  authentication:\n    bypassRoutes: [public]\n",
            "bypassRoutes",
        ),
        (
            "mesh:\n  healthcheck:\n    enable: maybe\n",
            "mesh.healthcheck.enable",
        ),
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

#[test]
fn the_token_is_never_shown() {
    let config = load(&[]).unwrap();
    assert!(!format!("{config:?}").contains(TOKEN));
    assert!(!config.describe().contains(TOKEN));
    assert!(config.describe().contains("<redacted>"));
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
fn the_sdks_addon_variable_names_the_attachment() {
    let purple = [
        ("HEROKU_APPLINK_API_URL", ""),
        ("HEROKU_APPLINK_TOKEN", ""),
        ("HEROKU_APPLINK_ADDON_NAME", "HEROKU_APPLINK_PURPLE"),
        (
            "HEROKU_APPLINK_PURPLE_API_URL",
            "https://purple.example/addons/9",
        ),
        ("HEROKU_APPLINK_PURPLE_TOKEN", "t"),
    ];
    let config = load(&purple).unwrap();
    assert_eq!(
        default_attachment(&config).attachment,
        "HEROKU_APPLINK_PURPLE"
    );
    // The sidecar's own variable still wins.
    let mut both = purple.to_vec();
    both.push(("HEROKU_APPLINK_SERVICE_MESH_ADDON", "OTHER"));
    let err = load(&both).unwrap_err();
    assert!(err.0.contains("OTHER_API_URL"), "{err}");
}

#[test]
fn half_an_attachment_names_the_missing_variable() {
    let err = load(&[("HEROKU_APPLINK_TOKEN", "")]).unwrap_err();
    assert!(
        err.0.starts_with("HEROKU_APPLINK_TOKEN is not set"),
        "{err}"
    );
    let err = load(&[("HEROKU_APPLINK_API_URL", "")]).unwrap_err();
    assert!(
        err.0.starts_with("HEROKU_APPLINK_API_URL is not set"),
        "{err}"
    );
    let err = load(&[("HEROKU_APPLINK_API_URL", ""), ("HEROKU_APPLINK_TOKEN", "")]).unwrap_err();
    assert!(err.0.contains("heroku local"), "{err}");
}

#[test]
fn every_attachment_is_discovered_the_default_first() {
    let config = load(&[
        ("HEROKU_APPLINK_ADDON_NAME", "HEROKU_APPLINK_PURPLE"),
        (
            "HEROKU_APPLINK_PURPLE_API_URL",
            "https://applink.example/addons/AAAA-0001/",
        ),
        ("HEROKU_APPLINK_PURPLE_TOKEN", "purple"),
        (
            "HEROKU_APPLINK_GREEN_API_URL",
            "https://applink.example/addons/bbbb-0002",
        ),
        ("HEROKU_APPLINK_GREEN_TOKEN", "green"),
        // The default add-on attached again under another name: used once.
        (
            "HEROKU_APPLINK_AGAIN_API_URL",
            "https://applink.example/addons/aaaa-0001",
        ),
        ("HEROKU_APPLINK_AGAIN_TOKEN", "purple"),
        // No token, or no add-on in the URL: not attachments.
        (
            "HEROKU_APPLINK_HALF_API_URL",
            "https://applink.example/addons/cccc",
        ),
        ("STRIPE_API_URL", "https://api.stripe.example/v1"),
        ("STRIPE_TOKEN", "sk"),
    ])
    .unwrap();
    let Mode::Production(attachments) = &config.mode else {
        panic!("production expected")
    };
    let found: Vec<(&str, Option<&str>)> = attachments
        .iter()
        .map(|a| (a.attachment.as_str(), a.addon_uuid.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("HEROKU_APPLINK_PURPLE", Some("aaaa-0001")),
            ("HEROKU_APPLINK", Some("1234")),
            ("HEROKU_APPLINK_GREEN", Some("bbbb-0002")),
        ]
    );
    let described = config.describe();
    assert!(
        described.contains("attachment HEROKU_APPLINK_GREEN = https://applink.example/addons/bbbb-0002 (by addonUuid"),
        "{described}"
    );
    for secret in [TOKEN, "purple", "green"] {
        assert!(!described.contains(&format!("= {secret}")), "{described}");
        assert!(!described.contains(&format!(" {secret}\n")), "{described}");
    }
}

#[test]
fn only_the_default_attachments_host_holds_other_attachments() {
    let config = load(&[
        // Another service whose URL happens to have an /addons/ segment.
        ("VENDOR_API_URL", "https://hooks.vendor.example/addons/ab12"),
        ("VENDOR_TOKEN", "vendor"),
        // The AppLink host, but plain http.
        (
            "HEROKU_APPLINK_GREEN_API_URL",
            "http://applink.example/addons/bbbb",
        ),
        ("HEROKU_APPLINK_GREEN_TOKEN", "green"),
    ])
    .unwrap();
    let Mode::Production(attachments) = &config.mode else {
        panic!("production expected")
    };
    assert_eq!(attachments.iter().count(), 1);
    let warned = |start: &str, end: &str| {
        config
            .warnings
            .iter()
            .any(|w| w.starts_with(start) && w.ends_with(end))
    };
    assert!(
        warned(
            "VENDOR_API_URL names an add-on on another host than HEROKU_APPLINK_API_URL",
            "not used as an AppLink attachment"
        ),
        "{:?}",
        config.warnings
    );
    assert!(
        warned(
            "HEROKU_APPLINK_GREEN_API_URL must use https",
            "the attachment HEROKU_APPLINK_GREEN is not used"
        ),
        "{:?}",
        config.warnings
    );
}

#[test]
fn the_addon_uuid_is_read_from_the_attachment_url() {
    use super::env::addon_uuid;
    assert_eq!(
        addon_uuid("https://h/addons/1D0C-2f7e").as_deref(),
        Some("1d0c-2f7e")
    );
    assert_eq!(
        addon_uuid("https://h/v1/addons/abc/x").as_deref(),
        Some("abc")
    );
    for url in [
        "https://h/addons/",
        "https://h/addons/not-a-uuid!",
        "https://h/addon/abc",
        "https://h",
        "not a url",
    ] {
        assert_eq!(addon_uuid(url), None, "{url}");
    }
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
    for (key, _) in super::file::KEYS {
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
    let file = super::file::parse("f.yaml", &yaml).unwrap();
    let every_key = super::file::KEYS.map(|(key, _)| key);
    assert_eq!(super::file_values::keys_set(&file), every_key);
}
