//! Every response the sidecar makes itself: one error type, one table from error to status and
//! reason, one function that turns it into a response.

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::body::{MeshBody, full};
use crate::request::headers::{MESH_ERROR, REQUEST_ID};

/// `Cache-Control` on every response the sidecar makes itself (docs/behaviour.md §10).
pub(crate) const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
/// The `WWW-Authenticate` challenge of a 401 (docs/behaviour.md §10).
const APPLINK_CHALLENGE: HeaderValue =
    HeaderValue::from_static("HerokuAppLink realm=\"Heroku AppLink\"");

/// How many header fields the HTTP/1.1 parser reads (hyper's fixed limit).
pub(crate) const MAX_HEADER_FIELDS: usize = 100;
/// The longest request target the HTTP/1.1 parser reads (hyper's fixed limit).
pub(crate) const MAX_TARGET_BYTES: usize = 65_534;

/// Why the sidecar answered a request itself instead of forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MeshError {
    /// The path contains NUL or cannot be parsed.
    BadPath(String),
    /// No Salesforce context and no Data Action Target signature.
    MissingContext,
    /// Only one of `x-request-context` and `x-client-context`.
    PartialContext {
        present: &'static str,
        missing: &'static str,
    },
    DuplicateHeader(&'static str),
    BadRequestContext(String),
    RequestIdMismatch(String),
    BadClientContext(String),
    BadDataActionTarget(String),
    /// The request body could not be read: broken chunked framing, or the caller went away.
    BadRequestBody,
    PayloadTooLarge {
        limit: u64,
    },
    HeadersTooLarge {
        limit: u64,
    },
    /// hyper could not parse the request line or a header (its automatic 400).
    MalformedHead,
    /// The request target is longer than hyper reads (its automatic 414).
    UriTooLong,
    /// `CONNECT`: the sidecar opens no tunnels.
    MethodNotAllowed,
    /// The AppLink API denied the request (401/403).
    Forbidden,
    /// The request context's `addonUuid` names no attached AppLink add-on.
    UnknownAddon,
    /// The AppLink API answered something unexpected (3xx, other 4xx).
    AuthError,
    /// The AppLink API is unavailable (429, 5xx, transport error).
    AuthUnavailable,
    AuthTimeout,
    AppUnavailable,
    AppTimeout,
    /// `timeouts.appBoot` passed and nothing ever accepted a connection where the app should listen.
    AppNeverListened,
    /// The app's processes listen, but not where the sidecar forwards: where they do, and the fix.
    AppListensElsewhere(String),
    /// The app answered 101 to a request that did not ask to upgrade.
    AppSwitchedProtocols,
    AppBooting,
    ShuttingDown,
    Overloaded,
    /// The memory budget for buffered Data Action Target bodies is spent.
    BodiesOverloaded,
}

