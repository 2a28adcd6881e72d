//! Property tests for `headers` (proptest), run with the unit tests.

use super::*;
use proptest::prelude::*;

/// A protected name or a name like it, in any case, with `-`, `_` or `.`.
fn header_name() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        "x-request-context",
        "x-client-context",
        "x-applink-org-id",
        "x-applink-user-id",
        "x-applink-anything",
        "x-signature",
        "x-request-id",
        "x-other",
        "accept",
    ]);
    (
        base,
        prop::collection::vec(any::<bool>(), 24),
        prop::collection::vec(0..3u8, 24),
    )
        .prop_map(|(base, upper, separator)| {
            base.chars()
                .enumerate()
                .map(|(i, c)| match c {
                    '-' => ['-', '_', '.'][usize::from(separator[i % 24])],
                    c if upper[i % 24] => c.to_ascii_uppercase(),
                    c => c,
                })
                .collect()
        })
}

/// Whether a WSGI/Rack/PHP app (which reads `_`, and PHP `.`, as `-`) would take `name` for a
/// protected one.
fn reads_as_protected(name: &str) -> bool {
    let dashed = name.to_ascii_lowercase().replace(['_', '.'], "-");
    dashed == REQUEST_CONTEXT.as_str()
        || dashed == CLIENT_CONTEXT.as_str()
        || dashed.starts_with(APPLINK_PREFIX)
        // The signature and the request id may come as trailers only spelled as such.
        || ((dashed == SIGNATURE.as_str() || dashed == REQUEST_ID.as_str())
            && dashed != name.to_ascii_lowercase())
}

proptest! {
    /// After the trailer rules (the header rules with CC always removed), nothing left reads as
    /// a protected name.
    #[test]
    fn no_protected_name_survives(names in prop::collection::vec(header_name(), 0..12)) {
        let mut map = HeaderMap::new();
        for name in &names {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), http::HeaderValue::from_static("v"));
        }
        filter_trailers(&mut map);
        for name in map.keys() {
            prop_assert!(!reads_as_protected(name.as_str()), "{name} survived");
        }
    }
}
