//! Logs and metrics (docs/behaviour.md §8): tracing to stdout, logfmt (or JSON) lines, one line per
//! finished request, and an l2met line every minute.

mod access;
mod at_most;
mod caller_noise;
mod json_lines;
mod logfmt;
mod metrics;
mod observe;
mod otel;
mod record;
mod request_scope;
mod trace_context;
mod writer;

pub(crate) use access::{CountingBody, LoggedBody, Progress};
pub(crate) use metrics::Metrics;
pub(crate) use observe::Observer;
pub(crate) use otel::Traces;
pub(crate) use record::{Inbound, Observation, PREVIEW_BYTES, Phase, RequestLog, keep_preview};
pub(crate) use request_scope::RequestScope;
pub(crate) use trace_context::{TRACEPARENT, TRACESTATE, TraceContext};
pub(crate) use writer::LogFlusher;

use std::sync::Arc;
use std::time::Duration;

use tracing::Level;
use tracing::subscriber::Interest;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::prelude::*;

use crate::config::LogSettings;
use caller_noise::CallerNoise;

/// Crates whose debug and trace events may print request details (URIs with query strings,
/// headers); they are capped at `info` whatever the filter says, so no secret reaches the logs.
const CAPPED_TARGETS: [&str; 5] = ["hyper", "h2", "rustls", "tokio_rustls", "hyper_rustls"];

/// The log output's handle: at exit, what is left is said and written.
pub(crate) struct Logs {
    noise: Option<Arc<CallerNoise>>,
    flusher: LogFlusher,
}

impl Logs {
    /// Says the protocol errors counted since the last notice, writes what is buffered, and stops
    /// the writer thread.
    pub(crate) fn flush_and_stop(self) {
        if let Some(noise) = &self.noise {
            noise.say_the_rest();
        }
        self.flusher.flush_and_stop();
    }
}

/// Installs the global subscriber (the binary calls this once; tests run without one). Lines go to
/// stdout through a writer thread of their own, so logging never blocks a request; the returned
/// handle writes what is left at exit.
pub(crate) fn init(settings: &LogSettings) -> Logs {
    let (out, flusher) = writer::spawn(std::io::stdout(), writer::DEFAULT_LIMIT, settings.json);
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // The HTTP/2 library's line per caller protocol error is counted, unless the filter asks for
    // the library by name (or shows no warnings).
    let noise = CallerNoise::for_filter(&settings.filter, out.clone(), settings.json).map(Arc::new);
    let counter = noise.clone();
    let counting = noise.is_some();
    // What passes by its metadata alone: library events at debug and trace are dropped.
    let passes = |meta: &tracing::Metadata<'_>| {
        *meta.level() <= Level::INFO || !CAPPED_TARGETS.iter().any(|t| meta.target().starts_with(t))
    };
    let capped = dynamic_filter_fn(move |meta, _| {
        if let Some(noise) = &counter
            && CallerNoise::is_noise(meta)
        {
            noise.count();
            return false;
        }
        passes(meta)
    })
    // Decided once per callsite, but for the counted ones: each of their events must be seen.
    .with_callsite_filter(move |meta| {
        if counting && CallerNoise::is_noise(meta) {
            Interest::sometimes()
        } else if passes(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    });
    let registry = tracing_subscriber::registry().with(filter).with(capped);
    let result = if settings.json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .event_format(json_lines::JsonLines(
                        tracing_subscriber::fmt::format().json().flatten_event(true),
                    ))
                    .with_writer(out),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(logfmt::Logfmt)
                    .with_writer(out),
            )
            .try_init()
    };
    if result.is_err() {
        eprintln!("heroku-applink-service-mesh: logging was already set up");
    }
    Logs { noise, flusher }
}

/// Whole milliseconds, saturating (no duration the sidecar measures comes near the limit).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Logs the l2met line every `every` until the runtime stops; an interval in which nothing
/// happened logs nothing. The dry run's warning is repeated each time, idle or not.
pub(crate) fn report_every(metrics: Arc<Metrics>, every: Duration, source: Option<String>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if metrics.report_only() {
                tracing::warn!("{}", crate::config::REPORT_ONLY_WARNING);
            }
            let snapshot = metrics.take();
            if snapshot.is_idle() {
                continue;
            }
            let source = source.as_deref().unwrap_or("heroku-applink-service-mesh");
            tracing::info!(target: "applink_mesh::metrics", source, l2met = snapshot.l2met().as_str());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A log destination that keeps what it is given.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// While the dry run is on, every interval says so, idle or not, and its l2met line counts
    /// what would have been refused (docs/behaviour.md §4.6, §8).
    #[tokio::test(flavor = "current_thread")]
    async fn the_dry_run_is_said_every_interval_and_counted() {
        let kept = Kept::default();
        let writer = kept.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // This thread only: the runtime has one thread, which runs the reporter too.
        let _default = tracing::subscriber::set_default(subscriber);
        let metrics = Arc::new(Metrics::new(true));
        metrics.record(Duration::from_millis(3), false, true);
        report_every(metrics, Duration::from_millis(10), None);
        let text = || String::from_utf8_lossy(&kept.0.lock().unwrap()).into_owned();
        let started = std::time::Instant::now();
        while text().matches("REPORT-ONLY").count() < 2 {
            assert!(started.elapsed() < Duration::from_secs(10), "{}", text());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let said = text();
        assert!(said.contains("count#mesh.would_reject=1"), "{said}");
        assert_eq!(
            said.matches("l2met").count(),
            1,
            "an idle interval has no line: {said}"
        );
    }
}
