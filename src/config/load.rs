//! Building a [`Config`]: each section from its environment variables and YAML keys, validated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::env::{Env, log_settings, mode, workers};
use super::file::{self, FileConfig};
use super::values::{parse_duration, parse_go_bool, parse_port, parse_size};
use super::{
    AppTarget, AuthSettings, Config, ConfigError, DEFAULT_CONFIG_FILE, DEFAULT_PORT, Limits,
    Timeouts, is_loopback,
};
use crate::cli::Cli;

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

pub(crate) fn load(cli: &Cli, vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
    let mut env = Env::new(vars);
    let (file, config_file) = read_file(cli.config.as_deref())?;
    let (port, app) = ports(cli, &env, &file)?;
    let dyno = env.get("DYNO");
    Ok(Config {
        port,
        app,
        mode: mode(cli, &mut env, dyno.as_deref())?,
        auth: auth_settings(&mut env, &file)?,
        health_route: health_route(&file)?,
        timeouts: timeouts(&file)?,
        limits: limits(&file)?,
        log: log_settings(&env)?,
        workers: workers(&env)?,
        ssl_cert_file: env.get("SSL_CERT_FILE").map(PathBuf::from),
        app_name: env.get("HEROKU_APP_NAME"),
        dyno,
        app_command: cli.command.clone(),
        config_file,
        warnings: env.warnings,
    })
}

/// The public port and the app: never the same port on a loopback host (it would proxy to itself).
fn ports(cli: &Cli, env: &Env<'_>, file: &FileConfig) -> Result<(u16, AppTarget), ConfigError> {
    let port = match cli.port {
        Some(port) => port,
        None => env.port("PORT")?.unwrap_or(DEFAULT_PORT),
    };
    let app = app_target(env, file)?;
    if port != 0 && port == app.port && is_loopback(&app.host) {
        return err(format!(
            "the public port and APP_PORT are both {port}: the sidecar would proxy to itself; \
             give the app another port (e.g. APP_PORT=3000)"
        ));
    }
    Ok((port, app))
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

fn auth_settings(env: &mut Env<'_>, file: &FileConfig) -> Result<AuthSettings, ConfigError> {
    let a = &file.mesh.authentication;
    let acknowledged = env.flag("HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS");
    let configured: Vec<String> = a
        .bypass_routes
        .iter()
        .flatten()
        .map(|route| route.0.clone())
        .collect();
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
        // Apex callouts give up after 10 s by default: answer before, with a reason.
        auth: d("auth", &t.auth, 5_000, false)?,
        // Heroku's router gives up after 30 s (H12), counted before the sidecar sees the request.
        app_response: d("appResponse", &t.app_response, 28_000, false)?,
        app_boot: d("appBoot", &t.app_boot, 60_000, true)?,
        drain: d("drain", &t.drain, 25_000, true)?,
        app_pool_idle: d("appPoolIdle", &t.app_pool_idle, 1_500, true)?,
    })
}

/// `dataActionTargetBody` is at most 1 GiB, and `bufferedBodies` holds at least one body while it is
/// checked: twice, as it came and JSON-escaped in the API call, beside the call's other fields
/// (from the head: up to six times `headerBytes`, escaped).
fn check_body_budget(body: u64, budget: u64, header_bytes: u64) -> Result<(), ConfigError> {
    if body > 1 << 30 {
        return err("mesh.limits.dataActionTargetBody: must be at most 1GiB");
    }
    let one_body = body
        .saturating_mul(2)
        .saturating_add(header_bytes.saturating_mul(8));
    if budget < one_body {
        return err(format!(
            "mesh.limits.bufferedBodies ({budget} bytes) must hold at least one body while it is \
             checked: twice dataActionTargetBody plus eight times headerBytes ({one_body} bytes)"
        ));
    }
    Ok(())
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
    let data_action_target_body = file_value(
        "mesh.limits.dataActionTargetBody",
        &l.data_action_target_body,
        10 << 20,
        parse_size,
    )?;
    let buffered_bodies = file_value(
        "mesh.limits.bufferedBodies",
        &l.buffered_bodies,
        64 << 20,
        parse_size,
    )?;
    check_body_budget(data_action_target_body, buffered_bodies, header_bytes)?;
    Ok(Limits {
        data_action_target_body,
        buffered_bodies,
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
