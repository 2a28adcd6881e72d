//! The boot gate (§6): until the app first accepts a connection, requests wait for it (each at
//! most [`MAX_WAIT`]) until `timeouts.appBoot` has passed since start-up.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::MeshError;

/// The longest one request waits for the app to boot.
pub const MAX_WAIT: Duration = Duration::from_secs(25);
/// How often the gate tries the app's port while it boots.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// How often it keeps trying once `appBoot` has passed, so a late app is still found.
const PROBE_LATE_EVERY: Duration = Duration::from_millis(500);

pub struct BootGate {
    ready: watch::Sender<bool>,
    deadline: Instant,
}

impl BootGate {
    /// A gate for the app at `authority` (`host:port`), probed in the background until it answers.
    pub fn start(authority: String, app_boot: Duration) -> std::sync::Arc<BootGate> {
        let (ready, _) = watch::channel(false);
        let gate = std::sync::Arc::new(BootGate {
            ready,
            deadline: Instant::now() + app_boot,
        });
        let weak = std::sync::Arc::downgrade(&gate);
        tokio::spawn(async move {
            loop {
                if TcpStream::connect(authority.as_str()).await.is_ok() {
                    if let Some(gate) = weak.upgrade() {
                        gate.mark_ready();
                    }
                    return;
                }
                let Some(gate) = weak.upgrade() else { return };
                if gate.is_ready() {
                    return;
                }
                let pause = if Instant::now() < gate.deadline {
                    PROBE_EVERY
                } else {
                    PROBE_LATE_EVERY
                };
                drop(gate);
                tokio::time::sleep(pause).await;
            }
        });
        gate
    }

    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// The app accepted a connection: the gate stays open from now on.
    pub fn mark_ready(&self) {
        self.ready
            .send_if_modified(|ready| !std::mem::replace(ready, true));
    }

    /// Waits until the app is up, or fails with `app-booting`.
    pub async fn wait(&self) -> Result<(), MeshError> {
        if self.is_ready() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Err(MeshError::AppBooting);
        }
        let until = self.deadline.min(now + MAX_WAIT);
        let mut ready = self.ready.subscribe();
        match tokio::time::timeout_at(until, ready.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(MeshError::AppBooting),
        }
    }
}
