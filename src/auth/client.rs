//! The AppLink API client (§5): one pooled rustls client built at start-up, a deadline per call,
//! no redirects, one retry when the call fails before any response.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::json;

use crate::config::{ApiConfig, ConfigError, Secret};
use crate::error::MeshError;

/// How long an idle connection to the AppLink API is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);
/// The most of an AppLink API answer the sidecar reads (it only needs the status).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What to authenticate: the body of one AppLink API call.
#[derive(Clone)]
pub enum AuthRequest {
    Salesforce {
        org_domain_url: String,
        core_jwt_token: String,
        org_id: String,
        app_uuid: String,
    },
    DataActionTarget {
        api_name: String,
        org_id: String,
        signature: String,
        payload: String,
    },
}

impl AuthRequest {
    pub fn path(&self) -> &'static str {
        match self {
            AuthRequest::Salesforce { .. } => "/invocations/authentication",
            AuthRequest::DataActionTarget { .. } => "/data_action_targets/authenticate",
        }
    }

    /// The exact JSON body the AppLink API expects.
    pub fn body(&self) -> Vec<u8> {
        let value = match self {
            AuthRequest::Salesforce {
                org_domain_url,
                core_jwt_token,
                org_id,
                app_uuid,
            } => json!({
                "org_domain_url": org_domain_url,
                "core_jwt_token": core_jwt_token,
                "org_id": org_id,
                "app_uuid": app_uuid,
            }),
            AuthRequest::DataActionTarget {
                api_name,
                org_id,
                signature,
                payload,
            } => json!({
                "api_name": api_name,
                "org_id": org_id,
                "signature": signature,
                "payload": payload,
            }),
        };
        value.to_string().into_bytes()
    }
}

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

#[derive(Clone)]
pub struct ApiClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base_url: Arc<str>,
    token: Secret,
    deadline: Duration,
}

impl ApiClient {
    /// Builds the client once: TLS roots from `ssl_cert_file` or the platform.
    pub fn new(
        api: &ApiConfig,
        ssl_cert_file: Option<&std::path::Path>,
        deadline: Duration,
    ) -> Result<Self, ConfigError> {
        let tls = crate::auth::tls::client_config(ssl_cert_file)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(deadline));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(ApiClient {
            client,
            base_url: api.base_url.as_str().into(),
            token: api.token.clone(),
            deadline,
        })
    }

    /// One authentication call, within the deadline.
    pub async fn authenticate(
        &self,
        request: &AuthRequest,
        request_id: &str,
    ) -> Result<(), MeshError> {
        let body = Bytes::from(request.body());
        let call = async {
            let status = match self.send(request.path(), body.clone(), request_id).await {
                Ok(status) => status,
                Err(first) => {
                    tracing::debug!(error = %first, "AppLink API call failed before any response; retrying once");
                    self.send(request.path(), body, request_id)
                        .await
                        .map_err(|e| {
                            tracing::warn!(error = %e, "AppLink API unreachable");
                            MeshError::AuthUnavailable
                        })?
                }
            };
            outcome(status)
        };
        tokio::time::timeout(self.deadline, call)
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(
                    deadline_ms = self.deadline.as_millis() as u64,
                    "AppLink API call timed out"
                );
                Err(MeshError::AuthTimeout)
            })
    }

    async fn send(
        &self,
        path: &str,
        body: Bytes,
        request_id: &str,
    ) -> Result<StatusCode, hyper_util::client::legacy::Error> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.base_url))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("a valid URL checked at start-up and static headers");
        let headers = request.headers_mut();
        if let Ok(mut bearer) = HeaderValue::from_str(&format!("Bearer {}", self.token.expose())) {
            bearer.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, bearer);
        }
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-request-id", id.clone());
            headers.insert("request_id", id);
        }
        let response = self.client.request(request).await?;
        let status = response.status();
        // Read (a bounded part of) the answer so the connection can go back to the pool; its
        // content never reaches the caller.
        let _ = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn request_bodies_are_exact() {
        let sf = AuthRequest::Salesforce {
            org_domain_url: "https://acme.my.salesforce.com".into(),
            core_jwt_token: "jwt".into(),
            org_id: "00D".into(),
            app_uuid: "u".into(),
        };
        let value: serde_json::Value = serde_json::from_slice(&sf.body()).unwrap();
        assert_eq!(
            value,
            json!({"org_domain_url": "https://acme.my.salesforce.com", "core_jwt_token": "jwt", "org_id": "00D", "app_uuid": "u"})
        );
        assert_eq!(sf.path(), "/invocations/authentication");
        let dat = AuthRequest::DataActionTarget {
            api_name: "A".into(),
            org_id: "00D".into(),
            signature: "s".into(),
            payload: "{}".into(),
        };
        let value: serde_json::Value = serde_json::from_slice(&dat.body()).unwrap();
        assert_eq!(
            value,
            json!({"api_name": "A", "org_id": "00D", "signature": "s", "payload": "{}"})
        );
        assert_eq!(dat.path(), "/data_action_targets/authenticate");
    }
}
