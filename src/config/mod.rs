//! Configuration: the environment and the optional YAML file, parsed and validated once at start-up
//! into one plain [`Config`]. The environment is read through an injectable lookup so tests never
//! touch the process environment.

mod file;
pub mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Cli;
use values::{parse_duration, parse_go_bool, parse_port, parse_size};

/// The default public port when neither `--port` nor `PORT` is given (compat).
pub const DEFAULT_PORT: u16 = 8070;
/// The default file name, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "heroku-applink-service-mesh.yaml";

/// A secret value (the AppLink API token). Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The AppLink add-on attachment the sidecar authenticates against.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Base URL with any trailing `/` trimmed, e.g. `https://host/addons/<uuid>`.
    pub base_url: String,
    pub token: Secret,
    /// The attachment's config var prefix (`HEROKU_APPLINK` unless renamed).
    pub attachment: String,
}

/// Production (every request authenticated) or local development.
#[derive(Clone, Debug)]
pub enum Mode {
    Production(ApiConfig),
    Dev,
}

#[derive(Clone, Debug)]
pub struct AppTarget {
    /// Host of the app, e.g. `127.0.0.1`.
    pub host: String,
    pub port: u16,
}

impl AppTarget {
    /// `http://host:port`, the base of every forwarded request's URI.
    pub fn base_uri(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Glob patterns (§4.2); empty unless acknowledged.
    pub bypass_routes: Vec<String>,
    /// `bypassRoutes` were configured but not acknowledged, so they are ignored.
    pub bypass_routes_ignored: bool,
    pub bypass_all: bool,
    pub verify_client_context: bool,
    pub cache_max_ttl: Duration,
    pub cache_max_entries: usize,
}

#[derive(Clone, Debug)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
    pub auth: Duration,
    pub app_response: Duration,
    pub app_boot: Duration,
    pub drain: Duration,
    pub app_pool_idle: Duration,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub data_action_target_body: u64,
    pub header_bytes: u64,
    pub max_in_flight_requests: usize,
}

#[derive(Clone, Debug)]
pub struct LogSettings {
    /// tracing EnvFilter directives.
    pub filter: String,
    pub json: bool,
}

/// Everything the sidecar needs to run, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// Public port; 0 picks a free one.
    pub port: u16,
    pub app: AppTarget,
    pub mode: Mode,
    pub auth: AuthSettings,
    /// The exact health route, when enabled.
    pub health_route: Option<String>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub log: LogSettings,
    /// Replaces the trusted roots of the AppLink API client.
    pub ssl_cert_file: Option<PathBuf>,
    pub app_name: Option<String>,
    pub dyno: Option<String>,
    /// The app command, verbatim; empty means proxy only.
    pub app_command: Vec<String>,
    /// The YAML file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Start-up warnings, logged once telemetry is up.
    pub warnings: Vec<String>,
}

/// A configuration error: one line saying what is wrong and how to fix it. Exit code 64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// Reads one environment variable; empty counts as unset.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// A Go-style boolean; an unknown spelling is false with a warning (compat).
    fn flag(&self, name: &str, warnings: &mut Vec<String>) -> bool {
        match self.get(name) {
            None => false,
            Some(v) => parse_go_bool(&v).unwrap_or_else(|| {
                warnings.push(format!(
                    "{name}={v:?} is not a boolean (use true or false); treating it as false"
                ));
                false
            }),
        }
    }
}

