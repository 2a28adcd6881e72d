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

/// Whether a file sets one key.
type IsSet = fn(&FileConfig) -> bool;

/// Every key the file may hold, in the YAML's spelling (`mesh.timeouts.idle`), with whether a
/// file sets it.
pub(super) const KEYS: [(&str, IsSet); 20] = [
    ("app.port", |f| f.app.port.is_some()),
    ("app.host", |f| f.app.host.is_some()),
    ("mesh.authentication.bypassRoutes", |f| {
        f.mesh.authentication.bypass_routes.is_some()
    }),
    ("mesh.authentication.verifyClientContext", |f| {
        f.mesh.authentication.verify_client_context.is_some()
    }),
    ("mesh.authentication.cache.maxTtl", |f| {
        f.mesh.authentication.cache.max_ttl.is_some()
    }),
    ("mesh.authentication.cache.maxEntries", |f| {
        f.mesh.authentication.cache.max_entries.is_some()
    }),
    ("mesh.healthcheck.enable", |f| {
        f.mesh.healthcheck.enable.is_some()
    }),
    ("mesh.healthcheck.route", |f| {
        f.mesh.healthcheck.route.is_some()
    }),
    ("mesh.timeouts.headerRead", |f| {
        f.mesh.timeouts.header_read.is_some()
    }),
    ("mesh.timeouts.idle", |f| f.mesh.timeouts.idle.is_some()),
    ("mesh.timeouts.auth", |f| f.mesh.timeouts.auth.is_some()),
    ("mesh.timeouts.appResponse", |f| {
        f.mesh.timeouts.app_response.is_some()
    }),
    ("mesh.timeouts.appBoot", |f| {
        f.mesh.timeouts.app_boot.is_some()
    }),
    ("mesh.timeouts.drain", |f| f.mesh.timeouts.drain.is_some()),
    ("mesh.timeouts.appPoolIdle", |f| {
        f.mesh.timeouts.app_pool_idle.is_some()
    }),
    ("mesh.timeouts.send", |f| f.mesh.timeouts.send.is_some()),
    ("mesh.limits.dataActionTargetBody", |f| {
        f.mesh.limits.data_action_target_body.is_some()
    }),
    ("mesh.limits.bufferedBodies", |f| {
        f.mesh.limits.buffered_bodies.is_some()
    }),
    ("mesh.limits.headerBytes", |f| {
        f.mesh.limits.header_bytes.is_some()
    }),
    ("mesh.limits.maxInFlightRequests", |f| {
        f.mesh.limits.max_in_flight_requests.is_some()
    }),
];

/// The keys the file sets, in the order of [`KEYS`], for `--check`.
pub(super) fn keys_set(file: &FileConfig) -> Vec<&'static str> {
    KEYS.iter()
        .filter(|(_, set)| set(file))
        .map(|(key, _)| *key)
        .collect()
}
