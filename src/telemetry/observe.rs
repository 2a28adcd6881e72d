//! What the request pipeline knows of an observer of its requests (the dev dashboard): this trait,
//! never the dashboard itself. An observer is plugged in at start-up, in dev mode only; without
//! one, nothing is watched and nothing costs anything.

use std::sync::Arc;

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;

use super::record::Observation;
use crate::body::MeshBody;
use crate::shutdown::Shutdown;

/// Watches requests as they pass, and answers routes of its own.
pub(crate) trait Observer: Send + Sync {
    /// Whether `path` is one of its own routes, which it answers itself and does not watch.
    fn owns(&self, path: &str) -> bool;

    /// Answers a request for one of its routes; `local_caller` when the peer is this machine.
    fn answer(
        &self,
        request: &Request<Incoming>,
        shutdown: &Shutdown,
        local_caller: bool,
    ) -> Response<MeshBody>;

    /// Starts watching a request that arrived with these headers.
    fn watch(self: Arc<Self>, arrived: &HeaderMap) -> Box<dyn Observation>;
}
