//! Reading a context's JSON object without building a `serde_json::Value`: only strings, numbers
//! and nested objects are kept, and strings are borrowed from the decoded bytes unless they carry
//! escapes. Deciding a request's fate reads a handful of fields; this keeps it to a few
//! allocations.
//!
//! One reading in every runtime (docs/behaviour.md §4.4): an object, at any depth, whose member
//! names repeat, exactly or ignoring letter case, is refused. JSON parsers disagree on such an
//! object (Python and PHP take the last of two equal names, some the first; Go's `encoding/json`,
//! ASP.NET and Jackson's case-insensitive option match `OrgId` to an `orgId` field), so the org the
//! sidecar checked need not be the org the app reads.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// Why an object with a repeated member name is refused.
const REPEATED_NAME: &str = "it repeats a member name (exactly or in other letter cases)";

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

/// An object's members in order; no two names are equal ignoring letter case.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// Parses `bytes` as a JSON object in which no object repeats a member name.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Object<'a>, &'static str> {
        match serde_json::from_slice::<Json<'a>>(bytes) {
            Ok(Json::Object(object)) => Ok(object),
            Ok(_) => Err("it is not a JSON object"),
            // The one data error the visitor raises: anything else is a syntax error.
            Err(error) if error.classify() == serde_json::error::Category::Data => {
                Err(REPEATED_NAME)
            }
            Err(_) => Err("it is not JSON"),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.members
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The first of `fields` that a member spells with other letter cases only (`OrgId` for
    /// `orgId`): a runtime that matches names ignoring case would read that member as the field,
    /// which the sidecar, reading the exact name, never checked.
    pub(crate) fn case_variant_of<'f>(&self, fields: &[&'f str]) -> Option<&'f str> {
        fields.iter().copied().find(|field| {
            self.names()
                .any(|name| name != *field && same_ignoring_case(name, field))
        })
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
        // Each element is read (and dropped) so that an object inside an array is checked too.
        while seq.next_element::<Json<'de>>()?.is_some() {}
        Ok(Json::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // No room reserved ahead: `{}` costs nothing, so many small objects (a context that is
        // `[{},{},…]`) cost little before it is refused.
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value::<Json<'de>>()?));
        }
        if repeats_a_name(&members) {
            return Err(A::Error::custom(REPEATED_NAME));
        }
        Ok(Json::Object(Object { members }))
    }
}

/// Whether two of the members' names are equal ignoring letter case. Objects are small (a context
/// has about ten members), so names are compared pairwise; a large one is sorted by its folded
/// names, so that no object makes the check quadratic.
fn repeats_a_name(members: &[(Cow<'_, str>, Json<'_>)]) -> bool {
    const PAIRWISE: usize = 16;
    if members.len() <= PAIRWISE {
        return members.iter().enumerate().any(|(i, (a, _))| {
            members[i + 1..]
                .iter()
                .any(|(b, _)| same_ignoring_case(a, b))
        });
    }
    let mut folded: Vec<String> = members
        .iter()
        .map(|(name, _)| name.chars().map(fold_case).collect())
        .collect();
    folded.sort_unstable();
    folded.windows(2).any(|pair| pair[0] == pair[1])
}

/// Whether `a` and `b` are one name to a runtime that matches names ignoring case.
fn same_ignoring_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().map(fold_case).eq(b.chars().map(fold_case))
}

/// A character as case-insensitive matchers compare it: ASCII in lower case, and the few other
/// characters whose case mapping is an ASCII letter folded onto it. Go's `encoding/json` matches
/// `ſ` (U+017F) with `s` and the Kelvin sign (U+212A) with `k`; .NET upper-cases `ı` to `I`.
fn fold_case(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    one_ascii(c.to_uppercase())
        .or_else(|| one_ascii(c.to_lowercase()))
        .unwrap_or(c)
}

/// The mapping's one character, in lower case, when it is a single ASCII character.
fn one_ascii(mut mapped: impl Iterator<Item = char>) -> Option<char> {
    let first = mapped.next()?;
    (mapped.next().is_none() && first.is_ascii()).then(|| first.to_ascii_lowercase())
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
        let text = br#"{"a":"x","b":7,"c":{"d":"e\"f"},"g":[1,{"h":2}],"i":null,"j":true,"k":"y"}"#;
        let object = Object::parse(text).unwrap();
        assert_eq!(object.get("a"), Some(&Json::Str("x".into())));
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
    fn refuses_a_name_repeated_at_any_depth_in_any_case() {
        for text in [
            r#"{"orgId":"a","orgId":"b"}"#,
            r#"{"orgId":"a","OrgId":"b"}"#,
            r#"{"orgId":"a","ORGID":"b"}"#,
            r#"{"orgId":"a","org\u0049d":"b"}"#,
            r#"{"u":{"userId":"a","userid":"b"}}"#,
            r#"{"list":[1,{"x":1,"X":2}]}"#,
            r#"{"deep":{"er":{"x":1,"x":2}}}"#,
            // Go folds U+017F with 's', the Kelvin sign with 'k'; .NET 'ı' with 'I'.
            r#"{"userContext":1,"u\u017ferContext":2}"#,
            r#"{"k":1,"\u212a":2}"#,
            r#"{"orgId":1,"org\u0131d":2}"#,
        ] {
            assert_eq!(Object::parse(text.as_bytes()), Err(REPEATED_NAME), "{text}");
        }
        // Past the pairwise size, the sorted check finds the same.
        let mut many: Vec<String> = (0..40).map(|i| format!("\"m{i}\":{i}")).collect();
        many.push("\"M7\":0".into());
        let text = format!("{{{}}}", many.join(","));
        assert_eq!(Object::parse(text.as_bytes()), Err(REPEATED_NAME));
        many.pop();
        let text = format!("{{{}}}", many.join(","));
        assert!(Object::parse(text.as_bytes()).is_ok());
        // Equal names in different objects are no repetition.
        assert!(Object::parse(br#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#).is_ok());
    }

    #[test]
    fn finds_a_case_variant_of_a_field() {
        let object = Object::parse(br#"{"OrgId":"x","apiVersion":"1"}"#).unwrap();
        assert_eq!(
            object.case_variant_of(&["apiVersion", "orgId"]),
            Some("orgId")
        );
        assert_eq!(object.case_variant_of(&["apiVersion", "namespace"]), None);
        let object = Object::parse("{\"u\u{17f}erContext\":{}}".as_bytes()).unwrap();
        assert_eq!(
            object.case_variant_of(&["userContext"]),
            Some("userContext")
        );
        // Not every non-ASCII letter folds onto ASCII: 'İ' lower-cases to two characters.
        let object = Object::parse("{\"org\u{130}d\":1}".as_bytes()).unwrap();
        assert_eq!(object.case_variant_of(&["orgId"]), None);
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
