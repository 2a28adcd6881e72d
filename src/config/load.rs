//! Building a [`Config`]: each section from its environment variables and YAML keys, validated.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{self, FileConfig};
use super::values::{parse_duration, parse_go_bool, parse_port, parse_size};
use super::{
    ApiConfig, AppTarget, AuthSettings, Config, ConfigError, DEFAULT_CONFIG_FILE, DEFAULT_PORT,
    Limits, LogSettings, Mode, Secret, Timeouts, is_loopback,
};
use crate::cli::Cli;

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// Reads environment variables (empty counts as unset) and collects start-up warnings.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// A Go-style boolean; an unknown spelling is false with a warning (compat).
    fn flag(&mut self, name: &str) -> bool {
        let value = self.get(name);
        match value {
            None => false,
            Some(v) => parse_go_bool(&v).unwrap_or_else(|| {
                self.warnings.push(format!(
                    "{name}={v:?} is not a boolean (use true or false); treating it as false"
                ));
                false
            }),
        }
    }

    fn port(&self, name: &str) -> Result<Option<u16>, ConfigError> {
        self.get(name)
            .map(|p| parse_port(&p).map_err(|e| ConfigError(format!("{name}: {e}"))))
            .transpose()
    }
}

pub(crate) fn load(
    cli: &Cli,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut env = Env {
        lookup,
        warnings: Vec::new(),
    };
    let (file, config_file) = read_file(cli.config.as_deref())?;

    let port = match cli.port {
        Some(port) => port,
        None => env.port("PORT")?.unwrap_or(DEFAULT_PORT),
    };
    let app = app_target(&env, &file)?;
    if port != 0 && port == app.port && is_loopback(&app.host) {
        return err(format!(
            "the public port and APP_PORT are both {port}: the sidecar would proxy to itself; \
             give the app another port (e.g. APP_PORT=3000)"
        ));
    }
    let dyno = env.get("DYNO");
    let mode = mode(cli, &mut env, dyno.as_deref())?;
    let auth = auth_settings(&mut env, &file)?;
    let health_route = health_route(&file)?;
    let timeouts = timeouts(&file)?;
    let limits = limits(&file)?;
    let log = log_settings(&env)?;
    let workers = workers(&env)?;

    Ok(Config {
        port,
        app,
        mode,
        auth,
        health_route,
        timeouts,
        limits,
        log,
        workers,
        ssl_cert_file: env.get("SSL_CERT_FILE").map(PathBuf::from),
        app_name: env.get("HEROKU_APP_NAME"),
        dyno,
        app_command: cli.command.clone(),
        config_file,
        warnings: env.warnings,
    })
}

fn app_target(env: &Env<'_>, file: &FileConfig) -> Result<AppTarget, ConfigError> {
    let port = match (env.port("APP_PORT")?, &file.app.port) {
        (Some(port), _) => port,
        (None, Some(port)) => {
            parse_port(port).map_err(|e| ConfigError(format!("app.port: {e}")))?
        }
        (None, None) => 3000,
    };
    let host = parse_app_host(file.app.host.as_deref().unwrap_or("http://127.0.0.1"))?;
    Ok(AppTarget { host, port })
}

