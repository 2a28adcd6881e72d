//! The AppLink API client (docs/behaviour.md §5): keep-alive connections per attachment over one
//! rustls configuration built at start-up, a deadline per call, no redirects, one retry when the
//! call fails before any response.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ApiConfig, ConfigError};
use crate::request::error::MeshError;
use crate::telemetry::millis;
use bytes::Bytes;

use super::call_body::CallBody;
use super::connections::ApiConnections;
use super::failure::{REFUSALS_BEFORE_WARNING, Refusals, cause};
use super::request::AuthRequest;
use crate::request::pool::{Dial, DialError, SendError};
use http::uri::{Authority, Scheme};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::BodyExt;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// AppLink API calls at once; a burst beyond it waits for a slot within `timeouts.auth`.
pub(crate) const MAX_CONCURRENT_CALLS: usize = 128;
/// The most of an AppLink API answer the sidecar reads (it only needs the status).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The AppLink API answered; the status decides the outcome.
fn outcome(status: StatusCode) -> Result<(), MeshError> {
    match status.as_u16() {
        200..=299 => Ok(()),
        401 | 403 => Err(MeshError::Forbidden),
        429 | 500..=599 => Err(MeshError::AuthUnavailable),
        other => {
            tracing::error!(
                status = other,
                "the AppLink API answered an authentication call unexpectedly"
            );
            Err(MeshError::AuthError)
        }
    }
}

/// The URL of one of the API's endpoints.
fn endpoint(api: &ApiConfig, path: &str) -> Result<Uri, ConfigError> {
    format!("{}{path}", api.base_url).parse().map_err(|_| {
        ConfigError(format!(
            "the AppLink API URL {} is not a valid URL",
            api.base_url
        ))
    })
}

