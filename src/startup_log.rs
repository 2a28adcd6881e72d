//! The start-up log: what runs, how, and loudly what is not authenticated (docs/behaviour.md §8).

use crate::config::{Config, Mode};
use crate::port_hints::public_port_in_args;
use crate::runtime::Shape;

/// The start-up lines: version, ports, mode, runtime threads, open routes, warnings.
pub(crate) fn log_start_up(config: &Config, shape: Shape) {
    let mode = if config.is_dev() { "dev" } else { "production" };
    tracing::info!(
        version = crate::VERSION,
        port = config.port,
        app_port = config.app.port,
        app = config.app.base_uri().as_str(),
        mode,
        app_name = config.app_name.as_deref().unwrap_or(""),
        dyno = config.dyno.as_deref().unwrap_or(""),
        "starting heroku-applink-service-mesh"
    );
    tracing::info!(
        workers = shape.workers,
        chosen_by = if shape.configured {
            "HEROKU_APPLINK_SERVICE_MESH_WORKERS"
        } else {
            "the CPUs this process may use"
        },
        "runtime threads"
    );
    log_attachments(config);
    if config.app_command.is_empty() {
        tracing::info!("no app command: proxying to an app started separately");
    }
    for warning in warnings(config) {
        tracing::warn!("{warning}");
    }
}

/// One line per AppLink add-on attachment: its name and add-on, never its token.
fn log_attachments(config: &Config) {
    let Mode::Production(attachments) = &config.mode else {
        return;
    };
    for (n, api) in attachments.iter().enumerate() {
        tracing::info!(
            attachment = api.attachment.as_str(),
            addon_uuid = api.addon_uuid.as_deref().unwrap_or("(not in the URL)"),
            role = if n == 0 { "default" } else { "by addonUuid" },
            "AppLink add-on attachment"
        );
    }
}

/// What `--check` prints: every setting with its origin, then the warnings a start would log.
pub fn check(config: &Config) -> String {
    let mut report = config.describe();
    for warning in warnings(config) {
        report.push_str(&format!("warning = {warning}\n"));
    }
    report
}

/// Every start-up warning, in the order they are logged; `--check` prints the same.
pub(crate) fn warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    if config.is_dev() {
        warnings.push(
            "DEV MODE: requests are NOT authenticated and every request is forwarded; never use this on a dyno"
                .to_string(),
        );
    }
    if config.auth.bypass_all {
        warnings.push(
            "HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES is on: no route requires authentication"
                .to_string(),
        );
    }
    if !config.auth.bypass_routes.is_empty() {
        warnings.push(format!(
            "these routes skip authentication (bypassRoutes, risk acknowledged): {:?}",
            config.auth.bypass_routes
        ));
    }
    if !config.auth.ignored_bypass_routes.is_empty() {
        warnings.push(format!(
            "bypassRoutes {:?} are configured but ignored: set \
             HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS=true to let them skip authentication",
            config.auth.ignored_bypass_routes
        ));
    }
    warnings.extend(config.warnings.iter().cloned());
    warnings.extend(public_port_in_args(&config.app_command, config.port));
    warnings
}

/// Raises the open-files limit (docs/behaviour.md §11) and logs it.
pub(crate) fn log_open_files_limit() {
    match crate::limits::raise_open_files() {
        Some((before, now)) if now > before => {
            tracing::info!(open_files = now, raised_from = before, "open files limit");
        }
        Some((_, now)) => tracing::info!(open_files = now, "open files limit"),
        None => tracing::warn!("cannot read the open files limit"),
    }
}
