//! The resource the sidecar's spans carry (docs/behaviour.md §8.2): a service of its own, placed
//! beside the app's, and Heroku's dyno metadata as the OpenTelemetry conventions map it.
//!
//! The app inherits the sidecar's environment, so `OTEL_SERVICE_NAME` and the `service.*`
//! attributes of `OTEL_RESOURCE_ATTRIBUTES` describe the app's service: taken as the sidecar's,
//! they would merge its spans into the app's service. The sidecar names itself
//! (`heroku-applink-service-mesh`, or [`SERVICE_NAME_VARIABLE`]) and takes the app's name as its
//! `service.namespace`; the other attributes (`deployment.environment`, …) describe the dyno and
//! apply.

use super::ConfigError;
use super::defaults;
use super::env::Env;

/// Ours: the sidecar's own `service.name`, which no variable meant for the app can change.
pub(super) const SERVICE_NAME_VARIABLE: &str = "HEROKU_APPLINK_SERVICE_MESH_OTEL_SERVICE_NAME";

/// Heroku's dyno metadata (labs `runtime-dyno-metadata`, always on Fir) and the attribute each
/// becomes (the conventions' `cloud_provider/heroku` mapping; `HEROKU_APP_NAME` names the
/// namespace here, the service being the sidecar's).
const DYNO_METADATA: [(&str, &str); 6] = [
    ("HEROKU_APP_ID", "heroku.app.id"),
    ("HEROKU_DYNO_ID", "service.instance.id"),
    ("HEROKU_RELEASE_VERSION", "service.version"),
    ("HEROKU_SLUG_COMMIT", "heroku.release.commit"),
    // Fir's name for the release's commit.
    ("HEROKU_BUILD_COMMIT", "heroku.release.commit"),
    (
        "HEROKU_RELEASE_CREATED_AT",
        "heroku.release.creation_timestamp",
    ),
];

/// The sidecar's service name and its other resource attributes.
pub(super) struct Resource {
    pub(super) service_name: String,
    /// In order; `service.name` never among them.
    pub(super) attributes: Vec<(String, String)>,
}

/// The resource: Heroku's metadata, the app's name as the namespace, then
/// `OTEL_RESOURCE_ATTRIBUTES` (which wins, but for its `service.*` attributes, the app's).
pub(super) fn resource(env: &Env<'_>) -> Result<Resource, ConfigError> {
    let given = match env.get("OTEL_RESOURCE_ATTRIBUTES") {
        Some(text) => super::values::key_values("OTEL_RESOURCE_ATTRIBUTES", &text)?,
        None => Vec::new(),
    };
    let mut attributes: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| match attributes.iter_mut().find(|(k, _)| k == key) {
        Some(kept) => kept.1 = value,
        None => attributes.push((key.to_string(), value)),
    };
    let on_heroku = env.get("DYNO").is_some()
        || DYNO_METADATA
            .iter()
            .any(|(variable, _)| env.get(variable).is_some());
    if on_heroku {
        set("cloud.provider", "heroku".into());
    }
    for (variable, key) in DYNO_METADATA {
        if let Some(value) = env.get(variable) {
            set(key, value);
        }
    }
    let apps_service = given
        .iter()
        .find(|(key, _)| key == "service.name")
        .map(|(_, name)| name.clone());
    let namespace = env
        .get("HEROKU_APP_NAME")
        .or_else(|| env.get("OTEL_SERVICE_NAME"))
        .or(apps_service);
    if let Some(namespace) = namespace {
        set("service.namespace", namespace);
    }
    for (key, value) in given {
        if !key.starts_with("service.") {
            set(&key, value);
        }
    }
    Ok(Resource {
        service_name: env
            .get(SERVICE_NAME_VARIABLE)
            .unwrap_or_else(|| defaults::OTEL_SERVICE_NAME.to_string()),
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resource_of(vars: &[(&str, &str)]) -> Resource {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        resource(&Env::new(&vars)).unwrap()
    }

    fn get<'r>(resource: &'r Resource, key: &str) -> Option<&'r str> {
        resource
            .attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_sidecars_service_is_its_own_and_the_apps_name_its_namespace() {
        let plain = resource_of(&[]);
        assert_eq!(plain.service_name, "heroku-applink-service-mesh");
        assert!(plain.attributes.is_empty());
        // Meant for the app, these do not rename the sidecar; they place it.
        let app = resource_of(&[
            ("OTEL_SERVICE_NAME", "orders"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=web,deployment.environment=prod",
            ),
        ]);
        assert_eq!(app.service_name, "heroku-applink-service-mesh");
        assert_eq!(get(&app, "service.namespace"), Some("orders"));
        assert_eq!(get(&app, "deployment.environment"), Some("prod"));
        assert_eq!(get(&app, "service.name"), None);
        let ours = resource_of(&[
            (SERVICE_NAME_VARIABLE, "mesh"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=web"),
        ]);
        assert_eq!(ours.service_name, "mesh");
        assert_eq!(get(&ours, "service.namespace"), Some("web"));
    }

    #[test]
    #[rustfmt::skip]
    fn herokus_dyno_metadata_becomes_the_conventions_attributes() {
        let on_a_dyno = resource_of(&[
            ("DYNO", "web.1"),
            ("HEROKU_APP_NAME", "acme-orders"),
            ("OTEL_SERVICE_NAME", "orders"),
            ("HEROKU_APP_ID", "2daa2797-e42b-4624-9322-ec3f968df4da"),
            ("HEROKU_DYNO_ID", "1vac4117-c29f-4312-521e-ba4d8638c1ac"),
            ("HEROKU_RELEASE_VERSION", "v42"),
            ("HEROKU_SLUG_COMMIT", "e6134959463efd8966b20e75b913cafe3f5ec"),
            ("HEROKU_RELEASE_CREATED_AT", "2022-10-23T18:00:42Z"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.version=app-1.2,heroku.app.id=given"),
        ]);
        for (key, value) in [
            ("cloud.provider", "heroku"),
            ("heroku.app.id", "given"),
            ("service.instance.id", "1vac4117-c29f-4312-521e-ba4d8638c1ac"),
            // OTEL_RESOURCE_ATTRIBUTES wins over what is detected, but for the app's service.
            ("service.version", "v42"),
            ("heroku.release.commit", "e6134959463efd8966b20e75b913cafe3f5ec"),
            ("heroku.release.creation_timestamp", "2022-10-23T18:00:42Z"),
            ("service.namespace", "acme-orders"),
        ] {
            assert_eq!(get(&on_a_dyno, key), Some(value), "{key}");
        }
        assert_eq!(on_a_dyno.attributes.len(), 7);
        let fir = resource_of(&[("HEROKU_BUILD_COMMIT", "abc123")]);
        assert_eq!(get(&fir, "heroku.release.commit"), Some("abc123"));
        assert_eq!(get(&fir, "cloud.provider"), Some("heroku"));
    }
}
