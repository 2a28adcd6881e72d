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
    let clock = Clock {
        now: Instant::now(),
        wall: SystemTime::now(),
    };
    let method = KNOWN_METHODS
        .iter()
        .find(|known| **known == log.method)
        .copied();
    let method_attributes = || match method {
        Some(known) => vec![KeyValue::new("http.request.method", known)],
        None => vec![
            KeyValue::new("http.request.method", "_OTHER"),
            KeyValue::new(
                "http.request.method_original",
                capped(&log.method, peers.value_limit),
            ),
        ],
    };
    let name = Cow::Borrowed(method.unwrap_or("HTTP"));
    let server = SpanId::from_bytes(trace.span_id_bytes());
    let context = |span_id| {
        SpanContext::new(
            TraceId::from_bytes(trace.trace_id_bytes()),
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        )
    };
    let span =
        |span_id, parent, kind, name, times: (Instant, Instant), attributes, status| SpanData {
            span_context: context(span_id),
            parent_span_id: parent,
            parent_span_is_remote: parent != server && parent != SpanId::INVALID,
            span_kind: kind,
            name,
            start_time: clock.at(times.0),
            end_time: clock.at(times.1),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: peers.scope.clone(),
        };
    let client = |phase: &Phase, peer: &(String, i64), mut attributes: Vec<KeyValue>| {
        attributes.push(KeyValue::new("server.address", peer.0.clone()));
        attributes.push(KeyValue::new("server.port", peer.1));
        let status = match phase.failed {
            Some(reason) => {
                attributes.push(KeyValue::new("error.type", reason));
                Status::error(reason)
            }
            None => Status::Unset,
        };
        (attributes, status)
    };

    if let (Some(phase), Some(api)) = (&log.auth, &peers.api) {
        let (attributes, status) = client(
            phase,
            api,
            vec![KeyValue::new("http.request.method", "POST")],
        );
        out(span(
            SpanId::from_bytes(new_span_id()),
            server,
            SpanKind::Client,
            Cow::Borrowed("POST"),
            (phase.started, phase.started + phase.took),
            attributes,
            status,
        ));
    }
    if let Some(phase) = &log.app {
        let mut attributes = method_attributes();
        let answered = phase.failed.is_none() && log.status != 0;
        if answered {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(log.status),
            ));
        }
        let (mut attributes, mut status) = client(phase, &peers.app, attributes);
        // A client span is in error for a 4xx or 5xx answer, its `error.type` the status code
        // (the conventions).
        if answered && log.status >= 400 {
            let code = log.status.to_string();
            status = Status::error(code.clone());
            attributes.push(KeyValue::new("error.type", code));
        }
        out(span(
            SpanId::from_bytes(new_span_id()),
            server,
            SpanKind::Client,
            name.clone(),
            (phase.started, phase.started + phase.took),
            attributes,
            status,
        ));
    }

    let mut attributes = method_attributes();
    attributes.extend([
        KeyValue::new("url.path", capped(&log.path, peers.value_limit)),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("applink.route.kind", log.kind),
        KeyValue::new("applink.outcome", log.outcome),
        if log.request_id.len() <= peers.value_limit {
            // The usual id shares the log record's allocation.
            KeyValue::new("applink.request_id", log.request_id.clone())
        } else {
            KeyValue::new(
                "applink.request_id",
                capped(&log.request_id, peers.value_limit),
            )
        },
        KeyValue::new(
            "http.request.body.size",
            i64::try_from(log.inbound.bytes.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
        ),
        KeyValue::new(
            "http.response.body.size",
            i64::try_from(bytes_out).unwrap_or(i64::MAX),
        ),
    ]);
    if log.status != 0 {
        attributes.push(KeyValue::new(
            "http.response.status_code",
            i64::from(log.status),
        ));
    }
    // A server span is in error for a 5xx only: a 4xx is the caller's mistake (the conventions).
    let status = if log.status >= 500 {
        // The app's own 5xx is named by its code; the sidecar's by its reason (`app-timeout`).
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
    out(span(
        server,
        trace
            .parent_id_bytes()
            .map_or(SpanId::INVALID, SpanId::from_bytes),
        SpanKind::Server,
        name,
        (log.started, clock.now),
        attributes,
        status,
    ));
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
