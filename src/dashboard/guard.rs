//! Who may see the dashboard (docs/behaviour.md §13), and what its answers tell the browser.
//!
//! Three locks, all required:
//! - **This machine.** A loopback peer that names the dashboard as `localhost` or a loopback
//!   address, so a page elsewhere cannot reach it through a DNS name rebound to 127.0.0.1.
//! - **Not relayed.** A request that carries any mark of a proxy or tunnel (`Forwarded`,
//!   `X-Forwarded-*`, `X-Real-IP`, `Via`, `CF-Connecting-IP`, `True-Client-IP`, …) came from
//!   elsewhere, even when the relay rewrote `Host` to `localhost`.
//! - **The run's token**, as Jupyter does: a random token made at start-up is printed in the
//!   dashboard's URL. A visit with `?token=` sets a cookie (`HttpOnly`, `SameSite=Strict`, this
//!   run's own name) and the page's own calls carry it; anything with neither gets 403. A plain TCP
//!   forwarder (`ssh -R`, socat) marks nothing, but it cannot know the token.
//!
//! Every answer carries a strict Content-Security-Policy (the page's one script and one style
//! allowed by their hashes, nothing inline else, no framing), `X-Frame-Options: DENY`,
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, StatusCode};
use sha2::{Digest, Sha256};

/// Headers whose presence says a proxy or tunnel relayed the request; `x-forwarded-*` as a
/// prefix.
const RELAY_MARKS: [&str; 9] = [
    "forwarded",
    "via",
    "x-real-ip",
    "cf-connecting-ip",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "x-original-forwarded-for",
];
const FORWARDED_PREFIX: &str = "x-forwarded-";

/// Why a request may not see the dashboard.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not from this machine, or relayed.
    Elsewhere,
    /// Without this run's token or its cookie.
    NoToken,
}

impl Refusal {
    pub(crate) fn message(&self) -> &'static str {
        match self {
            Refusal::Elsewhere => {
                "the dashboard answers only on this machine, not through a proxy or tunnel: open it at http://localhost:<port>/__applink/"
            }
            Refusal::NoToken => {
                "open the dashboard with the URL the sidecar printed at start-up: it carries this run's token"
            }
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
}

/// How a request that may see the dashboard proved it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// With this run's cookie.
    Cookie,
    /// With the token in the query: the answer sets the cookie.
    Token,
}

/// This run's token and the headers built from it and the page, once at start-up.
pub(crate) struct Guard {
    token: String,
    cookie_name: String,
    content_security_policy: HeaderValue,
}

impl Guard {
    pub(crate) fn new(page: &str) -> Guard {
        let token = uuid::Uuid::new_v4().simple().to_string();
        // This run's own cookie name, so two sidecars on one machine do not log each other out.
        let digest = Sha256::digest(token.as_bytes());
        let cookie_name = format!("applink_dashboard_{}", hex(&digest[..6]));
        let policy = format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
             img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash_of_element(page, "script"),
            hash_of_element(page, "style"),
        );
        Guard {
            token,
            cookie_name,
            content_security_policy: HeaderValue::from_str(&policy)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
        }
    }

    /// The path and query that open the dashboard in a browser.
    pub(crate) fn entry(&self, prefix: &str) -> String {
        format!("{prefix}/?token={}", self.token)
    }

    /// Whether `request`, from a peer that is `local` or not, may see the dashboard.
    pub(crate) fn check<B>(&self, request: &Request<B>, local: bool) -> Result<Admitted, Refusal> {
        if !(local && names_this_machine(request) && !relayed(request.headers())) {
            return Err(Refusal::Elsewhere);
        }
        if self.has_cookie(request.headers()) {
            return Ok(Admitted::Cookie);
        }
        let mut tokens = request.uri().query().into_iter().flat_map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .filter(|(name, _)| name == "token")
                .map(|(_, value)| value.into_owned())
        });
        if tokens.any(|token| same_secret(&token, &self.token)) {
            return Ok(Admitted::Token);
        }
        Err(Refusal::NoToken)
    }

    fn has_cookie(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie_name && same_secret(value, &self.token))
    }

    /// The `Set-Cookie` that lets the page's own calls in, for this run only.
    pub(crate) fn set_cookie(&self, path: &str) -> HeaderValue {
        let cookie = format!(
            "{}={}; Path={path}; HttpOnly; SameSite=Strict",
            self.cookie_name, self.token
        );
        HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
    }

    /// The headers on every dashboard answer.
    pub(crate) fn protect(&self, headers: &mut HeaderMap) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            self.content_security_policy.clone(),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// A proxy or tunnel relayed the request.
