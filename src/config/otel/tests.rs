//! Tests of the trace export settings (`super`).

use std::collections::HashMap;

use super::*;

fn export(vars: &[(&str, &str)]) -> Result<Option<TraceExport>, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    trace_export(&Env::new(&vars))
}

#[test]
fn off_without_an_endpoint_or_when_disabled() {
    assert!(export(&[]).unwrap().is_none());
    assert!(export(&[("OTEL_SERVICE_NAME", "x")]).unwrap().is_none());
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
    assert!(export(&[base]).unwrap().is_some());
    assert!(
        export(&[base, ("OTEL_SDK_DISABLED", "true")])
            .unwrap()
            .is_none()
    );
    assert!(
        export(&[base, ("OTEL_SDK_DISABLED", "yes")])
            .unwrap()
            .is_some()
    );
    assert!(export(&[base, ("OTEL_BSP_MAX_QUEUE_SIZE", "2000000")]).is_err());
    assert!(export(&[base, ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]).is_err());
    assert!(
        export(&[base, ("OTEL_TRACES_EXPORTER", "none")])
            .unwrap()
            .is_none()
    );
    assert!(export(&[base, ("OTEL_TRACES_EXPORTER", "zipkin")]).is_err());
}

#[test]
fn the_endpoint_follows_the_specifications_rules() {
    let base = |url| {
        export(&[("OTEL_EXPORTER_OTLP_ENDPOINT", url)])
            .unwrap()
            .unwrap()
            .endpoint
            .to_string()
    };
    assert_eq!(base("http://c:4318"), "http://c:4318/v1/traces");
    assert_eq!(base("https://c/otlp/"), "https://c/otlp/v1/traces");
    let traces = export(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(traces.endpoint.to_string(), "http://c:9/custom");
}

/// Each error says what is wrong, and never shows the URL: it may hold a credential.
#[test]
#[rustfmt::skip]
fn a_bad_endpoint_is_named_without_its_url() {
    for (bad, says) in [
        ("http://user:s3cret@c:4318", "credentials in OTEL_EXPORTER_OTLP_HEADERS"),
        ("http://c:4318/?api_key=s3cret", "no query string"),
        ("htp://c:4318", "its scheme is neither http nor https"),
        ("s3cret@collector:4318", "it has no scheme"),
        ("collector:4318", "it has no scheme"),
        ("http://", "http:// or https:// URL with a host"),
        ("not a s3cret url", "it has no scheme"),
        ("http://s3cret host", "is not a URL"),
    ] {
        let error = export(&[("OTEL_EXPORTER_OTLP_ENDPOINT", bad)]).unwrap_err();
        assert!(error.0.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{error}");
        assert!(error.0.contains(says), "{bad}: {error}");
        assert!(!error.0.contains("s3cret"), "{bad}: {error}");
    }
    let grpc = export(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert!(grpc.unwrap_err().0.contains("http/protobuf"));
}

#[test]
fn a_bad_header_entry_is_named_by_its_place_never_by_its_text() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    for (headers, says) in [
        // A `:` for the `=`: the credential would be the key.
        (
            "Authorization:Basic czNjcmV0==",
            "entry 1's key is not a valid header name",
        ),
        ("x-ok=1,Authorization Basic czNjcmV0", "entry 2 (not shown"),
        (
            "x-ok=1,authorization=a%0AczNjcmV0",
            "entry 2's value (authorization) cannot be sent",
        ),
    ] {
        let error = export(&[base, ("OTEL_EXPORTER_OTLP_HEADERS", headers)]).unwrap_err();
        assert!(error.0.contains(says), "{headers}: {error}");
        assert!(!error.0.contains("czNjcmV0"), "{headers}: {error}");
    }
}

#[test]
fn headers_are_decoded_and_kept_secret() {
    let export = export(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=s3cr%3Dt, other = two%20words",
        ),
    ])
    .unwrap()
    .unwrap();
    let shown: Vec<(&str, &str)> = export
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose()))
        .collect();
    assert_eq!(
        shown,
        [("x-api-key", "s3cr=t"), ("other", "two words")].to_vec()
    );
    assert!(!format!("{export:?}").contains("s3cr"));
    // A malformed entry is named by its place: its text may be the secret.
    let error = super::trace_export(&Env::new(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key: s3cret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    ))
    .unwrap_err();
    assert!(error.0.contains("entry 1"), "{error}");
    assert!(!error.0.contains("s3cret"), "{error}");
}

#[test]
fn the_resource_is_the_sidecars_own_placed_beside_the_apps() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    let attrs = (
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=web,deployment.environment=prod",
    );
    let named = export(&[base, attrs, ("OTEL_SERVICE_NAME", "api")])
        .unwrap()
        .unwrap();
    assert_eq!(named.service_name, "heroku-applink-service-mesh");
    assert_eq!(
        named.resource,
        [
            ("service.namespace".into(), "api".into()),
            ("deployment.environment".into(), "prod".into())
        ]
        .to_vec()
    );
    assert!(export(&[base, ("OTEL_RESOURCE_ATTRIBUTES", "novalue")]).is_err());
}

#[test]
fn the_attribute_value_limit_is_the_span_ones_then_the_generic_ones() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    let limit = |vars: &[(&str, &str)]| {
        let mut all = vec![base];
        all.extend_from_slice(vars);
        export(&all).map(|export| export.unwrap().value_limit)
    };
    assert_eq!(limit(&[]).unwrap(), 1024);
    assert_eq!(
        limit(&[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20")]).unwrap(),
        20
    );
    let both = [
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "10"),
    ];
    assert_eq!(limit(&both).unwrap(), 10);
    let err = limit(&[("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1k")]).unwrap_err();
    assert!(
        err.0
            .starts_with("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT is not a whole number")
            && !err.0.contains("1k"),
        "{err:?}"
    );
}

#[test]
fn samplers_by_name_and_ratio() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    let sampler = |vars: &[(&str, &str)]| {
        let mut all = vec![base];
        all.extend_from_slice(vars);
        export(&all).map(|e| e.unwrap().sampler)
    };
    assert_eq!(sampler(&[]).unwrap(), Sampler::ParentBased(Root::AlwaysOn));
    assert_eq!(
        sampler(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25")
        ])
        .unwrap(),
        Sampler::ParentBased(Root::TraceIdRatio(0.25))
    );
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "always_off")]).unwrap(),
        Sampler::AlwaysOff
    );
    assert!(sampler(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")]).is_err());
    assert!(
        sampler(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5")
        ])
        .is_err()
    );
}
