//! The per-request log line, written once when the response body has been sent (or dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::millis;
use super::record::{Inbound, RequestLog};
use super::{Metrics, Traces};
use crate::body::MeshBody;

impl RequestLog {
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
            reason = self.would_reject,
            auth_ms = %Millis(self.auth.map(|p| p.took)),
            app_ms = %Millis(self.app.map(|p| p.took)),
            total_ms = millis(self.started.elapsed()),
            bytes_in = self.inbound.bytes.load(Ordering::Relaxed),
            bytes_out,
        );
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
            self.metrics.record(
                log.started.elapsed(),
                log.rejected,
                log.would_reject.is_some(),
            );
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
