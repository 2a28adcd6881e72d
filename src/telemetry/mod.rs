//! Logs and metrics (docs/behaviour.md §8): tracing to stdout, logfmt (or JSON) lines, one line per
//! finished request, and an l2met line every minute.

mod access;
mod caller_noise;
mod json_lines;
mod logfmt;
mod metrics;
mod observe;
mod otel;
mod request_scope;
mod trace_context;
mod writer;

pub(crate) use access::{CountingBody, Inbound, LoggedBody, Phase, Progress, RequestLog};
pub(crate) use metrics::Metrics;
pub(crate) use observe::{Observation, Observer, PREVIEW_BYTES, keep_preview};
pub(crate) use otel::Traces;
pub(crate) use request_scope::RequestScope;
pub(crate) use trace_context::{TRACEPARENT, TRACESTATE, TraceContext};
pub(crate) use writer::LogFlusher;

use std::sync::Arc;
use std::time::Duration;

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

use crate::config::LogSettings;

/// Crates whose debug and trace events may print request details (URIs with query strings,
/// headers); they are capped at `info` whatever the filter says, so no secret reaches the logs.
const CAPPED_TARGETS: [&str; 5] = ["hyper", "h2", "rustls", "tokio_rustls", "hyper_rustls"];

/// Installs the global subscriber (the binary calls this once; tests run without one). Lines go to
/// stdout through a writer thread of their own, so logging never blocks a request; the returned
/// flusher writes what is left at exit.
pub(crate) fn init(settings: &LogSettings) -> LogFlusher {
    let (out, flusher) = writer::spawn(std::io::stdout(), writer::DEFAULT_LIMIT, settings.json);
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // The HTTP/2 library's line per caller protocol error is counted, unless the filter asks for
    // the library by name.
    let noise = (!settings.filter.contains("h2"))
        .then(|| caller_noise::CallerNoise::new(out.clone(), settings.json));
    let capped = filter_fn(move |meta| {
        if let Some(noise) = &noise
            && caller_noise::CallerNoise::is_noise(meta)
        {
            noise.count();
            return false;
        }
        *meta.level() <= Level::INFO || !CAPPED_TARGETS.iter().any(|t| meta.target().starts_with(t))
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
    flusher
}

/// Whole milliseconds, saturating (no duration the sidecar measures comes near the limit).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Logs the l2met line every `every` until the runtime stops; an interval in which nothing
/// happened logs nothing.
pub(crate) fn report_every(metrics: Arc<Metrics>, every: Duration, source: Option<String>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let snapshot = metrics.take();
            if snapshot.is_idle() {
                continue;
            }
            let source = source.as_deref().unwrap_or("heroku-applink-service-mesh");
            tracing::info!(target: "applink_mesh::metrics", source, l2met = snapshot.l2met().as_str());
        }
    });
}