/// `Authorization: Bearer <token>`, marked sensitive so no debug output shows it.
fn bearer(api: &ApiConfig) -> Result<HeaderValue, ConfigError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", api.token.expose())).map_err(|_| {
        ConfigError(format!(
            "{}_TOKEN holds characters a header cannot carry; copy it again from the add-on's config vars",
            api.attachment
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The request id once more, under the name the AppLink API logs.
const API_REQUEST_ID: HeaderName = HeaderName::from_static("request_id");

/// One attachment as the client calls it: its two endpoints, its bearer and its connections,
/// built once.
pub(crate) struct Attachment {
    /// `<NAME>`, for the logs.
    pub(crate) name: String,
    /// The base URL, which tells attachments apart in the cache.
    pub(crate) base_url: String,
    pub(crate) addon_uuid: Option<String>,
    /// The two endpoints in origin form (the path), as an HTTP/1.1 request line has them.
    salesforce_path: Uri,
    data_action_target_path: Uri,
    /// The API's `host[:port]`.
    host: HeaderValue,
    /// `Bearer <token>`, marked sensitive.
    authorization: HeaderValue,
    connections: ApiConnections<ApiDial>,
    refusals: Refusals,
}

impl Attachment {
    /// The attachment, and its connection pool's sweep on the current runtime.
    pub(crate) fn new(api: &ApiConfig, client: &ApiClient) -> Result<Attachment, ConfigError> {
        let salesforce = endpoint(api, AuthRequest::SALESFORCE_PATH)?;
        let invalid = || {
            ConfigError(format!(
                "the AppLink API URL {} must be an http:// or https:// URL with a host",
                api.base_url
            ))
        };
        let (Some(scheme), Some(host)) = (salesforce.scheme(), host(&salesforce)) else {
            return Err(invalid());
        };
        let authority = Authority::try_from(host.as_str()).map_err(|_| invalid())?;
        let dial = ApiDial {
            connector: client.connector.clone(),
            origin: origin(scheme.clone(), authority).map_err(|_| invalid())?,
        };
        Ok(Attachment {
            name: api.attachment.clone(),
            base_url: api.base_url.clone(),
            addon_uuid: api.addon_uuid.clone(),
            host: HeaderValue::from_str(&host).map_err(|_| invalid())?,
            salesforce_path: origin_form(&salesforce),
            data_action_target_path: origin_form(&endpoint(
                api,
                AuthRequest::DATA_ACTION_TARGET_PATH,
            )?),
            authorization: bearer(api)?,
            connections: ApiConnections::new(dial, client.deadline, &api.attachment),
            refusals: Refusals::default(),
        })
    }

    /// Opens a connection in the background, while the app boots (docs/behaviour.md §5).
    pub(crate) fn warm(&self) {
        self.connections.warm();
    }

    /// Counts the answer; after several refusals in a row, says what they may mean.
    fn note(&self, outcome: &Result<(), MeshError>) {
        match outcome {
            Err(MeshError::Forbidden) if self.refusals.refused() => tracing::warn!(
                attachment = self.name.as_str(),
                refusals_in_a_row = REFUSALS_BEFORE_WARNING,
                "the AppLink API refused the last requests through this attachment; if no \
                 Salesforce call gets through, {}_TOKEN may be wrong or stale (compare it with \
                 `heroku config`), or the org calling is not connected to this attachment's add-on",
                self.name
            ),
            Err(MeshError::Forbidden) => {}
            _ => self.refusals.accepted(),
        }
    }
}

/// The `Host` of a call, as hyper-util's client wrote it: the host, and the port unless it is the
/// scheme's default (no user information).
fn host(uri: &Uri) -> Option<String> {
    let host = uri.host()?;
    let default = default_port(uri)?;
    Some(match uri.port_u16() {
        Some(port) if port != default => format!("{host}:{port}"),
        _ => host.to_string(),
    })
}

/// The port an `http://` or `https://` URL's scheme implies.
pub(crate) fn default_port(uri: &Uri) -> Option<u16> {
    match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    }
}

/// `scheme://authority/`: where a connection goes.
fn origin(scheme: Scheme, authority: Authority) -> Result<Uri, http::Error> {
    Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query("/")
        .build()
}

/// The path and query of `uri` alone.
fn origin_form(uri: &Uri) -> Uri {
    uri.path_and_query()
        .map_or_else(|| Uri::from_static("/"), |path| Uri::from(path.clone()))
}

/// Opens a connection to an attachment's API: TCP (`TCP_NODELAY`, the call's deadline to connect),
/// then TLS for an `https://` URL, by hyper-rustls's connector.
struct ApiDial {
    connector: HttpsConnector<HttpConnector>,
    origin: Uri,
}

impl Dial for ApiDial {
    type Io = MaybeHttpsStream<TokioIo<TcpStream>>;
    const PEER: &'static str = "the AppLink API";

    async fn dial(&self) -> Result<Self::Io, DialError> {
        use tower_service::Service;
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx)).await?;
        connector.call(self.origin.clone()).await
    }
}

/// What every attachment's calls share: the TLS configuration, and the calls' slots and deadline.
pub(crate) struct ApiClient {
    connector: HttpsConnector<HttpConnector>,
    /// [`MAX_CONCURRENT_CALLS`] slots.
    calls: Arc<Semaphore>,
    deadline: Duration,
}

impl ApiClient {
    /// Builds the client once: TLS roots from `ssl_cert_file` or the platform.
    pub(crate) fn new(
        ssl_cert_file: Option<&std::path::Path>,
        deadline: Duration,
    ) -> Result<Self, ConfigError> {
        let tls = super::tls::client_config(ssl_cert_file)?;
        Ok(ApiClient {
            connector: super::tls::https_connector(tls, Some(deadline), true),
            calls: Arc::new(Semaphore::new(MAX_CONCURRENT_CALLS)),
            deadline,
        })
    }

