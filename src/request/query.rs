//! The query string as the app's runtimes read it (docs/behaviour.md §4.2, §4.4). The sidecar
//! forwards the query as it came and the app parses it again, so a parameter the sidecar relies on
//! must have one reading in every runtime:
//!
//! - parsers disagree on a repeated name: PHP's `$_GET` and Django take the last, Go, Java
//!   servlets and Node's `URLSearchParams` the first, ASP.NET joins them;
//! - Rack 2 (Debian 12's) and old Python also split at `;`, so `a=1;orgId=x` holds an `orgId`;
//! - PHP registers a name with leading spaces dropped, ` ` and `.` read as `_` and anything from
//!   `[` on as an array index (so ` orgId`, `orgId[]` and `.method` are `orgId`, `orgId` and
//!   `_method` to it); Rack 2 drops leading `[` and `]` and cuts at the next one (`]orgId`,
//!   `[orgId]` and `orgId]` are `orgId`), and so does Express's `qs`; ASP.NET matches names
//!   ignoring case.

use std::borrow::Cow;

type Pair<'q> = (Cow<'q, str>, Cow<'q, str>);

/// The `name=value` pairs as the standard splits the query: at `&`.
fn at_ampersands(query: &str) -> impl Iterator<Item = Pair<'_>> {
    form_urlencoded::parse(query.as_bytes())
}

/// The pairs as Rack 2 and old Python split the query: at `&` and at `;`.
fn at_semicolons_too(query: &str) -> impl Iterator<Item = Pair<'_>> {
    query
        .split(';')
        .flat_map(|part| form_urlencoded::parse(part.as_bytes()))
}

/// A parameter's name as PHP and Rack register it, both ways at once: leading spaces (PHP) and
/// brackets (Rack) dropped, cut at a NUL (PHP) or at a bracket (an array or hash index follows),
/// ` ` and `.` read as `_` (PHP).
fn runtime_name(name: &str) -> Cow<'_, str> {
    let name = name.trim_start_matches([' ', '[', ']']);
    let name = name.split(['[', ']', '\0']).next().unwrap_or_default();
    if name.contains([' ', '.']) {
        Cow::Owned(name.replace([' ', '.'], "_"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Whether some runtime reads `name` as `wanted` (ignoring ASCII case, as ASP.NET does).
fn reads_as(name: &str, wanted: &str) -> bool {
    runtime_name(name).eq_ignore_ascii_case(wanted)
}

/// Whether a runtime would take a `_method` parameter from the query, with which Symfony, Laravel,
/// Express' `methodOverride('_method')`, Spring's `HiddenHttpMethodFilter` and gorilla run a `POST`
/// as another method (docs/behaviour.md §4.2).
pub(crate) fn names_method_override(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        at_ampersands(query)
            .chain(at_semicolons_too(query))
            .any(|(name, _)| reads_as(&name, "_method"))
    })
}

/// The one value of the parameter `name`, which the app will read again: `Ok(None)` when no
/// runtime finds it; `Err` when runtimes could read it differently, because it is repeated (in any
/// spelling a runtime folds onto it), spelled other than exactly `name`, or split by a `;`.
pub(crate) fn single_value(query: &str, name: &str) -> Result<Option<String>, String> {
    let named = |pair: &Pair<'_>| reads_as(&pair.0, name);
    let standard: Vec<Pair<'_>> = at_ampersands(query).filter(named).collect();
    let split_at_semicolons: Vec<Pair<'_>> = at_semicolons_too(query).filter(named).collect();
    if standard.len() > 1 || split_at_semicolons.len() > 1 {
        return Err(format!(
            "the {name} query parameter must appear once (parsers disagree on which of several \
             an app reads)"
        ));
    }
    if standard != split_at_semicolons {
        return Err(format!(
            "the {name} query parameter must not be next to a ';' (some parsers split there)"
        ));
    }
    match standard.into_iter().next() {
        None => Ok(None),
        Some((key, _)) if key != name => Err(format!(
            "the {name} query parameter must be spelled exactly {name}"
        )),
        Some((_, value)) => Ok(Some(value.into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_method_overrides_as_runtimes_name_them() {
        for query in [
            "_method=DELETE",
            "a=1&_METHOD=delete",
            "a=1;_method=DELETE",
            "%5Fmethod=DELETE",
            ".method=DELETE",
            "%20_method=DELETE",
            "_method[]=DELETE",
            "]_method=DELETE",
            "[_method]=DELETE",
            "_method",
        ] {
            assert!(names_method_override(Some(query)), "{query}");
        }
        for query in [
            "method=DELETE",
            "+method=DELETE",
            "x_method=DELETE",
            "a=_method",
            "_methods=1",
            "",
        ] {
            assert!(!names_method_override(Some(query)), "{query}");
        }
        assert!(!names_method_override(None));
    }

    #[test]
    fn a_parameter_read_once_everywhere_passes() {
        for (query, expected) in [
            ("orgId=00D1&apiName=a", Some("00D1")),
            ("apiName=a&orgId=00D%31", Some("00D1")),
            ("x=1;y=2&orgId=00D1", Some("00D1")),
            ("orgIdentity=1&xorgId=2", None),
            ("", None),
        ] {
            assert_eq!(
                single_value(query, "orgId").unwrap().as_deref(),
                expected,
                "{query}"
            );
        }
    }

    #[test]
    fn a_parameter_runtimes_could_read_differently_is_refused() {
        for query in [
            "orgId=own&apiName=a&orgId=other",
            "orgId=own&orgId=own",
            "orgId=own&OrgId=other",
            "orgId=own&orgId[]=other",
            "orgId=own&]orgId=other",
            "orgId=own&[orgId]=other",
            "orgId=own&orgId]=other",
            "orgId=own&%20orgId=other",
            "orgId=own&orgId%00x=other",
            "orgId]=other",
            "orgId=own& orgId=other",
            "orgId=own&apiName=a;orgId=other",
            "apiName=a;orgId=other",
            "orgId[]=other",
            "ORGID=other",
            "orgId=own;x=1",
        ] {
            assert!(single_value(query, "orgId").is_err(), "{query}");
        }
    }
}
