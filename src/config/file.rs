//! The optional YAML file, `heroku-applink-service-mesh.yaml`, as it is written.
//!
//! Every scalar is read as text (so `3000` and `"3000"` are the same) and parsed into its real type by
//! `config::load`. Unknown or misplaced keys are errors that name the key and its line.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub app: AppSection,
    pub mesh: MeshSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppSection {
    pub port: Option<String>,
    pub host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeshSection {
    pub authentication: AuthenticationSection,
    pub healthcheck: HealthcheckSection,
    pub timeouts: TimeoutsSection,
    pub limits: LimitsSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct AuthenticationSection {
    pub bypass_routes: Option<Vec<String>>,
    pub verify_client_context: Option<String>,
    pub cache: CacheSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct CacheSection {
    pub max_ttl: Option<String>,
    pub max_entries: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthcheckSection {
    pub enable: Option<String>,
    pub route: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct TimeoutsSection {
    pub header_read: Option<String>,
    pub idle: Option<String>,
    pub auth: Option<String>,
    pub app_response: Option<String>,
    pub app_boot: Option<String>,
    pub drain: Option<String>,
    pub app_pool_idle: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct LimitsSection {
    pub data_action_target_body: Option<String>,
    pub header_bytes: Option<String>,
    pub max_in_flight_requests: Option<String>,
}

/// Parses the file's text. An empty file is the defaults.
pub fn parse(text: &str) -> Result<FileConfig, String> {
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
    fn misplaced_key_is_an_error() {
        let err = parse("mesh:\n  port: 3000\n").unwrap_err();
        assert!(err.contains("port") && err.contains("line 2"), "{err}");
    }
}
