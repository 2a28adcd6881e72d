//! Configuration: the environment and the optional YAML file, parsed and validated once at start-up
//! into one plain [`Config`]. The environment's variables are handed in as a map so tests never
//! touch the process environment.

mod bypass;
mod defaults;
mod describe;
mod env;
mod file;
mod file_values;
mod flags;
mod limits;
mod load;
mod otel;
mod place;
mod resource;
pub(crate) mod shown;
pub(crate) mod values;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use flags::Flags;
pub(crate) use otel::{Root, Sampler, TraceExport};

/// The app's environment variable that holds the assertion's key (docs/behaviour.md §6.1).
pub(crate) const ASSERTION_KEY_VARIABLE: &str = "HEROKU_APPLINK_MESH_ASSERTION_KEY";

/// A secret value (the AppLink API token). Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One AppLink add-on attachment the sidecar authenticates against.
#[derive(Clone, Debug)]
pub(crate) struct ApiConfig {
    /// Base URL with any trailing `/` trimmed, e.g. `https://host/addons/<uuid>`.
    pub(crate) base_url: String,
    pub(crate) token: Secret,
    /// The attachment's config var prefix (`HEROKU_APPLINK` unless renamed).
    pub(crate) attachment: String,
    /// The add-on's uuid, from the URL's `/addons/<uuid>`, lower case; `None` when the URL has no
    /// such part (a local API).
    pub(crate) addon_uuid: Option<String>,
}

/// Every attachment found at start-up (docs/behaviour.md §5.1): the default one first, then the
/// others by name.
#[derive(Clone, Debug)]
pub(crate) struct Attachments {
    default: ApiConfig,
    others: Vec<ApiConfig>,
}

impl Attachments {
    pub(crate) fn new(default: ApiConfig, others: Vec<ApiConfig>) -> Attachments {
        Attachments { default, others }
    }
    /// All of them, the default first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ApiConfig> {
        std::iter::once(&self.default).chain(&self.others)
    }
}

/// Production (every request authenticated) or local development.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    Production(Attachments),
    Dev,
}

#[derive(Clone, Debug)]
pub(crate) struct AppTarget {
    /// Host of the app, e.g. `127.0.0.1`.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl AppTarget {
    /// `http://host:port`, the base of every forwarded request's URI.
    pub(crate) fn base_uri(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One `bypassRoutes` entry (docs/behaviour.md §4.2): a glob, and the methods it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BypassRoute {
    pub(crate) glob: String,
    /// Upper-case method names; empty for every method.
    pub(crate) methods: Vec<String>,
}

impl BypassRoute {
    /// An entry for every method.
    pub(crate) fn any_method(glob: &str) -> BypassRoute {
        BypassRoute {
            glob: glob.to_string(),
            methods: Vec::new(),
        }
    }

    /// Whether the entry applies to `method`.
    pub(crate) fn allows(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }
}

/// `"/webhooks/**"`, or `"/webhooks/**" (POST, PUT)`.
impl std::fmt::Display for BypassRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.glob)?;
        if !self.methods.is_empty() {
            write!(f, " ({})", self.methods.join(", "))?;
        }
        Ok(())
    }
}

/// The entries as a list for logs and `--check`: `["/public/**", "/webhooks/**" (POST)]`.
pub(crate) fn bypass_list(routes: &[BypassRoute]) -> String {
    let entries: Vec<String> = routes.iter().map(ToString::to_string).collect();
    format!("[{}]", entries.join(", "))
}

/// Said at start-up, every minute and on the dev dashboard while the dry run is on
/// (docs/behaviour.md §4.6).
pub(crate) const REPORT_ONLY_WARNING: &str = "REPORT-ONLY: nothing is enforced; requests that \
    would be refused are forwarded without context and logged with outcome=would-reject \
    (HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY)";

/// Said at start-up and on the dev dashboard when the dry run is asked for without the risk
/// acknowledged.
const REPORT_ONLY_IGNORED: &str = "HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY is set but ignored: it \
    forwards requests that would be refused, so it needs \
    HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS=true";

#[derive(Clone, Debug)]
pub(crate) struct AuthSettings {
    /// The bypass entries (docs/behaviour.md §4.2); empty unless acknowledged.
    pub(crate) bypass_routes: Vec<BypassRoute>,
    /// `bypassRoutes` configured but not acknowledged, so ignored.
    pub(crate) ignored_bypass_routes: Vec<BypassRoute>,
    pub(crate) bypass_all: bool,
    /// The dry run (docs/behaviour.md §4.6): a request that would be refused is forwarded without
    /// context. Only with the risk acknowledged.
    pub(crate) report_only: bool,
    /// `HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY` set without the acknowledgement, so ignored.
    pub(crate) report_only_ignored: bool,
    pub(crate) verify_client_context: bool,
    pub(crate) cache_max_ttl: Duration,
    pub(crate) cache_max_entries: usize,
}

