//! The state every request shares, built once at start-up and passed around in an `Arc`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::auth::{ApiClient, AuthCache};
use crate::boot::BootGate;
use crate::config::{Config, ConfigError, Mode};
use crate::error::MeshError;
use crate::proxy::AppClient;
use crate::routes::RouteTable;
use crate::telemetry::Metrics;

pub struct Mesh {
    pub config: Config,
    pub routes: RouteTable,
    /// The AppLink API client; `None` in dev mode.
    pub api: Option<ApiClient>,
    pub auth_cache: Option<AuthCache>,
    pub app: AppClient,
    pub gate: Arc<BootGate>,
    pub metrics: Arc<Metrics>,
    in_flight: Arc<Semaphore>,
    draining: AtomicBool,
    /// Becomes true when the drain ends: upgraded connections close.
    pub closing: watch::Sender<bool>,
}

impl Mesh {
    pub fn new(config: Config) -> Result<Mesh, ConfigError> {
        let (api, auth_cache) = match &config.mode {
            Mode::Dev => (None, None),
            Mode::Production(api) => {
                let client =
                    ApiClient::new(api, config.ssl_cert_file.as_deref(), config.timeouts.auth)?;
                let cache = (!config.auth.cache_max_ttl.is_zero()).then(|| {
                    AuthCache::new(
                        &api.base_url,
                        config.auth.cache_max_ttl,
                        config.auth.cache_max_entries,
                    )
                });
                (Some(client), cache)
            }
        };
        Ok(Mesh {
            routes: RouteTable::new(
                config.health_route.clone(),
                &config.auth.bypass_routes,
                config.auth.bypass_all,
            ),
            api,
            auth_cache,
            app: AppClient::new(
                &config.app,
                config.timeouts.app_pool_idle,
                config.timeouts.app_response,
            ),
            gate: BootGate::start(config.app.authority(), config.timeouts.app_boot),
            metrics: Arc::default(),
            in_flight: Arc::new(Semaphore::new(config.limits.max_in_flight_requests)),
            draining: AtomicBool::new(false),
            closing: watch::channel(false).0,
            config,
        })
    }

    /// Takes an in-flight slot, held until the response is done; `overloaded` when none is left.
    pub fn admit_one(&self) -> Result<OwnedSemaphorePermit, MeshError> {
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| MeshError::Overloaded)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }
}