impl MeshError {
    pub(crate) fn status(&self) -> StatusCode {
        use MeshError::*;
        match self {
            BadPath(_)
            | PartialContext { .. }
            | DuplicateHeader(_)
            | BadRequestContext(_)
            | RequestIdMismatch(_)
            | BadClientContext(_)
            | BadDataActionTarget(_)
            | BadRequestBody
            | MalformedHead => StatusCode::BAD_REQUEST,
            MissingContext => StatusCode::UNAUTHORIZED,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            UriTooLong => StatusCode::URI_TOO_LONG,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Forbidden | UnknownAddon => StatusCode::FORBIDDEN,
            AuthError | AppUnavailable | AppNeverListened | AppSwitchedProtocols => {
                StatusCode::BAD_GATEWAY
            }
            AuthUnavailable
            | AppBooting
            | AppListensElsewhere(_)
            | ShuttingDown
            | Overloaded
            | BodiesOverloaded => StatusCode::SERVICE_UNAVAILABLE,
            AuthTimeout | AppTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Whether this refusal is the authentication decision (docs/behaviour.md §4.4–5), the one the
    /// dry run reports instead of enforcing (docs/behaviour.md §4.6); the checks that keep a
    /// request well-formed and the sidecar within its limits are enforced in every mode.
    pub(crate) fn is_authentication_decision(&self) -> bool {
        use MeshError::*;
        matches!(
            self,
            MissingContext
                | PartialContext { .. }
                | BadRequestContext(_)
                | RequestIdMismatch(_)
                | BadClientContext(_)
                | BadDataActionTarget(_)
                | Forbidden
                | UnknownAddon
                | AuthError
                | AuthUnavailable
                | AuthTimeout
        )
    }

    /// The `x-applink-mesh-error` value.
    pub(crate) fn reason(&self) -> &'static str {
        use MeshError::*;
        match self {
            BadPath(_) => "bad-path",
            MissingContext => "missing-context",
            PartialContext { .. } => "partial-context",
            DuplicateHeader(_) => "duplicate-header",
            BadRequestContext(_) => "bad-request-context",
            RequestIdMismatch(_) => "request-id-mismatch",
            BadClientContext(_) => "bad-client-context",
            BadDataActionTarget(_) => "bad-data-action-target",
            BadRequestBody => "bad-request-body",
            PayloadTooLarge { .. } => "payload-too-large",
            HeadersTooLarge { .. } => "headers-too-large",
            MalformedHead => "malformed-request",
            UriTooLong => "uri-too-long",
            MethodNotAllowed => "method-not-allowed",
            Forbidden => "forbidden",
            UnknownAddon => "unknown-addon",
            AuthError => "auth-error",
            AuthUnavailable => "auth-unavailable",
            AuthTimeout => "auth-timeout",
            AppUnavailable | AppNeverListened => "app-unavailable",
            AppTimeout => "app-timeout",
            AppSwitchedProtocols => "app-protocol-error",
            AppBooting | AppListensElsewhere(_) => "app-booting",
            ShuttingDown => "shutting-down",
            Overloaded | BodiesOverloaded => "overloaded",
        }
    }

    /// A message safe to show the caller: never the AppLink API's answer, never a secret.
    pub(crate) fn message(&self) -> String {
        use MeshError::*;
        match self {
            BadPath(why) => format!("invalid request path: {why}"),
            MissingContext => "authentication required: the request carries no Salesforce context \
                               (x-request-context and x-client-context) and no x-signature"
                .into(),
            PartialContext { present, missing } => {
                format!(
                    "the request has {present} but not {missing}; Salesforce requests carry both"
                )
            }
            DuplicateHeader(name) => format!("the {name} header must appear only once"),
            BadRequestContext(why) => format!("invalid x-request-context: {why}"),
            RequestIdMismatch(why) => why.clone(),
            BadClientContext(why) => format!("invalid x-client-context: {why}"),
            BadDataActionTarget(why) => format!("invalid Data Action Target request: {why}"),
            BadRequestBody => {
                "the request body could not be read: its framing is broken or it ended early".into()
            }
            PayloadTooLarge { limit } => {
                format!("the request body exceeds the limit of {limit} bytes")
            }
            HeadersTooLarge { limit } => {
                format!(
                    "the request headers exceed the limits: {limit} bytes, {MAX_HEADER_FIELDS} fields"
                )
            }
            MalformedHead => {
                "the request line or a header is not valid HTTP/1.1; the request was not read"
                    .into()
            }
            UriTooLong => format!("the request target is longer than {MAX_TARGET_BYTES} bytes"),
            MethodNotAllowed => {
                "CONNECT is not served: the sidecar forwards requests, it opens no tunnels".into()
            }
            Forbidden => "the request was not authorized by Heroku AppLink".into(),
            UnknownAddon => {
                "the request names an AppLink add-on (addonUuid) that is not attached to this app"
                    .into()
            }
            AuthError => "Heroku AppLink answered the authentication request unexpectedly".into(),
            AuthUnavailable => "Heroku AppLink authentication is unavailable; retry later".into(),
            AuthTimeout => "Heroku AppLink authentication timed out".into(),
            AppUnavailable => "the app is not accepting connections".into(),
            AppNeverListened => {
                "the app never started listening on APP_PORT within timeouts.appBoot".into()
            }
            AppListensElsewhere(why) => {
                format!("the app does not accept connections where the sidecar forwards yet: {why}")
            }
            AppTimeout => "the app did not answer in time".into(),
            AppSwitchedProtocols => "the app switched protocols without being asked to".into(),
            AppBooting => "the app is still starting; retry shortly".into(),
            ShuttingDown => "the app is shutting down; retry on another dyno".into(),
            Overloaded => "too many requests in flight; retry shortly".into(),
            BodiesOverloaded => {
                "too many Data Action Target bodies are being checked at once; retry shortly".into()
            }
        }
    }

    /// Whether the caller, rather than an upstream, caused this (for logs and metrics).
    pub(crate) fn is_client_error(&self) -> bool {
        self.status().is_client_error()
    }

    /// The JSON response for this error, with the reason and request id headers.
    pub(crate) fn into_response(self, request_id: &str) -> Response<MeshBody> {
        let mut response = Response::new(full(self.json_body(request_id)));
        *response.status_mut() = self.status();
        *response.headers_mut() = self.headers(request_id);
        response
    }

    /// `{"error":"<message>","requestId":"<request id>"}`.
    pub(crate) fn json_body(&self, request_id: &str) -> String {
        serde_json::json!({ "error": self.message(), "requestId": request_id }).to_string()
    }

    /// The headers of this error's response, but for its length.
    pub(crate) fn headers(&self, request_id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(MESH_ERROR, HeaderValue::from_static(self.reason()));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert(REQUEST_ID, id);
        }
        // A refusal is about this one request: no cache may answer another with it.
        headers.insert(header::CACHE_CONTROL, NO_STORE);
        if self.status() == StatusCode::UNAUTHORIZED {
            // RFC 9110 (HTTP Semantics), section 15.5.2: a 401 carries a challenge. The scheme
            // names what the sidecar wants: a Salesforce context, or a Data Action Target's
            // signature, as Heroku AppLink sends them.
            headers.insert(header::WWW_AUTHENTICATE, APPLINK_CHALLENGE);
        }
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, MeshError::ShuttingDown) {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if matches!(self, MeshError::MethodNotAllowed) {
            // RFC 9110 (HTTP Semantics), section 15.5.6: a 405 says what is allowed; every method
            // but CONNECT is forwarded.
            headers.insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn status_and_reason_table() {
        use MeshError::*;
        #[rustfmt::skip]
        let table: Vec<(MeshError, u16, &str)> = vec![
            (BadPath("x".into()), 400, "bad-path"),
            (MissingContext, 401, "missing-context"),
            (PartialContext { present: "a", missing: "b" }, 400, "partial-context"),
            (DuplicateHeader("x-request-id"), 400, "duplicate-header"),
            (BadRequestContext("x".into()), 400, "bad-request-context"),
            (RequestIdMismatch("x".into()), 400, "request-id-mismatch"),
            (BadClientContext("x".into()), 400, "bad-client-context"),
            (BadDataActionTarget("x".into()), 400, "bad-data-action-target"),
            (BadRequestBody, 400, "bad-request-body"),
            (PayloadTooLarge { limit: 1 }, 413, "payload-too-large"),
            (HeadersTooLarge { limit: 1 }, 431, "headers-too-large"),
            (MalformedHead, 400, "malformed-request"),
            (UriTooLong, 414, "uri-too-long"),
            (MethodNotAllowed, 405, "method-not-allowed"),
            (Forbidden, 403, "forbidden"),
            (UnknownAddon, 403, "unknown-addon"),
            (AuthError, 502, "auth-error"),
            (AuthUnavailable, 503, "auth-unavailable"),
            (AuthTimeout, 504, "auth-timeout"),
            (AppUnavailable, 502, "app-unavailable"),
            (AppNeverListened, 502, "app-unavailable"),
            (AppListensElsewhere("x".into()), 503, "app-booting"),
            (AppTimeout, 504, "app-timeout"),
            (AppSwitchedProtocols, 502, "app-protocol-error"),
            (AppBooting, 503, "app-booting"),
            (ShuttingDown, 503, "shutting-down"),
            (Overloaded, 503, "overloaded"),
            (BodiesOverloaded, 503, "overloaded"),
        ];
        for (error, status, reason) in table {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.reason(), reason, "{error:?}");
        }
    }

    #[test]
    fn every_refusal_is_not_stored_and_a_401_challenges() {
        let refused = MeshError::MissingContext.into_response("req-1");
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            refused.headers()[header::WWW_AUTHENTICATE],
            "HerokuAppLink realm=\"Heroku AppLink\""
        );
        for error in [MeshError::Forbidden, MeshError::BadPath("x".into())] {
            let headers = error.headers("req-1");
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
            assert!(!headers.contains_key(header::WWW_AUTHENTICATE));
        }
    }

    #[tokio::test]
    async fn response_is_json_with_reason_and_request_id() {
        let response = MeshError::AuthUnavailable.into_response("req-1");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[MESH_ERROR], "auth-unavailable");
        assert_eq!(response.headers()[REQUEST_ID], "req-1");
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["requestId"], "req-1");
        assert!(json["error"].as_str().unwrap().contains("unavailable"));
    }
}
