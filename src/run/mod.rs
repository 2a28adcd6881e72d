//! The process's life (docs/behaviour.md §7): bind, start the app, serve until a signal or the
//! app's exit, drain, and exit with the app's code.

mod open_files;
pub(crate) mod runtime;
pub(crate) mod startup_log;

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::app::boot_watch::BootWatch;
use crate::app::command::{script_program, shell_not_found};
use crate::app::port_hints::PortHints;
use crate::app::{App, AppExit, SpawnError};
use crate::config::Config;
use crate::config::shown::shown;
use crate::connection::{Running, start};
use crate::run::runtime::Shape;
use crate::run::startup_log::{log_open_files_limit, log_start_up};
use crate::telemetry;

/// The exit code when the app never listened within `timeouts.appBoot`: a crash, for the platform.
const EXIT_APP_NEVER_LISTENED: i32 = 1;

/// How often the l2met metrics line is written.
const METRICS_EVERY: Duration = Duration::from_secs(60);

/// How long tasks still running after the drain (busy connections whose drain timed out) get to
/// finish, and log their request line, before the runtime is dropped.
const LAST_TASKS: Duration = Duration::from_secs(1);

/// Runs the sidecar (and the app command, if any) on a runtime shaped to the CPUs it may use,
/// until SIGTERM/SIGINT or the app's exit. Returns the process exit code, once the runtime has
/// stopped and the last log lines are written.
pub fn run(config: Config) -> i32 {
    let logs = telemetry::init(&config.log);
    let shape = Shape::new(config.workers);
    let code = match shape.build() {
        Ok(runtime) => {
            let code = runtime.block_on(supervise(config, shape));
            runtime.shutdown_timeout(LAST_TASKS);
            code
        }
        Err(e) => {
            eprintln!("heroku-applink-service-mesh: cannot start the runtime: {e}");
            1
        }
    };
    logs.flush_and_stop();
    code
}

async fn supervise(config: Config, shape: Shape) -> i32 {
    // Listen before anything starts, so an early signal is handled rather than fatal.
    let Ok(mut signals) = Signals::new() else {
        eprintln!("heroku-applink-service-mesh: cannot listen for signals");
        return 1;
    };
    log_start_up(&config, shape);
    // One configuration: the server and this supervisor share it.
    let config = Arc::new(config);
    // Bind first: a port in use exits 1 before the app is started.
    let running = match start(config.clone()).await {
        Ok(running) => running,
        Err(e) => return fail("cannot start", &e, e.exit_code()),
    };
    tracing::info!(addr = %running.local_addr(), "listening");
    if let Some(url) = running.dashboard_url() {
        // The token in the URL is this run's key to the dashboard, printed on purpose (as Jupyter
        // does): only dev mode has a dashboard, and dev mode never runs on a dyno.
        tracing::info!(
            url = url.as_str(),
            "dev dashboard: every request, live, and a form to send one"
        );
    }
    let authority = config.app.authority();
    let hints = PortHints::look(&config.app_command, running.local_addr().port(), &authority).await;
    let app = match start_app(
        &config.app_command,
        config.app.port,
        &running.app_environment(),
    ) {
        Ok(app) => app,
        Err(e) => {
            running.shutdown().await;
            return fail("cannot start the app", &e, e.exit_code());
        }
    };
    // Raised for the sidecar only once the app has started, so the app keeps the limit it was
    // given (a large soft limit breaks programs that use select() or close every descriptor).
    log_open_files_limit();
    // The l2met source: the dyno, or the app's name.
    let source = config.dyno.clone().or_else(|| config.app_name.clone());
    telemetry::report_every(running.mesh_metrics(), METRICS_EVERY, source);
    until_the_end(&config, running, app, hints, &mut signals).await
}

/// Serves until a signal, the app's exit, or an app that never listened; returns the exit code.
async fn until_the_end(
    config: &Config,
    running: Running,
    app: Option<App>,
    hints: PortHints,
    signals: &mut Signals,
) -> i32 {
    let watch = BootWatch {
        authority: config.app.authority(),
        app_port: config.app.port,
        app_group: app.as_ref().map(|app| app.pid() as i32),
        app_boot: config.timeouts.app_boot,
        private_ip: config.private_ip.clone(),
    };
    tokio::select! {
        // The app's own exit first: when it coincides with the boot deadline, its code wins.
        biased;
        exit = exited(&app) => {
            hints.explain(exit);
            if exit == AppExit::Code(127)
                && let Some(why) = shell_not_found(&config.app_command, std::env::var("PATH").ok().as_deref())
            {
                tracing::error!("{why}");
            }
            tracing::info!(exit = %exit, "the app exited; draining and exiting with its code");
            running.app_exited();
            running.shutdown().await;
            if let Some(app) = &app {
                // Leave nothing of the app's group running (grandchildren it started).
                app.signal_group(Signal::SIGKILL);
            }
            exit.exit_code()
        }
        signal = signals.next() => {
            let drain = config.timeouts.drain;
            let plan = Plan { running, app, on_dyno: config.dyno.is_some(), deadline: Instant::now() + drain };
            plan.shut_down(signal, signals, drain).await
        }
        () = watch.never_listened(running.boot_gate()) => {
            stop_app(running, app.as_ref(), config.timeouts.drain).await;
            EXIT_APP_NEVER_LISTENED
        }
    }
}

