//! OTLP trace export (docs/behaviour.md §8.2), proven against real OpenTelemetry code: a receiver
//! that decodes with the official protobuf definitions, and an app instrumented with the official
//! OpenTelemetry Python SDK behind the sidecar. The app's span is a child of the sidecar's, in the
//! router's trace, and no secret is in any exported byte. A collector that stops answering costs
//! spans (counted, one warning), never a request's time.

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::client::wait_for;
use common::collector::{ExportedSpan, FakeCollector};
use common::exporting::{Exported, Exporting};
use common::salesforce::{self, ACCESS_TOKEN, JWT};
use common::sidecar::{TOKEN, run_binary};
use common::{Answer, FakeApi, SidecarProcess, free_port, send, skip};

const ROUTER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const ROUTER_SPAN: &str = "b7ad6b7169203331";
const COLLECTOR_KEY: &str = "collector-key-7e57-5ecret";
const QUERY_SECRET: &str = "q-5ecret-in-the-query";
const BODY_SECRET: &str = "b0dy-5ecret-in-the-payload";

/// The venv `bin/test` installs the OpenTelemetry Python SDK into.
fn otel_python() -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/otel-python/bin/python");
    let usable = std::process::Command::new(&python)
        .args(["-c", "import opentelemetry.exporter.otlp.proto.http"])
        .output()
        .is_ok_and(|out| out.status.success());
    usable.then_some(python)
}

/// Polls the collector (at most 30 s) until `done` holds for the spans it has decoded.
async fn spans_until(
    collector: &FakeCollector,
    done: impl Fn(&[ExportedSpan]) -> bool,
) -> Vec<ExportedSpan> {
    let started = Instant::now();
    loop {
        let spans = collector.spans();
        if done(&spans) {
            return spans;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the spans did not arrive: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn one<'a>(
    spans: &'a [ExportedSpan],
    what: &str,
    test: impl Fn(&ExportedSpan) -> bool,
) -> &'a ExportedSpan {
    let found: Vec<&ExportedSpan> = spans.iter().filter(|s| test(s)).collect();
    assert_eq!(found.len(), 1, "one {what} span expected in {spans:#?}");
    found[0]
}

/// The sidecar in front of the example app instrumented with the OpenTelemetry Python SDK, both
/// exporting to `collector`. Returns the sidecar, its address and the app's port.
fn python_app_behind_the_sidecar(
    python: &std::path::Path,
    collector: &FakeCollector,
    api: &FakeApi,
) -> (SidecarProcess, std::net::SocketAddr, String) {
    let app_port = free_port().to_string();
    let (api_url, endpoint) = (api.url(), collector.endpoint());
    let headers = format!("x-collector-key={COLLECTOR_KEY}");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/otel-python/app.py");
    let env = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("APP_PORT", app_port.as_str()),
        ("HEROKU_APPLINK_API_URL", api_url.as_str()),
        ("HEROKU_APPLINK_TOKEN", TOKEN),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", headers.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "20"),
    ];
    let command = [python.to_str().unwrap(), app.to_str().unwrap()];
    let mut mesh = SidecarProcess::spawn(&env, &[&["--port", "0", "--"][..], &command].concat());
    let addr = mesh.wait_listening();
    (mesh, addr, app_port)
}

#[tokio::test]
async fn the_python_apps_span_nests_under_the_sidecars_in_the_routers_trace() {
    let Some(python) = otel_python() else {
        skip(
            "the_python_apps_span_nests_under_the_sidecars_in_the_routers_trace",
            "the OpenTelemetry Python SDK is not installed in target/otel-python (bin/test installs it; needs python3-venv and PyPI)",
        );
        return;
    };
    let collector = FakeCollector::start().await;
    let api = FakeApi::start().await;
    let (mut mesh, addr, app_port) = python_app_behind_the_sidecar(&python, &collector, &api);

    // The router's trace, a Salesforce request with a query and a body that are secrets.
    let mut request = salesforce::headers();
    request.push(("traceparent", format!("00-{ROUTER_TRACE}-{ROUTER_SPAN}-01")));
    let path = format!("/orders?key={QUERY_SECRET}");
    let reply = send(addr, "POST", &path, &request, BODY_SECRET).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "hello from python");
    the_routers_trace_holds_sidecar_calls_and_app(&collector, &api, &app_port).await;

    // A request without a trace starts one at the sidecar, and the app's span still nests under it.
    let reply = send(addr, "GET", "/fresh", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200);
    a_trace_started_at_the_sidecar_holds_the_app(&collector).await;

    only_the_collector_key_and_no_secret_is_exported(&collector);
    mesh.terminate();
    let output = mesh.output();
    assert!(!output.contains(COLLECTOR_KEY), "{output}");
    assert!(!output.contains(TOKEN));
}

