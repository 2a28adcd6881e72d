//! The opt-in authentication cache (§5): positive results only, for at most `cache.maxTtl` and
//! never past the JWT's `exp`; identical concurrent calls are coalesced into one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{ApiClient, AuthRequest};
use crate::error::MeshError;

type Key = [u8; 32];
type Call = Arc<OnceCell<Result<(), MeshError>>>;

pub struct AuthCache {
    max_ttl: Duration,
    max_entries: usize,
    base_url: String,
    valid_until: Mutex<HashMap<Key, Instant>>,
    in_flight: Mutex<HashMap<Key, Call>>,
}

impl AuthCache {
    pub fn new(base_url: &str, max_ttl: Duration, max_entries: usize) -> AuthCache {
        AuthCache {
            max_ttl,
            max_entries,
            base_url: base_url.to_string(),
            valid_until: Mutex::default(),
            in_flight: Mutex::default(),
        }
    }

    pub async fn authenticate(
        &self,
        api: &ApiClient,
        request: &AuthRequest,
        request_id: &str,
    ) -> Result<(), MeshError> {
        let Some(ttl) = jwt_ttl(request)
            .map(|ttl| ttl.min(self.max_ttl))
            .filter(|t| !t.is_zero())
        else {
            return api.authenticate(request, request_id).await;
        };
        let key = self.key(request);
        if lock(&self.valid_until)
            .get(&key)
            .is_some_and(|until| *until > Instant::now())
        {
            return Ok(());
        }
        let call = lock(&self.in_flight).entry(key).or_default().clone();
        let result = call
            .get_or_init(|| api.authenticate(request, request_id))
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

    fn key(&self, request: &AuthRequest) -> Key {
        let mut hash = Sha256::new();
        hash.update(self.base_url.as_bytes());
        hash.update([0]);
        hash.update(request.path().as_bytes());
        hash.update([0]);
        hash.update(request.body());
        hash.finalize().into()
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long the request's JWT stays valid, read from its `exp` claim without verifying the
/// signature (the AppLink API verified it). `None` when there is no JWT or no `exp`.
fn jwt_ttl(request: &AuthRequest) -> Option<Duration> {
    let AuthRequest::Salesforce { core_jwt_token, .. } = request else {
        return None;
    };
    let payload = core_jwt_token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?)
            .ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    exp.checked_sub(now).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()))
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
    fn bounded_by_max_entries() {
        let cache = AuthCache::new("https://x", Duration::from_secs(60), 2);
        let later = Instant::now() + Duration::from_secs(60);
        for i in 0..5u8 {
            cache.remember([i; 32], later + Duration::from_secs(i as u64));
        }
        assert_eq!(cache.len(), 2);
        assert!(lock(&cache.valid_until).contains_key(&[4; 32]));
    }

    #[test]
    fn key_covers_the_jwt_and_the_api() {
        let a = AuthCache::new("https://a", Duration::from_secs(1), 10);
        let b = AuthCache::new("https://b", Duration::from_secs(1), 10);
        assert_ne!(a.key(&request("t1".into())), a.key(&request("t2".into())));
        assert_ne!(a.key(&request("t1".into())), b.key(&request("t1".into())));
    }
}
