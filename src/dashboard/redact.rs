//! What the dashboard may show of a request or response: every header, but secrets only as
//! `<redacted, N chars>` (the client context, tokens, cookies, signatures, any header whose name
//! says it holds a credential, and any value holding a JWT or a Salesforce session id), URLs
//! without their query, and the client context decoded with its access token redacted.

use http::HeaderMap;
use serde_json::Value;

use crate::request::auth::context::decode_base64;
use crate::request::headers::CLIENT_CONTEXT;

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

/// Words that, in a header's name, say it holds a credential (`x-auth-token`, `x-api-key`).
const SECRET_NAME_PARTS: [&str; 8] = [
    "token",
    "secret",
    "session",
    "auth",
    "key",
    "signature",
    "password",
    "credential",
];

/// Headers whose value is a URL, shown without its query.
const URL_HEADERS: [&str; 4] = ["referer", "location", "content-location", "origin"];

/// Fields of the client context that are secrets.
const SECRET_FIELDS: [&str; 2] = ["accessToken", "auth"];

/// The headers in order, secrets redacted.
pub(crate) fn headers(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| {
            // `x_client_context` is the same header to some apps: judge the dashed spelling.
            let name = name.as_str();
            let dashed = name.replace('_', "-");
            let shown = match value.to_str() {
                Ok(text) if is_secret_header(&dashed) || holds_secret(text) => redacted(text),
                Ok(text) if URL_HEADERS.contains(&dashed.as_str()) => without_query(text),
                Ok(text) => text.to_string(),
                Err(_) => format!("<not text, {} bytes>", value.len()),
            };
            (name.to_string(), shown)
        })
        .collect()
}

fn is_secret_header(dashed: &str) -> bool {
    SECRET_HEADERS.contains(&dashed) || SECRET_NAME_PARTS.iter().any(|part| dashed.contains(part))
}

fn without_query(url: &str) -> String {
    match url.split_once('?') {
        Some((before, _)) => format!("{before}?<query not kept>"),
        None => url.to_string(),
    }
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
        Value::String(text) if holds_secret(text) => *text = redacted(text),
        _ => {}
    }
}

pub(crate) fn redacted(secret: &str) -> String {
    format!("<redacted, {} chars>", secret.chars().count())
}

/// A value holding a JWT (`eyJ….….…`: its header always starts with `{"`) or a Salesforce session
/// id (`00D…!…`), alone, as a bearer, or inside a `token=…` pair.
fn holds_secret(text: &str) -> bool {
    let jwt = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .any(|word| word.starts_with("eyJ") && word.matches('.').count() == 2);
    let session = text
        .split(|c: char| c.is_whitespace() || matches!(c, '=' | ',' | ';' | '"' | '\''))
        .any(|word| word.starts_with("00D") && word.contains('!'));
    jwt || session
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn secrets_show_only_their_length() {
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("x-client-context", "c2VjcmV0"),
            ("x-applink-org-id", "00DJS0000000123ABC"),
            ("x-forwarded-for", "Bearer eyJhbGciOi.eyJzdWIi.c2ln"),
            ("cookie", "session=abc"),
            ("x_client_context", "c2VjcmV0"),
            ("x-sfdc-session", "00Dxx!AQ8AQ"),
            ("x-note", "sid=00Dxx0000001!AQEAQ.abc"),
            ("x-link", "https://x/cb?token=eyJhbGciOi.eyJzdWIi.c2ln"),
            ("referer", "https://x/page?code=secret"),
        ] {
            map.insert(name, value.parse().unwrap());
        }
        let shown = headers(&map);
        assert_eq!(
            shown[0],
            ("x-client-context".into(), "<redacted, 8 chars>".into())
        );
        assert_eq!(shown[1].1, "00DJS0000000123ABC");
        assert_eq!(shown[2].1, "<redacted, 31 chars>", "a JWT as a bearer");
        assert_eq!(shown[3].1, "<redacted, 11 chars>");
        assert_eq!(shown[4].1, "<redacted, 8 chars>", "the underscore spelling");
        assert_eq!(
            shown[5].1, "<redacted, 11 chars>",
            "a name that says session"
        );
        assert_eq!(
            shown[6].1, "<redacted, 26 chars>",
            "a session id in a value"
        );
        assert!(shown[7].1.starts_with("<redacted, "), "a JWT in a query");
        assert_eq!(shown[8].1, "https://x/page?<query not kept>");
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
