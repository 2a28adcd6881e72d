//! The apps of the language matrix: one small idiomatic app per language in
//! `examples/languages/`, and one per official SDK in `examples/sdk/`, each started by the built
//! sidecar the way that ecosystem's Procfile starts it. Every route but `/healthcheck` and `/slow`
//! answers with what that runtime read (`hostile.rs` says what and why).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::sidecar::{TOKEN, temp_file};
use super::{FakeApi, SidecarProcess};

/// One app and how its Procfile starts it.
pub struct Language {
    pub name: &'static str,
    /// Its folder, under the repository's root.
    pub folder: &'static str,
    /// What it needs that may be missing, and how to get it.
    pub needs: fn() -> Result<(), String>,
    /// The app command after `heroku-applink-service-mesh`, given the app's port.
    pub command: fn(u16) -> Vec<String>,
    /// Variables the app needs beside `PATH`.
    pub env: fn() -> Vec<(&'static str, String)>,
    /// The exit code of the app (and so of the sidecar) after SIGTERM: 0 where the app stops
    /// gracefully, as its ecosystem's guides show; 143 (128 + SIGTERM) where its server is ended
    /// by the signal, as is its default.
    pub exit_on_sigterm: i32,
    /// Whether the app reports CC's `version` member (the SDKs' context objects have none).
    pub reads_version: bool,
    /// Whether the app checks the sidecar's signed assertion (the six language apps; the SDKs
    /// have no such check).
    pub checks_assertion: bool,
}

fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn none() -> Vec<(&'static str, String)> {
    Vec::new()
}

pub const LANGUAGES: [Language; 8] = [
    Language {
        name: "python",
        folder: "examples/languages/python",
        needs: || programs(&["python3"], "python3"),
        command: |_| words(&["python3", "app.py"]),
        env: none,
        exit_on_sigterm: 143,
        reads_version: true,
        checks_assertion: true,
    },
    Language {
        name: "node",
        folder: "examples/languages/node",
        needs: || programs(&["node"], "nodejs"),
        command: |_| words(&["node", "app.js"]),
        env: none,
        exit_on_sigterm: 0,
        reads_version: true,
        checks_assertion: true,
    },
    Language {
        name: "go",
        folder: "examples/languages/go",
        needs: || programs(&["go"], "golang-go"),
        // The Go buildpack builds the app into bin/; here, into target/.
        command: |_| vec![go_binary().to_str().unwrap().to_string()],
        env: none,
        exit_on_sigterm: 0,
        reads_version: true,
        checks_assertion: true,
    },
    Language {
        name: "ruby",
        folder: "examples/languages/ruby",
        needs: || {
            programs(&["ruby", "puma"], "ruby puma ruby-rack")?;
            if succeeds("ruby", &["-e", "require 'rack'"]) {
                Ok(())
            } else {
                Err("Rack is not installed (apt-get install ruby-rack)".into())
            }
        },
        command: |_| words(&["puma", "-C", "config/puma.rb", "config.ru"]),
        env: none,
        exit_on_sigterm: 143,
        reads_version: true,
        checks_assertion: true,
    },
    Language {
        name: "java",
        folder: "examples/languages/java",
        needs: || {
            programs(&["java"], "default-jdk-headless libjackson2-databind-java")?;
            if Path::new("/usr/share/java/jackson-databind.jar").exists() {
                Ok(())
            } else {
                Err("Jackson is not installed (apt-get install libjackson2-databind-java)".into())
            }
        },
        command: |_| {
            words(&[
                "java",
                "-cp",
                "/usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar",
                "App.java",
            ])
        },
        env: none,
        exit_on_sigterm: 143,
        reads_version: true,
        checks_assertion: true,
    },
    Language {
        name: "php",
        folder: "examples/languages/php",
        needs: || programs(&["php"], "php-cli"),
        // As a Procfile writes it: the app's port as a number.
        command: |port| {
            vec![
                "php".into(),
                "-S".into(),
                format!("127.0.0.1:{port}"),
                "index.php".into(),
            ]
        },
        env: none,
        exit_on_sigterm: 143,
        reads_version: true,
        checks_assertion: true,
    },
    Language {
        name: "python-sdk",
        folder: "examples/sdk/python",
        needs: || {
            let python = sdk_python();
            if succeeds(python.to_str().unwrap(), &["-c", "import heroku_applink"]) {
                Ok(())
            } else {
                Err(format!(
                    "the official Python SDK is not installed in {} (bin/test installs it; it needs python3-venv)",
                    python.display()
                ))
            }
        },
        command: |_| vec![sdk_python().to_str().unwrap().to_string(), "app.py".into()],
        env: none,
        exit_on_sigterm: 143,
        reads_version: false,
        checks_assertion: false,
    },
    Language {
        name: "node-sdk",
        folder: "examples/sdk/node",
        needs: || {
            programs(&["node"], "nodejs")?;
            if sdk_node_modules().join("@heroku/applink").exists() {
                Ok(())
            } else {
                Err(format!(
                    "the official Node.js SDK is not installed in {} (bin/test installs it; it needs npm)",
                    sdk_node_modules().display()
                ))
            }
        },
        command: |_| words(&["node", "app.js"]),
        env: || {
            vec![(
                "NODE_PATH",
                sdk_node_modules().to_str().unwrap().to_string(),
            )]
        },
        exit_on_sigterm: 0,
        reads_version: false,
        checks_assertion: false,
    },
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn go_binary() -> PathBuf {
    root().join("target/languages/go-app")
}

/// The venv `bin/test` installs the official Python SDK into.
fn sdk_python() -> PathBuf {
    root().join("target/sdk-python/bin/python")
}

/// Where `bin/test` installs the official Node.js SDK.
fn sdk_node_modules() -> PathBuf {
    root().join("target/sdk-node/node_modules")
}

/// Whether `program` runs with `args` and exits 0.
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

fn on_path(program: &str) -> bool {
    succeeds("sh", &["-c", &format!("command -v {program}")])
}

/// `Err` naming the first of `programs` missing from PATH and the Debian packages to install.
fn programs(programs: &[&str], packages: &str) -> Result<(), String> {
    match programs.iter().find(|program| !on_path(program)) {
        Some(missing) => Err(format!(
            "{missing} is not installed (apt-get install {packages})"
        )),
        None => Ok(()),
    }
}

/// Builds the Go app with the standard library only: no module download.
fn build_go() {
    let target = root().join("target/languages");
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(go_binary())
        .arg(".")
        .current_dir(root().join("examples/languages/go"))
        .env("GOCACHE", target.join("go-cache"))
        .env("GOPATH", target.join("go-path"))
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("HOME", &target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "go build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The sidecar's configuration for the matrix: a public route, and a webhook route bypassed for
/// `POST` only (the risk acknowledged).
const ROUTES: &str = "mesh:\n  authentication:\n    bypassRoutes:\n      - \"/public/**\"\n      - path: /webhooks/**\n        methods: [POST]\n";

/// An app of the matrix running behind the built sidecar, in production mode against a fake
/// AppLink API, with the signed assertion on.
pub struct Running {
    pub language: &'static Language,
    pub api: FakeApi,
    pub mesh: SidecarProcess,
    pub addr: SocketAddr,
    /// Where the app itself listens, for requests that go around the sidecar.
    pub app_port: u16,
}

/// Starts the app `name` behind the sidecar, or `None` (after a skip line) when this machine lacks
/// what it needs.
pub async fn start(name: &str) -> Option<Running> {
    let language = LANGUAGES.iter().find(|l| l.name == name).unwrap();
    if let Err(why) = (language.needs)() {
        super::skip(&format!("languages::{}", name.replace('-', "_")), &why);
        return None;
    }
    if name == "go" {
        build_go();
    }
    let api = FakeApi::start().await;
    let app_port = super::free_port();
    let port = app_port.to_string();
    let config = temp_file("matrix.yaml", ROUTES);
    let mut args = vec!["--port", "0", "--config", config.to_str().unwrap(), "--"];
    let command = (language.command)(app_port);
    args.extend(command.iter().map(String::as_str));
    let api_url = api.url();
    let extra = (language.env)();
    let mut env = vec![
        ("APP_PORT", port.as_str()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HEROKU_APPLINK_API_URL", api_url.as_str()),
        ("HEROKU_APPLINK_TOKEN", TOKEN),
        (
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        ),
        ("HEROKU_APPLINK_SERVICE_MESH_ASSERTION", "true"),
    ];
    env.extend(extra.iter().map(|(name, value)| (*name, value.as_str())));
    let mut mesh = SidecarProcess::spawn_in(&root().join(language.folder), &env, &args);
    let addr = mesh.wait_listening();
    Some(Running {
        language,
        api,
        mesh,
        addr,
        app_port,
    })
}
