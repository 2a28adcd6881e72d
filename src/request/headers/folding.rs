//! Header names as the app's runtime reads them (docs/behaviour.md §4.2, §4.3). PHP registers a
//! header in `$_SERVER` by upper-casing its name and turning `-`, `.` and space into `_`; WSGI and
//! Rack turn `-` into `_`. So `X.Client.Context` and `x_client_context` reach such an app as the
//! very `HTTP_X_CLIENT_CONTEXT` the sidecar verified, and whichever comes last wins. The sidecar
//! compares names after the same folding: ASCII case, and `-`, `_`, `.` as one character. (A space
//! cannot be in a header name.)

use http::header::HeaderMap;

use super::{APPLINK_PREFIX, SINGLE_VALUED, remove_where};

/// The router's `X-Forwarded-For`, `-Proto`, `-Port`: the app reads the client's address and
/// scheme from them, so a caller's `X_Forwarded_For` must not be joined to (WSGI) or replace
/// (PHP) the router's.
const FORWARDED_PREFIX: &str = "x-forwarded-";

/// A name byte as the runtimes fold it: lower case, with `_` and `.` read as `-`.
fn fold(byte: u8) -> u8 {
    match byte {
        b'_' | b'.' => b'-',
        other => other.to_ascii_lowercase(),
    }
}

/// Whether `name` folds onto `target` (a name spelled with `-`, in lower case).
fn folds_onto(name: &[u8], target: &[u8]) -> bool {
    name.len() == target.len() && name.iter().zip(target).all(|(a, b)| fold(*a) == *b)
}

/// Whether `name` folds onto a name that starts with `prefix`.
fn folds_onto_prefix(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len() && folds_onto(&name[..prefix.len()], prefix)
}

/// Whether a runtime could read `name` as one of the protected names (the context headers, the
/// signature, the request id, anything `x-applink-*` or `x-forwarded-*`) although it is not
/// spelled as one: with a `_` or a `.` where the protected name has `-`. (A `HeaderName` is in
/// lower case already.)
fn is_protected_in_disguise(name: &str) -> bool {
    let bytes = name.as_bytes();
    // Every protected name starts `x-`: most names are out after two bytes.
    if bytes.len() < 2 || fold(bytes[0]) != b'x' || fold(bytes[1]) != b'-' {
        return false;
    }
    if !bytes.iter().any(|b| *b == b'_' || *b == b'.') {
        return false;
    }
    folds_onto_prefix(bytes, APPLINK_PREFIX.as_bytes())
        || folds_onto_prefix(bytes, FORWARDED_PREFIX.as_bytes())
        || SINGLE_VALUED
            .iter()
            .any(|(_, spelled)| folds_onto(bytes, spelled.as_bytes()))
}

/// Removes every header that a runtime would read as a protected name although it is spelled
/// with `_` or `.` (docs/behaviour.md §4.3): a caller could otherwise hand the app a context, a
/// signature or a request id the sidecar never checked, or replace the one it did.
pub(crate) fn remove_disguised_protected_names(headers: &mut HeaderMap) {
    remove_where(headers, is_protected_in_disguise);
}

/// Headers with which frameworks let a request stand for another method (Rails' and Express'
/// method-override middleware, Symfony and Laravel behind a proxy, gorilla's handler).
const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Whether `name` folds onto a method-override header name.
fn is_method_override(name: &str) -> bool {
    METHOD_OVERRIDES
        .iter()
        .any(|dashed| folds_onto(name.as_bytes(), dashed.as_bytes()))
}

/// Removes the method-override headers, in any spelling that folds onto one: from a request let
/// through for its method only, an anonymous `POST` to a webhook must not reach the app as a
/// `DELETE` (docs/behaviour.md §4.2); and from every request's trailers, which cannot change a
/// method that was decided before the body.
pub(crate) fn remove_method_overrides(headers: &mut HeaderMap) {
    remove_where(headers, is_method_override);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn map(names: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for name in names {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        headers
    }

    fn names(headers: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn removes_every_disguise_of_a_protected_name() {
        let mut headers = map(&[
            "x_client_context",
            "x.client.context",
            "X.Client_Context",
            "x_request_context",
            "x.request-context",
            "x_applink_org_id",
            "X.Applink.Org.Id",
            "x.applink-anything",
            "x.signature",
            "x_request.id",
            "X_Forwarded_For",
            "x.forwarded.proto",
            "x-forwarded-for",
            "x-client-context",
            "x-request-id",
            "x_custom",
            "x.custom",
            "x-client-contexts",
            "content.type",
        ]);
        remove_disguised_protected_names(&mut headers);
        assert_eq!(
            names(&headers),
            [
                "content.type",
                "x-client-context",
                "x-client-contexts",
                "x-forwarded-for",
                "x-request-id",
                "x.custom",
                "x_custom",
            ]
        );
    }

    #[test]
    fn exact_spellings_and_other_names_are_not_disguises() {
        for name in [
            "x-client-context",
            "x-applink-org-id",
            "x-signature",
            "accept",
            "x",
            "x_",
            "x.y",
            "xx-applink-org-id",
            "x-applink",
        ] {
            assert!(!is_protected_in_disguise(name), "{name}");
        }
        for name in [
            "x.applink-",
            "x_applink_",
            "x-applink.org-id",
            "x_signature",
        ] {
            assert!(is_protected_in_disguise(name), "{name}");
        }
    }

    #[test]
    fn method_overrides_go_in_every_spelling() {
        let mut headers = map(&[
            "x-http-method-override",
            "x_http_method",
            "x-method_override",
            "x.http.method.override",
            "X.Method-Override",
            "x-http-method-overrides",
            "x-http-methodx",
            "x-method-overrid",
        ]);
        remove_method_overrides(&mut headers);
        assert_eq!(
            names(&headers),
            [
                "x-http-method-overrides",
                "x-http-methodx",
                "x-method-overrid"
            ]
        );
    }
}
