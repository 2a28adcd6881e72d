//! The boot gate (docs/behaviour.md §6): until the app first accepts a connection, requests wait
//! for it (each at most [`MAX_WAIT`]) until `timeouts.appBoot` has passed since start-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::request::error::MeshError;

/// The longest one request waits for the app to boot.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(25);
/// How often the gate tries the app's port while it boots.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often it keeps trying once `appBoot` has passed, so a late app is still found.
const PROBE_LATE_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Booting,
    /// Still booting as far as the probe knows, but the app's processes listen elsewhere: requests
    /// are told where at once instead of waiting (`BootGate::listens_elsewhere`).
    Elsewhere,
    Ready,
    /// The supervised app exited: nothing will answer.
    Gone,
}

/// Whether something accepts a TCP connection at `authority` (`host:port`) within `within`.
pub(crate) async fn accepts(authority: &str, within: Duration) -> bool {
    tokio::time::timeout(within, TcpStream::connect(authority))
        .await
        .is_ok_and(|connected| connected.is_ok())
}

pub(crate) struct BootGate {
    state: watch::Sender<State>,
    /// Where the app listens instead, in words, while the state is `Elsewhere`.
    elsewhere: std::sync::Mutex<String>,
    /// `state == Ready`, readable without a lock: the question every request asks.
    ready: AtomicBool,
    deadline: Instant,
}

impl BootGate {
    /// A gate for the app at `authority` (`host:port`), probed in the background until it answers.
    pub(crate) fn start(authority: String, app_boot: Duration) -> Arc<BootGate> {
        let (state, _) = watch::channel(State::Booting);
        let gate = Arc::new(BootGate {
            state,
            elsewhere: std::sync::Mutex::default(),
            ready: AtomicBool::new(false),
            deadline: Instant::now() + app_boot,
        });
        let weak = Arc::downgrade(&gate);
        tokio::spawn(async move {
            loop {
                // Bounded, so a host that drops packets cannot stall the probe for minutes.
                let connected = accepts(&authority, PROBE_TIMEOUT).await;
                let Some(gate) = weak.upgrade() else { return };
                if connected {
                    gate.mark_ready();
                }
                if !matches!(*gate.state.borrow(), State::Booting | State::Elsewhere) {
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

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The app accepted a connection: the gate stays open from now on.
    pub(crate) fn mark_ready(&self) {
        if self.is_ready() {
            return;
        }
        self.state.send_if_modified(|state| {
            let booting = matches!(*state, State::Booting | State::Elsewhere);
            if booting {
                *state = State::Ready;
                self.ready.store(true, Ordering::Release);
            }
            booting
        });
    }

    /// The app's processes listen, but not where the sidecar forwards (`why` says where, and the
    /// fix). A request that waits in vain is told so. When the app's one listener is the likely
    /// HTTP server (`sure`: it listens on one port only, or on the app's port at another address),
    /// waiting requests, and new ones until the app answers, are told at once; with several
    /// listeners (a debugger's port, say, beside one still to come) they go on waiting. The probe
    /// goes on either way, so an app that then listens in the right place opens the gate as usual.
    pub(crate) fn listens_elsewhere(&self, why: String, sure: bool) {
        *self.elsewhere.lock().unwrap_or_else(|e| e.into_inner()) = why;
        if sure {
            self.state.send_if_modified(|state| {
                let booting = *state == State::Booting;
                if booting {
                    *state = State::Elsewhere;
                }
                booting
            });
        }
    }

    /// What the watch found, if anything: the app's processes listen elsewhere.
    fn elsewhere(&self) -> Option<String> {
        let why = self.elsewhere.lock().unwrap_or_else(|e| e.into_inner());
        (!why.is_empty()).then(|| why.clone())
    }

    /// The supervised app exited: waiting requests stop waiting.
    pub(crate) fn app_gone(&self) {
        self.state.send_modify(|state| {
            *state = State::Gone;
            self.ready.store(false, Ordering::Release);
        });
    }

    /// Waits until the app is up; `app-booting` when it does not come up in time (502
    /// `app-unavailable`, saying it never listened, once `timeouts.appBoot` has passed), and
    /// `app-unavailable` when it exited.
    pub(crate) async fn wait(&self) -> Result<(), MeshError> {
        if self.is_ready() {
            return Ok(());
        }
        let now = Instant::now();
        let mut state = self.state.subscribe();
        let current = *state.borrow_and_update();
        let settled = match current {
            State::Booting if now >= self.deadline => None,
            State::Booting => {
                let until = self.deadline.min(now + MAX_WAIT);
                match tokio::time::timeout_at(until, state.wait_for(|s| *s != State::Booting)).await
                {
                    Ok(Ok(settled)) => Some(*settled),
                    _ => None,
                }
            }
            settled => Some(settled),
        };
        match settled {
            Some(State::Ready) => Ok(()),
            Some(State::Gone) => Err(MeshError::AppUnavailable),
            Some(State::Elsewhere) => Err(MeshError::AppListensElsewhere(
                self.elsewhere().unwrap_or_default(),
            )),
            // A request that arrives after `timeouts.appBoot` is not told "still starting": the
            // app never listened. (One that waited until then was waiting for a booting app.)
            Some(State::Booting) | None if now >= self.deadline => Err(MeshError::AppNeverListened),
            // Waited in vain: where the app listens instead, when the watch has seen it.
            Some(State::Booting) | None => Err(self
                .elsewhere()
                .map_or(MeshError::AppBooting, MeshError::AppListensElsewhere)),
        }
    }
}