/// Stops accepting and drains, then stops the app: SIGTERM, SIGKILL after `drain`.
async fn stop_app(running: Running, app: Option<&App>, drain: Duration) {
    running.shutdown().await;
    if let Some(app) = app {
        app.signal_group(Signal::SIGTERM);
        let exit = app.exited_by(Instant::now() + drain).await;
        tracing::info!(exit = %exit, "the app exited");
        app.signal_group(Signal::SIGKILL);
    }
}

/// Logs why the sidecar cannot go on, says it on stderr too, and returns the exit code.
fn fail(what: &str, error: &dyn std::fmt::Display, code: i32) -> i32 {
    tracing::error!(error = %error, "{what}");
    eprintln!("heroku-applink-service-mesh: {error}");
    code
}

/// Starts the app command, if there is one.
fn start_app(
    command: &[String],
    app_port: u16,
    environment: &[(&str, &str)],
) -> Result<Option<App>, SpawnError> {
    let Some(program) = command.first() else {
        return Ok(None);
    };
    let app = App::spawn(command, app_port, environment)?;
    if app.through_shell() {
        tracing::info!(
            "the app command is one argument with spaces: running it through /bin/sh -c"
        );
    }
    // The program only, never its arguments (they may hold secrets): for a one-string command,
    // the first program its shell runs, or the shell itself when quotes make words uncertain
    // (`DB_PASSWORD='correct horse' node app.js`).
    let program = if !app.through_shell() {
        program
    } else if program.contains(['\'', '"']) {
        "/bin/sh"
    } else {
        script_program(program).unwrap_or("/bin/sh")
    };
    tracing::info!(
        pid = app.pid(),
        program = shown(program).as_str(),
        app_port,
        "started the app with APP_PORT and PORT set to the app port"
    );
    Ok(Some(app))
}

async fn exited(app: &Option<App>) -> AppExit {
    match app {
        Some(app) => app.exited().await,
        None => std::future::pending().await,
    }
}

/// SIGTERM and SIGINT.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::SIGTERM,
            _ = self.int.recv() => Signal::SIGINT,
        }
    }
}

/// What a shutdown has to work with.
struct Plan {
    running: Running,
    app: Option<App>,
    on_dyno: bool,
    /// `timeouts.drain` after the first signal.
    deadline: Instant,
}

/// The least time a signalled app gets to exit before it is killed, even when the sidecar's own
/// drain used up `timeouts.drain` (never more than `timeouts.drain` itself).
const APP_GRACE: Duration = Duration::from_secs(2);

impl Plan {
    /// Stops accepting and drains: the requests the sidecar accepted finish while the app still
    /// serves. Only then is the signal passed on to the app's group (not SIGTERM on a dyno, where
    /// Heroku already sent it to every process), and the app waited for until the deadline, then
    /// its group killed. Further signals do not cut this short.
    async fn shut_down(self, signal: Signal, signals: &mut Signals, drain: Duration) -> i32 {
        let Plan {
            running,
            app,
            on_dyno,
            deadline,
        } = self;
        tracing::info!(signal = %signal, "shutting down: no new connections, draining in-flight requests");
        let already_signalled = signal == Signal::SIGTERM && on_dyno;
        if already_signalled && app.is_some() {
            tracing::info!(
                "not forwarding SIGTERM to the app: on a dyno, Heroku sent it to every process"
            );
        }
        // The drain, while the app keeps serving (or, on a dyno, drains itself).
        let drained = running.shutdown();
        tokio::pin!(drained);
        let mut exit = None;
        loop {
            tokio::select! {
                () = &mut drained => break,
                code = exited(&app), if exit.is_none() => exit = Some(code),
                again = signals.next() => {
                    tracing::info!(signal = %again, "already shutting down; the drain continues");
                }
            }
        }
        let Some(app) = &app else {
            return 0;
        };
        let exit = match exit {
            Some(exit) => exit,
            None => {
                if !already_signalled {
                    tracing::info!(signal = %signal, pid = app.pid(), "drained; forwarding the signal to the app's process group");
                    app.signal_group(signal);
                }
                let by = deadline.max(Instant::now() + APP_GRACE.min(drain));
                let exited = app.exited_by(by);
                tokio::pin!(exited);
                loop {
                    tokio::select! {
                        exit = &mut exited => break exit,
                        again = signals.next() => {
                            tracing::info!(signal = %again, "already shutting down; waiting for the app");
                        }
                    }
                }
            }
        };
        tracing::info!(exit = %exit, "the app exited");
        app.signal_group(Signal::SIGKILL);
        exit.exit_code()
    }
}
