//! Authentication: decoding the Salesforce context and calling the AppLink API
//! (docs/behaviour.md §4.4, §5).

mod cache;
mod call_body;
mod client;
pub(crate) mod client_context;
mod connections;
pub(crate) mod context;
mod failure;
mod handshake;
mod json;
mod request;
pub(crate) mod tls;

use std::time::Duration;

pub(crate) use client::default_port;
pub(crate) use request::{AuthRequest, json_escaped_len};

use crate::config::{Config, ConfigError, Mode};
use crate::request::error::MeshError;
use cache::AuthCache;
use client::{ApiClient, Attachment};
use failure::RateLimitedWarning;

/// The longest `addonUuid` a log line repeats.
const LOGGED_UUID_CHARS: usize = 64;

/// Asks the AppLink API whether a request may pass: every attachment, the default first, with its
/// own keep-alive connections, and the opt-in cache of positive answers in front of them.
pub(crate) struct Authenticator {
    api: ApiClient,
    attachments: Vec<Attachment>,
    cache: Option<AuthCache>,
    /// Anyone can send an unknown `addonUuid` for free: its warning is rate-limited.
    unknown_addons: RateLimitedWarning,
}

impl Authenticator {
    /// The authenticator for a production configuration; `None` in dev mode, where nothing is
    /// authenticated.
    pub(crate) fn new(config: &Config) -> Result<Option<Authenticator>, ConfigError> {
        let Mode::Production(attachments) = &config.mode else {
            return Ok(None);
        };
        let cache = &config.auth;
        let api = ApiClient::new(config.ssl_cert_file.as_deref(), config.timeouts.auth)?;
        let attachments: Vec<Attachment> = attachments
            .iter()
            .map(|attachment| Attachment::new(attachment, &api))
            .collect::<Result<_, _>>()?;
        // Each opens a connection while the app boots, so the first request pays one round trip.
        for attachment in &attachments {
            attachment.warm();
        }
        Ok(Some(Authenticator {
            attachments,
            api,
            cache: (cache.cache_max_ttl > Duration::ZERO)
                .then(|| AuthCache::new(cache.cache_max_ttl, cache.cache_max_entries)),
            unknown_addons: RateLimitedWarning::every(Duration::from_secs(60)),
        }))
    }

    /// One authentication against the attachment the request's `addonUuid` names (the default
    /// one without it), through the cache when it is on.
    pub(crate) async fn authenticate(
        &self,
        addon_uuid: Option<&str>,
        request: &AuthRequest,
        request_id: &str,
    ) -> Result<(), MeshError> {
        let attachment = self.attachment_for(addon_uuid)?;
        match &self.cache {
            Some(cache) => {
                cache
                    .authenticate(&self.api, attachment, request, request_id)
                    .await
            }
            None => self.api.authenticate(attachment, request, request_id).await,
        }
    }

    /// The attachment whose add-on the request names (docs/behaviour.md §5.1). A uuid that names
    /// none is refused, never sent to another add-on; only when the default attachment is the only
    /// one and its URL does not tell its add-on (a local API) may it be that one.
    fn attachment_for(&self, addon_uuid: Option<&str>) -> Result<&Attachment, MeshError> {
        let default = &self.attachments[0];
        let Some(uuid) = addon_uuid else {
            return Ok(default);
        };
        let named = self.attachments.iter().find(|a| {
            a.addon_uuid
                .as_deref()
                .is_some_and(|known| known.eq_ignore_ascii_case(uuid))
        });
        match named {
            Some(attachment) => Ok(attachment),
            None if default.addon_uuid.is_none() && self.attachments.len() == 1 => Ok(default),
            None => {
                if let Some(since_last) = self.unknown_addons.due() {
                    let shown: String = uuid.chars().take(LOGGED_UUID_CHARS).collect();
                    tracing::warn!(
                        addon_uuid = %shown,
                        attachments = %self.names(),
                        refused_since_last_warning = since_last,
                        "refused: the request's addonUuid names no AppLink add-on attached to this \
                         app; attach that add-on to the app, or check the connection in Salesforce"
                    );
                }
                Err(MeshError::UnknownAddon)
            }
        }
    }

    /// The attachments' names, for the logs: `HEROKU_APPLINK,HEROKU_APPLINK_PURPLE`.
    pub(crate) fn names(&self) -> String {
        let names: Vec<&str> = self.attachments.iter().map(|a| a.name.as_str()).collect();
        names.join(",")
    }
}
