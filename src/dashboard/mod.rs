//! The local dashboard (docs/behaviour.md §13): in dev mode, the last requests with what the app
//! received and what came back, in a page under `/__applink/`, a JSON API and a live stream.
//!
//! A request is captured from its arrival ([`Capture`], carried by the request's log) and becomes
//! a [`Record`] when its response is done; the dashboard keeps the last N in a ring, newest first,
//! and sends each to the open streams. Secrets never enter a record: see [`redact`].

mod guard;
mod record;
mod redact;
mod serve;
mod stream;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::body::MeshBody;
use crate::config::Config;
use crate::shutdown::Shutdown;
use crate::telemetry::{Observation, Observer};

use record::Capture;
pub(crate) use record::Record;

/// Events a slow stream may fall behind by before it is closed.
const STREAM_BACKLOG: usize = 256;

/// The ring of the last requests and the open streams.
pub(crate) struct Dashboard {
    capacity: usize,
    /// Said above the requests (see [`notices`]).
    notices: Vec<String>,
    /// Who may see it: this machine, unrelayed, with this run's token.
    guard: guard::Guard,
    next_id: AtomicU64,
    ring: Mutex<VecDeque<Arc<Record>>>,
    streams: Mutex<Vec<mpsc::Sender<Bytes>>>,
}

/// The settings that change what reaches the app, for the page to say: the dry run (on, or
/// ignored) and the signed assertion. (The key itself is never shown.)
pub(crate) fn notices(config: &Config) -> Vec<String> {
    let mut notices: Vec<String> = config
        .auth
        .dry_run_notice()
        .map(str::to_string)
        .into_iter()
        .collect();
    if config.assertion {
        notices.push(
            "ASSERTION: every forwarded request carries X-Applink-Assertion, signed with the key \
             the app was given in HEROKU_APPLINK_MESH_ASSERTION_KEY"
                .to_string(),
        );
    }
    notices
}

impl Dashboard {
    pub(crate) fn new(capacity: usize, notices: Vec<String>) -> Dashboard {
        Dashboard {
            capacity,
            notices,
            guard: guard::Guard::new(serve::PAGE),
            next_id: AtomicU64::new(1),
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            streams: Mutex::default(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// What the page says above the requests: the settings that change what reaches the app.
    pub(crate) fn notices(&self) -> &[String] {
        &self.notices
    }

    /// The path and query that open the dashboard, with this run's token.
    pub(crate) fn entry(&self) -> String {
        self.guard.entry(serve::PREFIX)
    }

    /// Keeps a finished request, dropping the oldest beyond the capacity, and tells the streams.
    pub(crate) fn keep(&self, mut record: Record) {
        record.summary.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let record = Arc::new(record);
        {
            let mut ring = lock(&self.ring);
            ring.push_front(record.clone());
            ring.truncate(self.capacity);
        }
        let mut streams = lock(&self.streams);
        if streams.is_empty() {
            return;
        }
        let event = stream::event(&record);
        streams.retain(|stream| stream.try_send(event.clone()).is_ok());
    }

    /// The kept requests, newest first.
    pub(crate) fn records(&self) -> Vec<Arc<Record>> {
        lock(&self.ring).iter().cloned().collect()
    }

    pub(crate) fn record(&self, id: u64) -> Option<Arc<Record>> {
        lock(&self.ring)
            .iter()
            .find(|r| r.summary.id == id)
            .cloned()
    }

    /// A new stream of the requests kept from now on.
    fn subscribe(&self) -> mpsc::Receiver<Bytes> {
        let (sender, receiver) = mpsc::channel(STREAM_BACKLOG);
        lock(&self.streams).push(sender);
        receiver
    }
}

impl Dashboard {
    /// Whether `path` is one of the dashboard's own routes, which the connection layer hands it
    /// in front of the request pipeline.
    pub(crate) fn owns(&self, path: &str) -> bool {
        serve::is_dashboard_path(path)
    }

    /// Answers a request for one of its routes; `local_caller` when the peer is this machine.
    pub(crate) fn answer(
        &self,
        request: &Request<Incoming>,
        shutdown: &Shutdown,
        local_caller: bool,
    ) -> Response<MeshBody> {
        serve::serve(self, shutdown, request, local_caller)
    }
}

/// The pipeline knows the dashboard only as an observer of its requests.
impl Observer for Dashboard {
    fn watch(self: Arc<Self>, arrived: &HeaderMap) -> Box<dyn Observation> {
        Capture::start(self, arrived)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_and_numbers_them() {
        let dashboard = Dashboard::new(3, Vec::new());
        for n in 0..5 {
            let mut record = Record::for_tests();
            record.summary.path = format!("/{n}");
            dashboard.keep(record);
        }
        let paths: Vec<String> = dashboard
            .records()
            .iter()
            .map(|r| r.summary.path.clone())
            .collect();
        assert_eq!(paths, ["/4", "/3", "/2"]);
        assert_eq!(dashboard.records()[0].summary.id, 5);
        assert!(dashboard.record(2).is_none());
        assert_eq!(dashboard.record(4).unwrap().summary.path, "/3");
    }

    #[tokio::test]
    async fn streams_get_each_new_record() {
        let dashboard = Dashboard::new(10, Vec::new());
        let mut stream = dashboard.subscribe();
        dashboard.keep(Record::for_tests());
        let event = stream.recv().await.unwrap();
        let text = std::str::from_utf8(&event).unwrap();
        assert!(text.starts_with("event: request\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n"), "{text}");
        drop(stream);
        dashboard.keep(Record::for_tests());
        assert!(
            lock(&dashboard.streams).is_empty(),
            "a closed stream is forgotten"
        );
    }
}