impl AuthSettings {
    /// What to say of the dry run: that it is on, or that it is asked for and ignored.
    pub(crate) fn dry_run_notice(&self) -> Option<&'static str> {
        match (self.report_only, self.report_only_ignored) {
            (true, _) => Some(REPORT_ONLY_WARNING),
            (_, true) => Some(REPORT_ONLY_IGNORED),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Timeouts {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
    pub(crate) auth: Duration,
    pub(crate) app_response: Duration,
    pub(crate) app_boot: Duration,
    pub(crate) drain: Duration,
    pub(crate) app_pool_idle: Duration,
    /// The longest a response may make no progress toward the caller (nginx's `send_timeout`).
    pub(crate) send: Duration,
}

#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) data_action_target_body: u64,
    /// All buffered Data Action Target bytes at once: the bodies and their JSON-escaped copies.
    pub(crate) buffered_bodies: u64,
    pub(crate) header_bytes: u64,
    pub(crate) max_in_flight_requests: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct LogSettings {
    /// tracing EnvFilter directives.
    pub(crate) filter: String,
    pub(crate) json: bool,
}

/// Everything the sidecar needs to run, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// Public port; 0 picks a free one.
    pub(crate) port: u16,
    pub(crate) app: AppTarget,
    pub(crate) mode: Mode,
    pub(crate) auth: AuthSettings,
    /// The exact health route, when enabled.
    pub(crate) health_route: Option<String>,
    pub(crate) timeouts: Timeouts,
    pub(crate) limits: Limits,
    pub(crate) log: LogSettings,
    /// OTLP trace export, when configured (docs/behaviour.md §8.2).
    pub(crate) traces: Option<TraceExport>,
    /// Runtime worker threads (`HEROKU_APPLINK_SERVICE_MESH_WORKERS`); `None` follows the CPUs the
    /// process may use.
    pub(crate) workers: Option<usize>,
    /// Requests the dev dashboard keeps (`HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS`); 0 turns
    /// it off. Production mode has no dashboard.
    pub(crate) dashboard_requests: usize,
    /// Replaces the trusted roots of the AppLink API client.
    pub(crate) ssl_cert_file: Option<PathBuf>,
    pub(crate) app_name: Option<String>,
    pub(crate) dyno: Option<String>,
    /// The dyno's address in a Private Space (`HEROKU_PRIVATE_IP`): an app listening on every
    /// interface is named at start-up (docs/behaviour.md §7).
    pub(crate) private_ip: Option<String>,
    /// Whether every forwarded request carries a signed assertion (docs/behaviour.md §6.1).
    pub(crate) assertion: bool,
    /// The app command, verbatim; empty means proxy only.
    pub(crate) app_command: Vec<String>,
    /// The YAML file that was read, if any.
    pub(crate) config_file: Option<PathBuf>,
    /// Start-up warnings, logged once telemetry is up.
    pub(crate) warnings: Vec<String>,
    /// Where the settings came from, for `--check`.
    pub(crate) sources: Sources,
}

/// Which settings were given, and how: the rest are defaults.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sources {
    /// Command-line options given (`--port`, `--dev`, `--config`).
    pub(crate) flags: Vec<&'static str>,
    /// Environment variables set, among those the sidecar reads.
    pub(crate) env: Vec<&'static str>,
    /// Keys the YAML file sets (`mesh.timeouts.idle`), with the line each is written on.
    pub(crate) file: Vec<(&'static str, Option<usize>)>,
}

/// A configuration error: one line saying what is wrong and how to fix it. Exit code 64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub(crate) String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Builds the configuration from the command line's flags, the environment's variables and
    /// the YAML file.
    pub fn load(flags: &Flags, vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        load::load(flags, vars)
    }

    pub(crate) fn is_dev(&self) -> bool {
        matches!(self.mode, Mode::Dev)
    }

    /// How many requests the dev dashboard keeps, when there is one (dev mode, not turned off).
    pub(crate) fn dashboard(&self) -> Option<usize> {
        (self.is_dev() && self.dashboard_requests > 0).then_some(self.dashboard_requests)
    }
}

/// Loopback hosts: `localhost`, 127.0.0.0/8 and `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests;
