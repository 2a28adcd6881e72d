//! Building a [`Config`]: each section from its environment variables and YAML keys, validated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults;
use super::env::{Env, KNOWN, dashboard_requests, log_settings, mode, workers};
use super::file::{self, FileConfig};
use super::file_values::{file_bool, file_err, file_value, keys_set};
use super::flags::{Flags, misplaced_option};
use super::limits::limits;
use super::values::{parse_duration, parse_port};
use super::{
    AppTarget, AuthSettings, BypassRoute, Config, ConfigError, Sources, Timeouts, is_loopback,
};

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

pub(crate) fn load(flags: &Flags, vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
    let mut env = Env::new(vars);
    let (file, config_file) = read_file(flags.config.as_deref(), &mut env.warnings)?;
    let (port, app) = ports(flags, &env, &file)?;
    let dyno = env.get("DYNO");
    let misplaced = misplaced_option(&flags.command);
    // A misplaced `--dev` explains a missing add-on, and only that.
    let dev_hint = misplaced.as_deref().filter(|m| m.starts_with("`--dev`"));
    let mode = mode(flags, &mut env, dyno.as_deref(), dev_hint)?;
    env.warnings.extend(misplaced);
    Ok(Config {
        port,
        app,
        mode,
        auth: auth_settings(&env, &file)?,
        health_route: health_route(&file)?,
        timeouts: timeouts(&file)?,
        limits: limits(&file)?,
        log: log_settings(&env)?,
        traces: super::otel::trace_export(&env)?,
        workers: workers(&env)?,
        dashboard_requests: dashboard_requests(&env)?,
        ssl_cert_file: env.get("SSL_CERT_FILE").map(PathBuf::from),
        app_name: env.get("HEROKU_APP_NAME"),
        dyno,
        private_ip: env.get("HEROKU_PRIVATE_IP"),
        assertion: assertion(&mut env, &flags.command)?,
        app_command: flags.command.clone(),
        config_file,
        sources: Sources {
            flags: [
                ("--port", flags.port.is_some()),
                ("--dev", flags.dev),
                ("--config", flags.config.is_some()),
            ]
            .into_iter()
            .filter_map(|(flag, given)| given.then_some(flag))
            .collect(),
            env: known_set(&env),
            file: keys_set(&file)
                .into_iter()
                .map(|key| (key, file.line(key)))
                .collect(),
        },
        warnings: env.warnings,
    })
}

/// The public port and the app: never the same port on a loopback host (it would proxy to itself).
fn ports(flags: &Flags, env: &Env<'_>, file: &FileConfig) -> Result<(u16, AppTarget), ConfigError> {
    let port = match flags.port {
        Some(port) => port,
        None => env.port("PORT")?.unwrap_or(defaults::PORT),
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

/// The app's host and port. Port 0 is refused: the sidecar must know where to forward.
fn app_target(env: &Env<'_>, file: &FileConfig) -> Result<AppTarget, ConfigError> {
    const ZERO: &str = "the app needs a fixed port for the sidecar to forward to, not 0; use a \
                        free port such as 3000";
    let port = match env.port("APP_PORT")? {
        Some(0) => return err(format!("APP_PORT=0: {ZERO}")),
        Some(port) => port,
        None => file_value(file, "app.port", &file.app.port, defaults::APP_PORT, |v| {
            parse_port(v).and_then(|port| match port {
                0 => Err(ZERO.to_string()),
                port => Ok(port),
            })
        })?,
    };
    let host = file_value(
        file,
        "app.host",
        &file.app.host,
        defaults::APP_HOST.to_string(),
        parse_app_host,
    )?;
    Ok(AppTarget { host, port })
}

fn auth_settings(env: &Env<'_>, file: &FileConfig) -> Result<AuthSettings, ConfigError> {
    let a = &file.mesh.authentication;
    let acknowledged = env.flag("HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS")?;
    let configured: Vec<BypassRoute> = a.bypass_routes.iter().flatten().cloned().collect();
    if let Some(route) = configured.iter().find(|r| !r.glob.starts_with('/')) {
        return file_err(
            file,
            "mesh.authentication.bypassRoutes",
            format!("'{}' must start with '/'", route.glob),
        );
    }
    let (bypass_routes, ignored_bypass_routes) = if acknowledged {
        (configured, Vec::new())
    } else {
        (Vec::new(), configured)
    };
    let report_only = env.flag("HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY")?;
    Ok(AuthSettings {
        bypass_routes,
        ignored_bypass_routes,
        bypass_all: env.flag("HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES")?,
        report_only: report_only && acknowledged,
        report_only_ignored: report_only && !acknowledged,
        verify_client_context: file_bool(
            file,
            "mesh.authentication.verifyClientContext",
            &a.verify_client_context,
            defaults::VERIFY_CLIENT_CONTEXT,
        )?,
        cache_max_ttl: file_value(
            file,
            "mesh.authentication.cache.maxTtl",
            &a.cache.max_ttl,
            defaults::CACHE_MAX_TTL,
            parse_duration,
        )?,
        cache_max_entries: file_value(
            file,
            "mesh.authentication.cache.maxEntries",
            &a.cache.max_entries,
            defaults::CACHE_MAX_ENTRIES,
            |v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("'{v}' is not a whole number"))
            },
        )?,
    })
}