fn relayed(headers: &HeaderMap) -> bool {
    headers.keys().any(|name| {
        let name = name.as_str();
        name.starts_with(FORWARDED_PREFIX) || RELAY_MARKS.contains(&name)
    })
}

/// The host the request names (`Host`, or an HTTP/2 `:authority`) is `localhost` or a loopback
/// address.
fn names_this_machine<B>(request: &Request<B>) -> bool {
    let host = request.uri().host().map(str::to_string).or_else(|| {
        let value = request.headers().get(header::HOST)?.to_str().ok()?;
        let authority: http::uri::Authority = value.parse().ok()?;
        Some(authority.host().to_string())
    });
    host.is_some_and(|host| crate::config::is_loopback(&host))
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

/// The CSP hash source (`sha256-…`) of the text of the page's first `<tag>` element.
fn hash_of_element(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let text = page
        .split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map_or("", |(text, _)| text);
    format!(
        "sha256-{}",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str, extra: &[(&str, &str)], query: &str) -> Request<()> {
        let mut builder = Request::builder()
            .uri(format!("/__applink/api/requests{query}"))
            .header(header::HOST, host);
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn guard_and_token() -> (Guard, String) {
        let guard = Guard::new("<script>x</script><style>y</style>");
        let token = format!("?token={}", guard.token);
        (guard, token)
    }

    #[test]
    fn this_machine_with_the_token_or_its_cookie_is_let_in() {
        let (guard, token) = guard_and_token();
        let cookie = format!("other=1; {}={}", guard.cookie_name, guard.token);
        for host in [
            "localhost:8070",
            "127.0.0.1:8070",
            "[::1]:8070",
            "LOCALHOST",
        ] {
            assert_eq!(
                guard.check(&request(host, &[], &token), true),
                Ok(Admitted::Token),
                "{host}"
            );
            assert_eq!(
                guard.check(&request(host, &[("cookie", &cookie)], ""), true),
                Ok(Admitted::Cookie),
                "{host}"
            );
        }
    }

    #[test]
    fn no_token_a_wrong_one_or_a_stale_cookie_is_refused() {
        let (guard, _) = guard_and_token();
        let no_token = guard.check(&request("localhost", &[], ""), true);
        assert_eq!(no_token, Err(Refusal::NoToken));
        let wrong = format!("?token={}", "0".repeat(32));
        assert_eq!(
            guard.check(&request("localhost", &[], &wrong), true),
            Err(Refusal::NoToken)
        );
        let stale = format!("{}=0123", guard.cookie_name);
        assert_eq!(
            guard.check(&request("localhost", &[("cookie", &stale)], ""), true),
            Err(Refusal::NoToken)
        );
    }

    #[test]
    fn a_caller_elsewhere_another_host_or_a_relay_is_refused_even_with_the_token() {
        let (guard, token) = guard_and_token();
        assert_eq!(
            guard.check(&request("localhost", &[], &token), false),
            Err(Refusal::Elsewhere),
            "a caller elsewhere"
        );
        for host in ["evil.example", "192.168.1.5:8070", ""] {
            assert_eq!(
                guard.check(&request(host, &[], &token), true),
                Err(Refusal::Elsewhere),
                "{host:?}"
            );
        }
        for mark in [
            "forwarded",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "x-real-ip",
            "via",
            "cf-connecting-ip",
            "true-client-ip",
        ] {
            let relayed = request("localhost", &[(mark, "203.0.113.7")], &token);
            assert_eq!(
                guard.check(&relayed, true),
                Err(Refusal::Elsewhere),
                "{mark}"
            );
        }
    }

    #[test]
    fn each_run_has_its_own_token_and_cookie() {
        let (a, b) = (Guard::new(""), Guard::new(""));
        assert_ne!(a.token, b.token);
        assert_ne!(a.cookie_name, b.cookie_name);
        assert_eq!(a.token.len(), 32);
        let cookie = a.set_cookie("/__applink").to_str().unwrap().to_string();
        assert!(cookie.ends_with("; Path=/__applink; HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn the_policy_allows_the_pages_script_and_style_by_hash() {
        let guard = Guard::new("<style>a{}</style><script>go()</script>");
        let mut headers = HeaderMap::new();
        guard.protect(&mut headers);
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        let script = STANDARD.encode(Sha256::digest(b"go()"));
        assert!(
            policy.contains(&format!("script-src 'sha256-{script}'")),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
