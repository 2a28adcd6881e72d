//! Entry points for the fuzz targets in `fuzz/` (built only with the `fuzzing` feature): every
//! parser of untrusted input, each checking the property it must keep. A violated property panics,
//! which the fuzzer reports as a crash.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::BypassRoute;
use crate::request::auth::client_context::ClientContext;
use crate::request::auth::context::RequestContext;
use crate::request::headers;
use crate::request::routes::{self, Glob, RouteTable};

/// The context decoders: any bytes, no panic.
pub fn contexts(bytes: &[u8]) {
    let _ = RequestContext::decode(bytes);
    let lenient = ClientContext::decode(bytes);
    if let Ok(checked) = ClientContext::decode_checked(bytes) {
        // What the cross-check reads is what the lenient reading (the context headers) reads.
        assert_eq!(lenient, Ok(checked));
        // And what a strict standard decoder, as in the app's SDK, reads: the same, or nothing.
        use base64::Engine;
        if let Ok(strict) = base64::engine::general_purpose::STANDARD.decode(bytes) {
            let again = ClientContext::decode(
                base64::engine::general_purpose::STANDARD
                    .encode(strict)
                    .as_bytes(),
            );
            assert_eq!(again, lenient);
        }
    }
}

/// Path safety and the bypass decision: a path not in normal form is never bypassed, and one in
/// normal form has no traversal in any spelling.
pub fn path(path: &str) {
    let table = RouteTable::new(
        Some("/healthcheck".into()),
        &[
            BypassRoute::any_method("/public/**"),
            BypassRoute::any_method("/f*"),
        ],
        false,
    );
    match routes::check_path(path) {
        Err(_) => {}
        Ok(false) => assert_eq!(table.bypass("GET", path, false, false), None, "{path:?}"),
        Ok(true) => {
            let lower = path.to_ascii_lowercase();
            assert!(
                !path.contains("//") && !path.contains('\\') && !lower.contains("%2f"),
                "{path:?}"
            );
            for segment in lower[1..].split('/') {
                let bare = segment
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .replace("%2e", ".");
                assert!(bare != "." && bare != "..", "{path:?}");
            }
        }
    }
}

/// The glob matcher on any pattern and path (the first line is the pattern): no panic, and the
/// fuzzer's timeout catches a match that is not linear.
pub fn glob(input: &str) {
    let (pattern, path) = input.split_once('\n').unwrap_or((input, ""));
    let _ = Glob::new(pattern).matches(path);
}

/// The header rules on any header names (one per line): nothing an app would read as a protected
/// name (PHP folds `_` and `.` into `-`) survives the trailer rules.
pub fn trailer_names(input: &str) {
    let mut map = HeaderMap::new();
    for line in input.lines() {
        if let Ok(name) = HeaderName::from_bytes(line.as_bytes()) {
            map.append(name, HeaderValue::from_static("v"));
        }
    }
    headers::filter_trailers(&mut map);
    for name in map.keys() {
        let dashed = name.as_str().replace(['_', '.'], "-");
        assert!(
            dashed != headers::REQUEST_CONTEXT.as_str()
                && dashed != headers::CLIENT_CONTEXT.as_str()
                && !dashed.starts_with(headers::APPLINK_PREFIX),
            "{name} survived"
        );
    }
}
