//! Telling the user, through the log, when the app does not listen where the sidecar forwards
//! (docs/behaviour.md §6, §7): a warning after a few seconds naming the ports the app's processes
//! do listen on, repeated at a slower pace; and, with an app command, the end of the sidecar once
//! `timeouts.appBoot` has passed without a connection, so the platform sees a crash and restarts
//! the dyno as its own boot timeout would.

use std::time::Duration;

use tokio::time::Instant;

use crate::app::exposure::Exposure;
use crate::app::listeners::{Listening, listening_ports};
use crate::request::boot_gate::BootGate;

/// The first warning comes after this (or half of `timeouts.appBoot`, if that is sooner).
const FIRST_WARNING: Duration = Duration::from_secs(5);
/// Then one every this.
const REPEAT_EVERY: Duration = Duration::from_secs(15);
/// How often the gate is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// What is being watched: the app's address, its process group (with an app command), the boot
/// deadline, and the dyno's address in a Private Space (`HEROKU_PRIVATE_IP`).
pub(crate) struct BootWatch {
    pub(crate) authority: String,
    pub(crate) app_port: u16,
    pub(crate) app_group: Option<i32>,
    pub(crate) app_boot: Duration,
    pub(crate) private_ip: Option<String>,
}

impl BootWatch {
    /// Resolves only when an app command never listened by `timeouts.appBoot` (after logging the
    /// error); pending for ever once the app is up (after naming, in a Private Space, the sockets
    /// other dynos can reach it on), without an app command, or with an `appBoot` of zero (no boot
    /// deadline at all).
    pub(crate) async fn never_listened(self, gate: &BootGate) {
        let started = Instant::now();
        let mut next_warning = started + FIRST_WARNING.min(self.app_boot / 2).max(LOOK_EVERY);
        let deadline = started + self.app_boot;
        let may_end = self.app_group.is_some() && !self.app_boot.is_zero();
        loop {
            if gate.is_ready() {
                if let Some(private_ip) = self.private_ip.clone() {
                    let exposure = Exposure {
                        private_ip,
                        app_group: self.app_group,
                        app_port: self.app_port,
                    };
                    exposure.warn_if_exposed().await;
                }
                return std::future::pending().await;
            }
            let now = Instant::now();
            // One last look of its own, so an app that came up just now is not stopped.
            if may_end && now >= deadline && !self.answers().await {
                tracing::error!(
                    app = self.authority.as_str(),
                    app_boot_s = self.app_boot.as_secs(),
                    "the app never started listening where the sidecar forwards within timeouts.appBoot; stopping it and exiting, so that the platform restarts it{}",
                    self.where_it_listens().await
                );
                return;
            }
            if now >= next_warning {
                self.warn(now - started, gate).await;
                next_warning = now + REPEAT_EVERY;
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    /// Whether the app accepts a connection right now (within a second).
    async fn answers(&self) -> bool {
        crate::request::boot_gate::accepts(&self.authority, Duration::from_secs(1)).await
    }

    /// Says where the app listens instead; when it listens somewhere, requests waiting at the gate
    /// are told so too.
    async fn warn(&self, waited: Duration, gate: &BootGate) {
        let waited_s = waited.as_secs();
        match self.app_group {
            Some(_) => {
                let (where_it_listens, found) = self.where_it_listens_now().await;
                if let Some(sure) = found {
                    let why = where_it_listens.trim_start_matches(": ").to_string();
                    gate.listens_elsewhere(why, sure);
                }
                tracing::warn!(
                    app = self.authority.as_str(),
                    waited_s,
                    "still waiting for the app to accept a connection where the sidecar forwards{where_it_listens}"
                );
            }
            None => tracing::warn!(
                app = self.authority.as_str(),
                waited_s,
                "nothing accepts connections where the sidecar forwards: start the app there, or set APP_PORT to the port it listens on"
            ),
        }
    }

    /// `: its processes listen on port 8080: set APP_PORT=8080, ...`, from /proc.
    async fn where_it_listens(&self) -> String {
        self.where_it_listens_now().await.0
    }

    /// The same, and whether the app's processes listen anywhere at all (so: elsewhere); if they
    /// do, whether the one listener is surely the app's HTTP server (one port only, or the app's
    /// port at another address).
    async fn where_it_listens_now(&self) -> (String, Option<bool>) {
        let Some(group) = self.app_group else {
            return (String::new(), None);
        };
        let app_port = self.app_port;
        // Reading /proc is quick but blocking: not on the runtime's thread.
        let listening = tokio::task::spawn_blocking(move || listening_ports(group))
            .await
            .unwrap_or_default();
        let addresses: Vec<String> = listening.iter().map(ToString::to_string).collect();
        let on_app_port: Vec<&Listening> =
            listening.iter().filter(|l| l.port == app_port).collect();
        let words = match (listening.as_slice(), on_app_port.as_slice()) {
            ([], _) => format!(
                ": its processes listen on no TCP port yet; make the app listen on $APP_PORT (or $PORT), which the sidecar sets to {app_port}"
            ),
            // The right port on another address: `localhost` resolved to ::1 only, say.
            (_, [found, ..]) => format!(
                ": its processes listen on {found}, not on {}; make the app listen on 127.0.0.1 port {app_port}",
                self.authority
            ),
            ([only], []) => format!(
                ": its processes listen on {only}; set APP_PORT={} (or make the app listen on $APP_PORT, which is {app_port})",
                only.port
            ),
            (_, []) => format!(
                ": its processes listen on {}; set APP_PORT to the one that serves HTTP (or make the app listen on $APP_PORT, which is {app_port})",
                addresses.join(", ")
            ),
        };
        let sure = !on_app_port.is_empty() || listening.len() == 1;
        (words, (!listening.is_empty()).then_some(sure))
    }
}
