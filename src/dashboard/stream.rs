//! The live stream (Server-Sent Events): one `request` event per finished request, a comment every
//! 15 s so proxies keep the connection, and the end of the stream when the sidecar drains.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::{mpsc, watch};
use tokio::time::Interval;

use super::Record;
use crate::shutdown::{Phase, reached};

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One record as an event: its summary as JSON.
pub(super) fn event(record: &Record) -> Bytes {
    let json = serde_json::to_string(&record.summary).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: request\ndata: {json}\n\n"))
}

/// The stream's body: events as they come, until the drain starts or the dashboard lets go.
pub(super) struct EventStream {
    events: mpsc::Receiver<Bytes>,
    draining: Pin<Box<dyn Future<Output = ()> + Send>>,
    keep_alive: Interval,
    opened: bool,
    /// The stream has ended; it is never polled past that.
    ended: bool,
}

impl EventStream {
    pub(super) fn new(events: mpsc::Receiver<Bytes>, mut phase: watch::Receiver<Phase>) -> Self {
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.reset();
        EventStream {
            events,
            draining: Box::pin(async move { reached(&mut phase, Phase::Draining).await }),
            keep_alive,
            opened: false,
            ended: false,
        }
    }
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if !self.opened {
            // A first comment, so the browser sees the stream open at once.
            self.opened = true;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b": open\n\n")))));
        }
        if self.draining.as_mut().poll(cx).is_ready() {
            self.ended = true;
            return Poll::Ready(None);
        }
        match self.events.poll_recv(cx) {
            Poll::Ready(Some(event)) => return Poll::Ready(Some(Ok(Frame::data(event)))),
            Poll::Ready(None) => {
                self.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if self.keep_alive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b": ping\n\n")))));
        }
        Poll::Pending
    }
}
