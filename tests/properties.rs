//! Generated requests against a running sidecar (docs/behaviour.md §4, §6): whatever a caller
//! sends, nothing reaches the app unless it was authenticated or its path matches a configured
//! bypass pattern, no protected name reaches it, as a header or as a trailer, and what does not
//! reach it gets the sidecar's answer with its reason.
//!
//! The fake AppLink API refuses everything, so only bypassed requests may reach the app.

use crate::common;

use common::{Answer, raw_request};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per run; each is one request over a real socket.
const CASES: u32 = 256;

/// One generated request.
#[derive(Debug, Clone)]
struct Attempt {
    method: &'static str,
    path: String,
    headers: Vec<(String, &'static str)>,
    trailers: Vec<String>,
}

/// A path (with a query, at times): half of them under the bypass, so what passes it is checked
/// often; the other half try every trick against it.
fn path() -> impl Strategy<Value = String> {
    let query = prop::option::of(prop::sample::select(vec![
        "?q=1",
        "?orgId=00D&apiName=A",
        "?/public/x",
    ]));
    (prop_oneof![bypassed_path(), tricky_path()], query)
        .prop_map(|(path, query)| path + query.unwrap_or(""))
}

/// A plain path under `/public`.
fn bypassed_path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b.png", "x-y"]), 0..3).prop_map(
        |pieces| {
            format!(
                "/public{}",
                pieces.iter().map(|p| format!("/{p}")).collect::<String>()
            )
        },
    )
}

/// A path of tricky segments (dots, encodings, separators, NUL) after a bypassed or health start.
#[rustfmt::skip]
fn tricky_path() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        "a", "public", "Public", "healthcheck", ".", "..", "%2e%2e", "%2E", "..;", "%2f", "%5C",
        "", "x;y", "%00", "*",
    ]);
    let separator = prop::sample::select(vec!["/", "/", "/", "//", "\\"]);
    (
        prop::sample::select(vec!["/public", "/healthcheck", ""]),
        prop::collection::vec((separator, tricky), 1..4),
    )
        .prop_map(|(start, pieces)| {
            let mut path = start.to_string();
            path.extend(pieces.into_iter().map(|(s, p)| format!("{s}{p}")));
            if !path.starts_with('/') {
                path.insert(0, '/');
            }
            path
        })
}

/// A protected name (or a spelling an app would read as one), or an innocent one.
fn name() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        "x-request-context",
        "x-client-context",
        "x-applink-org-id",
        "x-applink-request-kind",
        "x-signature",
        "x-other",
    ]);
    (base, 0..3usize, any::<bool>()).prop_map(|(base, separator, upper)| {
        // `-` as sent, or `_` or `.`, which PHP (and `_` WSGI and Rack) read as `-`.
        let name = base.replace('-', ["-", "_", "."][separator]);
        if upper {
            name.to_ascii_uppercase()
        } else {
            name
        }
    })
}

