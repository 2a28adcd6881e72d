//! heroku-applink-service-mesh: the sidecar between the Heroku router and a web app that lets only
//! a connected Salesforce org call the app. See README.md for the user's view and the module list.
#![deny(unsafe_code)]

mod admission;
pub mod auth;
mod body;
mod boot;
pub mod cli;
pub mod config;
mod conn;
pub mod error;
mod handler;
pub mod headers;
mod proxy;
pub mod routes;
mod server;
mod state;
pub mod telemetry;

pub use config::Config;
pub use handler::INFO_ROUTE;
pub use server::{Running, StartError, start};

/// This build's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How often the l2met metrics line is written.
pub const METRICS_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the sidecar until SIGTERM or SIGINT, then drains. Returns the process exit code.
pub async fn run(config: Config) -> i32 {
    telemetry::init(&config.log);
    log_start_up(&config);
    let source = config.dyno.clone().or_else(|| config.app_name.clone());
    let running = match start(config).await {
        Ok(running) => running,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("heroku-applink-service-mesh: {e}");
            return e.exit_code();
        }
    };
    tracing::info!(addr = %running.local_addr(), "listening");
    telemetry::report_every(running.mesh_metrics(), METRICS_EVERY, source);
    let signal = wait_for_signal().await;
    tracing::info!(signal, "shutting down");
    running.shutdown().await;
    0
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

fn log_start_up(config: &Config) {
    let mode = if config.is_dev() { "dev" } else { "production" };
    tracing::info!(
        version = VERSION,
        port = config.port,
        app_port = config.app.port,
        app = config.app.base_uri().as_str(),
        mode,
        app_name = config.app_name.as_deref().unwrap_or(""),
        dyno = config.dyno.as_deref().unwrap_or(""),
        "starting heroku-applink-service-mesh"
    );
    if config.is_dev() {
        tracing::warn!(
            "DEV MODE: requests are NOT authenticated and every request is forwarded; never use this on a dyno"
        );
    }
    if config.auth.bypass_all {
        tracing::warn!(
            "HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES is on: no route requires authentication"
        );
    }
    if !config.auth.bypass_routes.is_empty() {
        tracing::warn!(routes = ?config.auth.bypass_routes, "these routes skip authentication (bypassRoutes, risk acknowledged)");
    }
    if config.auth.bypass_routes_ignored {
        tracing::warn!(
            "bypassRoutes are configured but ignored: set HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS=true to let them skip authentication"
        );
    }
    if !config.app_command.is_empty() {
        tracing::warn!(
            program = config.app_command[0].as_str(),
            "an app command was given, but starting and supervising the app is not implemented yet; start the app separately"
        );
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
}
