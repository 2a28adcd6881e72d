//! The client context, `x-client-context` (CC): what the sidecar reads from it to build the
//! `x-applink-*` headers, and the org id cross-check against the request context
//! (docs/behaviour.md §4.4, §6). The app receives CC byte for byte as the caller sent it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::context::decode_base64;
use super::json::{Json, Object};
use crate::request::headers::{
    APPLINK_API_VERSION, APPLINK_NAMESPACE, APPLINK_ORG_DOMAIN_URL, APPLINK_ORG_ID,
    APPLINK_USER_ID, APPLINK_USERNAME,
};

/// What the sidecar reads from CC to build the `x-applink-*` headers. Each text shares the decoded
/// buffer where its JSON string had no escapes, so the headers are built without copying it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientContext {
    org_id: Bytes,
    org_domain_url: Option<Bytes>,
    user_id: Option<Bytes>,
    username: Option<Bytes>,
    api_version: Option<Bytes>,
    namespace: Option<Bytes>,
}

/// A non-empty string, or a number as text; UTF-8 either way.
fn text(decoded: &Bytes, value: Option<&Json<'_>>) -> Option<Bytes> {
    match value {
        Some(Json::Str(s)) if !s.is_empty() => Some(share(decoded, s)),
        Some(Json::Number(n)) => Some(Bytes::from(n.to_string())),
        _ => None,
    }
}

/// `s` as a share of `decoded` when it lies within it (a string without escapes), else a copy.
fn share(decoded: &Bytes, s: &str) -> Bytes {
    let within = decoded.as_ptr_range();
    let range = s.as_bytes().as_ptr_range();
    if within.start <= range.start && range.end <= within.end {
        decoded.slice_ref(s.as_bytes())
    } else {
        Bytes::copy_from_slice(s.as_bytes())
    }
}

/// The members the sidecar reads, at the top of CC and inside its `userContext`.
const TOP_FIELDS: [&str; 5] = [
    "orgId",
    "orgDomainUrl",
    "apiVersion",
    "namespace",
    "userContext",
];
const USER_FIELDS: [&str; 2] = ["userId", "username"];

/// How CC is read: leniently where nothing relies on it (dev mode, `verifyClientContext` off), or
/// checked, where the app relies on the org id the sidecar compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    Lenient,
    Checked,
}

