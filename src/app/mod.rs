//! The app's process (docs/behaviour.md §6, §7). Here: the process itself, started without a
//! shell in its own process group, with `APP_PORT` and `PORT` set to the app's port; reaped by the
//! one SIGCHLD loop that owns every `waitpid` call (so, as PID 1, it also reaps orphans without
//! stealing the app's exit status); signalled as a group. Beside it: how its command runs
//! (`command`), the watcher that stops it if the sidecar dies (`guard`), and what the user is told
//! when it does not listen where the sidecar forwards (`boot_watch`, from `listeners`) or is given
//! the wrong port (`port_hints`) or a variable no shell filled in (`expansion_hints`).

pub(crate) mod boot_watch;
pub(crate) mod command;
pub(crate) mod expansion_hints;
pub(crate) mod exposure;
mod guard;
mod listeners;
pub(crate) mod port_hints;

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::app::command::{not_found_hint, not_found_reason, program_and_args};
use crate::app::guard::AppGuard;

/// How the app ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppExit {
    Code(i32),
    Signal(i32),
}

impl AppExit {
    /// The sidecar's own exit code: the app's, or 128 + n for signal n (the shell convention).
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            AppExit::Code(code) => code,
            AppExit::Signal(n) => 128 + n,
        }
    }
}

impl std::fmt::Display for AppExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppExit::Code(code) => write!(f, "exit code {code}"),
            AppExit::Signal(n) => match Signal::try_from(*n) {
                Ok(signal) => write!(f, "signal {signal}"),
                Err(_) => write!(f, "signal {n}"),
            },
        }
    }
}

/// The app could not be started.
#[derive(Debug)]
pub(crate) struct SpawnError {
    program: String,
    error: io::Error,
    /// What the command shows went wrong, when it was not found: an assignment or a builtin.
    hint: Option<String>,
    /// The `PATH` the program was looked for on.
    path: Option<String>,
}

impl SpawnError {
    /// 127 when the program does not exist, 126 when it cannot be executed (the shell convention).
    pub(crate) fn exit_code(&self) -> i32 {
        match self.error.kind() {
            io::ErrorKind::NotFound => 127,
            _ => 126,
        }
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The program as a message may show it (a secret in it masked).
        let program = &crate::config::shown::shown(&self.program);
        match (self.error.kind(), &self.hint) {
            (io::ErrorKind::NotFound, Some(hint)) => write!(f, "cannot start the app: {hint}"),
            (io::ErrorKind::NotFound, None) => write!(
                f,
                "cannot start the app: {}",
                not_found_reason(program, self.path.as_deref())
            ),
            (io::ErrorKind::PermissionDenied, _) => write!(
                f,
                "cannot start the app: '{program}' is not executable; make it executable (chmod +x) \
                 or run it through its interpreter"
            ),
            _ => write!(f, "cannot start the app '{program}': {}", self.error),
        }
    }
}

/// The running app.
pub(crate) struct App {
    pid: Pid,
    exit: watch::Receiver<Option<AppExit>>,
    /// Whether the command was one string run through `/bin/sh -c 'exec …'`.
    through_shell: bool,
}

impl App {
    /// Starts `command` (program and arguments, no shell) in its own process group. Must run
    /// inside the tokio runtime: it starts the reaper.
    /// `environment`: variables the app is given besides its ports (the assertion's key).
    pub(crate) fn spawn(
        command: &[String],
        app_port: u16,
        environment: &[(&str, &str)],
    ) -> Result<App, SpawnError> {
        let Some((program, args, through_shell)) = program_and_args(command) else {
            return Err(SpawnError {
                program: String::new(),
                error: io::Error::new(io::ErrorKind::InvalidInput, "the app command is empty"),
                hint: None,
                path: None,
            });
        };
        let spawn_error = |error: io::Error| SpawnError {
            program: program.clone(),
            hint: (error.kind() == io::ErrorKind::NotFound)
                .then(|| not_found_hint(command))
                .flatten(),
            path: std::env::var("PATH").ok(),
            error,
        };
        // Listen for SIGCHLD before the child exists, so its exit cannot be missed.
        let sigchld = signal(SignalKind::child()).map_err(spawn_error)?;
        let child = Command::new(&program)
            .args(&args)
            .env("APP_PORT", app_port.to_string())
            .env("PORT", app_port.to_string())
            .envs(environment.iter().copied())
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .map_err(spawn_error)?;
        let pid = Pid::from_raw(child.id() as i32);
        // The reaper below owns waiting for it; dropping `Child` neither waits nor kills.
        drop(child);
        let (report, exit) = watch::channel(None);
        tokio::spawn(reap(pid, sigchld, report, AppGuard::watch(pid)));
        Ok(App {
            pid,
            exit,
            through_shell,
        })
    }

    /// Whether the command was one string run through `/bin/sh -c`.
    pub(crate) fn through_shell(&self) -> bool {
        self.through_shell
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Sends `signal` to the app's whole process group.
    pub(crate) fn signal_group(&self, signal: Signal) {
        match killpg(self.pid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => {
                tracing::warn!(error = %e, signal = %signal, "cannot signal the app's process group")
            }
        }
    }

    /// Resolves when the app has exited.
    pub(crate) async fn exited(&self) -> AppExit {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.expect("waited for Some"),
            // The reaper ended without seeing the app exit: only when SIGCHLD stopped, at shutdown.
            Err(_) => AppExit::Code(1),
        }
    }

    /// Waits for the app to exit until `deadline`, then kills its group and waits for that.
    pub(crate) async fn exited_by(&self, deadline: Instant) -> AppExit {
        if let Ok(exit) = tokio::time::timeout_at(deadline, self.exited()).await {
            return exit;
        }
        tracing::warn!("the app did not exit within timeouts.drain; killing its process group");
        self.signal_group(Signal::SIGKILL);
        self.exited().await
    }
}

/// Reaps every child that exits (the app, and orphans reparented to the sidecar when it is PID 1)
/// and reports the app's exit.
async fn reap(
    app: Pid,
    mut sigchld: tokio::signal::unix::Signal,
    report: watch::Sender<Option<AppExit>>,
    mut guard: Option<AppGuard>,
) {
    loop {
        loop {
            let exit = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, AppExit::Code(code)),
                Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, AppExit::Signal(signal as i32)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "waitpid failed");
                    break;
                }
            };
            if exit.0 == app {
                // The watcher first: once `run` hears of the exit, the sidecar may be gone.
                if let Some(guard) = guard.take() {
                    guard.release();
                }
                report.send_replace(Some(exit.1));
            } else {
                tracing::debug!(pid = exit.0.as_raw(), "reaped an orphaned process");
            }
        }
        // A safety net for a coalesced or missed signal: look again every few seconds anyway.
        let _ = tokio::time::timeout(Duration::from_secs(5), sigchld.recv()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(AppExit::Code(3).exit_code(), 3);
        assert_eq!(AppExit::Signal(9).exit_code(), 137);
        assert_eq!(AppExit::Signal(15).to_string(), "signal SIGTERM");
        let not_found = SpawnError {
            program: "x".into(),
            error: io::Error::from(io::ErrorKind::NotFound),
            hint: None,
            path: None,
        };
        assert_eq!(not_found.exit_code(), 127);
        let denied = SpawnError {
            program: "x".into(),
            error: io::Error::from(io::ErrorKind::PermissionDenied),
            hint: None,
            path: None,
        };
        assert_eq!(denied.exit_code(), 126);
        assert!(denied.to_string().contains("not executable"));
    }
}