/// One trace, the router's: router → sidecar → (AppLink call, app call, the app's own span), with
/// the conventions' attributes and the sidecar's own.
async fn the_routers_trace_holds_sidecar_calls_and_app(
    collector: &FakeCollector,
    api: &FakeApi,
    app_port: &str,
) {
    let sidecar_server =
        |s: &ExportedSpan| s.service == "heroku-applink-service-mesh" && s.kind == 2;
    let spans = spans_until(collector, |spans| {
        spans.iter().any(|s| s.service == "python-app") && spans.iter().any(sidecar_server)
    })
    .await;
    let api_port = api.addr.port().to_string();
    let port_is = |s: &ExportedSpan, port: &str| {
        s.attributes.get("server.port").map(String::as_str) == Some(port)
    };
    let sidecar = one(&spans, "sidecar server", sidecar_server);
    let python_span = one(&spans, "python server", |s| s.service == "python-app");
    let auth_call = one(&spans, "AppLink call", |s| {
        s.kind == 3 && port_is(s, &api_port)
    });
    let app_call = one(&spans, "app call", |s| s.kind == 3 && port_is(s, app_port));
    for span in [sidecar, python_span, auth_call, app_call] {
        assert_eq!(span.trace_id, ROUTER_TRACE, "{span:#?}");
    }
    assert_eq!(sidecar.parent_span_id, ROUTER_SPAN);
    assert_eq!(
        python_span.parent_span_id, sidecar.span_id,
        "the app's span is a child of the sidecar's"
    );
    assert_eq!(auth_call.parent_span_id, sidecar.span_id);
    assert_eq!(app_call.parent_span_id, sidecar.span_id);

    the_conventions_attributes_are_set(sidecar, auth_call, app_call);
}

/// The server span's name and attributes, and the two calls', as the conventions name them.
fn the_conventions_attributes_are_set(
    sidecar: &ExportedSpan,
    auth_call: &ExportedSpan,
    app_call: &ExportedSpan,
) {
    assert_eq!(sidecar.name, "POST");
    let expected = [
        (sidecar, "http.request.method", "POST"),
        (sidecar, "url.path", "/orders"),
        (sidecar, "http.response.status_code", "200"),
        (sidecar, "applink.route.kind", "salesforce"),
        (sidecar, "applink.outcome", "forwarded"),
        (auth_call, "http.request.method", "POST"),
        (app_call, "http.response.status_code", "200"),
    ];
    for (span, key, value) in expected {
        let found = span.attributes.get(key).map(String::as_str);
        assert_eq!(found, Some(value), "{key} of {span:#?}");
    }
    for span in [sidecar, auth_call, app_call] {
        assert!(!span.is_error(), "an answered call is no error: {span:#?}");
    }
}

/// The second request's trace: a root span at the sidecar, the app's span its child.
async fn a_trace_started_at_the_sidecar_holds_the_app(collector: &FakeCollector) {
    let spans = spans_until(collector, |spans| {
        let server_spans = |service: &str| {
            spans
                .iter()
                .filter(|s| s.service == service && s.kind == 2)
                .count()
        };
        server_spans("python-app") >= 2 && server_spans("heroku-applink-service-mesh") >= 2
    })
    .await;
    let fresh_python = one(&spans, "second python", |s| {
        s.service == "python-app" && s.trace_id != ROUTER_TRACE
    });
    let fresh_sidecar = one(&spans, "second sidecar server", |s| {
        s.kind == 2 && s.service == "heroku-applink-service-mesh" && s.trace_id != ROUTER_TRACE
    });
    assert_eq!(fresh_sidecar.parent_span_id, "", "a root span");
    assert_eq!(fresh_python.trace_id, fresh_sidecar.trace_id);
    assert_eq!(fresh_python.parent_span_id, fresh_sidecar.span_id);
}

/// The collector's key went as a header of the sidecar's exports, and no secret is in any
/// exported byte, the sidecar's or the app's.
fn only_the_collector_key_and_no_secret_is_exported(collector: &FakeCollector) {
    let exports = collector.exports();
    let from_the_sidecar = |e: &&_| {
        let agent = |e: &common::collector::Export| e.headers.get("user-agent").cloned();
        agent(e).is_some_and(|ua| ua.to_str().unwrap().contains("Rust"))
    };
    let from_sidecar: Vec<_> = exports.iter().filter(from_the_sidecar).collect();
    assert!(!from_sidecar.is_empty());
    for export in &from_sidecar {
        assert_eq!(
            export.headers.get("x-collector-key").unwrap(),
            COLLECTOR_KEY
        );
    }
    let context_headers: Vec<String> = salesforce::headers()
        .into_iter()
        .filter(|(name, _)| *name != "x-request-id")
        .map(|(_, value)| value)
        .collect();
    let mut secrets = vec![
        TOKEN,
        JWT,
        ACCESS_TOKEN,
        COLLECTOR_KEY,
        QUERY_SECRET,
        BODY_SECRET,
    ];
    secrets.extend(context_headers.iter().map(String::as_str));
    for export in &exports {
        for secret in &secrets {
            let holds = export
                .body
                .windows(secret.len())
                .any(|w| w == secret.as_bytes());
            assert!(!holds, "an export holds a secret ({secret})");
        }
    }
}