fn attempt() -> impl Strategy<Value = Attempt> {
    let method = prop::sample::select(vec![
        "GET", "POST", "PUT", "OPTIONS", "DELETE", "GET", "CONNECT",
    ]);
    let value = prop::sample::select(vec!["Zm9yZ2Vk", "e30", "00Dforged000000AAA", "x"]);
    let extra = prop_oneof![
        8 => prop::sample::select(vec![
            ("connection", "upgrade, http2-settings"),
            ("upgrade", "h2c"),
            ("upgrade", "websocket"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
            ("x-request-id", "rid-1"),
        ]),
        // Heads the HTTP layer itself refuses: a space in a name, an obsolete line folding.
        1 => prop::sample::select(vec![("bad name", "x"), ("x-folded", "a\r\n b")]),
    ];
    (
        method,
        path(),
        prop::collection::vec((name(), value), 0..5),
        prop::collection::vec(extra, 0..3),
        prop::collection::vec(name(), 0..4),
    )
        .prop_map(|(method, path, named, extra, trailers)| {
            let mut headers = named;
            headers.extend(extra.into_iter().map(|(n, v)| (n.to_string(), v)));
            Attempt {
                method,
                path,
                headers,
                trailers,
            }
        })
}

/// Whether an app that reads `_` and `.` as `-` (PHP) would take `name` for a protected header.
fn reads_as_protected(name: &str) -> bool {
    let dashed = name.to_ascii_lowercase().replace(['_', '.'], "-");
    dashed == "x-request-context"
        || dashed == "x-client-context"
        || dashed == "http2-settings"
        || (dashed.starts_with("x-applink-") && dashed != "x-applink-request-kind")
}

/// Whether the sidecar may let `target` through without authentication: `/public/**` or the
/// health route, in normal form.
fn may_bypass(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    let normal = !path.contains("//")
        && !path.contains('\\')
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !lower.contains("%00")
        && path[1..].split('/').all(|segment| {
            let bare = segment
                .split(';')
                .next()
                .unwrap_or_default()
                .replace("%2e", ".");
            bare != "." && bare != ".."
        });
    normal && (path == "/healthcheck" || path == "/public" || path.starts_with("/public/"))
}

fn request_bytes(attempt: &Attempt) -> (String, Vec<u8>) {
    let mut head = format!("{} {} HTTP/1.1\r\nhost: x", attempt.method, attempt.path);
    for (name, value) in &attempt.headers {
        head.push_str(&format!("\r\n{name}: {value}"));
    }
    if attempt.trailers.is_empty() {
        return (head, b"{}".to_vec());
    }
    head.push_str("\r\ntransfer-encoding: chunked\r\nte: trailers\r\ntrailer: ");
    head.push_str(&attempt.trailers.join(", "));
    let mut body = String::from("2\r\n{}\r\n0\r\n");
    for name in &attempt.trailers {
        body.push_str(&format!("{name}: Zm9yZ2Vk\r\n"));
    }
    body.push_str("\r\n");
    (head, body.into_bytes())
}

/// What reached the app for one attempt: only a bypass route, as a bypass, and with no name that
/// reads as a protected one in its headers or trailers.
fn only_bypassed_and_unprotected(
    reached: &[common::app::Received],
    attempt: &Attempt,
) -> Result<(), TestCaseError> {
    for seen in reached {
        prop_assert!(
            may_bypass(&seen.target),
            "{} reached the app: {attempt:?}",
            seen.target
        );
        let trailers = seen.trailers.iter().flat_map(|t| t.keys());
        for name in seen.headers.keys().chain(trailers) {
            prop_assert!(
                !reads_as_protected(name.as_str()),
                "{name} reached the app: {attempt:?}"
            );
        }
        prop_assert_eq!(&seen.headers["x-applink-request-kind"], "bypass");
    }
    Ok(())
}

#[test]
fn nothing_unauthenticated_or_protected_reaches_the_app() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, api, mesh) = runtime.block_on(common::production_with_public_bypass());
    api.always(Answer::status(403));
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let forwarded = std::cell::Cell::new(0);
    runner
        .run(&attempt(), |attempt| {
            let before = app.received().len();
            let (head, body) = request_bytes(&attempt);
            let reply = runtime.block_on(raw_request(mesh.addr, &head, &body));
            let received = app.received();
            prop_assert!(reply.status.as_u16() != 500, "a 500 for {attempt:?}");
            if received.len() == before {
                // Not forwarded, so the sidecar (or its HTTP layer) answered: always with a reason.
                prop_assert!(
                    reply.headers.contains_key("x-applink-mesh-error"),
                    "an answer without a reason ({}) for {attempt:?}",
                    reply.status
                );
            }
            forwarded.set(forwarded.get() + received.len() - before);
            only_bypassed_and_unprotected(&received[before..], &attempt)
        })
        .unwrap();
    eprintln!(
        "{CASES} generated requests, {} reached the app (bypassed), {} AppLink API calls, all refused",
        forwarded.get(),
        api.calls().len()
    );
}
