//! The sections of the configuration that come from environment variables only: the mode and the
//! AppLink add-on attachment, logging, and the runtime's threads (docs/behaviour.md §2).

use std::collections::HashMap;

use super::Flags;
use super::defaults;
use super::values::{parse_go_bool, parse_port};
use super::{ApiConfig, Attachments, ConfigError, LogSettings, Mode, Secret, is_loopback};

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// The variables whose values `--check` attributes (the attachment's own are shown apart).
pub(super) const KNOWN: [&str; 14] = [
    "PORT",
    "APP_PORT",
    "HEROKU_APPLINK_SERVICE_MESH_DEV",
    "HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES",
    "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
    "HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY",
    "HEROKU_APPLINK_SERVICE_MESH_ASSERTION",
    "HEROKU_APPLINK_SERVICE_MESH_ADDON",
    "HEROKU_APPLINK_ADDON_NAME",
    "HEROKU_APPLINK_SERVICE_MESH_LOG",
    "HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT",
    "HEROKU_APPLINK_SERVICE_MESH_WORKERS",
    "HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS",
    "SSL_CERT_FILE",
];

/// Reads environment variables (empty counts as unset) and collects start-up warnings.
pub(super) struct Env<'a> {
    vars: &'a HashMap<String, String>,
    pub(super) warnings: Vec<String>,
}

impl<'a> Env<'a> {
    pub(super) fn new(vars: &'a HashMap<String, String>) -> Env<'a> {
        Env {
            vars,
            warnings: Vec::new(),
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// The names of the variables that are set, sorted.
    fn names(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .vars
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// A Go-style boolean, false when unset. Another spelling is an error: read as false it
    /// could hide what the user meant (a dev mode that is not on, a bypass that is not taken).
    pub(super) fn flag(&self, name: &str) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) => parse_go_bool(&v).ok_or_else(|| {
                ConfigError(format!(
                    "{name}={v:?} is not a boolean: use true or false (also accepted: 1 t T TRUE \
                     True, 0 f F FALSE False)"
                ))
            }),
        }
    }

    pub(super) fn port(&self, name: &str) -> Result<Option<u16>, ConfigError> {
        self.get(name)
            .map(|p| parse_port(&p).map_err(|e| ConfigError(format!("{name}: {e}"))))
            .transpose()
    }
}

/// Dev or production; `dev_hint` (a `--dev` written after the app command) is added to a
/// missing add-on's error.
pub(super) fn mode(
    flags: &Flags,
    env: &mut Env<'_>,
    dyno: Option<&str>,
    dev_hint: Option<&str>,
) -> Result<Mode, ConfigError> {
    if !(flags.dev || env.flag("HEROKU_APPLINK_SERVICE_MESH_DEV")?) {
        return Ok(Mode::Production(attachments(env, dev_hint)?));
    }
    match dyno {
        Some(dyno) => err(format!(
            "dev mode is refused on a Heroku dyno (DYNO={dyno}); remove --dev and \
             HEROKU_APPLINK_SERVICE_MESH_DEV from the dyno's configuration"
        )),
        None => Ok(Mode::Dev),
    }
}

/// The default attachment, and every other one the environment holds: a `<NAME>_API_URL` whose URL
/// names an add-on (`…/addons/<uuid>`) on the default attachment's host, beside a `<NAME>_TOKEN`.
/// The host rule keeps another service's variables (`VENDOR_API_URL=https://vendor/addons/ab12`)
/// from ever receiving a request context and deciding it is authenticated. An add-on attached
/// under several names is used once, under the first.
fn attachments(env: &mut Env<'_>, dev_hint: Option<&str>) -> Result<Attachments, ConfigError> {
    let default = api_config(env, dev_hint)?;
    let mut others: Vec<ApiConfig> = Vec::new();
    for name in env.names() {
        let Some(attachment) = name.strip_suffix("_API_URL") else {
            continue;
        };
        let (Some(url), Some(token)) = (env.get(name), env.get(&format!("{attachment}_TOKEN")))
        else {
            continue;
        };
        let base_url = url.trim_end_matches('/').to_string();
        let Some(uuid) = addon_uuid(&base_url) else {
            continue;
        };
        let mut known = std::iter::once(&default).chain(&others);
        if attachment == default.attachment
            || known.any(|a| a.addon_uuid.as_deref() == Some(uuid.as_str()))
        {
            continue;
        }
        if host_of(&base_url) != host_of(&default.base_url) {
            env.warnings.push(format!(
                "{name} names an add-on on another host than {}_API_URL: not used as an AppLink \
                 attachment",
                default.attachment
            ));
            continue;
        }
        if let Err(why) = check_api_url(name, &base_url) {
            env.warnings
                .push(format!("{why}; the attachment {attachment} is not used"));
            continue;
        }
        others.push(ApiConfig {
            base_url,
            token: Secret::new(token),
            attachment: attachment.to_string(),
            addon_uuid: Some(uuid),
        });
    }
    Ok(Attachments::new(default, others))
}

/// A URL's host, lower case.
fn host_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    uri.host().map(str::to_ascii_lowercase)
}