/// `HEROKU_APPLINK_SERVICE_MESH_ASSERTION`: its key goes to the app the sidecar starts, so it
/// needs an app command. A key already in the environment is named, never shown.
fn assertion(env: &mut Env<'_>, command: &[String]) -> Result<bool, ConfigError> {
    let on = env.flag("HEROKU_APPLINK_SERVICE_MESH_ASSERTION")?;
    if on && command.is_empty() {
        return err(
            "HEROKU_APPLINK_SERVICE_MESH_ASSERTION=true needs the app command: the assertion's \
             key is drawn at start-up and given to the app the sidecar starts; put the app's \
             command after the sidecar's options (heroku-applink-service-mesh -- <command>)",
        );
    }
    let key = super::ASSERTION_KEY_VARIABLE;
    if env.get(key).is_some() {
        env.warnings.push(if on {
            format!("{key} is set in the sidecar's environment: the app is given this boot's key instead")
        } else {
            format!(
                "{key} is set but HEROKU_APPLINK_SERVICE_MESH_ASSERTION is not true: no request \
                 carries an assertion, so an app that checks one refuses every request"
            )
        });
    }
    Ok(on)
}

fn health_route(file: &FileConfig) -> Result<Option<String>, ConfigError> {
    let h = &file.mesh.healthcheck;
    let enabled = file_bool(
        file,
        "mesh.healthcheck.enable",
        &h.enable,
        defaults::HEALTHCHECK_ENABLE,
    )?;
    let route = h
        .route
        .clone()
        .unwrap_or_else(|| defaults::HEALTHCHECK_ROUTE.to_string());
    if !route.starts_with('/') {
        return file_err(
            file,
            "mesh.healthcheck.route",
            format!("'{route}' must start with '/'"),
        );
    }
    Ok(enabled.then_some(route))
}

fn timeouts(file: &FileConfig) -> Result<Timeouts, ConfigError> {
    let t = &file.mesh.timeouts;
    let d = |key: &str, value: &Option<String>, default: Duration, may_be_zero: bool| {
        let key = format!("mesh.timeouts.{key}");
        let duration = file_value(file, &key, value, default, parse_duration)?;
        if duration.is_zero() && !may_be_zero {
            return file_err(file, &key, "must be more than 0s");
        }
        Ok(duration)
    };
    Ok(Timeouts {
        header_read: d("headerRead", &t.header_read, defaults::HEADER_READ, false)?,
        idle: d("idle", &t.idle, defaults::IDLE, false)?,
        auth: d("auth", &t.auth, defaults::AUTH, false)?,
        app_response: d(
            "appResponse",
            &t.app_response,
            defaults::APP_RESPONSE,
            false,
        )?,
        app_boot: d("appBoot", &t.app_boot, defaults::APP_BOOT, true)?,
        drain: d("drain", &t.drain, defaults::DRAIN, true)?,
        app_pool_idle: d(
            "appPoolIdle",
            &t.app_pool_idle,
            defaults::APP_POOL_IDLE,
            true,
        )?,
        send: d("send", &t.send, defaults::SEND, false)?,
    })
}

/// `app.host`: `http://host` (the scheme may be omitted); no port, path or https.
fn parse_app_host(value: &str) -> Result<String, String> {
    let rest = value.strip_prefix("http://").unwrap_or(value);
    if rest.contains("://") {
        return Err(format!(
            "'{value}' must be an http:// host (the app is reached over plain HTTP)"
        ));
    }
    let authority: http::uri::Authority = rest
        .trim_end_matches('/')
        .parse()
        .map_err(|_| format!("'{value}' is not a host"))?;
    if authority.port().is_some() {
        return Err(format!(
            "'{value}' must not carry a port; set app.port or APP_PORT"
        ));
    }
    Ok(authority.host().to_string())
}

/// The name users reach for by habit; it is not read.
const YML_SPELLING: &str = "heroku-applink-service-mesh.yml";

/// Reads the YAML file: the one named by `--config` (must exist), else the default name if
/// present. A `.yml` file beside no `.yaml` one is not read, with a warning.
fn read_file(
    explicit: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<(FileConfig, Option<PathBuf>), ConfigError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let path = PathBuf::from(defaults::CONFIG_FILE);
            if !path.exists() {
                if Path::new(YML_SPELLING).exists() {
                    warnings.push(format!(
                        "{YML_SPELLING} is not read: rename it to {}, or pass \
                         --config {YML_SPELLING}",
                        defaults::CONFIG_FILE
                    ));
                }
                return Ok((FileConfig::default(), None));
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let parsed = file::parse(&path.display().to_string(), &text).map_err(ConfigError)?;
    Ok((parsed, Some(path)))
}

/// The variables the sidecar reads that are set, for `--check`: the environment's own and trace
/// export's (here, above both, so that neither needs the other's list).
fn known_set(env: &Env<'_>) -> Vec<&'static str> {
    KNOWN
        .iter()
        .chain(&super::otel::VARIABLES)
        .copied()
        .filter(|name| env.get(name).is_some())
        .collect()
}
