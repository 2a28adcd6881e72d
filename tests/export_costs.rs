//! A collector can never hurt the requests the sidecar serves (docs/behaviour.md §8.2): with trace
//! export on, a collector that throttles (429 with `Retry-After`), fails (503), refuses connections
//! or closes them at once costs spans, never a worker's time. Not a speed target: each behaviour
//! is compared with export off on the same machine, by how many sequential requests one worker
//! serves in the same window; a worker held by the exporter's backoff (5 s a `Retry-After`) would
//! serve a handful where export off serves hundreds.

use crate::common;

use std::time::{Duration, Instant};

use common::client::wait_for;
use common::collector::{Behaviour, FakeCollector};
use common::exporting::{Exported, Exporting};
use common::sidecar::behind_api;
use common::{FakeApi, FakeApp, salesforce, send};

/// How long each behaviour is measured.
const WINDOW: Duration = Duration::from_secs(2);

/// One test at a time: a test's load would skew another's count of requests served.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Requests served one after another within [`WINDOW`] by a sidecar with one worker, exporting
/// every span to `endpoint` (or not exporting), and the slowest of them.
async fn served(endpoint: Option<&str>) -> (usize, Duration) {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut env = vec![
        ("HEROKU_APPLINK_SERVICE_MESH_WORKERS", "1"),
        ("OTEL_BSP_SCHEDULE_DELAY", "1"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "20000"),
    ];
    if let Some(endpoint) = endpoint {
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint));
    }
    let mut mesh = behind_api(&app, &api, &env);
    let addr = mesh.wait_listening();
    // The first request opens the boot gate; the window starts after it.
    assert_eq!(
        send(addr, "GET", "/", &salesforce::headers(), "")
            .await
            .status,
        200
    );
    let (mut count, mut slowest) = (0, Duration::ZERO);
    let started = Instant::now();
    while started.elapsed() < WINDOW {
        let asked = Instant::now();
        let reply = send(addr, "GET", "/r", &salesforce::headers(), "").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        slowest = slowest.max(asked.elapsed());
        count += 1;
    }
    // Killed, not stopped: its exit flush to a failing collector (bounded at 3 s) is not what
    // this measures, and would cost the suite 3 s a behaviour.
    drop(mesh);
    (count, slowest)
}

/// Requests served within [`WINDOW`] exporting to a collector that behaves so (`None`: to the
/// `refusing` address, where nothing listens).
async fn served_exporting_to(name: &str, behaviour: Option<Behaviour>, refusing: &str) -> usize {
    let collector = match behaviour {
        Some(behaviour) => Some(FakeCollector::serve(behaviour).await),
        None => None,
    };
    let endpoint = collector
        .as_ref()
        .map_or(refusing.to_string(), FakeCollector::endpoint);
    let (count, slowest) = served(Some(&endpoint)).await;
    eprintln!("a collector that {name}: {count} requests in {WINDOW:?}, slowest {slowest:?}");
    if let Some(collector) = &collector {
        // The exporter did meet the collector's behaviour: the test measures what it claims.
        assert!(
            !collector.exports().is_empty() || matches!(behaviour, Some(Behaviour::ClosesAtOnce)),
            "{name}: no export arrived"
        );
    }
    count
}

#[tokio::test]
async fn a_collector_that_throttles_fails_refuses_or_closes_costs_no_request_time() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (baseline, baseline_slowest) = served(None).await;
    eprintln!("export off: {baseline} requests in {WINDOW:?}, slowest {baseline_slowest:?}");
    let (refused_port, _kept) = common::reserved_port();
    let refusing = format!("http://127.0.0.1:{refused_port}");
    let collectors = [
        (
            "throttles (429, Retry-After: 5)",
            Some(Behaviour::Status(429, Some("5"))),
        ),
        ("fails (503)", Some(Behaviour::Status(503, None))),
        ("closes connections at once", Some(Behaviour::ClosesAtOnce)),
        ("refuses connections", None),
    ];
    let mut too_slow = Vec::new();
    for (name, behaviour) in collectors {
        let count = served_exporting_to(name, behaviour, &refusing).await;
        // Noise moves the count by tens of percent on a shared machine; a worker held by the
        // exporter cuts it to a few.
        if count * 2 < baseline {
            too_slow.push(format!(
                "{name}: {count} requests against {baseline} with export off"
            ));
        }
    }
    assert!(
        too_slow.is_empty(),
        "the exporter held the worker:\n{}",
        too_slow.join("\n")
    );
}

/// Spans have a memory budget (docs/behaviour.md §8.2): a value the caller chose is cut at the
/// attribute value limit (1 KiB unless `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` or
/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` says otherwise), so a 60 KB path costs a queued span 1 KiB.
#[tokio::test]
async fn a_long_path_or_request_id_is_cut_at_the_attribute_value_limit() {
    let _alone = ONE_AT_A_TIME.lock().await;
    cut_at(&[], 1024).await;
    cut_at(&[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20")], 20).await;
    let both = [
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "10"),
    ];
    cut_at(&both, 10).await;
}

/// With these variables, a 5,000-byte path and a 3,000-byte request id reach the collector cut at
/// `limit` bytes.
async fn cut_at(variables: &[(&str, &str)], limit: usize) {
    let long_path = format!("/{}", "p".repeat(5_000));
    let long_id = "i".repeat(3_000);
    let Exported {
        collector,
        mut mesh,
        addr,
        app: _app,
        api: _api,
    } = Exporting::new()
        .await
        .envs(variables.iter().copied())
        .start()
        .await;
    let reply = send(
        addr,
        "GET",
        &long_path,
        &[("x-request-id", long_id.clone())],
        "",
    )
    .await;
    assert_eq!(reply.status, 401);
    wait_for(|| !collector.spans().is_empty()).await;
    let span = collector.spans().remove(0);
    assert_eq!(
        span.attributes["url.path"],
        long_path[..limit],
        "{variables:?}"
    );
    assert_eq!(
        span.attributes["applink.request_id"],
        long_id[..limit],
        "{variables:?}"
    );
    mesh.terminate();
}

/// The export queue is bounded in bytes as well as in spans: with a collector that hangs and a
/// queue of a million spans, requests with 1 KiB paths fill its 4 MiB, and further spans are
/// dropped and counted, never held. (The resident memory is printed, for the record.)
#[tokio::test]
async fn the_export_queue_holds_four_mebibytes_at_most() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let Exported {
        mut mesh,
        addr,
        collector: _collector,
        app: _app,
        api: _api,
    } = Exporting::to(FakeCollector::start_hanging().await)
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "1000000")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "600000")
        .start()
        .await;
    let before = mesh.resident_kib();
    let path = format!("/{}", "p".repeat(1_023));
    for _ in 0..3_000 {
        let reply = send(addr, "GET", &path, &[], "").await;
        assert_eq!(reply.status, 401);
    }
    let output = mesh.wait_for_output("the export queue's 4 MiB are spent");
    eprintln!(
        "resident memory: {before} KiB before, {} KiB after 3,000 requests with 1 KiB paths",
        mesh.resident_kib()
    );
    assert!(output.contains("spans_lost="), "{output}");
    mesh.terminate();
}
