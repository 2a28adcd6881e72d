//! What is authenticated: the body of one AppLink API call (docs/behaviour.md §5), serialised
//! field for field as the API expects it, into a buffer of exactly its size.

use bytes::Bytes;

/// What to authenticate: the body of one AppLink API call.
#[derive(Clone)]
pub(crate) enum AuthRequest {
    Salesforce {
        org_domain_url: String,
        core_jwt_token: String,
        org_id: String,
        app_uuid: String,
    },
    DataActionTarget {
        api_name: String,
        org_id: String,
        signature: String,
        /// The request body, checked to be UTF-8; shared with the copy forwarded to the app.
        payload: Bytes,
    },
}

impl AuthRequest {
    pub(crate) const SALESFORCE_PATH: &str = "/invocations/authentication";
    pub(crate) const DATA_ACTION_TARGET_PATH: &str = "/data_action_targets/authenticate";

    pub(crate) fn path(&self) -> &'static str {
        match self {
            AuthRequest::Salesforce { .. } => Self::SALESFORCE_PATH,
            AuthRequest::DataActionTarget { .. } => Self::DATA_ACTION_TARGET_PATH,
        }
    }

    /// The exact JSON body the AppLink API expects, in a buffer of exactly its size.
    pub(crate) fn body(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.body_len());
        let fields = self.fields();
        // The usual case, no value that JSON escapes, written as serde_json writes it, without
        // its per-character escaping; a payload that is not UTF-8 goes to serde_json's refusal.
        let plain = fields.iter().all(|(_, value)| !needs_escapes(value))
            && std::str::from_utf8(fields[3].1).is_ok();
        if plain {
            body.push(b'{');
            for (at, (key, value)) in fields.iter().enumerate() {
                if at > 0 {
                    body.push(b',');
                }
                body.push(b'"');
                body.extend_from_slice(key.as_bytes());
                body.extend_from_slice(b"\":\"");
                body.extend_from_slice(value);
                body.push(b'"');
            }
            body.push(b'}');
            return body;
        }
        // Serialising a struct of strings cannot fail; an empty body would be refused by the API.
        if serde_json::to_writer(&mut body, self).is_err() {
            body.clear();
        }
        body
    }

    /// The length of [`AuthRequest::body`], known before it is written.
    pub(crate) fn body_len(&self) -> usize {
        // `{`, `}`, three commas, and per field `"key":"value"`.
        5 + self
            .fields()
            .iter()
            .map(|(key, value)| key.len() + 5 + json_escaped_len(value))
            .sum::<usize>()
    }

    /// The body's fields in order: names, and values as bytes.
    fn fields(&self) -> [(&'static str, &[u8]); 4] {
        match self {
            AuthRequest::Salesforce {
                org_domain_url,
                core_jwt_token,
                org_id,
                app_uuid,
            } => [
                ("org_domain_url", org_domain_url.as_bytes()),
                ("core_jwt_token", core_jwt_token.as_bytes()),
                ("org_id", org_id.as_bytes()),
                ("app_uuid", app_uuid.as_bytes()),
            ],
            AuthRequest::DataActionTarget {
                api_name,
                org_id,
                signature,
                payload,
            } => [
                ("api_name", api_name.as_bytes()),
                ("org_id", org_id.as_bytes()),
                ("signature", signature.as_bytes()),
                ("payload", payload),
            ],
        }
    }
}

