//! The optional YAML file, `heroku-applink-service-mesh.yaml`, as it is written.
//!
//! Every scalar is read as text (so `3000` and `"3000"` are the same) and parsed into its real type by
//! `config::load`. Unknown or misplaced keys are errors that name the key and its line.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct FileConfig {
    pub(crate) app: AppSection,
    pub(crate) mesh: MeshSection,
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

/// One `bypassRoutes` entry: a glob written as a string. Users coming from other routers write
/// `- path: /x` or `- pathPrefix: /api/`; those are refused with the equivalent glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BypassRoute(pub(crate) String);

impl<'de> Deserialize<'de> for BypassRoute {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BypassRouteVisitor)
    }
}

struct BypassRouteVisitor;

impl<'de> serde::de::Visitor<'de> for BypassRouteVisitor {
    type Value = BypassRoute;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a route glob written as a string, e.g. \"/api/**\"")
    }

    fn visit_str<E>(self, v: &str) -> Result<BypassRoute, E> {
        Ok(BypassRoute(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<BypassRoute, E> {
        Ok(BypassRoute(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<BypassRoute, E> {
        Ok(BypassRoute(v.to_string()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<BypassRoute, A::Error> {
        let mut written = None;
        while let Some((key, value)) = map.next_entry::<String, serde_norway::Value>()? {
            if written.is_none() {
                written = Some((key, value.as_str().map(str::to_string)));
            }
        }
        let glob = match &written {
            Some((key, Some(prefix))) if key == "pathPrefix" || key == "prefix" => {
                format!("\"{}/**\"", prefix.trim_end_matches('/'))
            }
            Some((_, Some(path))) => format!("\"{path}\""),
            // Never a real route: a suggestion pasted as it is must not open one.
            _ => "\"/<path>\" or \"/<prefix>/**\"".into(),
        };
        let what = written.map_or("a map".to_string(), |(key, _)| format!("`{key}:`"));
        Err(serde::de::Error::custom(format!(
            "bypassRoutes entries are globs written as strings, not {what}: use {glob}"
        )))
    }
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub(crate) struct LimitsSection {
    pub(crate) data_action_target_body: Option<String>,
    pub(crate) buffered_bodies: Option<String>,
    pub(crate) header_bytes: Option<String>,
    pub(crate) max_in_flight_requests: Option<String>,
}

/// Parses the file's text. An empty file is the defaults.
pub(crate) fn parse(text: &str) -> Result<FileConfig, String> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bypass_routes_written_as_maps_get_the_equivalent_glob() {
        for (entry, glob) in [
            ("- pathPrefix: /api/", "use \"/api/**\""),
            ("- path: /robots.txt", "use \"/robots.txt\""),
            ("- { route: /x }", "use \"/x\""),
            ("- { enabled: true }", "use \"/<path>\" or \"/<prefix>/**\""),
        ] {
            let yaml = format!("mesh:\n  authentication:\n    bypassRoutes:\n      {entry}\n");
            let err = parse(&yaml).unwrap_err();
            assert!(err.contains(glob) && err.contains("line 4"), "{err}");
        }
        let file = parse("mesh:\n  authentication:\n    bypassRoutes: [/a, \"/b/**\"]\n").unwrap();
        let routes: Vec<String> = file
            .mesh
            .authentication
            .bypass_routes
            .unwrap()
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(routes, ["/a", "/b/**"]);
    }

    #[test]
    fn misplaced_key_is_an_error() {
        let err = parse("mesh:\n  port: 3000\n").unwrap_err();
        assert!(err.contains("port") && err.contains("line 2"), "{err}");
    }
}
