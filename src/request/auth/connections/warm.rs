//! Keeping a connection warm (docs/behaviour.md §5): the background dial at start-up and after
//! the API closed the last connection, its backoff, and the count of live connections that
//! decides when one is needed.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{FIRST_BACKOFF, MAX_BACKOFF, Opened, Shared};
use crate::request::auth::failure::cause;
use crate::request::auth::handshake::Io;
use crate::request::pool::{Dial, SendError};
use crate::telemetry::millis;

impl<D: Dial<Io = Io>> Shared<D> {
    /// Opens a connection for later calls, within the dial timeout, and lists it. Calls that find
    /// no connection meanwhile wait for it, as for a call's own dial, unless the API is known to
    /// speak HTTP/1.1 only.
    pub(super) async fn open_in_background(self: &Arc<Self>) -> Result<(), SendError> {
        let _gate = if self.lock().speaks_h2 == Some(false) {
            None
        } else {
            Some(self.deciding.lock().await)
        };
        // A call's dial, which this one waited for, opened what a later call needs.
        if self.can_take_a_call() {
            return Ok(());
        }
        let opened = tokio::time::timeout(self.dial_timeout, Shared::open(self))
            .await
            .map_err(|_| {
                SendError::Connect(D::PEER, "the connection did not open in time".into())
            })??;
        self.used.store(false, Ordering::Relaxed);
        if let Opened::H1(sender) = opened {
            self.lock().h1.push(sender);
        }
        Ok(())
    }

    /// How long to wait before the next background dial: none when calls went out since the last
    /// one (and the backoff starts over), else the backoff, doubled for the next time.
    fn next_wait(&self, after_a_failure: bool) -> Duration {
        if self.used.load(Ordering::Relaxed) && !after_a_failure {
            self.backoff_ms
                .store(millis(FIRST_BACKOFF), Ordering::Relaxed);
            return Duration::ZERO;
        }
        let wait = Duration::from_millis(self.backoff_ms.load(Ordering::Relaxed));
        self.backoff_ms
            .store(millis((wait * 2).min(MAX_BACKOFF)), Ordering::Relaxed);
        wait
    }
}

/// One connection counted among the live ones while its task runs: dropped with the task.
pub(super) struct Live<D: Dial<Io = Io>>(pub(super) Weak<Shared<D>>);

impl<D: Dial<Io = Io>> Drop for Live<D> {
    fn drop(&mut self) {
        connection_ended(&self.0);
    }
}

/// A connection's task ended. When it was the last, a fresh one is opened in the background, or
/// the redial waiting out a backoff is woken to look again.
fn connection_ended<D: Dial<Io = Io>>(shared: &Weak<Shared<D>>) {
    let Some(strong) = shared.upgrade() else {
        return;
    };
    let last = {
        let mut open = strong.lock();
        open.live = open.live.saturating_sub(1);
        open.h1.retain(|sender| !sender.is_closed());
        open.h2.retain(|h2| !h2.sender.is_closed());
        open.live == 0
    };
    if !last {
        return;
    }
    if strong.redialling.swap(true, Ordering::AcqRel) {
        strong.wake_redial.notify_one();
    } else {
        tokio::spawn(redial(shared.clone()));
    }
}

/// Keeps one connection open: redials (after [`Shared::next_wait`], or sooner when woken) until
/// one opens, or one is open already, or the attachment is gone. The last connection may end
/// just as this stops: then it goes on.
async fn redial<D: Dial<Io = Io>>(shared: Weak<Shared<D>>) {
    let mut failed = false;
    loop {
        // The wait holds no strong reference: the attachment may go meanwhile.
        let Some((wait, wake)) = shared
            .upgrade()
            .map(|s| (s.next_wait(failed), s.wake_redial.clone()))
        else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
        }
        let Some(strong) = shared.upgrade() else {
            return;
        };
        if strong.lock().live == 0 {
            match strong.open_in_background().await {
                Ok(()) => {}
                Err(e) => {
                    failed = true;
                    tracing::debug!(
                        attachment = strong.attachment.as_str(),
                        cause = %cause(&e),
                        "could not reopen a connection to the AppLink API; trying again later"
                    );
                    continue;
                }
            }
        }
        strong.redialling.store(false, Ordering::Release);
        if strong.lock().live > 0 || strong.redialling.swap(true, Ordering::AcqRel) {
            return;
        }
        failed = false;
    }
}
