//! The app never outlives the sidecar (docs/behaviour.md §7). When the sidecar is killed without a
//! chance to stop the app (SIGKILL, the out-of-memory killer), a small watcher signals the app's
//! process group, so a restarted `bin/dev` or dyno does not find the old app holding `APP_PORT`.
//!
//! The watcher is `/bin/sh` in a process group of its own (so a terminal's Ctrl-C does not reach
//! it), reading a pipe whose only writer is the sidecar. The sidecar writes `stopped` once the app
//! has exited; any other end of the pipe (the sidecar died) makes the watcher send SIGTERM to the
//! group, and SIGKILL if it is still there 10 s later. A parent-death signal would reach only the
//! group's leader (npm, a shell), not the app it started.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};

use nix::unistd::Pid;

/// `$0` is the group. `kill -TERM -PGID` is the one spelling dash, bash and busybox all take.
const WATCHER: &str = r#"IFS= read -r said
[ "$said" = stopped ] && exit 0
kill -TERM -"$0" 2>/dev/null || exit 0
for _ in 1 2 3 4 5 6 7 8 9 10; do
  sleep 1
  kill -0 -"$0" 2>/dev/null || exit 0
done
kill -KILL -"$0" 2>/dev/null
exit 0"#;

/// The sidecar's end of the watcher's pipe.
pub(crate) struct AppGuard {
    pipe: ChildStdin,
}

impl AppGuard {
    /// Starts the watcher for the app's process group; `None` (with a warning) when it cannot.
    pub(crate) fn watch(group: Pid) -> Option<AppGuard> {
        let started = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHER)
            .arg(group.as_raw().to_string())
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match started {
            // The reaper collects the watcher when it exits, like any other child.
            Ok(mut watcher) => watcher.stdin.take().map(|pipe| AppGuard { pipe }),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "cannot start /bin/sh to watch over the app; if the sidecar is killed, the app may outlive it"
                );
                None
            }
        }
    }

    /// The app has exited: the watcher ends without signalling anything.
    pub(crate) fn release(mut self) {
        let _ = self.pipe.write_all(b"stopped\n");
    }
}