/// The add-on's uuid in an attachment URL: the path segment after `/addons/`, made of hex digits
/// and dashes, lower case.
pub(crate) fn addon_uuid(base_url: &str) -> Option<String> {
    let uri: http::Uri = base_url.parse().ok()?;
    let (_, rest) = uri.path().split_once("/addons/")?;
    let uuid = rest.split('/').next()?;
    (!uuid.is_empty() && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        .then(|| uuid.to_ascii_lowercase())
}

/// The default add-on attachment: `HEROKU_APPLINK_SERVICE_MESH_ADDON`, else the SDKs' own
/// `HEROKU_APPLINK_ADDON_NAME` (so one config var configures the SDK and the sidecar), else
/// `HEROKU_APPLINK`. Its URL and token are `<NAME>_API_URL` and `<NAME>_TOKEN`.
fn api_config(env: &Env<'_>, dev_hint: Option<&str>) -> Result<ApiConfig, ConfigError> {
    let attachment = env
        .get("HEROKU_APPLINK_SERVICE_MESH_ADDON")
        .or_else(|| env.get("HEROKU_APPLINK_ADDON_NAME"))
        .unwrap_or_else(|| "HEROKU_APPLINK".to_string());
    let url_var = format!("{attachment}_API_URL");
    let token_var = format!("{attachment}_TOKEN");
    let (url, token) = match (env.get(&url_var), env.get(&token_var)) {
        (Some(url), Some(token)) => (url, token),
        (url, token) => {
            let (has_url, has_token) = (url.is_some(), token.is_some());
            let missing = missing_attachment(&attachment, has_url, has_token);
            return err(match dev_hint {
                Some(hint) => format!("{missing}. Note: {hint}"),
                None => missing,
            });
        }
    };
    let base_url = url.trim_end_matches('/').to_string();
    check_api_url(&url_var, &base_url)?;
    Ok(ApiConfig {
        addon_uuid: addon_uuid(&base_url),
        base_url,
        token: Secret::new(token),
        attachment,
    })
}

/// What to say when the attachment's two variables are not both set.
fn missing_attachment(attachment: &str, has_url: bool, has_token: bool) -> String {
    let url_var = format!("{attachment}_API_URL");
    let token_var = format!("{attachment}_TOKEN");
    let (set, missing) = match (has_url, has_token) {
        (true, _) => (url_var, token_var),
        (false, true) => (token_var, url_var),
        (false, false) => {
            return format!(
                "{url_var} and {token_var} must be set: provision the Heroku AppLink add-on \
                 (heroku addons:create heroku-applink), or run locally in dev mode (--dev, or \
                 HEROKU_APPLINK_SERVICE_MESH_DEV=true in .env for heroku local)"
            );
        }
    };
    format!(
        "{missing} is not set, though {set} is: the add-on attachment {attachment} sets both; \
         copy {missing} from `heroku config` or re-attach the add-on (locally, dev mode needs \
         neither: --dev)"
    )
}

/// The API URL: https, or plain http to a loopback host (a local fake API).
fn check_api_url(url_var: &str, base_url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = base_url
        .parse()
        .map_err(|_| ConfigError(format!("{url_var} is not a URL")))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => err(format!(
            "{url_var} must use https (plain http is only allowed for a loopback host)"
        )),
        _ => err(format!("{url_var} must be an https:// URL")),
    }
}

pub(super) fn log_settings(env: &Env<'_>) -> Result<LogSettings, ConfigError> {
    let filter = env
        .get("HEROKU_APPLINK_SERVICE_MESH_LOG")
        .unwrap_or_else(|| defaults::LOG_FILTER.into());
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

/// `HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS`: how many requests the dev dashboard keeps
/// (0 to 100000; 0 turns the dashboard off).
pub(super) fn dashboard_requests(env: &Env<'_>) -> Result<usize, ConfigError> {
    const NAME: &str = "HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS";
    env.get(NAME).map_or(Ok(defaults::DASHBOARD_REQUESTS), |v| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 100_000)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{NAME}={v:?} is not a number of requests; use a whole number from 0 (no \
                     dashboard) to 100000"
                ))
            })
    })
}

/// `HEROKU_APPLINK_SERVICE_MESH_WORKERS`: how many runtime threads, for a dyno where the app should
/// keep most of the cores.
pub(super) fn workers(env: &Env<'_>) -> Result<Option<usize>, ConfigError> {
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
