//! Header names and the header rules of docs/behaviour.md §4.3 and §6: protected headers,
//! hop-by-hop stripping; names as the app's runtime folds them are in [`folding`].

mod folding;

pub(crate) use folding::{remove_disguised_protected_names, remove_method_overrides};

use http::header::{self, HeaderMap, HeaderName};

// Names as `HeaderName` constants: a lookup by `&str` parses the name on every call.
pub(crate) const REQUEST_CONTEXT: HeaderName = HeaderName::from_static("x-request-context");
pub(crate) const CLIENT_CONTEXT: HeaderName = HeaderName::from_static("x-client-context");
pub(crate) const SIGNATURE: HeaderName = HeaderName::from_static("x-signature");
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) const MESH_ERROR: HeaderName = HeaderName::from_static("x-applink-mesh-error");
pub(crate) const MESH_MODE: HeaderName = HeaderName::from_static("x-applink-mesh-mode");
// The decoded context the app receives (docs/behaviour.md §6).
pub(crate) const APPLINK_ORG_ID: HeaderName = HeaderName::from_static("x-applink-org-id");
pub(crate) const APPLINK_ORG_DOMAIN_URL: HeaderName =
    HeaderName::from_static("x-applink-org-domain-url");
pub(crate) const APPLINK_USER_ID: HeaderName = HeaderName::from_static("x-applink-user-id");
pub(crate) const APPLINK_USERNAME: HeaderName = HeaderName::from_static("x-applink-username");
pub(crate) const APPLINK_API_VERSION: HeaderName = HeaderName::from_static("x-applink-api-version");
pub(crate) const APPLINK_NAMESPACE: HeaderName = HeaderName::from_static("x-applink-namespace");
pub(crate) const APPLINK_REQUEST_KIND: HeaderName =
    HeaderName::from_static("x-applink-request-kind");
/// Prefix of the decoded context headers the sidecar adds; never accepted from a caller.
pub(crate) const APPLINK_PREFIX: &str = "x-applink-";
/// Prefix of the sidecar's own response headers; never passed on from the app.
pub(crate) const MESH_PREFIX: &str = "x-applink-mesh-";

/// Headers that may appear at most once (docs/behaviour.md §4.3).
pub(crate) const SINGLE_VALUED: [(HeaderName, &str); 4] = [
    (REQUEST_CONTEXT, "x-request-context"),
    (CLIENT_CONTEXT, "x-client-context"),
    (SIGNATURE, "x-signature"),
    (REQUEST_ID, "x-request-id"),
];

/// The first of [`SINGLE_VALUED`] that appears more than once.
pub(crate) fn first_duplicate(headers: &HeaderMap) -> Option<&'static str> {
    // The usual case, no name at all more than once, without a lookup.
    if headers.len() == headers.keys_len() {
        return None;
    }
    SINGLE_VALUED
        .into_iter()
        .find(|(name, _)| headers.get_all(name).iter().nth(1).is_some())
        .map(|(_, spelled)| spelled)
}

/// Removes every inbound `x-applink-*` header: only the sidecar sets those.
pub(crate) fn remove_applink_headers(headers: &mut HeaderMap) {
    remove_prefixed(headers, APPLINK_PREFIX);
}

/// Removes the app's `x-applink-mesh-*` response headers (or trailers): those say what the
/// sidecar did, and only the sidecar says it.
pub(crate) fn remove_mesh_headers(headers: &mut HeaderMap) {
    remove_prefixed(headers, MESH_PREFIX);
}

fn remove_prefixed(headers: &mut HeaderMap, prefix: &str) {
    remove_where(headers, |name| name.starts_with(prefix));
}

/// Removes every header whose name `doomed` picks.
fn remove_where(headers: &mut HeaderMap, doomed: impl Fn(&str) -> bool) {
    // The common case, nothing to remove, allocates nothing.
    if !headers.keys().any(|name| doomed(name.as_str())) {
        return;
    }
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| doomed(name.as_str()))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

/// Hop-by-hop headers (RFC 9110, HTTP Semantics, section 7.6.1), plus `Proxy-Connection` that old
/// clients still send and `HTTP2-Settings`, which only means something with an h2c upgrade
/// (RFC 7540, HTTP/2, section 3.2), never forwarded: an app that upgrades loosely must not be
/// talked into HTTP/2 past the sidecar.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("http2-settings"),
];

/// The comma-separated tokens of every `Connection` header, trimmed.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Strips hop-by-hop headers and any header the `Connection` header names. For an upgrade, the
/// `Connection` and `Upgrade` headers themselves are kept so the handshake reaches the other side.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // The usual case, none of them (HTTP/1.1 keeps connections alive without `Connection`), in one
    // pass of comparisons rather than a lookup per name; a name `Connection` nominates can be
    // there only with `Connection` itself.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let nominated: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
        .filter(|name| !(keep_upgrade && name == header::UPGRADE))
        .collect();
    for name in nominated {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        if keep_upgrade && (name == header::CONNECTION || name == header::UPGRADE) {
            continue;
        }
        headers.remove(name);
    }
}

