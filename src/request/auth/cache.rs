//! The opt-in authentication cache (docs/behaviour.md §5): positive results only, for at most
//! `cache.maxTtl` and never past the JWT's `exp`; identical concurrent calls are coalesced into
//! one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{ApiClient, Attachment, AuthRequest};
use crate::request::error::MeshError;

type Key = [u8; 32];
type Call = Arc<OnceCell<Result<(), MeshError>>>;

pub(crate) struct AuthCache {
    max_ttl: Duration,
    max_entries: usize,
    valid_until: Mutex<HashMap<Key, Instant>>,
    in_flight: Mutex<HashMap<Key, Call>>,
}

impl AuthCache {
    pub(crate) fn new(max_ttl: Duration, max_entries: usize) -> AuthCache {
        AuthCache {
            max_ttl,
            max_entries,
            valid_until: Mutex::default(),
            in_flight: Mutex::default(),
        }
    }

    pub(crate) async fn authenticate(
        &self,
        api: &ApiClient,
        attachment: &Attachment,
        request: &AuthRequest,
        request_id: &str,
    ) -> Result<(), MeshError> {
        let Some(ttl) = jwt_ttl(request)
            .map(|ttl| ttl.min(self.max_ttl))
            .filter(|t| !t.is_zero())
        else {
            return api.authenticate(attachment, request, request_id).await;
        };
        let key = key(attachment, request);
        if lock(&self.valid_until)
            .get(&key)
            .is_some_and(|until| *until > Instant::now())
        {
            return Ok(());
        }
        let call = lock(&self.in_flight).entry(key).or_default().clone();
        let result = call
            .get_or_init(|| api.authenticate(attachment, request, request_id))
            .await
            .clone();
        {
            let mut in_flight = lock(&self.in_flight);
            if in_flight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &call)) {
                in_flight.remove(&key);
            }
        }
        if result.is_ok() {
            self.remember(key, Instant::now() + ttl);
        }
        result
    }

    fn remember(&self, key: Key, until: Instant) {
        let mut entries = lock(&self.valid_until);
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            let now = Instant::now();
            entries.retain(|_, until| *until > now);
            if entries.len() >= self.max_entries {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, until)| **until)
                    .map(|(k, _)| *k);
                if let Some(soonest) = soonest {
                    entries.remove(&soonest);
                }
            }
        }
        if self.max_entries > 0 {
            entries.insert(key, until);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.valid_until).len()
    }
}

/// One call's identity: the attachment, the endpoint and the body.
fn key(attachment: &Attachment, request: &AuthRequest) -> Key {
    let mut hash = Sha256::new();
    hash.update(attachment.base_url.as_bytes());
    hash.update([0]);
    hash.update(request.path().as_bytes());
    hash.update([0]);
    hash.update(request.body());
    hash.finalize().into()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The one claim the cache reads.
#[derive(serde::Deserialize)]
struct Expiry {
    exp: Option<u64>,
}

/// How long the request's JWT stays valid, from its `exp` claim. Nothing is verified here (the
/// sidecar holds no key; the AppLink API verified the token before the answer being cached):
/// `exp` only bounds how long that answer is reused. `None`, so no caching, for anything but a
/// well-formed JWT with a whole-number `exp` in the future.
fn jwt_ttl(request: &AuthRequest) -> Option<Duration> {
    let AuthRequest::Salesforce { core_jwt_token, .. } = request else {
        return None;
    };
    let exp = jsonwebtoken::dangerous::insecure_decode::<Expiry>(core_jwt_token)
        .ok()?
        .claims
        .exp?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    exp.checked_sub(now)
        .filter(|ttl| *ttl > 0)
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// A JWT as Salesforce sends one: an RS256 header, the claims, a signature.
    fn jwt(claims: serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        format!(
            "{header}.{}.sig",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn request(token: String) -> AuthRequest {
        AuthRequest::Salesforce {
            org_domain_url: "d".into(),
            core_jwt_token: token,
            org_id: "o".into(),
            app_uuid: "u".into(),
        }
    }

    #[test]
    fn ttl_comes_from_exp() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ttl = jwt_ttl(&request(jwt(serde_json::json!({"exp": now + 120})))).unwrap();
        assert!(
            ttl <= Duration::from_secs(120) && ttl >= Duration::from_secs(118),
            "{ttl:?}"
        );
        assert_eq!(
            jwt_ttl(&request(jwt(serde_json::json!({"sub": "x"})))),
            None
        );
        assert_eq!(
            jwt_ttl(&request(jwt(serde_json::json!({"exp": now - 5})))),
            None
        );
        assert_eq!(jwt_ttl(&request("not-a-jwt".into())), None);
    }

    #[test]
    fn malformed_tokens_are_never_cached() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = URL_SAFE_NO_PAD.encode(serde_json::json!({"exp": now + 60}).to_string());
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        for token in [
            String::new(),
            "..".into(),
            "a.b".into(),
            format!("{header}.{claims}"),
            format!("{header}.%%%.sig"),
            format!("{header}.{}.sig", URL_SAFE_NO_PAD.encode("not json")),
            format!("{header}.{}.sig", URL_SAFE_NO_PAD.encode("[1,2]")),
            format!("%%%.{claims}.sig"),
            // A header without `alg` is not a JWT.
            format!("e30.{claims}.sig"),
            jwt(serde_json::json!({"exp": "tomorrow"})),
            jwt(serde_json::json!({"exp": -5})),
            jwt(serde_json::json!({"exp": 1.5e9})),
            jwt(serde_json::json!({"exp": now})),
            jwt(serde_json::json!({"exp": null})),
        ] {
            assert_eq!(jwt_ttl(&request(token.clone())), None, "{token}");
        }
        // A far-future `exp` is read as such; `cache.maxTtl` bounds it when it is used.
        let far = jwt_ttl(&request(jwt(serde_json::json!({"exp": u64::MAX})))).unwrap();
        assert!(far > Duration::from_secs(100 * 365 * 86_400), "{far:?}");
    }

    #[test]
    fn bounded_by_max_entries() {
        let cache = AuthCache::new(Duration::from_secs(60), 2);
        let later = Instant::now() + Duration::from_secs(60);
        for i in 0..5u8 {
            cache.remember([i; 32], later + Duration::from_secs(i as u64));
        }
        assert_eq!(cache.len(), 2);
        assert!(lock(&cache.valid_until).contains_key(&[4; 32]));
    }

    #[tokio::test]
    async fn key_covers_the_jwt_and_the_attachment() {
        let client = ApiClient::new(None, Duration::from_secs(1)).unwrap();
        let attachment = |url: &str| {
            Attachment::new(
                &crate::config::ApiConfig {
                    base_url: url.into(),
                    token: crate::config::Secret::new("t"),
                    attachment: "HEROKU_APPLINK".into(),
                    addon_uuid: None,
                },
                &client,
            )
            .unwrap()
        };
        let (a, b) = (attachment("https://a"), attachment("https://b"));
        assert_ne!(
            key(&a, &request("t1".into())),
            key(&a, &request("t2".into()))
        );
        assert_ne!(
            key(&a, &request("t1".into())),
            key(&b, &request("t1".into()))
        );
    }
}
