//! Authentication: decoding the Salesforce context and calling the AppLink API (docs/behaviour.md
//! §4.4, §5).

mod cache;
mod client;
pub(crate) mod client_context;
pub(crate) mod context;
mod json;
mod request;
mod tls;

use std::time::Duration;

pub(crate) use request::{AuthRequest, json_escaped_len};

use crate::config::{Config, ConfigError, Mode};
use crate::error::MeshError;
use cache::AuthCache;
use client::ApiClient;

/// Asks the AppLink API whether a request may pass: the one pooled client, and the opt-in cache of
/// positive answers in front of it.
pub(crate) struct Authenticator {
    api: ApiClient,
    cache: Option<AuthCache>,
}

impl Authenticator {
    /// The authenticator for a production configuration; `None` in dev mode, where nothing is
    /// authenticated.
    pub(crate) fn new(config: &Config) -> Result<Option<Authenticator>, ConfigError> {
        let Mode::Production(api) = &config.mode else {
            return Ok(None);
        };
        let cache = &config.auth;
        Ok(Some(Authenticator {
            api: ApiClient::new(api, config.ssl_cert_file.as_deref(), config.timeouts.auth)?,
            cache: (cache.cache_max_ttl > Duration::ZERO).then(|| {
                AuthCache::new(&api.base_url, cache.cache_max_ttl, cache.cache_max_entries)
            }),
        }))
    }

    /// One authentication, through the cache when it is on.
    pub(crate) async fn authenticate(
        &self,
        request: &AuthRequest,
        request_id: &str,
    ) -> Result<(), MeshError> {
        match &self.cache {
            Some(cache) => cache.authenticate(&self.api, request, request_id).await,
            None => self.api.authenticate(request, request_id).await,
        }
    }
}
