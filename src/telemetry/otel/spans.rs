//! A finished request's spans, built from its log record (the same measurements as its log line):
//! the sidecar's server span, and a client span each for the AppLink API call and the call to the
//! app when the request reached them. Attributes follow the OpenTelemetry HTTP semantic
//! conventions; a span never holds a token, a JWT, a context header, a query or a body, and a
//! value the caller chose (the path, the request id, an unknown method) is cut at the attribute
//! value limit, so that a queued span's memory has a bound.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::telemetry::record::{Phase, RequestLog};
use crate::telemetry::trace_context::{TraceContext, new_span_id};

/// The methods the conventions name; any other is `_OTHER` (a caller could send thousands).
const KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// Who the client spans call, and what every span is built with.
pub(super) struct Peers {
    pub(super) scope: InstrumentationScope,
    /// The AppLink API's host and port, when the sidecar authenticates.
    pub(super) api: Option<(String, i64)>,
    pub(super) app: (String, i64),
    /// The longest text value a caller's input may give an attribute, in bytes.
    pub(super) value_limit: usize,
}

/// `text` cut to at most `limit` bytes, at a character boundary.
fn capped(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Wall-clock times for the monotonic instants a request recorded.
struct Clock {
    now: Instant,
    wall: SystemTime,
}

impl Clock {
    fn at(&self, instant: Instant) -> SystemTime {
        self.wall - self.now.saturating_duration_since(instant)
    }
}

/// The request's spans, given to `out` children first.
pub(super) fn request_spans(
    log: &RequestLog,
    trace: &TraceContext,
    bytes_out: u64,
    peers: &Peers,
    mut out: impl FnMut(SpanData),
) {
    let spans = Spans {
        log,
        trace,
        peers,
        clock: Clock {
            now: Instant::now(),
            wall: SystemTime::now(),
        },
        method: KNOWN_METHODS
            .iter()
            .find(|known| **known == log.method)
            .copied(),
        server: SpanId::from_bytes(trace.span_id_bytes()),
    };
    if let Some(api) = spans.api_call() {
        out(api);
    }
    if let Some(app) = spans.app_call() {
        out(app);
    }
    out(spans.server(bytes_out));
}

/// What every span of one request is built from.
struct Spans<'a> {
    log: &'a RequestLog,
    trace: &'a TraceContext,
    peers: &'a Peers,
    clock: Clock,
    /// The request's method when the conventions name it.
    method: Option<&'static str>,
    /// The sidecar's server span, the client spans' parent.
    server: SpanId,
}

/// One span's own parts; the rest comes from [`Spans`].
struct Span {
    id: SpanId,
    parent: SpanId,
    kind: SpanKind,
    name: Cow<'static, str>,
    started: Instant,
    ended: Instant,
    attributes: Vec<KeyValue>,
    status: Status,
}

