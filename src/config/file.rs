//! The optional YAML file, `heroku-applink-service-mesh.yaml`, as it is written.
//!
//! Every scalar is read as text (so `3000` and `"3000"` are the same) and parsed into its real type by
//! `config::load`. Every message about the file starts with its name and the line
//! (`heroku-applink-service-mesh.yaml, line 4: …`): unknown or misplaced keys, tabs, and values
//! that do not parse.

use serde::Deserialize;

use super::BypassRoute;
use super::place::{in_the_files_words, line_of, with_place_of_misplaced_key};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct FileConfig {
    pub(crate) app: AppSection,
    pub(crate) mesh: MeshSection,
    /// The file's name and text, for messages; `None` when no file was read.
    #[serde(skip)]
    source: Option<Source>,
}

#[derive(Debug)]
struct Source {
    name: String,
    text: String,
}

impl FileConfig {
    /// The line `key` is written on, when a file was read and the key is in it.
    pub(crate) fn line(&self, key: &str) -> Option<usize> {
        line_of(&self.source.as_ref()?.text, key)
    }

    /// A message about the value of `key` (`mesh.timeouts.idle`), prefixed with the file and the
    /// line the key is written on.
    pub(crate) fn message(&self, key: &str, why: &str) -> String {
        match &self.source {
            None => format!("{key}: {why}"),
            Some(source) => match line_of(&source.text, key) {
                Some(line) => format!("{}, line {line}: {key}: {why}", source.name),
                None => format!("{}: {key}: {why}", source.name),
            },
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AppSection {
    pub(crate) port: Option<String>,
    pub(crate) host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MeshSection {
    pub(crate) authentication: AuthenticationSection,
    pub(crate) healthcheck: HealthcheckSection,
    pub(crate) timeouts: TimeoutsSection,
    pub(crate) limits: LimitsSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub(crate) struct AuthenticationSection {
    pub(crate) bypass_routes: Option<Vec<BypassRoute>>,
    pub(crate) verify_client_context: Option<String>,
    pub(crate) cache: CacheSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub(crate) struct CacheSection {
    pub(crate) max_ttl: Option<String>,
    pub(crate) max_entries: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct HealthcheckSection {
    pub(crate) enable: Option<String>,
    pub(crate) route: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub(crate) struct TimeoutsSection {
    pub(crate) header_read: Option<String>,
    pub(crate) idle: Option<String>,
    pub(crate) auth: Option<String>,
    pub(crate) app_response: Option<String>,
    pub(crate) app_boot: Option<String>,
    pub(crate) drain: Option<String>,
    pub(crate) app_pool_idle: Option<String>,
    pub(crate) send: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub(crate) struct LimitsSection {
    pub(crate) data_action_target_body: Option<String>,
    pub(crate) buffered_bodies: Option<String>,
    pub(crate) header_bytes: Option<String>,
    pub(crate) max_in_flight_requests: Option<String>,
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

/// The keys' names alone.
const KEY_NAMES: [&str; KEYS.len()] = {
    let mut names = [""; KEYS.len()];
    let mut n = 0;
    while n < KEYS.len() {
        names[n] = KEYS[n].0;
        n += 1;
    }
    names
};

/// Parses the file's text; `name` starts every message about it. An empty file is the defaults.
pub(crate) fn parse(name: &str, text: &str) -> Result<FileConfig, String> {
    let at = |line: usize| format!("{name}, line {line}");
    let tab_indented = |line: &str| {
        let written = line.trim_start();
        // A comment too: the YAML parser refuses a tab before it as well.
        !written.is_empty() && line[..line.len() - written.len()].contains('\t')
    };
    if let Some(line) = text.lines().position(tab_indented) {
        return Err(format!(
            "{}: a tab in the indentation; indent with spaces, not tabs",
            at(line + 1)
        ));
    }
    let mut file: FileConfig = if text.trim().is_empty() {
        FileConfig::default()
    } else {
        serde_norway::from_str(text).map_err(|e| {
            let location = e.location();
            let mut why = e.to_string();
            if let Some(l) = &location {
                why = why.replace(&format!(" at line {} column {}", l.line(), l.column()), "");
            }
            let why = in_the_files_words(with_place_of_misplaced_key(why, &KEY_NAMES));
            match location {
                Some(l) => format!("{}: {why}", at(l.line())),
                None => format!("{name}: {why}"),
            }
        })?
    };
    file.source = Some(Source {
        name: name.to_string(),
        text: text.to_string(),
    });
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, String> {
        super::parse("heroku-applink-service-mesh.yaml", text)
    }

    #[test]
    fn quoted_and_unquoted_scalars_read_the_same() {
        let file = parse("app:\n  port: 3001\n  host: \"http://127.0.0.1\"\nmesh:\n  healthcheck: { enable: true, route: '/up' }\n").unwrap();
        assert_eq!(file.app.port.as_deref(), Some("3001"));
        assert_eq!(file.app.host.as_deref(), Some("http://127.0.0.1"));
        assert_eq!(file.mesh.healthcheck.enable.as_deref(), Some("true"));
        assert_eq!(file.mesh.healthcheck.route.as_deref(), Some("/up"));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse("app:\n  port: 3000\nmesh:\n  authentication:\n    bypasRoutes: []\n")
            .unwrap_err();
        assert!(err.contains("bypasRoutes"), "{err}");
        assert!(err.contains("line 5"), "{err}");
    }

    #[test]
    fn bypass_routes_are_globs_or_paths_with_methods() {
        let file = parse(
            "mesh:\n  authentication:\n    bypassRoutes:\n      - /a\n      - \"/b/**\"\n      - path: /hooks/**\n        methods: [POST, put]\n      - { path: /c }\n",
        )
        .unwrap();
        let routes = file.mesh.authentication.bypass_routes.unwrap();
        let shown: Vec<String> = routes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["\"/a\"", "\"/b/**\"", "\"/hooks/**\" (POST, PUT)", "\"/c\""]
        );
        for (entry, says) in [
            ("- pathPrefix: /api/", "write `path: /api/**`"),
            ("- { path: /x, verbs: [GET] }", "no `verbs:`"),
            ("- { enabled: true }", "no `enabled:`"),
            ("- { methods: [POST] }", "needs `path:`"),
            ("- { path: /x, methods: [] }", "`methods` is empty"),
            ("- { path: /x, methods: [\"GE T\"] }", "not an HTTP method"),
            ("- { path: [/x] }", "written as a string"),
        ] {
            let yaml = format!("mesh:\n  authentication:\n    bypassRoutes:\n      {entry}\n");
            let err = parse(&yaml).unwrap_err();
            assert!(
                err.contains(says) && err.contains("line 4"),
                "{entry}: {err}"
            );
        }
    }

    #[test]
    fn misplaced_key_is_an_error_that_says_where_it_belongs() {
        let err = parse("mesh:\n  port: 3000\n").unwrap_err();
        assert!(
            err.starts_with("heroku-applink-service-mesh.yaml, line 2: "),
            "{err}"
        );
        assert!(err.ends_with("`port` belongs at app.port"), "{err}");
        let err = parse("mesh:\n  idle: 5s\n").unwrap_err();
        assert!(
            err.contains("line 2") && err.ends_with("belongs at mesh.timeouts.idle"),
            "{err}"
        );
    }

    #[test]
    fn tabs_are_named() {
        let err = parse("mesh:\n  timeouts:\n\t\tidle: 1s\n").unwrap_err();
        assert_eq!(
            err,
            "heroku-applink-service-mesh.yaml, line 3: a tab in the indentation; indent with spaces, not tabs"
        );
        // Before a comment too, which the YAML parser would refuse less clearly.
        let err = parse("mesh:\n\t# a note\n").unwrap_err();
        assert!(err.contains("line 2: a tab in the indentation"), "{err}");
        // A tab inside a value is not indentation.
        assert!(parse("mesh:\n  healthcheck:\n    route: \"/a\tb\"\n").is_ok());
    }

    #[test]
    fn values_are_placed_on_their_line() {
        let text = "# comment\nmesh:\n  timeouts:\n    auth: 2s\n    idle: 10 sec\n  healthcheck: { enable: maybe }\n";
        let file = parse(text).unwrap();
        assert_eq!(
            file.message("mesh.timeouts.idle", "bad"),
            "heroku-applink-service-mesh.yaml, line 5: mesh.timeouts.idle: bad"
        );
        assert_eq!(
            file.message("mesh.healthcheck.enable", "bad"),
            "heroku-applink-service-mesh.yaml, line 6: mesh.healthcheck.enable: bad"
        );
        assert_eq!(line_of(text, "app.port"), None);
        assert_eq!(
            FileConfig::default().message("app.port", "bad"),
            "app.port: bad"
        );
    }
}
