//! The record of one request, filled in by the pipeline's phases and read by everything that
//! reports on it: the log line and metrics (`access`), the trace's spans (`otel`) and an observer
//! (`observe`), whose one request's watch (`Observation`) the record carries. A leaf: it imports
//! nothing that reports, so each reporter imports it and none of them another.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http::HeaderMap;

/// What one request did, filled in by the handler's phases.
pub(crate) struct RequestLog {
    pub(crate) method: String,
    /// The path, never the query.
    pub(crate) path: String,
    /// Shared with the request's log scope, so naming every line costs no copy.
    pub(crate) request_id: Arc<str>,
    /// The trace the request continues, with the sidecar's span, when it carried a valid
    /// `traceparent`.
    pub(crate) trace: Option<super::TraceContext>,
    pub(crate) kind: &'static str,
    pub(crate) outcome: &'static str,
    pub(crate) status: u16,
    /// The AppLink API call, when the request reached it.
    pub(crate) auth: Option<Phase>,
    /// The call to the app, when the request reached it.
    pub(crate) app: Option<Phase>,
    pub(crate) started: Instant,
    /// What the request body did (shared with the counting request body).
    pub(crate) inbound: Arc<Inbound>,
    pub(crate) rejected: bool,
    /// In the dry run, why a forwarded request would have been refused (docs/behaviour.md §4.6).
    pub(crate) would_reject: Option<&'static str>,
    /// An observer's watch of this request (the dev dashboard's), when there is one.
    pub(crate) observation: Option<Box<dyn Observation>>,
}

impl RequestLog {
    pub(crate) fn new(method: &http::Method, path: &str) -> RequestLog {
        RequestLog {
            method: method.as_str().to_string(),
            path: path.to_string(),
            request_id: Arc::from(""),
            trace: None,
            kind: "unknown",
            outcome: "forwarded",
            status: 0,
            auth: None,
            app: None,
            started: Instant::now(),
            inbound: Arc::default(),
            rejected: false,
            would_reject: None,
            observation: None,
        }
    }

    /// Lets an observer watch this request, its request body's start included.
    pub(crate) fn observed_by(&mut self, observation: Box<dyn Observation>) {
        self.observation = Some(observation);
        let _ = self.inbound.preview.set(Mutex::default());
    }
}

/// One timed step of a request (the AppLink API call, the call to the app): the log line's
/// `auth_ms` and `app_ms`, and the trace's child spans.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Phase {
    pub(crate) started: Instant,
    pub(crate) took: Duration,
    /// Why it failed (the reason the log line gives), when it did.
    pub(crate) failed: Option<&'static str>,
}

impl Phase {
    /// A phase that started at `started` and ends now.
    pub(crate) fn since(started: Instant, failed: Option<&'static str>) -> Phase {
        Phase {
            started,
            took: started.elapsed(),
            failed,
        }
    }
}

/// What the request body did on its way to the app.
#[derive(Default)]
pub(crate) struct Inbound {
    /// Bytes read so far.
    pub(crate) bytes: AtomicU64,
    /// Reading it failed: the caller's framing was broken, or the caller went away.
    pub(crate) broken: AtomicBool,
    /// Its first bytes, kept only when an observer watches the request.
    pub(crate) preview: OnceLock<Mutex<Vec<u8>>>,
}

impl Inbound {
    /// The body's first bytes, when they were kept.
    pub(crate) fn preview(&self) -> Option<Vec<u8>> {
        self.preview
            .get()
            .map(|kept| kept.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    pub(super) fn keep(&self, data: &[u8]) {
        if let Some(kept) = self.preview.get() {
            keep_preview(&mut kept.lock().unwrap_or_else(|e| e.into_inner()), data);
        }
    }
}

/// The most of a body an observer is shown.
pub(crate) const PREVIEW_BYTES: usize = 4096;

/// Adds the start of `data` to a body's preview, up to [`PREVIEW_BYTES`] (whether the body went on
/// is told by its byte count).
pub(crate) fn keep_preview(kept: &mut Vec<u8>, data: &[u8]) {
    let room = PREVIEW_BYTES.saturating_sub(kept.len());
    kept.extend_from_slice(&data[..data.len().min(room)]);
}

/// One request being watched, told of each step as it happens.
pub(crate) trait Observation: Send {
    /// The headers the app receives.
    fn forwarded(&mut self, sent: &HeaderMap);

    /// The response's headers, as the caller receives them.
    fn responded(&mut self, headers: &HeaderMap);

    /// Part of the response body on its way to the caller.
    fn response_data(&mut self, data: &[u8]);

    /// The response is done (or the caller went away): what the log says of the request.
    fn finished(self: Box<Self>, log: &RequestLog, bytes_out: u64);
}