impl Spans<'_> {
    fn build(&self, span: Span) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(self.trace.trace_id_bytes()),
                span.id,
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: span.parent,
            parent_span_is_remote: span.parent != self.server && span.parent != SpanId::INVALID,
            span_kind: span.kind,
            name: span.name,
            start_time: self.clock.at(span.started),
            end_time: self.clock.at(span.ended),
            attributes: span.attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: span.status,
            instrumentation_scope: self.peers.scope.clone(),
        }
    }

    /// The span's name: the method, or `HTTP` for one the conventions do not name.
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.method.unwrap_or("HTTP"))
    }

    fn method_attributes(&self) -> Vec<KeyValue> {
        match self.method {
            Some(known) => vec![KeyValue::new("http.request.method", known)],
            None => vec![
                KeyValue::new("http.request.method", "_OTHER"),
                KeyValue::new(
                    "http.request.method_original",
                    capped(&self.log.method, self.peers.value_limit),
                ),
            ],
        }
    }

    /// A client span to `peer` for `phase`, with `attributes` besides the peer's.
    fn client(&self, phase: &Phase, peer: &(String, i64), mut attributes: Vec<KeyValue>) -> Span {
        attributes.push(KeyValue::new("server.address", peer.0.clone()));
        attributes.push(KeyValue::new("server.port", peer.1));
        let status = match phase.failed {
            Some(reason) => {
                attributes.push(KeyValue::new("error.type", reason));
                Status::error(reason)
            }
            None => Status::Unset,
        };
        Span {
            id: SpanId::from_bytes(new_span_id()),
            parent: self.server,
            kind: SpanKind::Client,
            name: Cow::Borrowed("POST"),
            started: phase.started,
            ended: phase.started + phase.took,
            attributes,
            status,
        }
    }

    /// The AppLink API call, when the request reached it.
    fn api_call(&self) -> Option<SpanData> {
        let (phase, api) = (self.log.auth.as_ref()?, self.peers.api.as_ref()?);
        let method = vec![KeyValue::new("http.request.method", "POST")];
        Some(self.build(self.client(phase, api, method)))
    }

    /// The call to the app, when the request reached it; in error for a 4xx or 5xx answer, its
    /// `error.type` the status code (the conventions).
    fn app_call(&self) -> Option<SpanData> {
        let (log, phase) = (self.log, self.log.app.as_ref()?);
        let mut attributes = self.method_attributes();
        let answered = phase.failed.is_none() && log.status != 0;
        if answered {
            let code = i64::from(log.status);
            attributes.push(KeyValue::new("http.response.status_code", code));
        }
        let mut span = self.client(phase, &self.peers.app, attributes);
        span.name = self.name();
        if answered && log.status >= 400 {
            let code = log.status.to_string();
            span.status = Status::error(code.clone());
            span.attributes.push(KeyValue::new("error.type", code));
        }
        Some(self.build(span))
    }

    /// The sidecar's own span: in error for a 5xx only, a 4xx being the caller's mistake (the
    /// conventions); the app's 5xx named by its code, the sidecar's by its reason (`app-timeout`).
    fn server(&self, bytes_out: u64) -> SpanData {
        let log = self.log;
        let mut attributes = self.server_attributes(bytes_out);
        let status = if log.status >= 500 {
            let error_type = if log.rejected {
                log.outcome.to_string()
            } else {
                log.status.to_string()
            };
            attributes.push(KeyValue::new("error.type", error_type.clone()));
            Status::error(error_type)
        } else {
            Status::Unset
        };
        let parent = self.trace.parent_id_bytes();
        self.build(Span {
            id: self.server,
            parent: parent.map_or(SpanId::INVALID, SpanId::from_bytes),
            kind: SpanKind::Server,
            name: self.name(),
            started: log.started,
            ended: self.clock.now,
            attributes,
            status,
        })
    }

    fn server_attributes(&self, bytes_out: u64) -> Vec<KeyValue> {
        let (log, limit) = (self.log, self.peers.value_limit);
        let size = |bytes: u64| i64::try_from(bytes).unwrap_or(i64::MAX);
        let mut attributes = self.method_attributes();
        attributes.extend([
            KeyValue::new("url.path", capped(&log.path, limit)),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("applink.route.kind", log.kind),
            KeyValue::new("applink.outcome", log.outcome),
            if log.request_id.len() <= limit {
                // The usual id shares the log record's allocation.
                KeyValue::new("applink.request_id", log.request_id.clone())
            } else {
                KeyValue::new("applink.request_id", capped(&log.request_id, limit))
            },
            KeyValue::new(
                "http.request.body.size",
                size(log.inbound.bytes.load(Ordering::Relaxed)),
            ),
            KeyValue::new("http.response.body.size", size(bytes_out)),
        ]);
        if log.status != 0 {
            let code = i64::from(log.status);
            attributes.push(KeyValue::new("http.response.status_code", code));
        }
        attributes
    }
}

#[cfg(test)]
mod tests {
    use super::capped;

    #[test]
    fn values_are_cut_at_the_limit_on_a_character_boundary() {
        assert_eq!(capped("/short", 1024), "/short");
        assert_eq!(capped("/abcdef", 4), "/abc");
        // 'é' is two bytes: a cut inside it moves back before it.
        assert_eq!(capped("/é", 2), "/");
        assert_eq!(capped("/é", 3), "/é");
        assert_eq!(capped("/x", 0), "");
    }
}
