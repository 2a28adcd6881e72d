//! The sidecar's one shutdown state: serving, then draining (no new connections; in-flight
//! requests finish), then closed (upgraded connections and idle pooled connections to the app go).
//! It only moves forward. See docs/behaviour.md §11.

use tokio::sync::watch;

/// Where the sidecar is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Serving,
    /// A signal or the app's exit started the drain.
    Draining,
    /// The drain has ended.
    Closed,
}

/// The shared shutdown state; tasks wait for a phase with [`Shutdown::watch`] and [`reached`].
pub(crate) struct Shutdown {
    phase: watch::Sender<Phase>,
}

impl Shutdown {
    pub(crate) fn new() -> Shutdown {
        Shutdown {
            phase: watch::channel(Phase::Serving).0,
        }
    }

    /// Whether the drain has started (or ended).
    pub(crate) fn is_draining(&self) -> bool {
        *self.phase.borrow() >= Phase::Draining
    }

    /// Whether the drain has started, or starts within `grace`.
    pub(crate) async fn draining_within(&self, grace: std::time::Duration) -> bool {
        let mut phase = self.watch();
        tokio::time::timeout(grace, reached(&mut phase, Phase::Draining))
            .await
            .is_ok()
    }

    /// Moves on to `phase`; never back.
    pub(crate) fn advance(&self, phase: Phase) {
        self.phase.send_if_modified(|current| {
            let later = phase > *current;
            if later {
                *current = phase;
            }
            later
        });
    }

    /// A receiver to wait on with [`reached`].
    pub(crate) fn watch(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }
}

/// Resolves once the shutdown has reached `phase` (or its sender is gone), holding no borrow
/// across the await.
pub(crate) async fn reached(phase_rx: &mut watch::Receiver<Phase>, phase: Phase) {
    let _ = phase_rx.wait_for(|current| *current >= phase).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_moves_forward_and_wakes_waiters() {
        let shutdown = Shutdown::new();
        let mut waiter = shutdown.watch();
        assert!(!shutdown.is_draining());
        let closed = tokio::spawn(async move { reached(&mut waiter, Phase::Closed).await });
        shutdown.advance(Phase::Draining);
        assert!(shutdown.is_draining());
        assert!(!closed.is_finished());
        shutdown.advance(Phase::Closed);
        shutdown.advance(Phase::Serving);
        assert!(shutdown.is_draining());
        closed.await.unwrap();
    }
}
