//! Telling the user, through the log, when the app does not listen where the sidecar forwards
//! (docs/behaviour.md §6, §7): a warning after a few seconds naming the ports the app's processes
//! do listen on, repeated at a slower pace; and, with an app command, the end of the sidecar once
//! `timeouts.appBoot` has passed without a connection, so the platform sees a crash and restarts
//! the dyno as its own boot timeout would.

use std::time::Duration;

use tokio::time::Instant;

use crate::listeners::listening_ports;
use crate::server::Running;

/// The first warning comes after this (or half of `timeouts.appBoot`, if that is sooner).
const FIRST_WARNING: Duration = Duration::from_secs(5);
/// Then one every this.
const REPEAT_EVERY: Duration = Duration::from_secs(15);
/// How often the gate is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// What is being watched: the app's address, its process group (with an app command), the boot
/// deadline.
pub(crate) struct BootWatch {
    pub(crate) authority: String,
    pub(crate) app_port: u16,
    pub(crate) app_group: Option<i32>,
    pub(crate) app_boot: Duration,
}

impl BootWatch {
    /// Resolves only when an app command never listened by `timeouts.appBoot` (after logging the
    /// error); pending for ever once the app is up, or without an app command.
    pub(crate) async fn never_listened(self, running: &Running) {
        let started = Instant::now();
        let mut next_warning = started + FIRST_WARNING.min(self.app_boot / 2);
        let deadline = started + self.app_boot;
        loop {
            if running.app_ready() {
                return std::future::pending().await;
            }
            let now = Instant::now();
            if now >= deadline && self.app_group.is_some() {
                tracing::error!(
                    app = self.authority.as_str(),
                    app_boot_s = self.app_boot.as_secs(),
                    "the app never started listening where the sidecar forwards within timeouts.appBoot; stopping it and exiting, so that the platform restarts it{}",
                    self.where_it_listens()
                );
                return;
            }
            if now >= next_warning {
                self.warn(now - started);
                next_warning = now + REPEAT_EVERY;
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    fn warn(&self, waited: Duration) {
        let waited_s = waited.as_secs();
        match self.app_group {
            Some(_) => tracing::warn!(
                app = self.authority.as_str(),
                waited_s,
                "the app has not accepted a connection where the sidecar forwards{}",
                self.where_it_listens()
            ),
            None => tracing::warn!(
                app = self.authority.as_str(),
                waited_s,
                "nothing accepts connections where the sidecar forwards: start the app there, or set APP_PORT to the port it listens on"
            ),
        }
    }

    /// `: its processes listen on port 8080: set APP_PORT=8080, ...`, from /proc.
    fn where_it_listens(&self) -> String {
        let Some(group) = self.app_group else {
            return String::new();
        };
        let app_port = self.app_port;
        match listening_ports(group).as_slice() {
            [] => format!(
                ": its processes listen on no TCP port yet; make the app listen on $APP_PORT (or $PORT), which the sidecar sets to {app_port}"
            ),
            ports => {
                let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                format!(
                    ": its processes listen on port {}; set APP_PORT={} (or make the app listen on $APP_PORT, which is {app_port})",
                    list.join(", "),
                    ports[0]
                )
            }
        }
    }
}
