//! The state every request shares, built once at start-up and passed around in an `Arc`.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{Config, ConfigError, Mode};
use crate::request::app_client::AppClient;
use crate::request::assertion::{AssertionKey, Assertions};
use crate::request::auth::{Authenticator, default_port, tls};
use crate::request::boot_gate::BootGate;
use crate::request::error::MeshError;
use crate::request::routes::RouteTable;
use crate::shutdown::Shutdown;
use crate::telemetry::{Metrics, Observer, RequestLog, Traces};

/// What every request reads, built once by [`Mesh::new`] from the validated configuration: the
/// settings, the decisions made from them (routes), the two pooled clients (the AppLink API behind
/// the authenticator, the app), and the few things that change while the sidecar runs, each
/// behind its own synchronisation: the boot gate, the in-flight slots, the shutdown phase and the
/// metrics counters. Nothing here is global; the server hands an `Arc<Mesh>` to each connection.
pub(crate) struct Mesh {
    /// The one configuration, shared with the process supervisor in `run`.
    pub(crate) config: Arc<Config>,
    /// The health route and the bypass globs, compiled.
    pub(crate) routes: RouteTable,
    /// Asks the AppLink API (through the cache, when on); `None` in dev mode.
    pub(crate) authenticator: Option<Authenticator>,
    /// The pooled keep-alive client to the app.
    pub(crate) app: AppClient,
    /// Whether the app has accepted its first connection.
    pub(crate) gate: Arc<BootGate>,
    /// Request counts and latencies for the l2met line.
    pub(crate) metrics: Arc<Metrics>,
    /// `limits.maxInFlightRequests` slots; see [`Mesh::admit_one`].
    in_flight: Arc<Semaphore>,
    /// `limits.bufferedBodies` bytes; see [`Mesh::reserve_body_bytes`].
    body_budget: Arc<Semaphore>,
    pub(crate) shutdown: Shutdown,
    /// What watches the requests: the dev dashboard (whose own routes never reach the
    /// pipeline), plugged in at start-up in dev mode; `None` in production mode or when it is
    /// turned off.
    pub(crate) observer: Option<Arc<dyn Observer>>,
    /// OTLP trace export, when configured (docs/behaviour.md §8.2).
    pub(crate) traces: Option<Arc<Traces>>,
    /// Signs every forwarded request, when the assertion is on (docs/behaviour.md §6.1).
    pub(crate) assertions: Option<Assertions>,
}

impl Mesh {
    pub(crate) fn new(
        config: Arc<Config>,
        observer: Option<Arc<dyn Observer>>,
        assertion_key: Option<&AssertionKey>,
    ) -> Result<Mesh, ConfigError> {
        let traces = match &config.traces {
            Some(settings) => Some(Arc::new(Traces::start(
                settings,
                tls::https_connector(
                    tls::client_config(config.ssl_cert_file.as_deref())?,
                    None,
                    false,
                ),
                api_peer(&config),
                (config.app.host.clone(), config.app.port),
            )?)),
            None => None,
        };
        Ok(Mesh {
            traces,
            authenticator: Authenticator::new(&config)?,
            routes: RouteTable::new(
                config.health_route.clone(),
                &config.auth.bypass_routes,
                config.auth.bypass_all,
            ),
            app: AppClient::new(
                &config.app,
                config.timeouts.app_pool_idle,
                config.dyno.is_some(),
            ),
            gate: BootGate::start(config.app.authority(), config.timeouts.app_boot),
            metrics: Arc::new(Metrics::new(config.auth.report_only)),
            assertions: assertion_key.map(Assertions::new),
            in_flight: Arc::new(Semaphore::new(config.limits.max_in_flight_requests)),
            body_budget: Arc::new(Semaphore::new(
                usize::try_from(config.limits.buffered_bodies)
                    .unwrap_or(usize::MAX)
                    .min(Semaphore::MAX_PERMITS),
            )),
            shutdown: Shutdown::new(),
            observer,
            config,
        })
    }

    /// When the app's response headers (or a Data Action Target's body) must have arrived:
    /// `timeouts.appResponse` after the request itself arrived.
    pub(crate) fn app_deadline(&self, log: &RequestLog) -> tokio::time::Instant {
        tokio::time::Instant::from_std(log.started) + self.config.timeouts.app_response
    }

    /// Takes `bytes` of the buffered-body budget, held until the permit is dropped; 503
    /// `overloaded` at once when the budget is spent (a body is never queued for memory).
    pub(crate) fn reserve_body_bytes(
        &self,
        bytes: usize,
    ) -> Result<OwnedSemaphorePermit, MeshError> {
        let bytes = u32::try_from(bytes).map_err(|_| MeshError::BodiesOverloaded)?;
        self.body_budget
            .clone()
            .try_acquire_many_owned(bytes)
            .map_err(|_| MeshError::BodiesOverloaded)
    }

    /// Takes an in-flight slot, held until the response is done; `overloaded` when none is left.
    pub(crate) fn admit_one(&self) -> Result<OwnedSemaphorePermit, MeshError> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| MeshError::Overloaded)
    }
}

/// The AppLink API's host and port, for the trace's spans of its calls (every attachment is on the
/// default one's host).
fn api_peer(config: &Config) -> Option<(String, u16)> {
    let Mode::Production(attachments) = &config.mode else {
        return None;
    };
    let uri: http::Uri = attachments.iter().next()?.base_url.parse().ok()?;
    let port = uri.port_u16().or_else(|| default_port(&uri))?;
    Some((uri.host()?.to_string(), port))
}
