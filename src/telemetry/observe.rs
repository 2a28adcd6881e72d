//! What the request pipeline knows of an observer of its requests (the dev dashboard): this trait,
//! never the dashboard itself. An observer is plugged in at start-up, in dev mode only; without
//! one, nothing is watched and nothing costs anything.

use std::sync::Arc;

use http::HeaderMap;

use super::record::Observation;

/// Watches requests as they pass (its own routes are answered in front of the pipeline, by the
/// connection layer, and never reach it).
pub(crate) trait Observer: Send + Sync {
    /// Starts watching a request that arrived with these headers.
    fn watch(self: Arc<Self>, arrived: &HeaderMap) -> Box<dyn Observation>;
}
