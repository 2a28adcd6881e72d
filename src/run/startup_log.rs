//! The start-up log: what runs, how, and loudly what is not authenticated (docs/behaviour.md §8).

use crate::app::expansion_hints::expansion_warnings;
use crate::app::port_hints::public_port_in_args;
use crate::config::{Config, Mode, bypass_list};
use crate::request::INFO_ROUTE;
use crate::request::query;
use crate::request::routes::{self, Bypass, RouteTable};
use crate::run::runtime::Shape;

/// The start-up lines: version, ports, mode, runtime threads, open routes, warnings.
pub(crate) fn log_start_up(config: &Config, shape: Shape) {
    let mode = if config.is_dev() { "dev" } else { "production" };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
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

/// `--check METHOD PATH`: whether that request would be authenticated, and why not if not. The
/// decision is the server's own (the same [`RouteTable`] and path check).
pub fn check_route(config: &Config, method: &str, target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let asked = format!("route = {method} {path}");
    if path == INFO_ROUTE {
        return format!("{asked}: answered by the sidecar itself (its version), never forwarded");
    }
    if config.is_dev() {
        return format!(
            "{asked}: forwarded without authentication: dev mode authenticates nothing"
        );
    }
    let normal_form = match routes::check_path(path) {
        Ok(normal_form) => normal_form,
        Err(why) => return format!("{asked}: refused with 400 bad-path: {why}"),
    };
    let table = RouteTable::new(
        config.health_route.clone(),
        &config.auth.bypass_routes,
        config.auth.bypass_all,
    );
    let overridable = query::names_method_override(query);
    match table.bypass(method, path, normal_form, overridable) {
        Some(Bypass::Health) => format!(
            "{asked}: forwarded without authentication: it is the health route (mesh.healthcheck.route)"
        ),
        Some(Bypass::Route(at)) => format!(
            "{asked}: forwarded without authentication: bypassRoutes entry {} {}",
            at + 1,
            table.route(at).map(ToString::to_string).unwrap_or_default()
        ),
        Some(Bypass::All) => format!(
            "{asked}: forwarded without authentication: HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES is on"
        ),
        None => format!(
            "{asked}: authenticated{}",
            why_not_bypassed(config, &table, (method, path), normal_form, overridable)
        ),
    }
}

/// For an authenticated route: the bypass entry that nearly applied, if any.
fn why_not_bypassed(
    config: &Config,
    table: &RouteTable,
    request: (&str, &str),
    normal_form: bool,
    overridable: bool,
) -> String {
    let (method, path) = request;
    if !normal_form {
        return " (the path is not in normal form, so no bypass entry applies to it)".into();
    }
    if let Some(route) = table.matching_path(path) {
        if overridable && route.allows(method) {
            return format!(
                " ({route} matches the path, but the query names _method, with which the app \
                 could run the request as another method)"
            );
        }
        return format!(" ({route} matches the path, but not this method)");
    }
    let ignored = RouteTable::new(None, &config.auth.ignored_bypass_routes, false);
    if let Some(route) = ignored.matching_path(path) {
        return format!(
            " (bypassRoutes {route} matches, but bypassRoutes are ignored until \
             HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS=true)"
        );
    }
    String::new()
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
    warnings.extend(config.auth.dry_run_notice().map(str::to_string));
    if !config.auth.bypass_routes.is_empty() {
        warnings.push(format!(
            "these routes skip authentication (bypassRoutes, risk acknowledged): {}",
            bypass_list(&config.auth.bypass_routes)
        ));
    }
    if !config.auth.ignored_bypass_routes.is_empty() {
        warnings.push(format!(
            "bypassRoutes {} are configured but ignored: set \
             HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS=true to let them skip authentication",
            bypass_list(&config.auth.ignored_bypass_routes)
        ));
    }
    let configured = config
        .auth
        .bypass_routes
        .iter()
        .chain(&config.auth.ignored_bypass_routes);
    warnings.extend(configured.filter_map(|route| framework_parameters(&route.glob)));
    warnings.extend(config.warnings.iter().cloned());
    warnings.extend(public_port_in_args(
        &config.app_command,
        config.port,
        config.app.port,
    ));
    warnings.extend(expansion_warnings(&config.app_command, config.app.port));
    warnings
}

/// A bypass glob written with a web framework's path parameters (`/users/:id`, `/users/{id}`),
/// which a glob matches literally: the warning gives the glob that means what was meant.
fn framework_parameters(glob: &str) -> Option<String> {
    let is_parameter = |segment: &str| {
        (segment.len() > 1 && segment.starts_with(':'))
            || (segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}'))
    };
    let segments: Vec<&str> = glob.split('/').collect();
    if !segments.iter().any(|segment| is_parameter(segment)) {
        return None;
    }
    let meant: Vec<&str> = segments
        .iter()
        .map(|segment| if is_parameter(segment) { "*" } else { segment })
        .collect();
    Some(format!(
        "bypassRoutes {glob:?} looks like a framework route with parameters, but bypass routes \
         are globs and match it letter for letter; for any value in those segments write {:?}",
        meant.join("/")
    ))
}

/// Raises the open-files limit (docs/behaviour.md §11) and logs it.
pub(crate) fn log_open_files_limit() {
    match crate::run::open_files::raise_open_files() {
        Some((before, now)) if now > before => {
            tracing::info!(open_files = now, raised_from = before, "open files limit");
        }
        Some((_, now)) => tracing::info!(open_files = now, "open files limit"),
        None => tracing::warn!("cannot read the open files limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framework_parameters_get_the_glob_that_was_meant() {
        let warning = framework_parameters("/users/:id/orders/{order}").unwrap();
        assert!(warning.contains("\"/users/*/orders/*\""), "{warning}");
        assert_eq!(framework_parameters("/users/*"), None);
        assert_eq!(
            framework_parameters("/docs/{}"),
            None,
            "an empty pair is literal text"
        );
        assert_eq!(
            framework_parameters("/a:b/x"),
            None,
            "a colon inside a segment"
        );
    }
}
