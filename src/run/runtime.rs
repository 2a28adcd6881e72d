//! The tokio runtime, shaped to the CPUs the sidecar may use.
//!
//! The sidecar shares its dyno with the app. It runs as many worker threads as the CPUs this
//! process may use: the affinity mask and the cgroup CPU quota, as
//! [`std::thread::available_parallelism`] reads them; `HEROKU_APPLINK_SERVICE_MESH_WORKERS`
//! overrides that. With one worker it runs a current-thread runtime: every task, the accept loop
//! and the I/O driver on one thread, so waking a task never wakes another thread.

use std::io;
use std::num::NonZeroUsize;

use tokio::runtime::{Builder, Runtime};

/// How many worker threads, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) workers: usize,
    /// `true` when `HEROKU_APPLINK_SERVICE_MESH_WORKERS` chose it.
    pub(crate) configured: bool,
}

impl Shape {
    /// The configured count, else the CPUs available to this process (1 if unknown).
    pub(crate) fn new(configured: Option<usize>) -> Shape {
        match configured {
            Some(workers) => Shape {
                workers: workers.max(1),
                configured: true,
            },
            None => Shape {
                workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
                configured: false,
            },
        }
    }

    /// A current-thread runtime for one worker, a multi-thread one otherwise.
    pub(crate) fn build(self) -> io::Result<Runtime> {
        if self.workers == 1 {
            Builder::new_current_thread().enable_all().build()
        } else {
            Builder::new_multi_thread()
                .worker_threads(self.workers)
                .enable_all()
                .build()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_count_wins() {
        assert_eq!(
            Shape::new(Some(3)),
            Shape {
                workers: 3,
                configured: true
            }
        );
        let available = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(Shape::new(None).workers, available);
    }

    #[test]
    fn one_worker_runs_on_the_calling_thread() {
        let runtime = Shape::new(Some(1)).build().unwrap();
        let caller = std::thread::current().id();
        let ran_on = runtime.block_on(async {
            tokio::spawn(async { std::thread::current().id() })
                .await
                .unwrap()
        });
        assert_eq!(ran_on, caller);
    }
}