impl ClientContext {
    /// Decodes CC, leniently (either alphabet, padding optional, whitespace ignored). `Err` says
    /// why it yields no context headers.
    pub(crate) fn decode(value: &[u8]) -> Result<ClientContext, &'static str> {
        let bytes = decode_base64(value).ok_or("it is not base64")?;
        Self::read(&Bytes::from(bytes), Reading::Lenient)
    }

    /// Decodes CC for the org id cross-check, which the app relies on: exactly as Salesforce
    /// sends it, because the app decodes the very bytes the caller sent, and decoders differ on
    /// anything else. Standard base64 only, padded, no whitespace: Python's `b64decode` drops `-`
    /// and `_`, so one string could be one org here and another there, and Go's and Java's
    /// decoders refuse what is not padded. And the members the sidecar reads must have the types
    /// Salesforce sends (text, or `null`): a number read as text here would fail to decode into a
    /// Go struct's string.
    pub(crate) fn decode_checked(value: &[u8]) -> Result<ClientContext, &'static str> {
        let bytes = STANDARD.decode(value).map_err(|_| {
            "it is not standard base64 with padding and without whitespace, as Salesforce sends it"
        })?;
        Self::read(&Bytes::from(bytes), Reading::Checked)
    }

    fn read(decoded: &Bytes, reading: Reading) -> Result<ClientContext, &'static str> {
        let object = Object::parse(decoded)?;
        if let Some(field) = object.case_variant_of(&TOP_FIELDS) {
            return Err(case_variant_error(field));
        }
        let user = match object.get("userContext") {
            Some(Json::Object(user)) => Some(user),
            None | Some(Json::Null) => None,
            Some(_) if reading == Reading::Checked => {
                return Err("its userContext must be an object");
            }
            Some(_) => None,
        };
        if let Some(field) = user.and_then(|user| user.case_variant_of(&USER_FIELDS)) {
            return Err(case_variant_error(field));
        }
        if reading == Reading::Checked {
            check_types(&object, user)?;
        }
        let text = |value| text(decoded, value);
        let org_id = text(object.get("orgId")).ok_or("it has no orgId")?;
        Ok(ClientContext {
            org_id,
            org_domain_url: text(object.get("orgDomainUrl")),
            user_id: user.and_then(|u| text(u.get("userId"))),
            username: user.and_then(|u| text(u.get("username"))),
            api_version: text(object.get("apiVersion")),
            namespace: text(object.get("namespace")),
        })
    }

    /// CC's `orgId`.
    pub(crate) fn org_id(&self) -> &str {
        // Read from a JSON string or number: always UTF-8.
        std::str::from_utf8(&self.org_id).unwrap_or_default()
    }

    /// `userContext.userId`, when it is text.
    pub(crate) fn user_id(&self) -> Option<&str> {
        self.user_id
            .as_deref()
            .and_then(|id| std::str::from_utf8(id).ok())
    }

    /// The decoded `x-applink-*` headers (without the request kind). Values that cannot be header
    /// values are left out.
    pub(crate) fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let domain = self.org_domain_url.as_ref().map(|url| {
            if url.windows(3).any(|w| w == b"://") {
                url.clone()
            } else {
                let mut with_scheme = b"https://".to_vec();
                with_scheme.extend_from_slice(url);
                Bytes::from(with_scheme)
            }
        });
        [
            (APPLINK_ORG_ID, Some(&self.org_id)),
            (APPLINK_ORG_DOMAIN_URL, domain.as_ref()),
            (APPLINK_USER_ID, self.user_id.as_ref()),
            (APPLINK_USERNAME, self.username.as_ref()),
            (APPLINK_API_VERSION, self.api_version.as_ref()),
            (APPLINK_NAMESPACE, self.namespace.as_ref()),
        ]
        .into_iter()
        // Visible ASCII only, as `HeaderValue::from_str` takes it; the value's bytes are shared.
        .filter_map(|(name, value)| {
            let value = value.filter(|v| v.is_ascii())?.clone();
            Some((name, HeaderValue::from_maybe_shared(value).ok()?))
        })
        .collect()
    }
}

/// A member spelled as a field the sidecar reads in other letter cases (docs/behaviour.md §4.4).
fn case_variant_error(field: &str) -> &'static str {
    match field {
        "orgId" => "a member spells orgId in other letter cases",
        "orgDomainUrl" => "a member spells orgDomainUrl in other letter cases",
        "apiVersion" => "a member spells apiVersion in other letter cases",
        "namespace" => "a member spells namespace in other letter cases",
        "userContext" => "a member spells userContext in other letter cases",
        "userId" => "a member of userContext spells userId in other letter cases",
        _ => "a member of userContext spells username in other letter cases",
    }
}

/// The checked reading's types: `orgId` a string; the other fields read, strings or `null`.
fn check_types(object: &Object<'_>, user: Option<&Object<'_>>) -> Result<(), &'static str> {
    let text_or_null =
        |value: Option<&Json<'_>>| matches!(value, None | Some(Json::Null) | Some(Json::Str(_)));
    if !matches!(object.get("orgId"), Some(Json::Str(_)) | None) {
        return Err("its orgId must be a string");
    }
    for (field, why) in [
        ("orgDomainUrl", "its orgDomainUrl must be a string"),
        ("apiVersion", "its apiVersion must be a string"),
        ("namespace", "its namespace must be a string"),
    ] {
        if !text_or_null(object.get(field)) {
            return Err(why);
        }
    }
    if let Some(user) = user {
        if !text_or_null(user.get("userId")) {
            return Err("its userContext.userId must be a string");
        }
        if !text_or_null(user.get("username")) {
            return Err("its userContext.username must be a string");
        }
    }
    Ok(())
}

