//! Decoding the Salesforce context headers (§4.4): `x-request-context` (RC) and
//! `x-client-context` (CC). Both are base64 JSON; decoding is lenient about the alphabet, padding
//! and embedded whitespace, as Salesforce and the SDKs are.

use std::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderValue;

use super::json::{Json, Object};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes standard or URL-safe base64, padding optional, whitespace ignored.
pub(crate) fn decode_base64(value: &[u8]) -> Option<Vec<u8>> {
    // The usual case first: the standard alphabet, no whitespace.
    if let Ok(bytes) = STANDARD.decode(value) {
        return Some(bytes);
    }
    let compact: Vec<u8>;
    let value = if value.iter().any(u8::is_ascii_whitespace) {
        compact = value
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        &compact[..]
    } else {
        value
    };
    let engine = if value.iter().any(|b| *b == b'-' || *b == b'_') {
        URL_SAFE
    } else {
        STANDARD
    };
    engine.decode(value).ok()
}

/// The request context Salesforce sends with every call (RC).
#[derive(Clone)]
pub(crate) struct RequestContext {
    pub(crate) id: String,
    /// The core JWT; a secret.
    pub(crate) auth: String,
    pub(crate) org_domain_url: String,
    pub(crate) org_id: String,
    pub(crate) kind: String,
    pub(crate) app_uuid: String,
    /// Names of fields beyond the required ones (e.g. `addonUuid`), for the logs.
    pub(crate) extra_fields: Vec<String>,
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("id", &self.id)
            .field("auth", &"<redacted>")
            .field("org_id", &self.org_id)
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

const REQUIRED: [&str; 8] = [
    "id",
    "auth",
    "loginUrl",
    "orgDomainUrl",
    "orgId",
    "resource",
    "type",
    "appUuid",
];

impl RequestContext {
    /// Decodes RC; the error names what is wrong (never the value).
    pub(crate) fn decode(value: &[u8]) -> Result<RequestContext, String> {
        let bytes = decode_base64(value).ok_or("it is not base64")?;
        let object = Object::parse(&bytes).map_err(str::to_string)?;
        let field = |name: &str| match object.get(name) {
            Some(Json::Str(s)) if !s.is_empty() => Ok(s.to_string()),
            Some(Json::Str(_)) => Err(format!("field '{name}' is empty")),
            Some(_) => Err(format!("field '{name}' must be a string")),
            None => Err(format!("field '{name}' is missing")),
        };
        let [
            id,
            auth,
            login_url,
            org_domain_url,
            org_id,
            resource,
            kind,
            app_uuid,
        ] = REQUIRED.map(field);
        // Checked in this order, so the error names the first bad field. `loginUrl` and
        // `resource` are required but not used.
        let (id, auth, _, org_domain_url, org_id, _, kind, app_uuid) = (
            id?,
            auth?,
            login_url?,
            org_domain_url?,
            org_id?,
            resource?,
            kind?,
            app_uuid?,
        );
        Ok(RequestContext {
            id,
            auth,
            org_domain_url,
            org_id,
            kind,
            app_uuid,
            extra_fields: object
                .names()
                .filter(|name| !REQUIRED.contains(name))
                .map(str::to_string)
                .collect(),
        })
    }
}

/// What the sidecar reads from CC to build the `x-applink-*` headers. CC itself is forwarded as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientContext {
    pub(crate) org_id: String,
    pub(crate) org_domain_url: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) api_version: Option<String>,
    pub(crate) namespace: Option<String>,
}