/// Whether JSON escapes any byte of `text`: `"`, `\` and the control characters, as serde_json
/// does (a fold rather than an early return, which the compiler vectorises).
fn needs_escapes(text: &[u8]) -> bool {
    text.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// The length of `text` as the contents of a JSON string, as serde_json escapes it.
pub(crate) fn json_escaped_len(text: &[u8]) -> usize {
    if !needs_escapes(text) {
        return text.len();
    }
    text.iter()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// The two bodies, field for field as the AppLink API expects them.
impl serde::Serialize for AuthRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut body = serializer.serialize_struct("AuthRequest", 4)?;
        match self {
            AuthRequest::Salesforce {
                org_domain_url,
                core_jwt_token,
                org_id,
                app_uuid,
            } => {
                body.serialize_field("org_domain_url", org_domain_url)?;
                body.serialize_field("core_jwt_token", core_jwt_token)?;
                body.serialize_field("org_id", org_id)?;
                body.serialize_field("app_uuid", app_uuid)?;
            }
            AuthRequest::DataActionTarget {
                api_name,
                org_id,
                signature,
                payload,
            } => {
                body.serialize_field("api_name", api_name)?;
                body.serialize_field("org_id", org_id)?;
                body.serialize_field("signature", signature)?;
                let payload = std::str::from_utf8(payload).map_err(serde::ser::Error::custom)?;
                body.serialize_field("payload", payload)?;
            }
        }
        body.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_len_is_the_written_length() {
        let dat = AuthRequest::DataActionTarget {
            api_name: "A\u{1}\"".into(),
            org_id: "00D\n".into(),
            signature: "s\\ig".into(),
            payload: Bytes::from_static(b"{\"x\":\"\x01\x1f\"}"),
        };
        let sf = AuthRequest::Salesforce {
            org_domain_url: "https://a".into(),
            core_jwt_token: "j.w.t".into(),
            org_id: "00D".into(),
            app_uuid: "ü".into(),
        };
        for request in [dat, sf] {
            let body = request.body();
            assert_eq!(body.len(), request.body_len());
            assert_eq!(body.capacity(), request.body_len());
        }
    }

    #[test]
    fn request_bodies_are_exact() {
        let sf = AuthRequest::Salesforce {
            org_domain_url: "https://acme.my.salesforce.com".into(),
            core_jwt_token: "jwt".into(),
            org_id: "00D".into(),
            app_uuid: "u".into(),
        };
        let value: serde_json::Value = serde_json::from_slice(&sf.body()).unwrap();
        assert_eq!(
            value,
            json!({"org_domain_url": "https://acme.my.salesforce.com", "core_jwt_token": "jwt", "org_id": "00D", "app_uuid": "u"})
        );
        assert_eq!(sf.path(), "/invocations/authentication");
        let dat = AuthRequest::DataActionTarget {
            api_name: "A".into(),
            org_id: "00D".into(),
            signature: "s".into(),
            payload: Bytes::from_static(b"{}"),
        };
        let value: serde_json::Value = serde_json::from_slice(&dat.body()).unwrap();
        assert_eq!(
            value,
            json!({"api_name": "A", "org_id": "00D", "signature": "s", "payload": "{}"})
        );
        assert_eq!(dat.path(), "/data_action_targets/authenticate");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the values hold (quotes, backslashes, control characters, any Unicode), the
        /// body is byte for byte what serde_json writes, and exactly `body_len` long.
        #[test]
        fn the_body_is_serde_jsons(
            values in proptest::collection::vec(any::<String>(), 4),
            plain in proptest::collection::vec("[ -~&&[^\"\\\\]]{0,40}", 4),
            use_plain in any::<bool>(),
        ) {
            let v = if use_plain { &plain } else { &values };
            for request in [
                AuthRequest::Salesforce {
                    org_domain_url: v[0].clone(),
                    core_jwt_token: v[1].clone(),
                    org_id: v[2].clone(),
                    app_uuid: v[3].clone(),
                },
                AuthRequest::DataActionTarget {
                    api_name: v[0].clone(),
                    org_id: v[1].clone(),
                    signature: v[2].clone(),
                    payload: Bytes::from(v[3].clone()),
                },
            ] {
                let body = request.body();
                prop_assert_eq!(&body, &serde_json::to_vec(&request).unwrap());
                prop_assert_eq!(body.len(), request.body_len());
            }
        }
    }
}
