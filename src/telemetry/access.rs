//! The per-request log line, written once when the response body has been sent (or dropped).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::millis;
use super::observe::{Observation, keep_preview};
use super::{Metrics, Traces};
use crate::body::MeshBody;

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
            observation: None,
        }
    }

    /// Lets an observer watch this request, its request body's start included.
    pub(crate) fn observed_by(&mut self, observation: Box<dyn Observation>) {
        self.observation = Some(observation);
        let _ = self.inbound.preview.set(Mutex::default());
    }

    fn write(&self, bytes_out: u64) {
        tracing::info!(
            target: "applink_mesh::request",
            method = self.method.as_str(),
            path = self.path.as_str(),
            status = self.status,
            request_id = &*self.request_id,
            trace_id = self.trace.as_ref().map(|t| tracing::field::display(t.trace_id())),
            span_id = self.trace.as_ref().map(|t| tracing::field::display(t.span_id())),
            kind = self.kind,
            outcome = self.outcome,
            auth_ms = %Millis(self.auth.map(|p| p.took)),
            app_ms = %Millis(self.app.map(|p| p.took)),
            total_ms = millis(self.started.elapsed()),
            bytes_in = self.inbound.bytes.load(Ordering::Relaxed),
            bytes_out,
        );
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

/// Whole milliseconds, or `-` for a phase the request did not reach.
struct Millis(Option<Duration>);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(duration) => f.write_str(itoa::Buffer::new().format(duration.as_millis())),
            None => f.write_str("-"),
        }
    }
}

/// What a response body tells the request's holder of its progress: whether the last poll gave a
/// frame (so the HTTP layer will ask for more once the caller takes it) or is waiting on the app.
pub(crate) trait Progress {
    fn polled(&mut self, gave_frame: bool);
}

/// The response body, counting what it sends; logs the request line and records metrics when it
/// ends or is dropped (a caller that went away still gets its line). `held` (an in-flight slot, a
/// connection's activity mark) is released at the same moment, and told of every poll.
pub(crate) struct LoggedBody<H> {
    inner: MeshBody,
    log: Option<RequestLog>,
    bytes_out: u64,
    metrics: Arc<Metrics>,
    /// The trace export, when it is on: the request's spans are built as its line is written.
    traces: Option<Arc<Traces>>,
    held: Option<H>,
}

impl<H> LoggedBody<H> {
    pub(crate) fn new(
        inner: MeshBody,
        log: RequestLog,
        metrics: Arc<Metrics>,
        traces: Option<Arc<Traces>>,
        held: H,
    ) -> Self {
        LoggedBody {
            inner,
            log: Some(log),
            bytes_out: 0,
            metrics,
            traces,
            held: Some(held),
        }
    }

    fn finish(&mut self) {
        if let Some(mut log) = self.log.take() {
            log.write(self.bytes_out);
            if let Some(traces) = &self.traces {
                traces.record(&log, self.bytes_out);
            }
            self.metrics.record(log.started.elapsed(), log.rejected);
            if let Some(observation) = log.observation.take() {
                observation.finished(&log, self.bytes_out);
            }
        }
        self.held = None;
    }
}

impl<H> Drop for LoggedBody<H> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<H: Progress + Unpin> Body for LoggedBody<H> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Some(held) = this.held.as_mut() {
            held.polled(matches!(polled, Poll::Ready(Some(Ok(_)))));
        }
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes_out += data.len() as u64;
                    if let Some(observation) =
                        this.log.as_mut().and_then(|l| l.observation.as_mut())
                    {
                        observation.response_data(data);
                    }
                }
            }
            Poll::Ready(None) => this.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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

    fn keep(&self, data: &[u8]) {
        if let Some(kept) = self.preview.get() {
            keep_preview(&mut kept.lock().unwrap_or_else(|e| e.into_inner()), data);
        }
    }
}

/// The request body on its way to the app, counting what it carries.
pub(crate) struct CountingBody<B> {
    inner: B,
    inbound: Arc<Inbound>,
}

impl<B> CountingBody<B> {
    pub(crate) fn new(inner: B, inbound: Arc<Inbound>) -> Self {
        CountingBody { inner, inbound }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for CountingBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let read = data.len() as u64;
                    self.inbound.bytes.fetch_add(read, Ordering::Relaxed);
                    self.inbound.keep(data);
                }
            }
            Poll::Ready(Some(Err(_))) => self.inbound.broken.store(true, Ordering::Relaxed),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