/// A non-empty string, or a number as text.
fn text(value: Option<&Json<'_>>) -> Option<String> {
    match value {
        Some(Json::Str(s)) if !s.is_empty() => Some(s.to_string()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl ClientContext {
    /// Decodes CC. `Err` says why it yields no context headers (it is still forwarded, compat).
    pub(crate) fn decode(value: &[u8]) -> Result<ClientContext, &'static str> {
        let bytes = decode_base64(value).ok_or("it is not base64")?;
        let object = Object::parse(&bytes)?;
        let org_id = text(object.get("orgId")).ok_or("it has no orgId")?;
        let user = match object.get("userContext") {
            Some(Json::Object(user)) => Some(user),
            _ => None,
        };
        Ok(ClientContext {
            org_id,
            org_domain_url: text(object.get("orgDomainUrl")),
            user_id: user.and_then(|u| text(u.get("userId"))),
            username: user.and_then(|u| text(u.get("username"))),
            api_version: text(object.get("apiVersion")),
            namespace: text(object.get("namespace")),
        })
    }

    /// The decoded `x-applink-*` headers (without the request kind). Values that cannot be header
    /// values are left out.
    pub(crate) fn headers(&self) -> Vec<(&'static str, HeaderValue)> {
        let domain = self.org_domain_url.as_ref().map(|url| {
            if url.contains("://") {
                url.clone()
            } else {
                format!("https://{url}")
            }
        });
        [
            ("x-applink-org-id", Some(&self.org_id)),
            ("x-applink-org-domain-url", domain.as_ref()),
            ("x-applink-user-id", self.user_id.as_ref()),
            ("x-applink-username", self.username.as_ref()),
            ("x-applink-api-version", self.api_version.as_ref()),
            ("x-applink-namespace", self.namespace.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, HeaderValue::from_str(value?).ok()?)))
        .collect()
    }
}

fn is_org_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The §4.4 cross-check of RC's and CC's org ids: both 15 or 18 alphanumerics that agree in all
/// 18 characters when both have 18, else in the first 15 (case-sensitive).
pub(crate) fn org_ids_agree(request_org: &str, client_org: &str) -> Result<(), String> {
    if !is_org_id(request_org) {
        return Err("the request context's orgId is not a 15- or 18-character org id".into());
    }
    if !is_org_id(client_org) {
        return Err("the client context's orgId is not a 15- or 18-character org id".into());
    }
    let same = if request_org.len() == 18 && client_org.len() == 18 {
        request_org == client_org
    } else {
        request_org[..15] == client_org[..15]
    };
    if same {
        Ok(())
    } else {
        Err("its orgId does not match the request context's orgId".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
    use serde_json::{Value, json};

    fn rc_json() -> Value {
        json!({"id": "00Dxx0000000001-1", "auth": "jwt", "loginUrl": "https://login.salesforce.com",
               "orgDomainUrl": "https://acme.my.salesforce.com", "orgId": "00Dxx0000000001AAA",
               "resource": "https://x", "type": "ApexCallout", "appUuid": "u-1", "addonUuid": "a-1"})
    }

    #[test]
    fn decodes_request_context_leniently() {
        let raw = rc_json().to_string();
        let standard = B64.encode(&raw);
        let wrapped: String = standard
            .chars()
            .collect::<Vec<_>>()
            .chunks(10)
            .map(|c| c.iter().collect::<String>() + "\n ")
            .collect();
        for encoded in [
            standard.clone(),
            URL_SAFE_NO_PAD.encode(&raw),
            standard.trim_end_matches('=').to_string(),
            wrapped,
        ] {
            let rc = RequestContext::decode(encoded.as_bytes()).unwrap();
            assert_eq!(rc.id, "00Dxx0000000001-1");
            assert_eq!(rc.kind, "ApexCallout");
            assert_eq!(rc.extra_fields, ["addonUuid"]);
        }
    }

    #[test]
    fn request_context_errors_name_the_field() {
        for (field, value, expected) in [
            ("orgId", Value::Null, "field 'orgId' must be a string"),
            ("auth", json!(""), "field 'auth' is empty"),
            ("type", json!(7), "field 'type' must be a string"),
        ] {
            let mut rc = rc_json();
            rc[field] = value;
            let err = RequestContext::decode(B64.encode(rc.to_string()).as_bytes()).unwrap_err();
            assert_eq!(err, expected);
        }
        let mut rc = rc_json();
        rc.as_object_mut().unwrap().remove("appUuid");
        assert_eq!(
            RequestContext::decode(B64.encode(rc.to_string()).as_bytes()).unwrap_err(),
            "field 'appUuid' is missing"
        );
        assert_eq!(
            RequestContext::decode(b"%%%").unwrap_err(),
            "it is not base64"
        );
        assert_eq!(
            RequestContext::decode(B64.encode("[1]").as_bytes()).unwrap_err(),
            "it is not a JSON object"
        );
        assert_eq!(
            RequestContext::decode(B64.encode("{").as_bytes()).unwrap_err(),
            "it is not JSON"
        );
    }

    #[test]
    fn debug_never_shows_the_jwt() {
        let rc = RequestContext::decode(B64.encode(rc_json().to_string()).as_bytes()).unwrap();
        assert!(!format!("{rc:?}").contains("jwt\""));
    }

    #[test]
    fn client_context_headers() {
        let cc = json!({"orgId": "00Dxx0000000001AAA", "orgDomainUrl": "acme.my.salesforce.com",
                        "apiVersion": "62.0", "namespace": "", "accessToken": "secret",
                        "userContext": {"userId": "005xx", "username": "a@b.c"}});
        let decoded = ClientContext::decode(B64.encode(cc.to_string()).as_bytes()).unwrap();
        let headers = decoded.headers();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_str().unwrap().to_string())
        };
        assert_eq!(
            get("x-applink-org-id").as_deref(),
            Some("00Dxx0000000001AAA")
        );
        assert_eq!(
            get("x-applink-org-domain-url").as_deref(),
            Some("https://acme.my.salesforce.com")
        );
        assert_eq!(get("x-applink-user-id").as_deref(), Some("005xx"));
        assert_eq!(get("x-applink-username").as_deref(), Some("a@b.c"));
        assert_eq!(get("x-applink-api-version").as_deref(), Some("62.0"));
        assert_eq!(get("x-applink-namespace"), None);
        assert!(headers.iter().all(|(_, v)| v != "secret"));
        assert_eq!(
            ClientContext::decode(B64.encode("{}").as_bytes()).unwrap_err(),
            "it has no orgId"
        );
    }

    #[test]
    fn org_id_cross_check() {
        assert!(org_ids_agree("00Dxx0000000001AAA", "00Dxx0000000001AAA").is_ok());
        assert!(org_ids_agree("00Dxx0000000001AAA", "00Dxx0000000001").is_ok());
        assert!(org_ids_agree("00Dxx0000000001", "00Dxx0000000001ZZZ").is_ok());
        assert!(org_ids_agree("00Dxx0000000001AAA", "00Dxx0000000001AAB").is_err());
        assert!(org_ids_agree("00Dxx0000000001AAA", "00dxx0000000001AAA").is_err());
        assert!(org_ids_agree("00Dxx0000000001AAA", "00Dxx000000000-AAA").is_err());
        assert!(org_ids_agree("short", "00Dxx0000000001AAA").is_err());
    }
}
