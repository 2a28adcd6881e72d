//! One request as the dashboard shows it, and the capture that builds it while the request runs.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use super::{Dashboard, redact};
use crate::telemetry::{Observation, PREVIEW_BYTES, RequestLog, keep_preview};

/// The line of the request list (and of the stream).
#[derive(Serialize, Clone, Debug, Default)]
pub(crate) struct Summary {
    pub(crate) id: u64,
    /// Arrival, in milliseconds since the Unix epoch.
    pub(crate) time_ms: u64,
    pub(crate) method: String,
    /// The path, never the query.
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) kind: &'static str,
    pub(crate) outcome: &'static str,
    /// `x-applink-mesh-error`, when the sidecar answered itself with an error.
    pub(crate) reason: Option<&'static str>,
    pub(crate) auth_ms: Option<f64>,
    pub(crate) app_ms: Option<f64>,
    pub(crate) total_ms: f64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) request_id: String,
}

/// The start of a body, when it is text.
#[derive(Serialize, Clone, Debug, Default)]
pub(crate) struct Preview {
    /// The first bytes that are valid UTF-8; `None` for an empty or binary body.
    pub(crate) text: Option<String>,
    /// The body went on beyond [`PREVIEW_BYTES`].
    pub(crate) truncated: bool,
}

impl Preview {
    fn of(bytes: &[u8], total: u64) -> Preview {
        let shown = &bytes[..bytes.len().min(PREVIEW_BYTES)];
        let text = match std::str::from_utf8(shown) {
            Ok(text) => Some(text),
            // A character cut at the preview's end is still text.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&shown[..e.valid_up_to()]).ok()
            }
            Err(_) => None,
        };
        Preview {
            text: text.filter(|t| !t.is_empty()).map(str::to_string),
            truncated: total > shown.len() as u64,
        }
    }
}

/// One finished request.
#[derive(Serialize, Clone, Debug, Default)]
pub(crate) struct Record {
    #[serde(flatten)]
    pub(crate) summary: Summary,
    /// The headers as the app received them (or as they arrived, when the sidecar answered
    /// itself), secrets redacted.
    pub(crate) request_headers: Vec<(String, String)>,
    /// Whether `request_headers` are the forwarded ones.
    pub(crate) forwarded: bool,
    /// The client context the app received, decoded, secrets redacted.
    pub(crate) client_context: Option<Value>,
    pub(crate) request_body: Preview,
    pub(crate) response_headers: Vec<(String, String)>,
    pub(crate) response_body: Preview,
}

impl Record {
    #[cfg(test)]
    pub(crate) fn for_tests() -> Record {
        Record {
            summary: Summary {
                method: "GET".into(),
                path: "/".into(),
                status: 200,
                kind: "salesforce",
                outcome: "forwarded",
                ..Summary::default()
            },
            ..Record::default()
        }
    }
}

/// What is gathered while a request runs, carried by its log as its observation; kept when the
/// response is done.
pub(crate) struct Capture {
    dashboard: Arc<Dashboard>,
    time_ms: u64,
    request_headers: Vec<(String, String)>,
    forwarded: bool,
    client_context: Option<Value>,
    response_headers: Vec<(String, String)>,
    response_body: Vec<u8>,
}

impl Capture {
    /// Starts capturing a request as it arrived.
    pub(crate) fn start(dashboard: Arc<Dashboard>, arrived: &HeaderMap) -> Box<Capture> {
        Box::new(Capture {
            dashboard,
            time_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, crate::telemetry::millis),
            request_headers: redact::headers(arrived),
            forwarded: false,
            client_context: None,
            response_headers: Vec::new(),
            response_body: Vec::new(),
        })
    }
}

impl Observation for Capture {
    fn forwarded(&mut self, sent: &HeaderMap) {
        self.request_headers = redact::headers(sent);
        self.client_context = redact::client_context(sent);
        self.forwarded = true;
    }

    fn responded(&mut self, headers: &HeaderMap) {
        self.response_headers = redact::headers(headers);
    }

    fn response_data(&mut self, data: &[u8]) {
        keep_preview(&mut self.response_body, data);
    }

    /// The record is kept.
    fn finished(self: Box<Self>, log: &RequestLog, bytes_out: u64) {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        let bytes_in = log.inbound.bytes.load(std::sync::atomic::Ordering::Relaxed);
        let request_body = log.inbound.preview().unwrap_or_default();
        let record = Record {
            summary: Summary {
                id: 0,
                time_ms: self.time_ms,
                method: log.method.clone(),
                path: log.path.clone(),
                status: log.status,
                kind: log.kind,
                outcome: log.outcome,
                reason: log.rejected.then_some(log.outcome),
                auth_ms: log.auth.map(|p| ms(p.took)),
                app_ms: log.app.map(|p| ms(p.took)),
                total_ms: ms(log.started.elapsed()),
                bytes_in,
                bytes_out,
                request_id: log.request_id.to_string(),
            },
            request_headers: self.request_headers,
            forwarded: self.forwarded,
            client_context: self.client_context,
            request_body: Preview::of(&request_body, bytes_in),
            response_headers: self.response_headers,
            response_body: Preview::of(&self.response_body, bytes_out),
        };
        self.dashboard.keep(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_keep_text_and_say_when_cut() {
        let long = "é".repeat(PREVIEW_BYTES);
        let preview = Preview::of(long.as_bytes(), long.len() as u64);
        assert!(preview.truncated);
        assert_eq!(preview.text.unwrap().len(), PREVIEW_BYTES);
        assert_eq!(Preview::of(&[0xff, 0xfe, 0], 3).text, None);
        assert_eq!(Preview::of(b"", 0).text, None);
        let short = Preview::of(b"{\"a\":1}", 7);
        assert_eq!(
            (short.text.as_deref(), short.truncated),
            (Some("{\"a\":1}"), false)
        );
    }
}