#[tokio::test]
async fn a_collector_that_stops_answering_costs_spans_not_requests() {
    let Exported {
        collector,
        app,
        mut mesh,
        addr,
        api: _api,
    } = Exporting::to(FakeCollector::start_hanging().await)
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "4")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "600000")
        .start()
        .await;
    // The first export hangs, the queue (4 spans) fills, and every later span is dropped; each
    // request still gets its answer.
    for i in 0..40 {
        let asked = Instant::now();
        let reply = send(addr, "GET", &format!("/r{i}"), &salesforce::headers(), "").await;
        assert_eq!(reply.status, 200);
        // Not a speed target: a request that waited on the export would wait its 600 s timeout.
        assert!(
            asked.elapsed() < Duration::from_secs(20),
            "request {i} waited on the hanging collector"
        );
    }
    assert_eq!(app.received().len(), 40);
    // The first batch went out, and hangs.
    wait_for(|| !collector.exports().is_empty()).await;
    let line = mesh.wait_for_output("trace spans were lost");
    let warnings = line.matches("trace spans were lost").count();
    assert_eq!(warnings, 1, "one warning a minute at most:\n{line}");
    let lost: u64 = line
        .split("spans_lost=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the warning counts the spans: {line}"));
    assert!(lost >= 1, "{line}");
    mesh.terminate();
}

/// `--check` in dev mode with these variables.
fn check_with(env: &[(&str, &str)]) -> std::process::Output {
    let env = [&[("HEROKU_APPLINK_SERVICE_MESH_DEV", "true")][..], env].concat();
    run_binary(&env, &["--check"])
}

#[test]
fn check_shows_the_export_with_the_header_values_redacted() {
    let headers = format!("x-collector-key={COLLECTOR_KEY}");
    let output = check_with(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://collector.example:4318",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("OTEL_EXPORTER_OTLP_ENDPOINT = https://collector.example:4318/v1/traces"),
        "{text}"
    );
    assert!(text.contains("x-collector-key (values redacted)"), "{text}");
    assert!(text.contains("parentbased_traceidratio 0.5"), "{text}");
    assert!(!text.contains(COLLECTOR_KEY), "{text}");
}

#[test]
fn check_refuses_a_bad_export_setting_without_showing_a_secret() {
    let refused = check_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]);
    assert_eq!(refused.status.code(), Some(64));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{said}");
    // A malformed entry (`:` for `=`) or a credential in the URL is refused without being shown.
    let authorization = format!("Authorization:Basic {COLLECTOR_KEY}");
    let in_url = format!("https://user:{COLLECTOR_KEY}@collector.example");
    for (name, value) in [
        ("OTEL_EXPORTER_OTLP_HEADERS", authorization.as_str()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", in_url.as_str()),
    ] {
        let refused = check_with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example"),
            (name, value),
        ]);
        assert_eq!(refused.status.code(), Some(64));
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(name), "{said}");
        assert!(!said.contains(COLLECTOR_KEY), "{name}: {said}");
    }
}

#[tokio::test]
async fn with_export_on_an_invalid_traceparent_starts_a_new_trace_and_an_unsampled_one_exports_nothing()
 {
    let exported = Exporting::new().await.start().await;
    an_unsampled_trace_is_passed_on_unrecorded(&exported).await;
    let sent = a_malformed_traceparent_starts_a_trace_at_the_sidecar(&exported).await;

    let spans = spans_until(&exported.collector, |spans| {
        spans.iter().any(|s| s.kind == 2)
    })
    .await;
    let server = one(&spans, "server", |s| s.kind == 2);
    assert_eq!(&sent[3..35], server.trace_id);
    assert_eq!(&sent[36..52], server.span_id);
    assert_eq!(server.parent_span_id, "");
    let Exported {
        collector,
        mut mesh,
        ..
    } = exported;
    mesh.terminate();
    assert!(
        collector.spans().iter().all(|s| s.trace_id != ROUTER_TRACE),
        "the unsampled trace was exported"
    );
}

/// The caller did not sample its trace: parent-based, the sidecar records nothing of it, and the
/// app's traceparent stays in the router's trace, unsampled.
async fn an_unsampled_trace_is_passed_on_unrecorded(exported: &Exported) {
    let mut unsampled = salesforce::headers();
    unsampled.push(("traceparent", format!("00-{ROUTER_TRACE}-{ROUTER_SPAN}-00")));
    let reply = send(exported.addr, "GET", "/unsampled", &unsampled, "").await;
    assert_eq!(reply.status, 200);
    let sent = exported.app.received()[0].headers["traceparent"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        sent.starts_with(&format!("00-{ROUTER_TRACE}-")) && sent.ends_with("-00"),
        "{sent}"
    );
}

