//! OpenTelemetry trace export (docs/behaviour.md §8.2), on only when an OTLP endpoint is
//! configured: each request's trace is continued (or started) and sampled when it arrives, and its
//! spans are built from its log record when it ends and queued for export, off the request path.
//!
//! The official crates do the protocol: `opentelemetry_sdk`'s span records and resource,
//! `opentelemetry-otlp`'s HTTP/protobuf exporter (through [`client::CollectorClient`], our hyper
//! and rustls). The sidecar keeps its own span ids and sampling (the app's `traceparent` is
//! written before the request is forwarded) and its own export queue ([`queue`] says why).

mod client;
mod queue;
mod sampling;
mod spans;

use std::collections::HashMap;
use std::time::Duration;

use http::HeaderMap;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanExporter as _;

use super::{RequestLog, TraceContext};
use crate::config::{ConfigError, Sampler, TraceExport};

/// What the export costs a request's caller at shutdown at most: the queue's last batch.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(3);

/// The running export: the sampler, and the queue the spans go into.
pub(crate) struct Traces {
    sampler: Sampler,
    peers: spans::Peers,
    queue: queue::SpanQueue,
}

impl Traces {
    /// Builds the exporter and starts its task (on the current runtime). `api` is the AppLink
    /// API's host and port, `app` the app's; `connector` reaches the collector (TLS for
    /// `https://`).
    pub(crate) fn start(
        settings: &TraceExport,
        connector: hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        api: Option<(String, u16)>,
        app: (String, u16),
    ) -> Result<Traces, ConfigError> {
        let headers: HashMap<String, String> = settings
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), value.expose().to_string()))
            .collect();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client::CollectorClient::new(connector))
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.to_string())
            .with_headers(headers)
            .with_timeout(settings.timeout)
            .build()
            .map_err(|e| ConfigError(format!("cannot set up the OTLP trace exporter: {e}")))?;
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attributes(
                settings
                    .resource
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
            )
            .build();
        exporter.set_resource(&resource);
        let scope = InstrumentationScope::builder("heroku-applink-service-mesh")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Ok(Traces {
            sampler: settings.sampler,
            peers: spans::Peers {
                scope,
                api: api.map(|(host, port)| (host, i64::from(port))),
                app: (app.0, i64::from(app.1)),
                value_limit: settings.value_limit,
            },
            queue: queue::SpanQueue::start(
                exporter,
                settings.queue_size,
                settings.schedule_delay,
                settings.timeout,
            ),
        })
    }

    /// The request's trace: the caller's continued, or a new one; sampled by the sampler.
    pub(crate) fn begin(&self, headers: &HeaderMap) -> TraceContext {
        let mut trace =
            TraceContext::continue_from(headers).unwrap_or_else(TraceContext::start_root);
        let sampled = sampling::sampled(self.sampler, &trace);
        trace.set_sampled(sampled);
        trace
    }

    /// Queues a finished request's spans, when its trace is sampled.
    pub(crate) fn record(&self, log: &RequestLog, bytes_out: u64) {
        if let Some(trace) = log.trace.as_ref().filter(|t| t.sampled()) {
            spans::request_spans(log, trace, bytes_out, &self.peers, |span| {
                self.queue.push(span);
            });
        }
    }

    /// Sends what is queued (after the drain), waiting a few seconds at most.
    pub(crate) async fn flush(&self) {
        self.queue.flush(SHUTDOWN_FLUSH).await;
    }
}
