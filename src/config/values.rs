//! Parsers for the scalar values of the environment and the YAML file.

use std::time::Duration;

use super::ConfigError;

/// Go's `strconv.ParseBool` (compat): `Some(b)` for the accepted spellings, `None` otherwise.
pub(crate) fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A duration: `500ms`, `10s`, `2m`, `1h`, or a plain number of seconds (`10`, `1.5`).
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{value}' is not a duration (use 500ms, 10s, 2m or seconds)"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "'{value}' has an unknown duration unit '{other}' (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{value}' is not a valid duration"))
}

/// A byte size: `10MiB`, `64KiB`, `1GiB`, `500KB`, `2MB`, or a plain number of bytes.
pub(crate) fn parse_size(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{value}' is not a size (use 64KiB, 10MiB or bytes)"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "'{value}' has an unknown size unit '{other}' (use B, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("'{value}' is too large"))
}

/// A duration as the file writes it: `10s`, `1500ms`, `0s` (reads back with [`parse_duration`]).
pub(crate) fn show_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

/// A size as the file writes it, in the largest binary unit that divides it: `10MiB`, `64KiB`,
/// `1500B` (reads back with [`parse_size`]).
pub(crate) fn show_size(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes != 0 && bytes % (1 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

/// A TCP port number.
pub(crate) fn parse_port(value: &str) -> Result<u16, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a port number (0-65535)"))
}

/// `key=value,…` with percent-encoded values (the W3C baggage form the specification uses). An
/// error names an entry by its place, never by its text: a value may be a secret.
pub(super) fn key_values(name: &str, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .enumerate()
        .map(|(at, pair)| {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                ConfigError(format!(
                    "{name}: entry {} (not shown: it may hold a secret) is not key=value (entries \
                     are separated by commas; a comma in a value is written %2C)",
                    at + 1
                ))
            })?;
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s.trim())
                    .decode_utf8()
                    .map(|s| s.into_owned())
                    .map_err(|_| {
                        ConfigError(format!("{name}: an entry's percent-encoding is not UTF-8"))
                    })
            };
            let key = decode(key)?;
            if key.is_empty() {
                return Err(ConfigError(format!("{name}: an entry has an empty key")));
            }
            Ok((key, decode(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_values_read_back_the_same() {
        for text in ["10s", "1500ms", "0s", "100s", "25ms"] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(show_duration(duration), text);
        }
        assert_eq!(show_duration(Duration::from_secs(120)), "120s");
        for (text, shown) in [
            ("10MiB", "10MiB"),
            ("64KiB", "64KiB"),
            ("1500", "1500B"),
            ("2GiB", "2GiB"),
            ("0", "0B"),
            ("1MB", "1000000B"),
        ] {
            let size = parse_size(text).unwrap();
            assert_eq!(show_size(size), shown);
            assert_eq!(parse_size(&show_size(size)).unwrap(), size);
        }
    }

    #[test]
    fn go_bool_accepts_exactly_go_spellings() {
        for yes in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(yes), Some(true), "{yes}");
        }
        for no in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(no), Some(false), "{no}");
        }
        for other in ["yes", "on", "tRUE", " true", "2", ""] {
            assert_eq!(parse_go_bool(other), None, "{other}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1PiB").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }
}