/// A malformed traceparent: a new, sampled trace starts at the sidecar, and the tracestate goes
/// with the old one. Returns the traceparent the app was sent.
async fn a_malformed_traceparent_starts_a_trace_at_the_sidecar(exported: &Exported) -> String {
    let mut malformed = salesforce::headers();
    malformed.push(("traceparent", "00-not-a-trace-01".to_string()));
    malformed.push(("tracestate", "rojo=00f067aa0ba902b7".to_string()));
    let reply = send(exported.addr, "GET", "/malformed", &malformed, "").await;
    assert_eq!(reply.status, 200);
    let received = exported.app.received();
    let second = &received[1].headers;
    let sent = second["traceparent"].to_str().unwrap();
    assert!(sent.ends_with("-01") && sent.len() == 55, "{sent}");
    assert!(second.get("tracestate").is_none(), "{second:?}");
    sent.to_string()
}

/// Spans a Fir dashboard can place (docs/behaviour.md §8.2): on a dyno, the sidecar's resource
/// carries Heroku's dyno metadata as the conventions name it, and a service of its own. The app
/// inherits the environment, so `OTEL_SERVICE_NAME` is the app's: it places the sidecar (as the
/// namespace, after the app's name) and does not rename it.
/// Heroku's dyno metadata (variable, value) and the resource attribute the conventions name it.
#[rustfmt::skip]
const DYNO_METADATA: [(&str, &str, &str); 5] = [
    ("HEROKU_APP_ID", "2daa2797-e42b-4624-9322-ec3f968df4da", "heroku.app.id"),
    ("HEROKU_DYNO_ID", "1vac4117-c29f-4312-521e-ba4d8638c1ac", "service.instance.id"),
    ("HEROKU_RELEASE_VERSION", "v42", "service.version"),
    ("HEROKU_SLUG_COMMIT", "e6134959463efd8966b20e75b913cafe3f5ec", "heroku.release.commit"),
    ("HEROKU_RELEASE_CREATED_AT", "2022-10-23T18:00:42Z", "heroku.release.creation_timestamp"),
];

/// A refusal by the AppLink API: the authentication step's span is an error, with the reason as
/// `error.type`; the server span is not, since a 4xx is the caller's (docs/behaviour.md §8.2).
#[tokio::test]
async fn a_refused_caller_makes_the_authentication_span_an_error_and_not_the_server_span() {
    let Exported {
        collector,
        mut mesh,
        addr,
        app,
        api,
    } = Exporting::new().await.start().await;
    api.script(&[Answer::status(403)]);
    let reply = send(addr, "POST", "/orders", &salesforce::headers(), "{}").await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(
        app.received().is_empty(),
        "a refused request reached the app"
    );
    let spans = spans_until(&collector, |spans| {
        spans.iter().any(|s| s.kind == 2) && spans.iter().any(|s| s.kind == 3)
    })
    .await;
    let server = one(&spans, "sidecar server", |s| s.kind == 2);
    let auth_call = one(&spans, "AppLink call", |s| s.kind == 3);
    assert_eq!(server.attributes["http.response.status_code"], "403");
    assert!(!server.is_error(), "{server:#?}");
    assert!(!server.attributes.contains_key("error.type"), "{server:#?}");
    assert!(auth_call.is_error(), "{auth_call:#?}");
    assert_eq!(auth_call.attributes["error.type"], "forbidden");
    mesh.terminate();
}

#[tokio::test]
async fn the_sidecars_spans_carry_herokus_metadata_and_a_service_of_their_own() {
    let sidecar = Exporting::new()
        .await
        .env("OTEL_SERVICE_NAME", "orders")
        .env("HEROKU_APP_NAME", "acme-orders")
        .envs(DYNO_METADATA.map(|(variable, value, _)| (variable, value)));
    let Exported {
        collector,
        mut mesh,
        addr,
        app: _app,
        api: _api,
    } = sidecar.start().await;
    let reply = send(addr, "GET", "/r", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200);
    let spans = spans_until(&collector, |spans| spans.iter().any(|s| s.kind == 2)).await;
    let server = one(&spans, "the sidecar's server span", |s| s.kind == 2);
    assert_eq!(server.service, "heroku-applink-service-mesh");
    let resource = &server.resource;
    assert_eq!(resource["cloud.provider"], "heroku");
    assert_eq!(resource["service.namespace"], "acme-orders");
    for (_, value, key) in DYNO_METADATA {
        assert_eq!(resource[key], value, "{key}: {resource:?}");
    }
    mesh.terminate();
}
