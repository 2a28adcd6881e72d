//! The command line as a user meets it, with the built binary: version, help, usage and
//! configuration errors with their exit codes, `--check` and its warnings, misplaced options.

use crate::common;

use std::process::Command;

use common::sidecar::{TOKEN, binary, run_binary as run, temp_file};

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
            env!("CARGO_PKG_VERSION")
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

/// `--check` with nothing set: each setting's default, keyed by its YAML key or variable name.
fn defaults_from_check() -> std::collections::HashMap<String, String> {
    let output = run(&[], &["--dev", "--check"]);
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_suffix("  # default"))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The configuration key `--check` prints for a name in `--help` or the README.
fn key_of(name: &str) -> &str {
    match name {
        "PORT" => "port",
        "APP_PORT" => "app.port",
        name => name,
    }
}

// The defaults are named once in the code (`src/config/defaults.rs`); `--help` and the README's
// tables are written by hand, so they are read back here against what `--check` prints.

/// --help: `NAME   meaning [default: VALUE]`.
#[test]
fn help_gives_the_defaults_check_prints() {
    let defaults = defaults_from_check();
    assert!(defaults.len() > 20, "{defaults:?}");
    let help = String::from_utf8(run(&[], &["--help"]).stdout).unwrap();
    let mut checked = 0;
    for line in help.lines() {
        let (Some(name), Some((_, value))) = (
            line.split_whitespace().next(),
            line.split_once("[default: "),
        ) else {
            continue;
        };
        let value = value.trim_end_matches(']');
        let name = key_of(name);
        match defaults.get(name) {
            Some(shown) if !shown.starts_with('(') => {
                assert_eq!(value, shown, "--help gives {name} the default {value}");
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(
        checked >= 5,
        "only {checked} defaults found in --help:\n{help}"
    );
}

/// README: `| `key` | default | meaning |` rows of the two configuration tables.
#[test]
fn readme_gives_the_defaults_check_prints() {
    let defaults = defaults_from_check();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut checked = 0;
    for row in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (key, written) = (key_of(cells[1].trim_matches('`')), cells[2]);
        match defaults.get(key) {
            Some(shown) if !shown.starts_with('(') => {
                // `10s`, 10000, `0s` (off): the value is the first word, backticks aside.
                let value = written.split(' ').next().unwrap().trim_matches('`');
                assert_eq!(value, shown, "README gives {key} the default {written:?}");
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 20, "only {checked} defaults found in README.md");
}

const ADDON: [(&str, &str); 2] = [
    ("HEROKU_APPLINK_API_URL", "https://applink.example/addons/1"),
    ("HEROKU_APPLINK_TOKEN", TOKEN),
];

/// Runs the binary and checks it exits 64 with one line on stderr naming `needle`, and no token.
fn exits_64_with_one_line(env: &[(&str, &str)], args: &[&str], needle: &str) {
    let output = run(env, args);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(64), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(!stderr.contains(TOKEN));
}

#[test]
fn usage_errors_exit_64_with_one_line() {
    exits_64_with_one_line(&ADDON, &["--bogus"], "--bogus");
    exits_64_with_one_line(&ADDON, &["--port", "http"], "--port");
    exits_64_with_one_line(&[], &[], "HEROKU_APPLINK_API_URL");
    let port = [ADDON.as_slice(), &[("PORT", "3000")]].concat();
    exits_64_with_one_line(&port, &[], "proxy to itself");
    exits_64_with_one_line(&[("DYNO", "web.1")], &["--dev"], "dev mode is refused");
    let dev_variable = [
        ("DYNO", "web.1"),
        ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true"),
    ];
    assert_eq!(run(&dev_variable, &[]).status.code(), Some(64));
    let xml = [
        ADDON.as_slice(),
        &[("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT", "xml")],
    ]
    .concat();
    exits_64_with_one_line(&xml, &[], "LOG_FORMAT");
}

#[test]
fn configuration_file_errors_exit_64_with_one_line() {
    let bad_yaml = temp_file("bad.yaml", "mesh:\n  healthcheck:\n    enabled: true\n");
    exits_64_with_one_line(&ADDON, &["--config", bad_yaml.to_str().unwrap()], "enabled");
    let map_route = temp_file(
        "map-route.yaml",
        "mesh:\n  authentication:\n    bypassRoutes:\n      - pathPrefix: /api/\n",
    );
    let map_route = map_route.to_str().unwrap();
    exits_64_with_one_line(&ADDON, &["--config", map_route], "map-route.yaml, line 4: ");
    let missing = "/does/not/exist.yaml";
    exits_64_with_one_line(&ADDON, &["--config", missing], missing);
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

/// `--config YAML [--check] -- /nonexistent/app --port PORT`: the app command holds the port the
/// environment gives the sidecar.
fn check_or_start<'a>(yaml: &'a str, port: &'a str, check: bool) -> Vec<&'a str> {
    let mut args = vec!["--config", yaml];
    if check {
        args.push("--check");
    }
    args.extend(["--", "/nonexistent/app", "--port", port]);
    args
}

#[test]
fn check_prints_the_warnings_a_start_would_log() {
    let yaml = temp_file(
        "ignored.yaml",
        "mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n",
    );
    let yaml = yaml.to_str().unwrap();
    let port = common::free_port().to_string();
    let env = [ADDON.as_slice(), &[("PORT", port.as_str())]].concat();
    let output = run(&env, &check_or_start(yaml, &port, true));
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
    let output = run(&env, &check_or_start(yaml, &port, false));
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
                "options go before the app command: heroku-applink-service-mesh --dev -- npm …"
            ),
        "{stderr}"
    );
}

/// `--check` shows the app command with its secrets masked: its output is pasted into tickets.
#[test]
fn check_masks_the_app_commands_secrets() {
    let output = run(
        &[],
        &[
            "--dev",
            "--check",
            "--",
            "node",
            "app.js",
            "--token=s3cret",
            "--password",
            "s3cret",
            "postgres://u:s3cret@db/x",
        ],
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("app command = "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!line.contains("s3cret"), "{line}");
    assert!(
        line.contains(r#""--token=***", "--password", "***", "postgres://***@db/x""#),
        "{line}"
    );
}
