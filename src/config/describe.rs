//! `--check` (docs/behaviour.md §2): every setting on one line, in the YAML file's spelling and
//! units (environment-only settings by their variable), with where its value came from; secrets
//! redacted.

use std::time::Duration;

use super::values::{show_duration, show_size};
use super::{Config, Mode};

/// Where a shown value came from.
enum Origin {
    Flag(&'static str),
    Env(&'static str),
    /// The YAML file, at this line when it is known.
    File(Option<usize>),
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "command line {flag}"),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::File(Some(line)) => write!(f, "file, line {line}"),
            Origin::File(None) => f.write_str("file"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// The lines being built.
struct Lines<'a> {
    config: &'a Config,
    text: String,
}

impl Lines<'_> {
    fn line(&mut self, key: &str, value: impl std::fmt::Display, origin: impl std::fmt::Display) {
        self.text
            .push_str(&format!("{key} = {value}  # {origin}\n"));
    }

    /// Where a setting came from: the first of these sources that was given.
    fn origin(&self, flag: Option<&'static str>, env: Option<&'static str>, key: &str) -> Origin {
        let sources = &self.config.sources;
        if let Some(flag) = flag.filter(|f| sources.flags.contains(f)) {
            return Origin::Flag(flag);
        }
        if let Some(env) = env.filter(|e| sources.env.contains(e)) {
            return Origin::Env(env);
        }
        match sources.file.iter().find(|(set, _)| *set == key) {
            Some((_, line)) => Origin::File(*line),
            None => Origin::Default,
        }
    }

    /// A setting of the YAML file (`APP_PORT`-style variables win over some).
    fn setting(&mut self, key: &'static str, env: Option<&'static str>, value: String) {
        let origin = self.origin(None, env, key);
        self.line(key, value, origin);
    }

    /// A setting made only by an environment variable.
    fn variable(&mut self, name: &'static str, value: String) {
        let origin = self.origin(None, Some(name), "");
        self.line(name, value, origin);
    }

    fn duration(&mut self, key: &'static str, value: Duration) {
        self.setting(key, None, show_duration(value));
    }

    fn size(&mut self, key: &'static str, value: u64) {
        self.setting(key, None, show_size(value));
    }
}

impl Config {
    /// The configuration as `key = value  # origin` lines, secrets redacted (for `--check`).
    pub fn describe(&self) -> String {
        let mut lines = Lines {
            config: self,
            text: String::new(),
        };
        self.describe_start(&mut lines);
        self.describe_authentication(&mut lines);
        self.describe_dry_run_and_assertion(&mut lines);
        self.describe_limits(&mut lines);
        self.describe_traces(&mut lines);
        lines.text
    }

    fn describe_start(&self, lines: &mut Lines<'_>) {
        let file = self
            .config_file
            .as_ref()
            .map_or("(none)".into(), |p| p.display().to_string());
        let origin = lines.origin(Some("--config"), None, "");
        lines.line("config file", file, origin);
        let origin = lines.origin(Some("--port"), Some("PORT"), "");
        lines.line("port", self.port, origin);
        let dev = Some("HEROKU_APPLINK_SERVICE_MESH_DEV");
        let origin = lines.origin(Some("--dev"), dev, "");
        lines.line(
            "mode",
            if self.is_dev() { "dev" } else { "production" },
            origin,
        );
        if let Mode::Production(attachments) = &self.mode {
            for (n, api) in attachments.iter().enumerate() {
                let role = if n == 0 { "default" } else { "by addonUuid" };
                lines.line(
                    &format!("attachment {}", api.attachment),
                    format!(
                        "{} ({role}; token {}_TOKEN <redacted>)",
                        api.base_url, api.attachment
                    ),
                    format!("env {}_API_URL", api.attachment),
                );
            }
        }
        lines.setting("app.port", Some("APP_PORT"), self.app.port.to_string());
        lines.setting("app.host", None, format!("http://{}", self.app.host));
        let command = if self.app_command.is_empty() {
            "(none: proxy to an app started separately)".to_string()
        } else {
            // Each word as a message may show it: `--check` output is pasted into tickets.
            let shown: Vec<String> = (0..self.app_command.len())
                .map(|at| super::shown::shown_at(&self.app_command, at))
                .collect();
            format!("{shown:?}")
        };
        lines.line("app command", command, "command line");
    }

    /// The dry run and the signed assertion (docs/behaviour.md §4.6, §6.1): never the key.
    fn describe_dry_run_and_assertion(&self, lines: &mut Lines<'_>) {
        let auth = &self.auth;
        let report_only = match (auth.report_only, auth.report_only_ignored) {
            (true, _) => {
                "true: requests that would be refused are forwarded without context".into()
            }
            (_, true) => {
                "IGNORED: HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS is not true".into()
            }
            _ => "false".to_string(),
        };
        lines.variable("HEROKU_APPLINK_SERVICE_MESH_REPORT_ONLY", report_only);
        lines.variable(
            "HEROKU_APPLINK_SERVICE_MESH_ASSERTION",
            if self.assertion {
                "true: every forwarded request carries x-applink-assertion; the key is drawn at start-up".into()
            } else {
                "false".to_string()
            },
        );
    }

