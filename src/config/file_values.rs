//! Reading the YAML file's values: one parsed into its type with its error placed on its line, and
//! which keys the file sets (for `--check`).

use super::ConfigError;
use super::file::FileConfig;
use super::values::parse_go_bool;

/// A value of the file, parsed; an error names the file, the line and the key.
pub(super) fn file_value<T>(
    file: &FileConfig,
    key: &str,
    value: &Option<String>,
    default: T,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => parse(v).map_err(|e| ConfigError(file.message(key, &e))),
    }
}

pub(super) fn file_bool(
    file: &FileConfig,
    key: &str,
    value: &Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    file_value(file, key, value, default, |v| {
        parse_go_bool(v).ok_or_else(|| format!("'{v}' is not true or false"))
    })
}

/// An error about the file's `key`, placed on its line.
pub(super) fn file_err<T>(
    file: &FileConfig,
    key: &str,
    why: impl AsRef<str>,
) -> Result<T, ConfigError> {
    Err(ConfigError(file.message(key, why.as_ref())))
}

/// The keys the file sets, in the YAML's spelling (`mesh.timeouts.idle`), for `--check`.
pub(super) fn keys_set(file: &FileConfig) -> Vec<&'static str> {
    let (a, m) = (&file.app, &file.mesh);
    let (auth, t, l) = (&m.authentication, &m.timeouts, &m.limits);
    [
        ("app.port", a.port.is_some()),
        ("app.host", a.host.is_some()),
        (
            "mesh.authentication.bypassRoutes",
            auth.bypass_routes.is_some(),
        ),
        (
            "mesh.authentication.verifyClientContext",
            auth.verify_client_context.is_some(),
        ),
        (
            "mesh.authentication.cache.maxTtl",
            auth.cache.max_ttl.is_some(),
        ),
        (
            "mesh.authentication.cache.maxEntries",
            auth.cache.max_entries.is_some(),
        ),
        ("mesh.healthcheck.enable", m.healthcheck.enable.is_some()),
        ("mesh.healthcheck.route", m.healthcheck.route.is_some()),
        ("mesh.timeouts.headerRead", t.header_read.is_some()),
        ("mesh.timeouts.idle", t.idle.is_some()),
        ("mesh.timeouts.auth", t.auth.is_some()),
        ("mesh.timeouts.appResponse", t.app_response.is_some()),
        ("mesh.timeouts.appBoot", t.app_boot.is_some()),
        ("mesh.timeouts.drain", t.drain.is_some()),
        ("mesh.timeouts.appPoolIdle", t.app_pool_idle.is_some()),
        (
            "mesh.limits.dataActionTargetBody",
            l.data_action_target_body.is_some(),
        ),
        ("mesh.limits.bufferedBodies", l.buffered_bodies.is_some()),
        ("mesh.limits.headerBytes", l.header_bytes.is_some()),
        (
            "mesh.limits.maxInFlightRequests",
            l.max_in_flight_requests.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect()
}
