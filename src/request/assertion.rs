//! The signed assertion (docs/behaviour.md §6.1, opt-in): every forwarded request carries an HS256
//! JWT in `x-applink-assertion`, signed with a key drawn at start-up and handed to the app in its
//! environment only, so the app can tell a request the sidecar let through from one that reached
//! its port another way (a Private Space neighbour, another host or container). It cannot tell
//! from code running as the app's user on the dyno, which can read the app's environment.
//!
//! jsonwebtoken encodes and signs; its crypto provider here is HMAC-SHA256 from ring (already
//! built for rustls), installed once before the first signature.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderName, HeaderValue};
use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;

/// The header the app reads the assertion from.
pub(crate) const ASSERTION: HeaderName = HeaderName::from_static("x-applink-assertion");
pub(crate) use crate::config::ASSERTION_KEY_VARIABLE as KEY_VARIABLE;
/// The `iss` claim.
const ISSUER: &str = "heroku-applink-service-mesh";
/// From `iat` to `exp`: long enough for a request queued in a busy app server, short enough that a
/// captured assertion is soon worthless.
const LIFETIME_SECS: u64 = 60;

/// This boot's key: 32 random bytes as 43 characters of base64url. The HMAC key is that text, as
/// it is, so that a JWT library taking a string secret needs no decoding step. Never shown.
#[derive(Clone)]
pub(crate) struct AssertionKey(String);

impl AssertionKey {
    /// A new key from the operating system's randomness.
    pub(crate) fn draw() -> Result<AssertionKey, ring::error::Unspecified> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes)?;
        Ok(AssertionKey(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The key itself, for the one place that hands it to the app.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What the assertion says of one request.
#[derive(Serialize)]
pub(crate) struct Claims<'a> {
    /// The request id, as in `x-request-id`.
    pub(crate) jti: &'a str,
    pub(crate) method: &'a str,
    /// The path as the request line sent it, without the query.
    pub(crate) path: &'a str,
    /// `salesforce`, `data-action-target` or `bypass`.
    pub(crate) kind: &'a str,
    /// The org and user the sidecar authenticated; absent when it authenticated none.
    #[serde(rename = "orgId", skip_serializing_if = "Option::is_none")]
    pub(crate) org_id: Option<&'a str>,
    #[serde(rename = "userId", skip_serializing_if = "Option::is_none")]
    pub(crate) user_id: Option<&'a str>,
}

/// The claims with the issuer and the times, as signed.
#[derive(Serialize)]
struct Signed<'a> {
    iss: &'static str,
    iat: u64,
    exp: u64,
    #[serde(flatten)]
    claims: &'a Claims<'a>,
}

/// Signs assertions with this boot's key.
pub(crate) struct Assertions {
    key: EncodingKey,
    header: Header,
}

impl Assertions {
    pub(crate) fn new(key: &AssertionKey) -> Assertions {
        // Err means a provider is installed already: this one, by an earlier call.
        let _ = PROVIDER.install_default();
        Assertions {
            key: EncodingKey::from_secret(key.0.as_bytes()),
            header: Header::new(Algorithm::HS256),
        }
    }

    /// The header value for `claims`, issued now. `None` only if signing failed, which HMAC with
    /// a fixed key cannot; the request then goes without one and the app refuses it.
    pub(crate) fn sign(&self, claims: &Claims<'_>) -> Option<HeaderValue> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let signed = Signed {
            iss: ISSUER,
            iat,
            exp: iat + LIFETIME_SECS,
            claims,
        };
        let token = jsonwebtoken::encode(&self.header, &signed, &self.key).ok()?;
        HeaderValue::try_from(token).ok()
    }
}

/// jsonwebtoken's crypto, HS256 only: the one algorithm the sidecar signs with.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: hs256_signer,
    verifier_factory: hs256_verifier,
    jwk_utils: JwkUtils::new_unimplemented(),
};

struct Hs256(hmac::Key);

fn hs256_key(
    algorithm: Algorithm,
    secret: jsonwebtoken::errors::Result<&[u8]>,
) -> jsonwebtoken::errors::Result<Hs256> {
    if algorithm != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret?)))
}

fn hs256_signer(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    Ok(Box::new(hs256_key(*algorithm, key.try_get_hmac_secret())?))
}

fn hs256_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(hs256_key(*algorithm, key.try_get_hmac_secret())?))
}

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        hmac::verify(&self.0, message, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Validation, decode};

    fn claims() -> Claims<'static> {
        Claims {
            jti: "req-1",
            method: "POST",
            path: "/a%20b",
            kind: "salesforce",
            org_id: Some("00DJS0000000123ABC"),
            user_id: None,
        }
    }

    #[test]
    fn a_key_is_43_base64url_characters_and_never_shown() {
        let key = AssertionKey::draw().unwrap();
        assert_eq!(key.expose().len(), 43);
        assert!(URL_SAFE_NO_PAD.decode(key.expose()).is_ok());
        assert_ne!(key.expose(), AssertionKey::draw().unwrap().expose());
        assert_eq!(format!("{key:?}"), "<redacted>");
    }

    #[test]
    fn an_assertion_verifies_with_the_key_text_and_says_what_was_checked() {
        let key = AssertionKey::draw().unwrap();
        let token = Assertions::new(&key).sign(&claims()).unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        let secret = DecodingKey::from_secret(key.expose().as_bytes());
        let read = decode::<serde_json::Value>(token.to_str().unwrap(), &secret, &validation)
            .unwrap()
            .claims;
        assert_eq!(read["jti"], "req-1");
        assert_eq!(read["method"], "POST");
        assert_eq!(read["path"], "/a%20b");
        assert_eq!(read["kind"], "salesforce");
        assert_eq!(read["orgId"], "00DJS0000000123ABC");
        assert!(read.get("userId").is_none(), "{read}");
        let lifetime = read["exp"].as_u64().unwrap() - read["iat"].as_u64().unwrap();
        assert_eq!(lifetime, LIFETIME_SECS);

        let other = DecodingKey::from_secret(b"another key");
        let forged = decode::<serde_json::Value>(token.to_str().unwrap(), &other, &validation);
        assert_eq!(
            forged.unwrap_err().kind(),
            &ErrorKind::InvalidSignature,
            "a token checked with another key"
        );
    }
}
