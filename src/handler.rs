//! The request pipeline, phase by phase (§3–6): info route → drain and load → header size → path
//! → protected headers → admission (bypass, classify, authenticate) → forward → log once.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use crate::admission::{self, Admission};
use crate::body::{MeshBody, full};
use crate::conn::ActiveRequest;
use crate::error::MeshError;
use crate::headers::{self, CLIENT_CONTEXT, MESH_MODE, REQUEST_CONTEXT, REQUEST_ID};
use crate::proxy;
use crate::routes;
use crate::state::Mesh;
use crate::telemetry::{CountingBody, LoggedBody, RequestLog};

/// Answered by the sidecar itself, with its version (compat).
pub const INFO_ROUTE: &str = "/__herokuAppLinkServiceMeshInfo";

/// What a request holds until its response is done.
pub struct Held {
    _active: ActiveRequest,
    /// Its in-flight slot, once it has one.
    slot: Option<OwnedSemaphorePermit>,
}

/// Handles one request; every outcome, forwarded or not, is logged once when its body is done.
pub async fn handle(
    mesh: Arc<Mesh>,
    request: Request<Incoming>,
    active: ActiveRequest,
) -> Response<LoggedBody<Held>> {
    let mut log = RequestLog::new(request.method(), request.uri().path());
    log.request_id = request_id(&request);
    let mut held = Held {
        _active: active,
        slot: None,
    };
    let response = match pipeline(&mesh, request, &mut log, &mut held.slot).await {
        Ok(response) => response,
        Err(error) => {
            log.outcome = error.reason();
            log.rejected = true;
            if !error.is_client_error() {
                tracing::warn!(
                    request_id = log.request_id.as_str(),
                    reason = error.reason(),
                    "request not forwarded"
                );
            }
            error.into_response(&log.request_id)
        }
    };
    let (mut parts, body) = response.into_parts();
    if mesh.config.is_dev() {
        parts
            .headers
            .insert(MESH_MODE, HeaderValue::from_static("dev"));
    }
    log.status = parts.status.as_u16();
    Response::from_parts(
        parts,
        LoggedBody::new(body, log, mesh.metrics.clone(), held),
    )
}

/// The caller's `x-request-id`, or a new UUID v4.
fn request_id<B>(request: &Request<B>) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

async fn pipeline(
    mesh: &Mesh,
    request: Request<Incoming>,
    log: &mut RequestLog,
    slot: &mut Option<OwnedSemaphorePermit>,
) -> Result<Response<MeshBody>, MeshError> {
    if request.uri().path() == INFO_ROUTE {
        log.kind = "info";
        log.outcome = "info";
        return Ok(info_response());
    }
    if mesh.is_draining() {
        return Err(MeshError::ShuttingDown);
    }
    *slot = Some(mesh.admit_one()?);

    let limit = mesh.config.limits.header_bytes;
    if head_bytes(&request) > limit {
        return Err(MeshError::HeadersTooLarge { limit });
    }
    let normal_form =
        routes::check_path(request.uri().path()).map_err(|why| MeshError::BadPath(why.into()))?;

    let (mut parts, body) = request.into_parts();
    headers::remove_underscore_spellings(&mut parts.headers);
    if let Some(name) = headers::first_duplicate(&parts.headers) {
        return Err(MeshError::DuplicateHeader(name));
    }

    let mut body = Some(body);
    let admission = match &mesh.api {
        None => admission::admit_dev(&parts),
        Some(api) => admission::admit(mesh, api, &parts, &mut body, normal_form, log).await?,
    };
    log.kind = admission.kind.as_str();
    forward(mesh, parts, body, admission, log).await
}

/// The size of the request line and headers, as the caller sent them (near enough).
fn head_bytes<B>(request: &Request<B>) -> u64 {
    let uri = request.uri();
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    let line = request.method().as_str().len() + target + 12;
    line as u64 + headers::header_bytes(request.headers())
}

fn info_response() -> Response<MeshBody> {
    let mut response = Response::new(full(format!("v{}", crate::VERSION)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// Rewrites the headers (§6), waits for the boot gate and sends the request to the app.
async fn forward(
    mesh: &Mesh,
    mut parts: http::request::Parts,
    body: Option<Incoming>,
    admission: Admission,
    log: &mut RequestLog,
) -> Result<Response<MeshBody>, MeshError> {
    let upgrade = headers::is_upgrade(&parts.headers);
    let inbound_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let inbound_version = parts.version;

    let h = &mut parts.headers;
    headers::strip_hop_by_hop(h, upgrade);
    h.remove(REQUEST_CONTEXT);
    headers::remove_applink_headers(h);
    if !admission.keep_client_context {
        h.remove(CLIENT_CONTEXT);
    }
    if let Ok(id) = HeaderValue::from_str(&log.request_id) {
        h.insert(REQUEST_ID, id);
    }
    for (name, value) in admission.context {
        h.insert(name, value);
    }
    h.insert(
        "x-applink-request-kind",
        HeaderValue::from_static(admission.kind.as_str()),
    );

    let body: MeshBody = match (admission.buffered_body, body) {
        (Some(bytes), _) => full(bytes),
        (None, Some(incoming)) => CountingBody::new(incoming, log.bytes_in.clone()).boxed_unsync(),
        (None, None) => full(Bytes::new()),
    };

    mesh.gate.wait().await?;
    let started = Instant::now();
    let result = mesh
        .app
        .send(Request::from_parts(parts, body), upgrade)
        .await;
    log.app = Some(started.elapsed());
    let mut response = result?;
    mesh.gate.mark_ready();

    if upgrade && proxy::is_switching(&response) {
        if let Some(inbound) = inbound_upgrade {
            let outbound = hyper::upgrade::on(&mut response);
            proxy::tunnel(inbound, outbound, mesh.closing.subscribe());
        }
        log.outcome = "upgraded";
    } else {
        headers::strip_hop_by_hop(response.headers_mut(), false);
    }
    if let Ok(id) = HeaderValue::from_str(&log.request_id) {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    // The caller talks to the sidecar: answer in its protocol version, not the app's (an
    // HTTP/1.0 app must not turn the response into HTTP/1.0).
    *response.version_mut() = inbound_version;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS && !upgrade {
        tracing::warn!("the app switched protocols without being asked to");
    }
    Ok(response.map(|b| b.boxed_unsync()))
}
