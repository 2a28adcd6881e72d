//! The command line (docs/behaviour.md §1): options first, then the app command, passed on
//! verbatim.

use std::path::PathBuf;

use clap::Parser;

use crate::config::Flags;

/// Exit code for every usage or configuration error (BSD `EX_USAGE`).
pub const EXIT_USAGE: i32 = 64;

/// What `--help` says after the options: the environment, the exit codes, where to read more.
const AFTER_HELP: &str = "\
Environment:
  PORT                                 public port (--port wins) [default: 8070]
  APP_PORT                             the app's port, given to the app as APP_PORT and PORT [default: 3000]
  HEROKU_APPLINK_API_URL, _TOKEN       set by the AppLink add-on; required outside dev mode
  HEROKU_APPLINK_ADDON_NAME            the SDKs' attachment name: <NAME>_API_URL, <NAME>_TOKEN
  HEROKU_APPLINK_SERVICE_MESH_ADDON    the sidecar's own attachment name (wins)
  HEROKU_APPLINK_SERVICE_MESH_DEV      true: dev mode, as --dev (refused when DYNO is set)
  HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES       true: no route requires authentication
  HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS true: the file's bypassRoutes take effect
  HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY  true: dry run, forward what would be refused (needs the above)
  HEROKU_APPLINK_SERVICE_MESH_ASSERTION    true: sign every forwarded request; the app gets the key
  HEROKU_APPLINK_SERVICE_MESH_LOG      log filter [default: info]
  HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT  logfmt or json [default: logfmt]
  HEROKU_APPLINK_SERVICE_MESH_WORKERS  runtime threads, 1-1024 [default: the CPUs it may use]
  HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS  requests the dev dashboard keeps [default: 500]
  SSL_CERT_FILE                        PEM roots for the AppLink API instead of the platform's

Exit codes:
  0    --help, --version, a successful --check; a proxy-only sidecar stopped by a signal
  64   a usage or configuration error (one line on stderr)
  1    the public port cannot be bound, or the app never listened within timeouts.appBoot
  126  the app command cannot be executed;  127  its program does not exist
  else the app's own exit code (128+n when signal n ended it)

Options go before the app command. --check prints every setting with where it came from;
--check METHOD PATH (e.g. --check POST /webhooks/stripe; the method in capitals, no --) also says whether that request would be
authenticated, and which bypass entry lets it through. The YAML
file, every setting and every response the sidecar makes itself are described in the project's
README.md and docs/behaviour.md (the repository the buildpack was packaged from).";

/// heroku-applink-service-mesh: lets only a connected Salesforce org call the app behind it.
#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "heroku-applink-service-mesh",
    disable_version_flag = true,
    override_usage = "heroku-applink-service-mesh [OPTIONS] [--] <APP COMMAND> [ARGS...]",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Public port [default: $PORT, then 8070]; 0 picks a free port
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Print the version and exit
    #[arg(short = 'v', long)]
    pub version: bool,

    /// Local development: no add-on needed, every request is forwarded (refused on a dyno)
    #[arg(long)]
    pub dev: bool,

    /// YAML configuration file [default: heroku-applink-service-mesh.yaml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Validate the configuration, print it with secrets redacted, and exit
    #[arg(long)]
    pub check: bool,

    /// The app to start and supervise; omit it to proxy to an app started separately
    #[arg(trailing_var_arg = true, value_name = "APP COMMAND")]
    pub command: Vec<String>,
}

/// The methods `--check METHOD PATH` takes, as requests spell them.
const CHECKED_METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

/// `--check METHOD PATH`: the request `--check` is asked about, when the two words after the
/// options are an upper-case HTTP method and a path rather than an app command (`--check node
/// /app/server.js` is an app command). Words after `--` are always an app command.
pub fn route_query(command: &[String], after_separator: bool) -> Option<(String, String)> {
    match command {
        [method, path]
            if !after_separator
                && path.starts_with('/')
                && CHECKED_METHODS.contains(&method.as_str()) =>
        {
            Some((method.clone(), path.clone()))
        }
        _ => None,
    }
}

impl Cli {
    /// What the configuration takes from the command line.
    pub fn flags(&self) -> Flags {
        Flags {
            port: self.port,
            dev: self.dev,
            config: self.config.clone(),
            command: self.command.clone(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    Run(Cli),
    /// Print this on stdout and exit 0 (`--help`, `--version`).
    Print(String),
    /// Print this one line on stderr and exit 64.
    UsageError(String),
}

/// The version line, exactly as the Go sidecar prints it (compat).
pub fn version_line() -> String {
    format!(
        "heroku-applink-service-mesh version {} [os: {}, arch: {}]",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        go_arch(std::env::consts::ARCH)
    )
}

/// Go's names for architectures (`GOARCH`).
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

pub fn parse<I, T>(args: I) -> Invocation
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) if cli.version => Invocation::Print(format!("{}\n", version_line())),
        Ok(cli) => Invocation::Run(cli),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            Invocation::Print(e.render().to_string())
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            Invocation::UsageError(format!(
                "heroku-applink-service-mesh: {first}; see heroku-applink-service-mesh --help"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Cli {
        match parse(std::iter::once("heroku-applink-service-mesh").chain(args.iter().copied())) {
            Invocation::Run(cli) => cli,
            other => panic!("expected Run, got {other:?}"),
        }
    }

    #[test]
    fn documented_forms() {
        assert_eq!(run(&["npm", "start"]).command, ["npm", "start"]);
        assert_eq!(
            run(&["--", "java", "-jar", "app.jar"]).command,
            ["java", "-jar", "app.jar"]
        );
        let cli = run(&[
            "--port", "5000", "--", "uvicorn", "app:app", "--port", "3000",
        ]);
        assert_eq!(cli.port, Some(5000));
        assert_eq!(cli.command, ["uvicorn", "app:app", "--port", "3000"]);
        // Options after the first word belong to the app.
        let cli = run(&["--dev", "node", "server.js", "--dev", "-p", "1"]);
        assert!(cli.dev);
        assert_eq!(cli.port, None);
        assert_eq!(cli.command, ["node", "server.js", "--dev", "-p", "1"]);
        assert!(run(&[]).command.is_empty());
    }

    #[test]
    fn version_line_uses_go_arch_names() {
        let line = version_line();
        assert!(line.starts_with(&format!(
            "heroku-applink-service-mesh version {} [os: linux, arch: ",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(
            line.ends_with("amd64]") || line.ends_with("arm64]"),
            "{line}"
        );
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        match parse(["x", "-v"]) {
            Invocation::Print(s) => assert_eq!(s, format!("{line}\n")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors_are_one_line() {
        for args in [
            vec!["x", "--bogus"],
            vec!["x", "--port", "seventy"],
            vec!["x", "--port", "70000"],
        ] {
            match parse(args) {
                Invocation::UsageError(msg) => {
                    assert!(!msg.contains('\n'), "{msg}");
                    assert!(msg.contains("--help"), "{msg}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