    fn describe_authentication(&self, lines: &mut Lines<'_>) {
        let auth = &self.auth;
        lines.variable(
            "HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES",
            auth.bypass_all.to_string(),
        );
        let key = "mesh.authentication.bypassRoutes";
        if auth.ignored_bypass_routes.is_empty() {
            lines.setting(key, None, super::bypass_list(&auth.bypass_routes));
        } else {
            lines.line(
                key,
                super::bypass_list(&auth.ignored_bypass_routes),
                "file; IGNORED: HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS is not true",
            );
        }
        lines.setting(
            "mesh.authentication.verifyClientContext",
            None,
            auth.verify_client_context.to_string(),
        );
        lines.duration("mesh.authentication.cache.maxTtl", auth.cache_max_ttl);
        lines.setting(
            "mesh.authentication.cache.maxEntries",
            None,
            auth.cache_max_entries.to_string(),
        );
        lines.setting(
            "mesh.healthcheck.enable",
            None,
            self.health_route.is_some().to_string(),
        );
        if let Some(route) = &self.health_route {
            lines.setting("mesh.healthcheck.route", None, route.clone());
        }
    }

    fn describe_limits(&self, lines: &mut Lines<'_>) {
        let t = &self.timeouts;
        lines.duration("mesh.timeouts.headerRead", t.header_read);
        lines.duration("mesh.timeouts.idle", t.idle);
        lines.duration("mesh.timeouts.auth", t.auth);
        lines.duration("mesh.timeouts.appResponse", t.app_response);
        lines.duration("mesh.timeouts.appBoot", t.app_boot);
        lines.duration("mesh.timeouts.drain", t.drain);
        lines.duration("mesh.timeouts.appPoolIdle", t.app_pool_idle);
        lines.duration("mesh.timeouts.send", t.send);
        let l = &self.limits;
        lines.size(
            "mesh.limits.dataActionTargetBody",
            l.data_action_target_body,
        );
        lines.size("mesh.limits.bufferedBodies", l.buffered_bodies);
        lines.size("mesh.limits.headerBytes", l.header_bytes);
        lines.setting(
            "mesh.limits.maxInFlightRequests",
            None,
            l.max_in_flight_requests.to_string(),
        );
        lines.variable("HEROKU_APPLINK_SERVICE_MESH_LOG", self.log.filter.clone());
        lines.variable(
            "HEROKU_APPLINK_SERVICE_MESH_LOG_FORMAT",
            if self.log.json { "json" } else { "logfmt" }.into(),
        );
        lines.variable(
            "HEROKU_APPLINK_SERVICE_MESH_WORKERS",
            self.workers
                .map_or("(the CPUs this process may use)".into(), |n| n.to_string()),
        );
        lines.variable(
            "HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS",
            if self.is_dev() {
                self.dashboard_requests.to_string()
            } else {
                "(no dashboard in production mode)".into()
            },
        );
        lines.variable(
            "SSL_CERT_FILE",
            self.ssl_cert_file
                .as_ref()
                .map_or("(the platform's roots)".into(), |p| p.display().to_string()),
        );
    }

    fn describe_traces(&self, lines: &mut Lines<'_>) {
        let Some(traces) = &self.traces else {
            lines.variable(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "(not set: no trace export)".into(),
            );
            return;
        };
        let endpoint_from = if self
            .sources
            .env
            .contains(&"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        } else {
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        };
        lines.variable(endpoint_from, traces.endpoint.to_string());
        // Header values are often API keys: their names only.
        let names: Vec<&str> = traces.headers.iter().map(|(n, _)| n.as_str()).collect();
        lines.variable(
            "OTEL_EXPORTER_OTLP_HEADERS",
            if names.is_empty() {
                "(none)".into()
            } else {
                format!("{} (values redacted)", names.join(", "))
            },
        );
        lines.variable(
            super::resource::SERVICE_NAME_VARIABLE,
            traces.service_name.clone(),
        );
        lines.variable("OTEL_TRACES_SAMPLER", traces.sampler.to_string());
        lines.variable("OTEL_EXPORTER_OTLP_TIMEOUT", show_duration(traces.timeout));
        lines.variable("OTEL_BSP_MAX_QUEUE_SIZE", traces.queue_size.to_string());
        lines.variable(
            "OTEL_BSP_SCHEDULE_DELAY",
            show_duration(traces.schedule_delay),
        );
        // The span-specific variable wins; the line names the one the value came from.
        let limit_from = [
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ]
        .into_iter()
        .find(|name| self.sources.env.contains(name))
        .unwrap_or("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT");
        lines.variable(limit_from, traces.value_limit.to_string());
    }
}
