//! A local OTLP/HTTP trace receiver: it keeps every export's headers and raw bytes, and decodes
//! them with the official protobuf definitions (`opentelemetry-proto`). It answers each export, or
//! misbehaves as a collector can: holds it open forever, throttles it, fails it, or closes the
//! connection at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use tokio::net::TcpListener;

/// One export as it arrived.
#[derive(Clone, Debug)]
pub struct Export {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One span, decoded, with its service's name; ids as lowercase hex, attributes as text.
#[derive(Clone, Debug)]
pub struct ExportedSpan {
    pub service: String,
    /// The span's resource's attributes, `service.name` included.
    pub resource: HashMap<String, String>,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// 2 server, 3 client (the protocol's numbering).
    pub kind: i32,
    pub attributes: HashMap<String, String>,
    /// 2 for an error (the protocol's numbering).
    pub status_code: i32,
}

impl ExportedSpan {
    /// Whether the span's status is error (2 in the protocol's numbering).
    pub fn is_error(&self) -> bool {
        self.status_code == 2
    }
}

pub struct FakeCollector {
    pub addr: SocketAddr,
    exports: Arc<Mutex<Vec<Export>>>,
}

/// How the collector treats an export.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// 200 with an OTLP answer.
    Answers,
    /// Reads the export and never answers.
    Hangs,
    /// This status, with this `Retry-After` if any (429 throttles, 503 fails).
    Status(u16, Option<&'static str>),
    /// Closes each connection as soon as it is accepted.
    ClosesAtOnce,
}

impl FakeCollector {
    /// Answers every export with 200.
    pub async fn start() -> FakeCollector {
        FakeCollector::serve(Behaviour::Answers).await
    }

    /// Reads every export and never answers (a collector that hangs).
    pub async fn start_hanging() -> FakeCollector {
        FakeCollector::serve(Behaviour::Hangs).await
    }

    /// Treats every export as `behaviour` says.
    pub async fn serve(behaviour: Behaviour) -> FakeCollector {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let exports: Arc<Mutex<Vec<Export>>> = Arc::default();
        let kept = exports.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if matches!(behaviour, Behaviour::ClosesAtOnce) {
                    drop(stream);
                    continue;
                }
                let kept = kept.clone();
                let service = service_fn(move |request| receive(request, kept.clone(), behaviour));
                tokio::spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeCollector { addr, exports }
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for this receiver.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn exports(&self) -> Vec<Export> {
        self.exports.lock().unwrap().clone()
    }

    /// Every span received so far, decoded (an export that is not a valid OTLP request fails).
    pub fn spans(&self) -> Vec<ExportedSpan> {
        let mut spans = Vec::new();
        for export in self.exports() {
            assert_eq!(export.path, "/v1/traces");
            let request = ExportTraceServiceRequest::decode(export.body.as_ref())
                .unwrap_or_else(|e| panic!("not an OTLP trace export: {e}"));
            for resource_spans in request.resource_spans {
                let resource = resource_spans.resource.unwrap_or_default();
                let resource = text_attributes(&resource.attributes);
                let service = resource.get("service.name").cloned().unwrap_or_default();
                for scope_spans in resource_spans.scope_spans {
                    for span in scope_spans.spans {
                        spans.push(ExportedSpan {
                            service: service.clone(),
                            resource: resource.clone(),
                            trace_id: hex(&span.trace_id),
                            span_id: hex(&span.span_id),
                            parent_span_id: hex(&span.parent_span_id),
                            name: span.name,
                            kind: span.kind,
                            attributes: text_attributes(&span.attributes),
                            status_code: span.status.map_or(0, |s| s.code),
                        });
                    }
                }
            }
        }
        spans
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text_attributes(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// Keeps one export, then answers it as `behaviour` says.
async fn receive(
    request: Request<Incoming>,
    kept: Arc<Mutex<Vec<Export>>>,
    behaviour: Behaviour,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    kept.lock().unwrap().push(Export {
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        body,
    });
    let (status, retry_after) = match behaviour {
        Behaviour::Hangs => std::future::pending().await,
        Behaviour::Status(status, retry_after) => (status, retry_after),
        Behaviour::Answers | Behaviour::ClosesAtOnce => (200, None),
    };
    let answer = ExportTraceServiceResponse::default().encode_to_vec();
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/x-protobuf");
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds);
    }
    Ok(response.body(Full::new(Bytes::from(answer))).unwrap())
}