impl Config {
    /// Builds the configuration from the command line, an environment lookup and the YAML file.
    pub fn load(cli: &Cli, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env { lookup };
        let mut warnings = Vec::new();
        let (file, config_file) = read_file(cli.config.as_deref())?;
        let f = |key: &str, r: Result<_, String>| r.map_err(|e| ConfigError(format!("{key}: {e}")));

        let port = match (cli.port, env.get("PORT")) {
            (Some(p), _) => p,
            (None, Some(p)) => f("PORT", parse_port(&p))?,
            (None, None) => DEFAULT_PORT,
        };
        let app_port = match (env.get("APP_PORT"), &file.app.port) {
            (Some(p), _) => f("APP_PORT", parse_port(&p))?,
            (None, Some(p)) => f("app.port", parse_port(p))?,
            (None, None) => 3000,
        };
        let app_host = parse_app_host(file.app.host.as_deref().unwrap_or("http://127.0.0.1"))?;
        if port != 0 && port == app_port && is_loopback(&app_host) {
            return err(format!(
                "the public port and APP_PORT are both {port}: the sidecar would proxy to itself; \
                 give the app another port (e.g. APP_PORT=3000)"
            ));
        }

        let dyno = env.get("DYNO");
        let dev = cli.dev || env.flag("HEROKU_APPLINK_SERVICE_MESH_DEV", &mut warnings);
        let mode = if dev {
            if let Some(dyno) = &dyno {
                return err(format!(
                    "dev mode is refused on a Heroku dyno (DYNO={dyno}); remove --dev and \
                     HEROKU_APPLINK_SERVICE_MESH_DEV from the dyno's configuration"
                ));
            }
            Mode::Dev
        } else {
            Mode::Production(api_config(&env)?)
        };

        let a = &file.mesh.authentication;
        let acknowledged = env.flag(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            &mut warnings,
        );
        let configured_routes = a.bypass_routes.clone().unwrap_or_default();
        for route in &configured_routes {
            if !route.starts_with('/') {
                return err(format!(
                    "mesh.authentication.bypassRoutes: '{route}' must start with '/'"
                ));
            }
        }
        let bypass_routes_ignored = !acknowledged && !configured_routes.is_empty();
        let auth = AuthSettings {
            bypass_routes: if acknowledged {
                configured_routes
            } else {
                Vec::new()
            },
            bypass_routes_ignored,
            bypass_all: env.flag(
                "HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES",
                &mut warnings,
            ),
            verify_client_context: file_bool(
                "mesh.authentication.verifyClientContext",
                &a.verify_client_context,
                true,
            )?,
            cache_max_ttl: file_value(
                "mesh.authentication.cache.maxTtl",
                &a.cache.max_ttl,
                Duration::ZERO,
                parse_duration,
            )?,
            cache_max_entries: file_value(
                "mesh.authentication.cache.maxEntries",
                &a.cache.max_entries,
                10_000,
                |v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("'{v}' is not a whole number"))
                },
            )?,
        };

        let h = &file.mesh.healthcheck;
        let health_enabled = file_bool("mesh.healthcheck.enable", &h.enable, true)?;
        let health_route = h
            .route
            .clone()
            .unwrap_or_else(|| "/healthcheck".to_string());
        if !health_route.starts_with('/') {
            return err(format!(
                "mesh.healthcheck.route: '{health_route}' must start with '/'"
            ));
        }

        let t = &file.mesh.timeouts;
        let d = |key: &str, v: &Option<String>, default: u64| {
            file_value(key, v, Duration::from_millis(default), parse_duration)
        };
        let timeouts = Timeouts {
            header_read: d("mesh.timeouts.headerRead", &t.header_read, 10_000)?,
            idle: d("mesh.timeouts.idle", &t.idle, 100_000)?,
            auth: d("mesh.timeouts.auth", &t.auth, 10_000)?,
            app_response: d("mesh.timeouts.appResponse", &t.app_response, 30_000)?,
            app_boot: d("mesh.timeouts.appBoot", &t.app_boot, 60_000)?,
            drain: d("mesh.timeouts.drain", &t.drain, 25_000)?,
            app_pool_idle: d("mesh.timeouts.appPoolIdle", &t.app_pool_idle, 1_500)?,
        };
        for (key, value) in [
            ("headerRead", timeouts.header_read),
            ("idle", timeouts.idle),
            ("auth", timeouts.auth),
            ("appResponse", timeouts.app_response),
        ] {
            if value.is_zero() {
                return err(format!("mesh.timeouts.{key}: must be more than 0s"));
            }
        }

        let l = &file.mesh.limits;
        let limits = Limits {
            data_action_target_body: file_value(
                "mesh.limits.dataActionTargetBody",
                &l.data_action_target_body,
                10 << 20,
                parse_size,
            )?,
            header_bytes: file_value(
                "mesh.limits.headerBytes",
                &l.header_bytes,
                64 << 10,
                parse_size,
            )?,
            max_in_flight_requests: file_value(
                "mesh.limits.maxInFlightRequests",
                &l.max_in_flight_requests,
                10_000,
                |v| {
                    v.trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("'{v}' is not a positive whole number"))
                },
            )?,
        };
        if limits.header_bytes < 1024 {
            return err("mesh.limits.headerBytes: must be at least 1KiB");
        }

        let log = LogSettings {
            filter: env
                .get("HEROKU_APPLINK_SERVICE_MESH_LOG")
                .unwrap_or_else(|| "info".into()),
            json: match env.get("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT").as_deref() {
                None | Some("logfmt") => false,
                Some("json") => true,
                Some(other) => {
                    return err(format!(
                        "HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT={other:?} is not a log format; use logfmt or json"
                    ));
                }
            },
        };
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log.filter) {
            return err(format!(
                "HEROKU_APPLINK_SERVICE_MESH_LOG={:?} is not a log filter: {e}",
                log.filter
            ));
        }

        Ok(Config {
            port,
            app: AppTarget {
                host: app_host,
                port: app_port,
            },
            mode,
            auth,
            health_route: health_enabled.then_some(health_route),
            timeouts,
            limits,
            log,
            ssl_cert_file: env.get("SSL_CERT_FILE").map(PathBuf::from),
            app_name: env.get("HEROKU_APP_NAME"),
            dyno,
            app_command: cli.command.clone(),
            config_file,
            warnings,
        })
    }

    pub fn is_dev(&self) -> bool {
        matches!(self.mode, Mode::Dev)
    }

    /// The configuration as `key = value` lines, secrets redacted (for `--check`).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: String| {
            out.push_str(&format!("{k} = {v}\n"));
        };
        line("port", self.port.to_string());
        line("app", self.app.base_uri());
        match &self.mode {
            Mode::Dev => line("mode", "dev".into()),
            Mode::Production(api) => {
                line("mode", "production".into());
                line("api.url", api.base_url.clone());
                line(
                    &format!("api.token ({}_TOKEN)", api.attachment),
                    "<redacted>".into(),
                );
            }
        }
        line(
            "config_file",
            self.config_file
                .as_ref()
                .map_or("(none)".into(), |p| p.display().to_string()),
        );
        line("bypass_all_routes", self.auth.bypass_all.to_string());
        line("bypass_routes", format!("{:?}", self.auth.bypass_routes));
        line(
            "bypass_routes_ignored",
            self.auth.bypass_routes_ignored.to_string(),
        );
        line(
            "verify_client_context",
            self.auth.verify_client_context.to_string(),
        );
        line("cache.max_ttl", format!("{:?}", self.auth.cache_max_ttl));
        line("cache.max_entries", self.auth.cache_max_entries.to_string());
        line(
            "healthcheck",
            self.health_route
                .clone()
                .unwrap_or_else(|| "(disabled)".into()),
        );
        line("timeouts", format!("{:?}", self.timeouts));
        line("limits", format!("{:?}", self.limits));
        line("log", format!("{:?}", self.log));
        line("app_command", format!("{:?}", self.app_command));
        for w in &self.warnings {
            line("warning", w.clone());
        }
        out
    }
}