fn is_org_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The docs/behaviour.md §4.4 cross-check of RC's and CC's org ids: both 15 or 18 alphanumerics
/// that agree in all 18 characters when both have 18, else in the first 15 (case-sensitive).
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
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use serde_json::json;

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
        // Values a header cannot carry as visible ASCII are left out, the others kept.
        let cc = json!({"orgId": "00Dxx0000000001AAA", "apiVersion": 62,
                        "userContext": {"userId": "005\nxx", "username": "José"}});
        let headers = ClientContext::decode(B64.encode(cc.to_string()).as_bytes())
            .unwrap()
            .headers();
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["x-applink-org-id", "x-applink-api-version"]);
        assert_eq!(headers[1].1, "62");
        assert_eq!(
            ClientContext::decode(B64.encode("{}").as_bytes()).unwrap_err(),
            "it has no orgId"
        );
    }

    #[test]
    fn the_checked_reading_takes_only_standard_padded_base64() {
        let valid = json!({"orgId": "00Dxx0000000001AAA", "apiVersion": "62.0", "namespace": null,
                           "userContext": {"userId": "005xx", "username": "a@b.c"}, "x": [1]})
        .to_string();
        let encoded = B64.encode(&valid);
        assert!(ClientContext::decode_checked(encoded.as_bytes()).is_ok());
        let unpadded = encoded.trim_end_matches('=').to_string();
        assert_ne!(unpadded, encoded, "the test needs padding to remove");
        let spaced = format!("{} {}", &encoded[..8], &encoded[8..]);
        for bad in [unpadded, spaced] {
            assert!(
                ClientContext::decode_checked(bad.as_bytes())
                    .unwrap_err()
                    .starts_with("it is not standard base64"),
                "{bad}"
            );
            // The lenient reading (dev mode, verifyClientContext off) still takes them.
            assert!(ClientContext::decode(bad.as_bytes()).is_ok(), "{bad}");
        }
    }

    #[test]
    fn the_checked_reading_refuses_other_spellings_and_types() {
        for (text, expected) in [
            (
                r#"{"orgId":"00Dxx0000000001AAA","OrgId":"00Dxx0000000002AAA"}"#,
                "it repeats a member name (exactly or in other letter cases)",
            ),
            (
                r#"{"orgId":"00Dxx0000000001AAA","userContext":{"userId":"a","USERID":"b"}}"#,
                "it repeats a member name (exactly or in other letter cases)",
            ),
            (
                r#"{"ORGID":"00Dxx0000000002AAA"}"#,
                "a member spells orgId in other letter cases",
            ),
            (
                r#"{"orgId":"00Dxx0000000001AAA","UserContext":{"userId":"a"}}"#,
                "a member spells userContext in other letter cases",
            ),
            (
                r#"{"orgId":"00Dxx0000000001AAA","userContext":{"UserId":"a"}}"#,
                "a member of userContext spells userId in other letter cases",
            ),
            (r#"{"orgId":100000000000000}"#, "its orgId must be a string"),
            (
                r#"{"orgId":"00Dxx0000000001AAA","apiVersion":62}"#,
                "its apiVersion must be a string",
            ),
            (
                r#"{"orgId":"00Dxx0000000001AAA","userContext":"005xx"}"#,
                "its userContext must be an object",
            ),
            (
                r#"{"orgId":"00Dxx0000000001AAA","userContext":{"userId":5}}"#,
                "its userContext.userId must be a string",
            ),
        ] {
            let err = ClientContext::decode_checked(B64.encode(text).as_bytes()).unwrap_err();
            assert_eq!(err, expected, "{text}");
        }
    }

    #[test]
    fn the_lenient_reading_refuses_other_spellings_and_reads_a_number_as_text() {
        let variant = B64.encode(r#"{"orgId":"00Dxx0000000001AAA","OrgId":"x"}"#);
        assert!(ClientContext::decode(variant.as_bytes()).is_err());
        let number = B64.encode(r#"{"orgId":100000000000000}"#);
        assert_eq!(
            ClientContext::decode(number.as_bytes()).unwrap().org_id(),
            "100000000000000"
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