/// Whether the request asks to upgrade to WebSocket, the one upgrade the sidecar forwards. Any
/// other (`h2c`, ...) is answered as a plain request: its `Upgrade` is stripped as hop-by-hop.
pub(crate) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let websocket = headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket"));
    websocket && connection_tokens(headers).any(|token| token.eq_ignore_ascii_case("upgrade"))
}

/// Removes from request trailers what is removed from request headers: the context headers,
/// inbound `x-applink-*`, their spellings with `_` or `.`, method overrides and hop-by-hop names.
/// A trailer was never checked, so not even a verified `x-client-context` may arrive as one.
pub(crate) fn filter_trailers(trailers: &mut HeaderMap) {
    remove_disguised_protected_names(trailers);
    remove_method_overrides(trailers);
    remove_applink_headers(trailers);
    trailers.remove(REQUEST_CONTEXT);
    trailers.remove(CLIENT_CONTEXT);
    strip_hop_by_hop(trailers, false);
}

/// The size of the header section as it travelled: names, values and separators.
pub(crate) fn header_bytes(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().len() + value.len() + 4) as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn the_apps_mesh_headers_are_removed_and_nothing_else() {
        let mut headers = map(&[
            ("x-applink-mesh-error", "forbidden"),
            ("x-applink-mesh-mode", "dev"),
            ("x-applink-org-id", "00D"),
            ("x-app", "1"),
        ]);
        remove_mesh_headers(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["x-app", "x-applink-org-id"]);
    }

    #[test]
    fn finds_duplicates_of_single_valued_headers() {
        assert_eq!(
            first_duplicate(&map(&[("x-signature", "a"), ("x-signature", "b")])),
            Some("x-signature")
        );
        assert_eq!(
            first_duplicate(&map(&[
                ("x-request-id", "a"),
                ("accept", "1"),
                ("accept", "2")
            ])),
            None
        );
    }

    #[test]
    fn strips_hop_by_hop_and_nominated_headers() {
        let mut headers = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-forwarded-for", "1.2.3.4"),
            ("accept", "a"),
            ("accept", "b"),
        ]);
        strip_hop_by_hop(&mut headers, false);
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept", "x-forwarded-for"]);
        assert_eq!(headers.get_all("accept").iter().count(), 2);
    }

    #[test]
    fn only_websocket_is_an_upgrade_and_http2_settings_never_passes() {
        for (connection, upgrade, expected) in [
            ("Upgrade", "websocket", true),
            ("keep-alive, upgrade", "WebSocket", true),
            ("Upgrade", "h2c", false),
            ("Upgrade, HTTP2-Settings", "h2c", false),
            ("close", "websocket", false),
        ] {
            let headers = map(&[("connection", connection), ("upgrade", upgrade)]);
            assert_eq!(
                is_websocket_upgrade(&headers),
                expected,
                "{connection} / {upgrade}"
            );
        }
        for connection in ["Upgrade, x HTTP2-Settings", "HTTP2-Settings;", "upgrade"] {
            let mut headers = map(&[
                ("connection", connection),
                ("upgrade", "websocket"),
                ("http2-settings", "AAMAAABkAAQAAP__"),
            ]);
            strip_hop_by_hop(&mut headers, true);
            assert!(!headers.contains_key("http2-settings"), "{connection}");
        }
    }

    #[test]
    fn trailers_lose_every_protected_name() {
        let mut trailers = map(&[
            ("x-applink-org-id", "forged"),
            ("x-client-context", "forged"),
            ("x-request-context", "forged"),
            ("x_client_context", "forged"),
            ("X_Applink_User_Id", "forged"),
            ("X.Client.Context", "forged"),
            ("x.http.method.override", "DELETE"),
            ("x-checksum", "kept"),
        ]);
        filter_trailers(&mut trailers);
        let names: Vec<&str> = trailers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-checksum"]);
    }

    #[test]
    fn each_hop_by_hop_name_alone_is_stripped() {
        for name in HOP_BY_HOP {
            let mut headers = map(&[(name.as_str(), "x"), ("accept", "a")]);
            strip_hop_by_hop(&mut headers, false);
            let names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
            assert_eq!(names, ["accept"], "{name}");
        }
        let mut none = map(&[("accept", "a"), ("x-keep-alive", "1"), ("accept", "b")]);
        strip_hop_by_hop(&mut none, false);
        assert_eq!(none.len(), 3);
    }

    #[test]
    fn repeats_of_other_names_are_no_duplicates() {
        assert_eq!(
            first_duplicate(&map(&[
                ("accept", "a"),
                ("accept", "b"),
                ("x-request-id", "1")
            ])),
            None
        );
        assert_eq!(
            first_duplicate(&map(&[
                ("accept", "a"),
                ("x-request-id", "1"),
                ("x-request-id", "2")
            ])),
            Some("x-request-id")
        );
    }

    #[test]
    fn keeps_upgrade_handshake_headers() {
        let mut headers = map(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("keep-alive", "1"),
        ]);
        assert!(is_websocket_upgrade(&headers));
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(headers["connection"], "Upgrade");
        assert_eq!(headers["upgrade"], "websocket");
        assert!(!headers.contains_key("keep-alive"));
    }
}

#[cfg(test)]
mod properties;
