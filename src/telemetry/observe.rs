//! What the request pipeline knows of an observer of its requests (the dev dashboard): this trait,
//! never the dashboard itself. An observer is plugged in at start-up, in dev mode only; without
//! one, nothing is watched and nothing costs anything.

use std::sync::Arc;

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;

use super::RequestLog;
use crate::body::MeshBody;
use crate::shutdown::Shutdown;

/// The most of a body an observer is shown.
pub(crate) const PREVIEW_BYTES: usize = 4096;

/// Adds the start of `data` to a body's preview, up to [`PREVIEW_BYTES`] (whether the body went on
/// is told by its byte count).
pub(crate) fn keep_preview(kept: &mut Vec<u8>, data: &[u8]) {
    let room = PREVIEW_BYTES.saturating_sub(kept.len());
    kept.extend_from_slice(&data[..data.len().min(room)]);
}

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
