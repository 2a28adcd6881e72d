//! Request counters and latency samples, reported every minute as an l2met line
//! (docs/behaviour.md §8).

use super::millis;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency samples kept per interval; beyond this, samples replace older ones round-robin.
const MAX_SAMPLES: usize = 8192;

#[derive(Default)]
pub(crate) struct Metrics {
    /// The dry run is on: the line counts `would_reject`, and the minute repeats the warning.
    report_only: bool,
    requests: AtomicU64,
    rejected: AtomicU64,
    would_reject: AtomicU64,
    samples: Mutex<Samples>,
}

#[derive(Default)]
struct Samples {
    latencies_ms: Vec<u64>,
    seen: usize,
}

/// One interval's figures.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) requests: u64,
    pub(crate) rejected: u64,
    /// Counted in the dry run only.
    pub(crate) would_reject: Option<u64>,
    pub(crate) p50_ms: u64,
    pub(crate) p99_ms: u64,
}

impl Metrics {
    pub(crate) fn new(report_only: bool) -> Metrics {
        Metrics {
            report_only,
            ..Metrics::default()
        }
    }

    /// Whether the dry run is on.
    pub(crate) fn report_only(&self) -> bool {
        self.report_only
    }

    /// Records a finished request; `rejected` when the sidecar answered it itself with an error,
    /// `would_reject` when the dry run forwarded one it would have refused.
    pub(crate) fn record(&self, latency: Duration, rejected: bool, would_reject: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if rejected {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
        if would_reject {
            self.would_reject.fetch_add(1, Ordering::Relaxed);
        }
        let ms = millis(latency);
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let seen = samples.seen;
        if samples.latencies_ms.len() < MAX_SAMPLES {
            samples.latencies_ms.push(ms);
        } else {
            samples.latencies_ms[seen % MAX_SAMPLES] = ms;
        }
        samples.seen += 1;
    }

    /// The figures since the last snapshot, resetting them.
    pub(crate) fn take(&self) -> Snapshot {
        let mut latencies = {
            let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
            samples.seen = 0;
            std::mem::take(&mut samples.latencies_ms)
        };
        latencies.sort_unstable();
        let percentile = |p: usize| {
            if latencies.is_empty() {
                0
            } else {
                latencies[(latencies.len() - 1) * p / 100]
            }
        };
        Snapshot {
            requests: self.requests.swap(0, Ordering::Relaxed),
            rejected: self.rejected.swap(0, Ordering::Relaxed),
            would_reject: self
                .report_only
                .then(|| self.would_reject.swap(0, Ordering::Relaxed)),
            p50_ms: percentile(50),
            p99_ms: percentile(99),
        }
    }
}

impl Snapshot {
    /// Whether nothing happened in the interval: then no line is logged.
    pub(crate) fn is_idle(&self) -> bool {
        self.requests == 0 && self.rejected == 0
    }

    /// The l2met measurements, e.g. `count#mesh.requests=3 ... sample#mesh.latency.p99=12ms`.
    pub(crate) fn l2met(&self) -> String {
        let would_reject = self
            .would_reject
            .map(|count| format!(" count#mesh.would_reject={count}"))
            .unwrap_or_default();
        format!(
            "count#mesh.requests={} count#mesh.rejected={}{would_reject} sample#mesh.latency.p50={}ms sample#mesh.latency.p99={}ms",
            self.requests, self.rejected, self.p50_ms, self.p99_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_reset() {
        let metrics = Metrics::default();
        for ms in 1..=100 {
            metrics.record(Duration::from_millis(ms), ms > 90, false);
        }
        let snapshot = metrics.take();
        assert_eq!(
            snapshot,
            Snapshot {
                requests: 100,
                rejected: 10,
                would_reject: None,
                p50_ms: 50,
                p99_ms: 99
            }
        );
        assert_eq!(
            snapshot.l2met(),
            "count#mesh.requests=100 count#mesh.rejected=10 sample#mesh.latency.p50=50ms sample#mesh.latency.p99=99ms"
        );
        assert!(!snapshot.is_idle());
        let idle = metrics.take();
        assert!(idle.is_idle());
        assert_eq!(
            idle,
            Snapshot {
                requests: 0,
                rejected: 0,
                would_reject: None,
                p50_ms: 0,
                p99_ms: 0
            }
        );
    }

    #[test]
    fn a_dry_run_counts_what_it_would_have_rejected() {
        let dry_run = Metrics::new(true);
        dry_run.record(Duration::from_millis(3), false, true);
        dry_run.record(Duration::from_millis(3), false, false);
        assert_eq!(
            dry_run.take().l2met(),
            "count#mesh.requests=2 count#mesh.rejected=0 count#mesh.would_reject=1 sample#mesh.latency.p50=3ms sample#mesh.latency.p99=3ms"
        );
    }
}
