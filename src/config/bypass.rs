//! A `bypassRoutes` entry as the YAML file writes it (docs/behaviour.md §4.2): a glob string, or
//! `path` with `methods`; anything else refused with the entry it means.

use serde::Deserialize;

use super::BypassRoute;

/// One `bypassRoutes` entry as written: a glob string (`- "/public/**"`, every method), or a map
/// with `path` and `methods` (`- { path: /webhooks/**, methods: [POST] }`). Users coming from
/// other routers write `pathPrefix:`; that is refused with the equivalent entry.
impl<'de> Deserialize<'de> for BypassRoute {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BypassRouteVisitor)
    }
}

struct BypassRouteVisitor;

impl<'de> serde::de::Visitor<'de> for BypassRouteVisitor {
    type Value = BypassRoute;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a route glob, e.g. \"/api/**\", or `path:` with `methods:`")
    }

    fn visit_str<E>(self, v: &str) -> Result<BypassRoute, E> {
        Ok(BypassRoute::any_method(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<BypassRoute, E> {
        Ok(BypassRoute::any_method(&v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<BypassRoute, E> {
        Ok(BypassRoute::any_method(&v.to_string()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<BypassRoute, A::Error> {
        use serde::de::Error;
        let (mut path, mut methods, mut other) = (None, None, None);
        while let Some((key, value)) = map.next_entry::<String, serde_norway::Value>()? {
            match key.as_str() {
                "path" => path = Some(value),
                "methods" => methods = Some(value),
                _ if other.is_none() => other = Some((key, value)),
                _ => {}
            }
        }
        if let Some((key, value)) = other {
            let written = value.as_str().unwrap_or_default().trim_end_matches('/');
            let hint = match key.as_str() {
                "pathPrefix" | "prefix" if !written.is_empty() => {
                    format!("write `path: {written}/**` (a glob) instead")
                }
                _ => "an entry takes `path` (a glob) and, optionally, `methods`".to_string(),
            };
            return Err(A::Error::custom(format!(
                "bypassRoutes entries have no `{key}:`: {hint}"
            )));
        }
        let glob = match path {
            Some(serde_norway::Value::String(glob)) => glob,
            Some(_) => {
                return Err(A::Error::custom(
                    "a bypassRoutes `path` is a glob written as a string, e.g. \"/webhooks/**\"",
                ));
            }
            None => {
                return Err(A::Error::custom(
                    "a bypassRoutes entry written as a map needs `path:` (a glob), e.g. `- path: /webhooks/**`",
                ));
            }
        };
        let methods = match methods {
            None => Vec::new(),
            Some(value) => parse_methods(&value).map_err(A::Error::custom)?,
        };
        Ok(BypassRoute { glob, methods })
    }
}

/// `methods: [POST, put]`: HTTP method names, upper-cased; at least one.
fn parse_methods(value: &serde_norway::Value) -> Result<Vec<String>, String> {
    let listed = match value {
        serde_norway::Value::Sequence(listed) => listed.as_slice(),
        serde_norway::Value::String(_) => std::slice::from_ref(value),
        _ => return Err("bypassRoutes `methods` is a list of HTTP methods, e.g. [POST]".into()),
    };
    if listed.is_empty() {
        return Err(
            "bypassRoutes `methods` is empty: list the methods that skip authentication, or leave `methods` out for every method"
                .into(),
        );
    }
    listed
        .iter()
        .map(|method| {
            let name = method.as_str().unwrap_or_default().to_ascii_uppercase();
            match http::Method::from_bytes(name.as_bytes()) {
                Ok(_) if !name.is_empty() => Ok(name),
                _ => Err(format!(
                    "bypassRoutes `methods`: {method:?} is not an HTTP method"
                )),
            }
        })
        .collect()
}
