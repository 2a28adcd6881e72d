//! Which request a log line belongs to (docs/behaviour.md §8): the handler runs each request's
//! pipeline inside a [`RequestScope`], and the log formatters add its `request_id` (and
//! `trace_id`) to every line written meanwhile, from whichever module writes it (the auth
//! client's warnings, the app client's).
//!
//! A task-local rather than a tracing span per request: the formatter reads it only when a line is
//! written, while a span would be created, formatted and entered for every request whether
//! anything is logged or not.

use std::future::Future;
use std::sync::Arc;

use super::trace_context::TraceContext;

tokio::task_local! {
    static CURRENT: RequestScope;
}

/// The request a line is written for.
#[derive(Clone, Debug)]
pub(crate) struct RequestScope {
    pub(crate) request_id: Arc<str>,
    pub(crate) trace: Option<TraceContext>,
}

impl RequestScope {
    /// Runs `future` with this request as the one its log lines belong to.
    pub(crate) fn around<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// Calls `f` with the request being handled, if a line is written for one.
    pub(crate) fn with_current<R>(f: impl FnOnce(&RequestScope) -> R) -> Option<R> {
        CURRENT.try_with(f).ok()
    }
}
