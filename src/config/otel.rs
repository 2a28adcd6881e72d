//! OpenTelemetry trace export (docs/behaviour.md §8.2), from the standard `OTEL_*` variables: off
//! unless an OTLP endpoint is named, and refused at start-up when a value cannot be what the user
//! meant (a typo in an endpoint would otherwise lose every span without a word).

use std::time::Duration;

use http::{HeaderName, Uri};

use super::env::Env;
use super::values::key_values;
use super::{ConfigError, Secret, defaults};

/// The variables this section reads, for `--check`'s origins.
pub(super) const VARIABLES: [&str; 20] = [
    super::resource::SERVICE_NAME_VARIABLE,
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
];

/// Where spans go, and which are kept.
#[derive(Clone, Debug)]
pub(crate) struct TraceExport {
    /// The full OTLP/HTTP traces URL (`…/v1/traces`).
    pub(crate) endpoint: Uri,
    /// Sent with every export; the values are often API keys.
    pub(crate) headers: Vec<(HeaderName, Secret)>,
    pub(crate) timeout: Duration,
    pub(crate) service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded, in order (`service.name` taken out).
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) sampler: Sampler,
    /// Spans waiting for export at most; more are dropped and counted.
    pub(crate) queue_size: usize,
    /// How long a span may wait for its batch.
    pub(crate) schedule_delay: Duration,
    /// The longest text attribute value, in bytes; a longer one is cut (the path, the request id).
    pub(crate) value_limit: usize,
}

/// `OTEL_TRACES_SAMPLER`: whether a trace's spans are recorded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// This share of traces, decided by the trace id (the same decision in every service).
    TraceIdRatio(f64),
    /// A caller's decision, when it sent a valid `traceparent`; else the root's.
    ParentBased(Root),
}

/// A parent-based sampler's choice for traces that start at the sidecar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Root {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
}

impl std::fmt::Display for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sampler::AlwaysOn => f.write_str("always_on"),
            Sampler::AlwaysOff => f.write_str("always_off"),
            Sampler::TraceIdRatio(ratio) => write!(f, "traceidratio {ratio}"),
            Sampler::ParentBased(Root::AlwaysOn) => f.write_str("parentbased_always_on"),
            Sampler::ParentBased(Root::AlwaysOff) => f.write_str("parentbased_always_off"),
            Sampler::ParentBased(Root::TraceIdRatio(ratio)) => {
                write!(f, "parentbased_traceidratio {ratio}")
            }
        }
    }
}

/// The largest export queue: a million waiting spans is already about a gigabyte.
const MAX_QUEUE_SIZE: usize = 1_000_000;

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// The trace export, or `None` when no endpoint is named, `OTEL_TRACES_EXPORTER=none` or
/// `OTEL_SDK_DISABLED=true`.
pub(super) fn trace_export(env: &Env<'_>) -> Result<Option<TraceExport>, ConfigError> {
    if !exporting(env)? {
        return Ok(None);
    }
    let Some(endpoint) = endpoint(env)? else {
        return Ok(None);
    };
    protocol(env)?;
    let resource = super::resource::resource(env)?;
    Ok(Some(TraceExport {
        endpoint,
        headers: headers(env)?,
        timeout: millis_var(
            env,
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        )?
        .unwrap_or(defaults::OTEL_EXPORT_TIMEOUT),
        service_name: resource.service_name,
        resource: resource.attributes,
        sampler: sampler(env)?,
        queue_size: queue_size(env)?,
        schedule_delay: millis_var(env, "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_SCHEDULE_DELAY")?
            .unwrap_or(defaults::OTEL_SCHEDULE_DELAY),
        value_limit: value_limit(env)?,
    }))
}

/// Whether the variables ask for an export by OTLP at all (an endpoint is still needed), or
/// ask for what the sidecar does not do.
fn exporting(env: &Env<'_>) -> Result<bool, ConfigError> {
    // The specification's booleans: `true` in any case is true, anything else false.
    if env
        .get("OTEL_SDK_DISABLED")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return Ok(false);
    }
    if env.get("OTEL_EXPORTER_OTLP_COMPRESSION").is_some() {
        return err(
            "OTEL_EXPORTER_OTLP_COMPRESSION is not supported: the sidecar sends \
             spans uncompressed; unset it",
        );
    }
    match env.get("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => Ok(true),
        Some("none") => Ok(false),
        Some(_) => err(
            "OTEL_TRACES_EXPORTER is not supported: the sidecar exports by OTLP \
             (otlp) or not at all (none)",
        ),
    }
}

/// `OTEL_BSP_MAX_QUEUE_SIZE`: spans waiting for export, 1 to [`MAX_QUEUE_SIZE`].
fn queue_size(env: &Env<'_>) -> Result<usize, ConfigError> {
    let Some(value) = env.get("OTEL_BSP_MAX_QUEUE_SIZE") else {
        return Ok(defaults::OTEL_QUEUE_SIZE);
    };
    value
        .parse()
        .ok()
        .filter(|n| (1..=MAX_QUEUE_SIZE).contains(n))
        .ok_or_else(|| {
            ConfigError(format!(
                "OTEL_BSP_MAX_QUEUE_SIZE is not a number of spans between 1 and {MAX_QUEUE_SIZE}"
            ))
        })
}

/// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` (the
/// specification's order), else ours: a whole number of bytes.
fn value_limit(env: &Env<'_>) -> Result<usize, ConfigError> {
    let names = [
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ];
    let Some((name, value)) = names
        .into_iter()
        .find_map(|name| env.get(name).map(|value| (name, value)))
    else {
        return Ok(defaults::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT);
    };
    value.trim().parse().map_err(|_| {
        ConfigError(format!(
            "{name} is not a whole number of bytes (the longest span attribute value)"
        ))
    })
}

/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT` with
/// `/v1/traces` added (the specification's rule).
fn endpoint(env: &Env<'_>) -> Result<Option<Uri>, ConfigError> {
    let (name, url) = match (
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(url), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url),
        (None, Some(base)) => (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("{}/v1/traces", base.trim_end_matches('/')),
        ),
        (None, None) => return Ok(None),
    };
    // The URL is never shown: it may hold credentials (`user:key@host`) or a key in its query.
    if !url.contains("://") {
        return err(format!(
            "{name} must be an http:// or https:// URL with a host, e.g. http://localhost:4318: \
             it has no scheme"
        ));
    }
    let uri: Uri = url.parse().map_err(|e| {
        ConfigError(format!(
            "{name} is not a URL ({e}); it must be an http:// or https:// URL with a host, e.g. \
             http://localhost:4318"
        ))
    })?;
    if uri.query().is_some() {
        return err(format!(
            "{name}: an OTLP endpoint has no query string (it is shown in logs and in --check)"
        ));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return err(format!(
            "{name}: put the collector's credentials in OTEL_EXPORTER_OTLP_HEADERS, not in the \
             URL (it is shown in logs and in --check)"
        ));
    }
    let wrong = match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => return Ok(Some(uri)),
        (Some("http" | "https"), _) => "it has no host".to_string(),
        (Some(_), _) => "its scheme is neither http nor https".to_string(),
        _ => "it has no http:// or https:// scheme".to_string(),
    };
    err(format!(
        "{name} must be an http:// or https:// URL with a host, e.g. http://localhost:4318: \
         {wrong}"
    ))
}

/// Only OTLP over HTTP with protobuf bodies is built in.
fn protocol(env: &Env<'_>) -> Result<(), ConfigError> {
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(protocol) = env.get(name) {
            if protocol != "http/protobuf" {
                return err(format!(
                    "{name} is not supported: the sidecar exports OTLP over HTTP \
                     with protobuf bodies (http/protobuf)"
                ));
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Headers sent with every export; their values stay secret (never shown, never logged).
fn headers(env: &Env<'_>) -> Result<Vec<(HeaderName, Secret)>, ConfigError> {
    let name = if env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS").is_some() {
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
    } else {
        "OTEL_EXPORTER_OTLP_HEADERS"
    };
    let Some(text) = env.get(name) else {
        return Ok(Vec::new());
    };
    // An entry is named by its place: a malformed one (`Authorization:Basic …`, a `:` for the
    // `=`) holds its secret in what would be its key.
    key_values(name, &text)?
        .into_iter()
        .enumerate()
        .map(|(at, (key, value))| {
            let entry = at + 1;
            let header = HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
                ConfigError(format!(
                    "{name}: entry {entry}'s key is not a valid header name (not shown: it may \
                     hold a secret; entries are key=value, e.g. Authorization=Basic%20…)"
                ))
            })?;
            if http::HeaderValue::from_str(&value).is_err() {
                return err(format!(
                    "{name}: entry {entry}'s value ({header}) cannot be sent in a header"
                ));
            }
            Ok((header, Secret::new(value)))
        })
        .collect()
}

/// Whole milliseconds from the first of two variables that is set.
fn millis_var(env: &Env<'_>, first: &str, second: &str) -> Result<Option<Duration>, ConfigError> {
    let Some((name, value)) = [first, second]
        .into_iter()
        .find_map(|name| env.get(name).map(|v| (name, v)))
    else {
        return Ok(None);
    };
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| *ms > 0)
        .map(|ms| Some(Duration::from_millis(ms)))
        .ok_or_else(|| ConfigError(format!("{name} is not a positive number of milliseconds")))
}

/// `OTEL_TRACES_SAMPLER` and its `_ARG`; parent-based, always on, by default.
fn sampler(env: &Env<'_>) -> Result<Sampler, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match env.get("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(arg) => arg
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    ConfigError(
                        "OTEL_TRACES_SAMPLER_ARG is not a ratio between 0 and 1".to_string(),
                    )
                }),
        }
    };
    Ok(
        match env.get("OTEL_TRACES_SAMPLER").as_deref().map(str::trim) {
            None | Some("parentbased_always_on") => Sampler::ParentBased(Root::AlwaysOn),
            Some("parentbased_always_off") => Sampler::ParentBased(Root::AlwaysOff),
            Some("parentbased_traceidratio") => Sampler::ParentBased(Root::TraceIdRatio(ratio()?)),
            Some("always_on") => Sampler::AlwaysOn,
            Some("always_off") => Sampler::AlwaysOff,
            Some("traceidratio") => Sampler::TraceIdRatio(ratio()?),
            Some(_) => {
                return err(
                    "OTEL_TRACES_SAMPLER is not supported: use parentbased_always_on \
                     (the default), parentbased_always_off, parentbased_traceidratio, always_on, \
                     always_off or traceidratio",
                );
            }
        },
    )
}

#[cfg(test)]
mod tests;
