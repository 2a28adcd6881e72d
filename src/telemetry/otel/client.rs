//! The OTLP exporter's HTTP client: hyper with rustls, the stack the sidecar already carries (the
//! exporter's own choices are reqwest or a plain-HTTP hyper client). The export task bounds each
//! call's time; this client bounds the collector's answer's size.

use std::fmt;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use opentelemetry_http::{HttpClient, HttpError};

/// A collector answers with a small status message; more is not read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Keep-alive HTTP/1.1 to the collector, over TLS for an `https://` endpoint.
pub(super) struct CollectorClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl CollectorClient {
    pub(super) fn new(connector: HttpsConnector<HttpConnector>) -> CollectorClient {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1)
            .pool_timer(TokioTimer::new())
            .build(connector);
        CollectorClient { client }
    }
}

/// Shows nothing of the requests (the exporter's headers may hold API keys).
impl fmt::Debug for CollectorClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CollectorClient")
    }
}

#[async_trait::async_trait]
impl HttpClient for CollectorClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let answer = self
            .client
            .request(Request::from_parts(parts, Full::new(body)))
            .await?;
        let (parts, body) = answer.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await?
            .to_bytes();
        Ok(Response::from_parts(parts, body))
    }
}
