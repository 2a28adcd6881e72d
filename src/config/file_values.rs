//! Reading the YAML file's values: one parsed into its type with its error placed on its line, and
//! which keys the file sets (for `--check`).

use super::ConfigError;
use super::file::{FileConfig, KEYS};
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

/// The keys the file sets, in the order of [`KEYS`], for `--check`.
pub(super) fn keys_set(file: &FileConfig) -> Vec<&'static str> {
    KEYS.iter()
        .filter(|(_, set)| set(file))
        .map(|(key, _)| *key)
        .collect()
}