fn mode(cli: &Cli, env: &mut Env<'_>, dyno: Option<&str>) -> Result<Mode, ConfigError> {
    if !(cli.dev || env.flag("HEROKU_APPLINK_SERVICE_MESH_DEV")) {
        return Ok(Mode::Production(api_config(env)?));
    }
    match dyno {
        Some(dyno) => err(format!(
            "dev mode is refused on a Heroku dyno (DYNO={dyno}); remove --dev and \
             HEROKU_APPLINK_SERVICE_MESH_DEV from the dyno's configuration"
        )),
        None => Ok(Mode::Dev),
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

fn auth_settings(env: &mut Env<'_>, file: &FileConfig) -> Result<AuthSettings, ConfigError> {
    let a = &file.mesh.authentication;
    let acknowledged = env.flag("HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS");
    let configured = a.bypass_routes.clone().unwrap_or_default();
    if let Some(route) = configured.iter().find(|r| !r.starts_with('/')) {
        return err(format!(
            "mesh.authentication.bypassRoutes: '{route}' must start with '/'"
        ));
    }
    Ok(AuthSettings {
        bypass_routes_ignored: !acknowledged && !configured.is_empty(),
        bypass_routes: if acknowledged { configured } else { Vec::new() },
        bypass_all: env.flag("HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES"),
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
    })
}

fn health_route(file: &FileConfig) -> Result<Option<String>, ConfigError> {
    let h = &file.mesh.healthcheck;
    let enabled = file_bool("mesh.healthcheck.enable", &h.enable, true)?;
    let route = h
        .route
        .clone()
        .unwrap_or_else(|| "/healthcheck".to_string());
    if !route.starts_with('/') {
        return err(format!(
            "mesh.healthcheck.route: '{route}' must start with '/'"
        ));
    }
    Ok(enabled.then_some(route))
}

fn timeouts(file: &FileConfig) -> Result<Timeouts, ConfigError> {
    let t = &file.mesh.timeouts;
    let d = |key: &str, value: &Option<String>, default_ms: u64, may_be_zero: bool| {
        let key = format!("mesh.timeouts.{key}");
        let duration = file_value(
            &key,
            value,
            Duration::from_millis(default_ms),
            parse_duration,
        )?;
        if duration.is_zero() && !may_be_zero {
            return err(format!("{key}: must be more than 0s"));
        }
        Ok(duration)
    };
    Ok(Timeouts {
        header_read: d("headerRead", &t.header_read, 10_000, false)?,
        idle: d("idle", &t.idle, 100_000, false)?,
        auth: d("auth", &t.auth, 10_000, false)?,
        app_response: d("appResponse", &t.app_response, 30_000, false)?,
        app_boot: d("appBoot", &t.app_boot, 60_000, true)?,
        drain: d("drain", &t.drain, 25_000, true)?,
        app_pool_idle: d("appPoolIdle", &t.app_pool_idle, 1_500, true)?,
    })
}

fn limits(file: &FileConfig) -> Result<Limits, ConfigError> {
    let l = &file.mesh.limits;
    let header_bytes = file_value(
        "mesh.limits.headerBytes",
        &l.header_bytes,
        64 << 10,
        parse_size,
    )?;
    if header_bytes < 1024 {
        return err("mesh.limits.headerBytes: must be at least 1KiB");
    }
    Ok(Limits {
        data_action_target_body: file_value(
            "mesh.limits.dataActionTargetBody",
            &l.data_action_target_body,
            10 << 20,
            parse_size,
        )?,
        header_bytes,
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
    })
}

fn log_settings(env: &Env<'_>) -> Result<LogSettings, ConfigError> {
    let filter = env
        .get("HEROKU_APPLINK_SERVICE_MESH_LOG")
        .unwrap_or_else(|| "info".into());
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&filter) {
        return err(format!(
            "HEROKU_APPLINK_SERVICE_MESH_LOG={filter:?} is not a log filter: {e}"
        ));
    }
    let json = match env.get("HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT").as_deref() {
        None | Some("logfmt") => false,
        Some("json") => true,
        Some(other) => {
            return err(format!(
                "HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT={other:?} is not a log format; use logfmt or json"
            ));
        }
    };
    Ok(LogSettings { filter, json })
}

/// `HEROKU_APPLINK_SERVICE_MESH_WORKERS`: how many runtime threads, for a dyno where the app should
/// keep most of the cores.
fn workers(env: &Env<'_>) -> Result<Option<usize>, ConfigError> {
    const NAME: &str = "HEROKU_APPLINK_SERVICE_MESH_WORKERS";
    env.get(NAME)
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{NAME}={v:?} is not a number of threads; use a whole number from 1 to 1024, \
                         or unset it to follow the CPUs the sidecar may use"
                    ))
                })
        })
        .transpose()
}

/// `app.host`: `http://host` (the scheme may be omitted); no port, path or https.
fn parse_app_host(value: &str) -> Result<String, ConfigError> {
    let rest = value.strip_prefix("http://").unwrap_or(value);
    if rest.contains("://") {
        return err(format!(
            "app.host: '{value}' must be an http:// host (the app is reached over plain HTTP)"
        ));
    }
    let authority: http::uri::Authority = rest
        .trim_end_matches('/')
        .parse()
        .map_err(|_| ConfigError(format!("app.host: '{value}' is not a host")))?;
    if authority.port().is_some() {
        return err(format!(
            "app.host: '{value}' must not carry a port; set app.port or APP_PORT"
        ));
    }
    Ok(authority.host().to_string())
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
fn read_file(explicit: Option<&Path>) -> Result<(FileConfig, Option<PathBuf>), ConfigError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let path = PathBuf::from(DEFAULT_CONFIG_FILE);
            if !path.exists() {
                return Ok((FileConfig::default(), None));
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let parsed = file::parse(&text)
        .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?;
    Ok((parsed, Some(path)))
}