fn api_config(env: &Env<'_>) -> Result<ApiConfig, ConfigError> {
    let attachment = env
        .get("HEROKU_APPLINK_SERVICE_MESH_ADDON")
        .unwrap_or_else(|| "HEROKU_APPLINK".to_string());
    let url_var = format!("{attachment}_API_URL");
    let token_var = format!("{attachment}_TOKEN");
    let (Some(url), Some(token)) = (env.get(&url_var), env.get(&token_var)) else {
        return err(format!(
            "{url_var} and {token_var} must be set: provision the Heroku AppLink add-on \
             (heroku addons:create heroku-applink), or run locally with --dev"
        ));
    };
    let base_url = url.trim_end_matches('/').to_string();
    let uri: http::Uri = base_url
        .parse()
        .map_err(|_| ConfigError(format!("{url_var} is not a URL")))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => {}
        Some("http") if is_loopback(host) => {}
        Some("http") => {
            return err(format!(
                "{url_var} must use https (plain http is only allowed for a loopback host)"
            ));
        }
        _ => return err(format!("{url_var} must be an https:// URL")),
    }
    Ok(ApiConfig {
        base_url,
        token: Secret::new(token),
        attachment,
    })
}

/// `app.host`: `http://host` (the scheme may be omitted); no port, path or https.
fn parse_app_host(value: &str) -> Result<String, ConfigError> {
    let rest = value.strip_prefix("http://").unwrap_or(value);
    if rest.contains("://") {
        return err(format!(
            "app.host: '{value}' must be an http:// host (the app is reached over plain HTTP)"
        ));
    }
    let uri: http::uri::Authority = rest
        .trim_end_matches('/')
        .parse()
        .map_err(|_| ConfigError(format!("app.host: '{value}' is not a host")))?;
    if uri.port().is_some() {
        return err(format!(
            "app.host: '{value}' must not carry a port; set app.port or APP_PORT"
        ));
    }
    Ok(uri.host().to_string())
}

/// Loopback hosts: `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn file_value<T>(
    key: &str,
    value: &Option<String>,
    default: T,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => parse(v).map_err(|e| ConfigError(format!("{key}: {e}"))),
    }
}

fn file_bool(key: &str, value: &Option<String>, default: bool) -> Result<bool, ConfigError> {
    file_value(key, value, default, |v| {
        parse_go_bool(v).ok_or_else(|| format!("'{v}' is not true or false"))
    })
}

/// Reads the YAML file: the one named by `--config` (must exist), else the default name if present.
fn read_file(explicit: Option<&Path>) -> Result<(file::FileConfig, Option<PathBuf>), ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(DEFAULT_CONFIG_FILE);
            if !p.exists() {
                return Ok((file::FileConfig::default(), None));
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let parsed = file::parse(&text)
        .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?;
    Ok((parsed, Some(path)))
}

#[cfg(test)]
mod tests;