    /// One authentication call to an attachment, within the deadline.
    pub(crate) async fn authenticate(
        &self,
        attachment: &Attachment,
        request: &AuthRequest,
        request_id: &str,
    ) -> Result<(), MeshError> {
        let body = Bytes::from(request.body());
        let path = match request {
            AuthRequest::Salesforce { .. } => &attachment.salesforce_path,
            AuthRequest::DataActionTarget { .. } => &attachment.data_action_target_path,
        };
        let deadline = tokio::time::Instant::now() + self.deadline;
        let call = Call {
            attachment,
            path,
            request_id,
            deadline,
        };
        let call = async {
            // Waiting for a slot counts against the deadline, like the call itself.
            let _slot = self
                .calls
                .acquire()
                .await
                .map_err(|_| MeshError::AuthUnavailable)?;
            let status = match send(&call, body.clone()).await {
                Ok(status) => status,
                // Cut off at the deadline while writing: a timeout, and no retry after it.
                Err(_) if tokio::time::Instant::now() >= call.deadline => {
                    return Err(self.timed_out());
                }
                Err(first) => {
                    tracing::debug!(cause = %cause(&first), "AppLink API call failed before any response; retrying once");
                    send(&call, body).await.map_err(|e| {
                        tracing::warn!(
                            attachment = attachment.name.as_str(),
                            cause = %cause(&e),
                            "AppLink API unreachable"
                        );
                        MeshError::AuthUnavailable
                    })?
                }
            };
            let outcome = outcome(status);
            attachment.note(&outcome);
            outcome
        };
        tokio::time::timeout_at(deadline, call)
            .await
            .unwrap_or_else(|_| Err(self.timed_out()))
    }

    fn timed_out(&self) -> MeshError {
        tracing::warn!(
            deadline_ms = millis(self.deadline),
            "AppLink API call timed out"
        );
        MeshError::AuthTimeout
    }
}

/// One try of a call: the answer's status.
async fn send(call: &Call<'_>, body: Bytes) -> Result<StatusCode, SendError> {
    let mut request = Request::new(CallBody::new(body, call.deadline));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = call.path.clone();
    let headers = request.headers_mut();
    headers.insert(header::HOST, call.attachment.host.clone());
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::AUTHORIZATION, call.attachment.authorization.clone());
    if let Ok(id) = HeaderValue::from_str(call.request_id) {
        headers.insert(REQUEST_ID, id.clone());
        headers.insert(API_REQUEST_ID, id);
    }
    // The answer holds its HTTP/2 stream until the body is read, when it is dropped.
    let answer = call.attachment.connections.send(request).await?;
    let status = answer.response.status();
    // Read (a bounded part of) the answer so the connection can carry the next call; its content
    // never reaches the caller, so it is not kept. A longer answer closes its connection.
    let mut body = answer.response.into_body();
    let mut read = 0;
    while read <= MAX_ANSWER_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            Some(Err(_)) | None => break,
        }
    }
    Ok(status)
}

/// Where one call goes, who makes it, and until when.
struct Call<'a> {
    attachment: &'a Attachment,
    /// The endpoint, in origin form.
    path: &'a Uri,
    request_id: &'a str,
    deadline: tokio::time::Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_written_as_hyper_util_wrote_it() {
        for (url, expected) in [
            ("https://api.example/addons/x", Some("api.example")),
            ("https://api.example:443/addons/x", Some("api.example")),
            (
                "https://api.example:8443/addons/x",
                Some("api.example:8443"),
            ),
            ("http://127.0.0.1:3101/addons/x", Some("127.0.0.1:3101")),
            ("http://localhost:80/", Some("localhost")),
            ("https://user:pw@api.example/x", Some("api.example")),
            ("https://[::1]:8443/x", Some("[::1]:8443")),
            ("ftp://api.example/x", None),
        ] {
            let uri: Uri = url.parse().unwrap();
            assert_eq!(host(&uri).as_deref(), expected, "{url}");
        }
    }

    #[test]
    fn outcome_table() {
        assert_eq!(outcome(StatusCode::OK), Ok(()));
        assert_eq!(outcome(StatusCode::NO_CONTENT), Ok(()));
        assert_eq!(outcome(StatusCode::UNAUTHORIZED), Err(MeshError::Forbidden));
        assert_eq!(outcome(StatusCode::FORBIDDEN), Err(MeshError::Forbidden));
        assert_eq!(
            outcome(StatusCode::TOO_MANY_REQUESTS),
            Err(MeshError::AuthUnavailable)
        );
        assert_eq!(
            outcome(StatusCode::BAD_GATEWAY),
            Err(MeshError::AuthUnavailable)
        );
        assert_eq!(outcome(StatusCode::NOT_FOUND), Err(MeshError::AuthError));
        assert_eq!(outcome(StatusCode::FOUND), Err(MeshError::AuthError));
    }
}
