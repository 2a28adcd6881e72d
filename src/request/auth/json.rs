//! Reading a context's JSON object without building a `serde_json::Value`: only strings, numbers
//! and nested objects are kept, and strings are borrowed from the decoded bytes unless they carry
//! escapes. Deciding a request's fate reads a handful of fields; this keeps it to a few
//! allocations.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON value as far as the sidecar cares.
#[derive(Debug, PartialEq)]
pub(crate) enum Json<'a> {
    Str(Cow<'a, str>),
    Number(serde_json::Number),
    Object(Object<'a>),
    Null,
    /// A boolean or an array.
    Other,
}

/// An object's members in order; a repeated name counts as its last value, as in `Value`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// Parses `bytes` as a JSON object.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Object<'a>, &'static str> {
        match serde_json::from_slice::<Json<'a>>(bytes) {
            Ok(Json::Object(object)) => Ok(object),
            Ok(_) => Err("it is not a JSON object"),
            Err(_) => Err("it is not JSON"),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.members
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(key, _)| key.as_ref())
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Other, Json::Number))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Json<'de>, E> {
        Ok(Json::Other)
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value::<Json<'de>>()?));
        }
        Ok(Json::Object(Object { members }))
    }
}

/// An object member's name, borrowed when it can be.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_strings_numbers_and_objects() {
        let text = br#"{"a":"x","b":7,"c":{"d":"e\"f"},"g":[1,{"h":2}],"i":null,"j":true,"a":"y"}"#;
        let object = Object::parse(text).unwrap();
        assert_eq!(object.get("a"), Some(&Json::Str("y".into())));
        assert_eq!(object.get("b"), Some(&Json::Number(7.into())));
        let Some(Json::Object(inner)) = object.get("c") else {
            panic!("c is an object")
        };
        assert_eq!(inner.get("d"), Some(&Json::Str("e\"f".into())));
        assert_eq!(object.get("g"), Some(&Json::Other));
        assert_eq!(object.get("i"), Some(&Json::Null));
        assert_eq!(object.get("j"), Some(&Json::Other));
        assert_eq!(object.get("z"), None);
        assert_eq!(object.names().count(), 7);
    }

    #[test]
    fn borrows_plain_strings() {
        let object = Object::parse(br#"{"id":"plain"}"#).unwrap();
        assert!(matches!(
            object.get("id"),
            Some(Json::Str(Cow::Borrowed("plain")))
        ));
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(
            Object::parse(b"[1]").unwrap_err(),
            "it is not a JSON object"
        );
        assert_eq!(
            Object::parse(b"\"s\"").unwrap_err(),
            "it is not a JSON object"
        );
        assert_eq!(Object::parse(b"{").unwrap_err(), "it is not JSON");
        assert_eq!(Object::parse(b"{} x").unwrap_err(), "it is not JSON");
        assert_eq!(Object::parse(b"").unwrap_err(), "it is not JSON");
    }
}
