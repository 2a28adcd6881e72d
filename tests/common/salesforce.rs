//! Salesforce-shaped request headers: `x-request-context`, `x-client-context`, `x-request-id`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const ORG_ID: &str = "00DJS0000000123ABC";
pub const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLXNlY3JldA";
pub const ACCESS_TOKEN: &str = "00DJS0000000123!AQEAQ-access-token-secret";
pub const CONTEXT_ID: &str = "00DJS0000000123ABC-4f9a2c";
pub const ADDON_UUID: &str = "1d0c2f7e-0000-4000-8000-000000000000";

pub fn request_context() -> Value {
    json!({
        "id": CONTEXT_ID,
        "auth": JWT,
        "loginUrl": "https://login.salesforce.com",
        "orgDomainUrl": "https://acme.my.salesforce.com",
        "orgId": ORG_ID,
        "resource": "https://app.herokuapp.com",
        "type": "ApexCallout",
        "appUuid": "6f1e6c2e-2d6b-4a8e-9a2f-1f2e3d4c5b6a",
        "addonUuid": ADDON_UUID,
    })
}

pub fn client_context() -> Value {
    json!({
        "accessToken": ACCESS_TOKEN,
        "apiVersion": "62.0",
        "requestId": CONTEXT_ID,
        "namespace": "acme",
        "orgId": ORG_ID,
        "orgDomainUrl": "acme.my.salesforce.com",
        "userContext": {"userId": "005JS000000ABCD", "username": "admin@acme.example"},
        // A field the sidecar does not read: it must reach the app untouched.
        "version": "1",
    })
}

pub fn encode(value: &Value) -> String {
    STANDARD.encode(value.to_string())
}

/// The headers of a valid Salesforce request.
pub fn headers() -> Vec<(&'static str, String)> {
    with(request_context(), client_context())
}

/// Salesforce headers built from the given contexts, with a request id that contains RC's id.
pub fn with(rc: Value, cc: Value) -> Vec<(&'static str, String)> {
    vec![
        ("x-request-context", encode(&rc)),
        ("x-client-context", encode(&cc)),
        ("x-request-id", format!("{CONTEXT_ID}-1234")),
    ]
}

/// The headers of a valid Salesforce request whose JWT expires in `seconds` (the auth cache keeps
/// results only for JWTs with an `exp`).
pub fn headers_with_jwt_expiring_in(seconds: u64) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256", "typ": "JWT" }).to_string());
    let claims = URL_SAFE_NO_PAD.encode(json!({ "exp": now + seconds }).to_string());
    let mut rc = request_context();
    rc["auth"] = format!("{header}.{claims}.sig").into();
    with(rc, client_context())
}
