//! The signed assertion from the app's side (docs/behaviour.md §6.1): the key the sidecar gave the
//! app, read from the app's environment as the app reads it, and assertions minted as a forger (or
//! the sidecar) would mint them.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The app's environment variable that holds the key.
pub const KEY_VARIABLE: &str = "HEROKU_APPLINK_MESH_ASSERTION_KEY";

/// The value of `name` in the environment of process `pid`, if it has one.
pub fn environment_variable(pid: i32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ.split(|b| *b == 0).find_map(|entry| {
        let text = std::str::from_utf8(entry).ok()?;
        text.strip_prefix(name)?
            .strip_prefix('=')
            .map(str::to_string)
    })
}

/// An assertion to mint: the claims the sidecar signs, and what a forger may change.
#[derive(Clone, Copy)]
pub struct Mint<'a> {
    pub key: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// Seconds from now to `exp`.
    pub expires_in: i64,
    pub alg: &'a str,
}

impl<'a> Mint<'a> {
    /// A valid assertion for `method path` with `key`, expiring in a minute.
    pub fn new(key: &'a str, method: &'a str, path: &'a str) -> Mint<'a> {
        Mint {
            key,
            method,
            path,
            expires_in: 60,
            alg: "HS256",
        }
    }

    /// The compact JWT: HS256 with the key's text as the HMAC key (an empty signature for
    /// `alg: none`).
    pub fn token(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let header = serde_json::json!({"typ": "JWT", "alg": self.alg});
        let claims = serde_json::json!({
            "iss": "heroku-applink-service-mesh", "iat": now, "exp": now + self.expires_in,
            "jti": "minted-by-the-test", "method": self.method, "path": self.path,
            "kind": "salesforce", "orgId": "00DFORGED000000AAA", "userId": "005FORGED000000AAA",
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self.alg {
            "none" => String::new(),
            _ => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.key.as_bytes());
                URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, signed.as_bytes()))
            }
        };
        format!("{signed}.{signature}")
    }
}

/// The claims of `token` if its HS256 signature is `key`'s (the check an app makes, less the
/// claims it compares).
pub fn verified_claims(token: &str, key: &str) -> serde_json::Value {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let tag = URL_SAFE_NO_PAD.decode(signature).unwrap();
    ring::hmac::verify(&key, signed.as_bytes(), &tag).expect("signed with the app's key");
    let (header, claims) = signed.split_once('.').unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256", "{header}");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
}
