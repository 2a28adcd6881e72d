//! Decoding the request context Salesforce sends, `x-request-context` (RC), and the base64 both
//! context headers share (docs/behaviour.md §4.4): lenient about the alphabet, padding and
//! embedded whitespace, as Salesforce and the SDKs are. The client context is in
//! [`super::client_context`].

use std::fmt;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

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
    /// The add-on the call is for, when Salesforce names it; it picks the attachment.
    pub(crate) addon_uuid: Option<String>,
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

/// A required field: a non-empty string.
fn required_text<'o>(object: &'o Object<'_>, name: &str) -> Result<&'o str, String> {
    match object.get(name) {
        Some(Json::Str(s)) if !s.is_empty() => Ok(s),
        Some(Json::Str(_)) => Err(format!("field '{name}' is empty")),
        Some(_) => Err(format!("field '{name}' must be a string")),
        None => Err(format!("field '{name}' is missing")),
    }
}

impl RequestContext {
    /// Decodes RC; the error names what is wrong (never the value).
    pub(crate) fn decode(value: &[u8]) -> Result<RequestContext, String> {
        let bytes = decode_base64(value).ok_or("it is not base64")?;
        let object = Object::parse(&bytes).map_err(str::to_string)?;
        if let Some(field) = object
            .case_variant_of(&REQUIRED)
            .or_else(|| object.case_variant_of(&["addonUuid"]))
        {
            return Err(format!("a member spells {field} in other letter cases"));
        }
        let mut fields = [""; REQUIRED.len()];
        // The error names the first bad field, in this order.
        for (field, name) in fields.iter_mut().zip(REQUIRED) {
            *field = required_text(&object, name)?;
        }
        // `loginUrl` and `resource` are required but not used.
        let [id, auth, _, org_domain_url, org_id, _, kind, app_uuid] = fields;
        // Optional: absent, empty or `null` mean the default attachment.
        let addon_uuid = match object.get("addonUuid") {
            None | Some(Json::Null) => None,
            Some(Json::Str(s)) => (!s.is_empty()).then(|| s.to_string()),
            Some(_) => return Err("field 'addonUuid' must be a string".into()),
        };
        if extra_fields(&object).next().is_some() {
            tracing::debug!(fields = ?extra_fields(&object).collect::<Vec<_>>(), "request context has extra fields");
        }
        Ok(RequestContext {
            id: id.to_string(),
            auth: auth.to_string(),
            org_domain_url: org_domain_url.to_string(),
            org_id: org_id.to_string(),
            kind: kind.to_string(),
            app_uuid: app_uuid.to_string(),
            addon_uuid,
        })
    }
}

/// Names of fields beyond the required ones (e.g. `addonUuid`), for the logs.
fn extra_fields<'o>(object: &'o Object<'_>) -> impl Iterator<Item = &'o str> {
    object.names().filter(|name| !REQUIRED.contains(name))
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
            assert_eq!(rc.addon_uuid.as_deref(), Some("a-1"));
        }
    }

    #[test]
    fn extra_fields_are_the_unrequired_ones() {
        let raw = rc_json().to_string();
        let object = Object::parse(raw.as_bytes()).unwrap();
        assert_eq!(extra_fields(&object).collect::<Vec<_>>(), ["addonUuid"]);
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
    fn one_reading_of_every_member() {
        let valid = rc_json().to_string();
        let with = |extra: &str| valid.replacen('{', &format!("{{{extra},"), 1);
        for (text, expected) in [
            (
                with(r#""orgId":"00Dxx0000000002AAA""#),
                "it repeats a member name (exactly or in other letter cases)",
            ),
            (
                with(r#""OrgId":"00Dxx0000000002AAA""#),
                "it repeats a member name (exactly or in other letter cases)",
            ),
            (
                valid.replace("\"addonUuid\"", "\"AddonUUID\""),
                "a member spells addonUuid in other letter cases",
            ),
            (
                valid.replace("\"appUuid\"", "\"appUUID\""),
                "a member spells appUuid in other letter cases",
            ),
        ] {
            let err = RequestContext::decode(B64.encode(&text).as_bytes()).unwrap_err();
            assert_eq!(err, expected, "{text}");
        }
        // Unknown members pass, a name that only looks alike too.
        let text = with(r#""orgIdentity":"x","custom":{"a":1}"#);
        assert!(RequestContext::decode(B64.encode(&text).as_bytes()).is_ok());
    }

    #[test]
    fn debug_never_shows_the_jwt() {
        let rc = RequestContext::decode(B64.encode(rc_json().to_string()).as_bytes()).unwrap();
        assert!(!format!("{rc:?}").contains("jwt\""));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::request::auth::client_context::ClientContext;
    use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    proptest! {
        /// Untrusted bytes never panic the decoders; errors name no value.
        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_base64(&bytes);
            if let Err(why) = RequestContext::decode(&bytes) {
                prop_assert!(why.len() < 80);
            }
            let _ = ClientContext::decode(&bytes);
        }

        /// Whatever base64 spelling carries it, a request context decodes to the same fields.
        #[test]
        fn every_spelling_decodes_alike(
            fields in proptest::collection::vec("[ -~]{1,24}", 8),
            url_safe in any::<bool>(),
            split in 1usize..40,
        ) {
            let mut object = serde_json::Map::new();
            for (name, value) in REQUIRED.iter().zip(&fields) {
                object.insert((*name).to_string(), value.clone().into());
            }
            let json = serde_json::Value::Object(object).to_string();
            let encoded = if url_safe { URL_SAFE_NO_PAD.encode(&json) } else { B64.encode(&json) };
            let at = split.min(encoded.len());
            let spaced = format!("{} \n{}", &encoded[..at], &encoded[at..]);
            let rc = RequestContext::decode(spaced.as_bytes()).unwrap();
            prop_assert_eq!(&rc.id, &fields[0]);
            prop_assert_eq!(&rc.auth, &fields[1]);
            prop_assert_eq!(&rc.org_id, &fields[4]);
            prop_assert_eq!(&rc.app_uuid, &fields[7]);
        }
    }
}
