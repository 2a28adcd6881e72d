//! What the dashboard may show of a request or response: every header, but secrets only as
//! `<redacted, N chars>` (the client context, tokens, cookies, signatures and anything shaped like
//! a JWT), and the client context decoded with its access token redacted.

use http::HeaderMap;
use serde_json::Value;

use crate::auth::context::decode_base64;
use crate::headers::CLIENT_CONTEXT;

/// Headers whose values are secrets whatever they hold.
const SECRET_HEADERS: [&str; 8] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-client-context",
    "x-request-context",
    "x-signature",
    "x-api-key",
];

/// Fields of the client context that are secrets.
const SECRET_FIELDS: [&str; 2] = ["accessToken", "auth"];

/// The headers in order, secrets redacted.
pub(crate) fn headers(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| {
            let shown = match value.to_str() {
                Ok(text) if SECRET_HEADERS.contains(&name.as_str()) || looks_like_jwt(text) => {
                    redacted(text)
                }
                Ok(text) => text.to_string(),
                Err(_) => format!("<not text, {} bytes>", value.len()),
            };
            (name.as_str().to_string(), shown)
        })
        .collect()
}

/// The client context the app received, decoded, its secrets redacted; `None` when there is none
/// or it does not decode.
pub(crate) fn client_context(map: &HeaderMap) -> Option<Value> {
    let bytes = decode_base64(map.get(CLIENT_CONTEXT)?.as_bytes())?;
    let mut value: Value = serde_json::from_slice(&bytes).ok()?;
    redact_value(&mut value);
    Some(value)
}

fn redact_value(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (name, field) in object.iter_mut() {
                match field {
                    Value::String(text) if SECRET_FIELDS.contains(&name.as_str()) => {
                        *text = redacted(text);
                    }
                    other => redact_value(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::String(text) if looks_like_jwt(text) => *text = redacted(text),
        _ => {}
    }
}

pub(crate) fn redacted(secret: &str) -> String {
    format!("<redacted, {} chars>", secret.chars().count())
}

/// `eyJ…​.….…`: a JWT (its header always starts with `{"`, base64url `eyJ`), alone or as a bearer.
fn looks_like_jwt(text: &str) -> bool {
    text.split_whitespace()
        .any(|word| word.starts_with("eyJ") && word.matches('.').count() == 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn secrets_show_only_their_length() {
        let mut map = HeaderMap::new();
        map.insert("x-client-context", "c2VjcmV0".parse().unwrap());
        map.insert("x-applink-org-id", "00DJS0000000123ABC".parse().unwrap());
        map.insert(
            "x-forwarded-token",
            "Bearer eyJhbGciOi.eyJzdWIi.c2ln".parse().unwrap(),
        );
        map.insert("cookie", "session=abc".parse().unwrap());
        let shown = headers(&map);
        assert_eq!(
            shown[0],
            ("x-client-context".into(), "<redacted, 8 chars>".into())
        );
        assert_eq!(shown[1].1, "00DJS0000000123ABC");
        assert_eq!(shown[2].1, "<redacted, 31 chars>");
        assert_eq!(shown[3].1, "<redacted, 11 chars>");
    }

    #[test]
    fn the_client_context_is_decoded_without_its_token() {
        let cc = serde_json::json!({"orgId": "00DJS0000000123ABC", "accessToken": "00D!secret-token",
            "userContext": {"username": "a@b.c", "jwt": "eyJa.eyJb.c"}});
        let mut map = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode(cc.to_string());
        map.insert("x-client-context", encoded.parse().unwrap());
        let shown = client_context(&map).unwrap();
        assert_eq!(shown["orgId"], "00DJS0000000123ABC");
        assert_eq!(shown["accessToken"], "<redacted, 16 chars>");
        assert_eq!(shown["userContext"]["jwt"], "<redacted, 11 chars>");
        assert!(!shown.to_string().contains("secret-token"));
    }
}
