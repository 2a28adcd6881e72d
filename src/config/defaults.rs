//! Every setting's default, named once. The loaders read these; `--check` shows them
//! (`… # default`), and `tests/cli.rs` checks that `--help` and the README's tables say the same
//! values `--check` prints, so a default changed here cannot leave the documentation behind.

use std::time::Duration;

/// The public port when neither `--port` nor `PORT` is given (compat with the official mesh).
pub(crate) const PORT: u16 = 8070;
/// The YAML file looked up in the working directory when `--config` is not given.
pub(crate) const CONFIG_FILE: &str = "heroku-applink-service-mesh.yaml";

/// `app.port` (`APP_PORT` wins).
pub(crate) const APP_PORT: u16 = 3000;
/// `app.host`, without its `http://`.
pub(crate) const APP_HOST: &str = "127.0.0.1";

/// `mesh.authentication.verifyClientContext`.
pub(crate) const VERIFY_CLIENT_CONTEXT: bool = true;
/// `mesh.authentication.cache.maxTtl`: zero, so no authentication is cached unless asked.
pub(crate) const CACHE_MAX_TTL: Duration = Duration::ZERO;
/// `mesh.authentication.cache.maxEntries`.
pub(crate) const CACHE_MAX_ENTRIES: usize = 10_000;

/// `mesh.healthcheck.enable`.
pub(crate) const HEALTHCHECK_ENABLE: bool = true;
/// `mesh.healthcheck.route`.
pub(crate) const HEALTHCHECK_ROUTE: &str = "/healthcheck";

/// `mesh.timeouts.headerRead`.
pub(crate) const HEADER_READ: Duration = Duration::from_secs(10);
/// `mesh.timeouts.idle`.
pub(crate) const IDLE: Duration = Duration::from_secs(100);
/// `mesh.timeouts.auth`: Apex callouts give up after 10 s by default; answer before, with a reason.
pub(crate) const AUTH: Duration = Duration::from_secs(5);
/// `mesh.timeouts.appResponse`: Heroku's router gives up after 30 s (H12), counted before the
/// sidecar sees the request.
pub(crate) const APP_RESPONSE: Duration = Duration::from_secs(28);
/// `mesh.timeouts.appBoot`.
pub(crate) const APP_BOOT: Duration = Duration::from_secs(60);
/// `mesh.timeouts.drain`: under the 30 s Heroku gives a dyno between SIGTERM and SIGKILL.
pub(crate) const DRAIN: Duration = Duration::from_secs(25);
/// `mesh.timeouts.appPoolIdle`.
pub(crate) const APP_POOL_IDLE: Duration = Duration::from_millis(1_500);
/// `mesh.timeouts.send`: nginx's `send_timeout`; a caller that reads nothing for this long gives
/// up its app connection.
pub(crate) const SEND: Duration = Duration::from_secs(60);

/// `mesh.limits.dataActionTargetBody`.
pub(crate) const DATA_ACTION_TARGET_BODY: u64 = 10 << 20;
/// `mesh.limits.bufferedBodies`.
pub(crate) const BUFFERED_BODIES: u64 = 64 << 20;
/// `mesh.limits.headerBytes`.
pub(crate) const HEADER_BYTES: u64 = 64 << 10;
/// `mesh.limits.maxInFlightRequests`.
pub(crate) const MAX_IN_FLIGHT_REQUESTS: usize = 10_000;

/// `HEROKU_APPLINK_SERVICE_MESH_LOG`.
pub(crate) const LOG_FILTER: &str = "info";
/// `HEROKU_APPLINK_SERVICE_MESH_DASHBOARD_REQUESTS`.
pub(crate) const DASHBOARD_REQUESTS: usize = 500;

/// `OTEL_SERVICE_NAME` when neither it nor `OTEL_RESOURCE_ATTRIBUTES` names the service.
pub(crate) const OTEL_SERVICE_NAME: &str = "heroku-applink-service-mesh";
/// `OTEL_EXPORTER_OTLP_TIMEOUT`: the specification's 10 s.
pub(crate) const OTEL_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// `OTEL_BSP_MAX_QUEUE_SIZE`: the specification's 2,048 spans.
pub(crate) const OTEL_QUEUE_SIZE: usize = 2_048;
/// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`: the specification sets none, but a caller chooses the
/// path and the request id, up to the 64 KiB of a request head; 1 KiB holds any real one.
pub(crate) const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: usize = 1_024;
/// `OTEL_BSP_SCHEDULE_DELAY`: the specification's 5 s.
pub(crate) const OTEL_SCHEDULE_DELAY: Duration = Duration::from_secs(5);
