//! The request pipeline, phase by phase (docs/behaviour.md §3–6): info route → shutdown and load
//! → header size → path → protected headers → classify → admit (validate, authenticate) → boot
//! gate → forward (rewrite the request, send it, rewrite the response) → log once.
//!
//! Its parts: `state` (the `Mesh` every request shares), `headers`, `routes` and `query` (the
//! rules on a request's head, path and query), `admission` (classify and admit, with `auth`, the AppLink API),
//! `boot_gate` (waiting for the app's first connection), `forward` and `app_client` (to the app
//! and back).

pub(crate) mod admission;
pub(crate) mod app_client;
pub(crate) mod assertion;
pub(crate) mod auth;
pub(crate) mod boot_gate;
pub(crate) mod error;
mod forward;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub(crate) mod headers;
mod pool;
pub(crate) mod query;
pub(crate) mod routes;
pub(crate) mod state;

use std::sync::Arc;

use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use crate::body::{MeshBody, full};
use crate::request::admission::{Admission, Refused};
use crate::request::error::MeshError;
use crate::telemetry::{LoggedBody, Progress, RequestLog, RequestScope, TraceContext};
use headers::{MESH_MODE, REQUEST_ID};
use state::Mesh;

/// Answered by the sidecar itself, with its version (compat).
pub(crate) const INFO_ROUTE: &str = "/__herokuAppLinkServiceMeshInfo";

/// What the connection keeps of one request (its activity mark): told when the response is made,
/// how its body is polled, and when it switches protocols; let go with the response.
pub(crate) trait Exchange: Send + Unpin + 'static {
    fn response_started(&mut self);
    /// The response body was polled: it gave a frame, or it waits on the app (or ended).
    fn response_polled(&mut self, gave_frame: bool);
    /// The response switches protocols: the connection becomes a tunnel.
    fn switching_protocols(&self);
}

/// What a request holds until its response is done.
pub(crate) struct Held<E> {
    active: E,
    /// Its in-flight slot, once it has one.
    slot: Option<OwnedSemaphorePermit>,
    /// Its buffered body's share of the memory budget, if it has one.
    buffered: Option<OwnedSemaphorePermit>,
}

impl<E: Exchange> Progress for Held<E> {
    fn polled(&mut self, gave_frame: bool) {
        self.active.response_polled(gave_frame);
    }
}

/// Handles one request; every outcome, forwarded or not, is logged once when its body is done.
/// `dashboard_answer`: the dev dashboard's answer to a request for one of its own routes, made
/// in front of the pipeline by the connection layer; logged like any other, and not watched.
pub(crate) async fn handle<E: Exchange>(
    mesh: Arc<Mesh>,
    request: Request<Incoming>,
    active: E,
    dashboard_answer: Option<Response<MeshBody>>,
) -> Response<LoggedBody<Held<E>>> {
    let mut log = RequestLog::new(request.method(), request.uri().path());
    log.request_id = request_id(&request);
    log.trace = match &mesh.traces {
        Some(traces) => Some(traces.begin(request.headers())),
        None => TraceContext::continue_from(request.headers()),
    };
    let mut held = Held {
        active,
        slot: None,
        buffered: None,
    };
    if let Some(answer) = dashboard_answer {
        log.kind = "dashboard";
        log.outcome = "dashboard";
        return finish(&mesh, log, held, answer);
    }
    if let Some(observer) = &mesh.observer {
        log.observed_by(observer.clone().watch(request.headers()));
    }
    let scope = RequestScope {
        request_id: log.request_id.clone(),
        trace: log.trace,
    };
    let pipeline = pipeline(&mesh, request, &mut log, &mut held);
    // Every line written while the request is handled names it (and its trace).
    let response = match scope.around(pipeline).await {
        Ok(response) => response,
        Err(error) => refusal(error, &mut log),
    };
    finish(&mesh, log, held, response)
}

/// The sidecar's own answer for a request it did not forward, and its log record's outcome.
fn refusal(error: MeshError, log: &mut RequestLog) -> Response<MeshBody> {
    log.outcome = error.reason();
    log.rejected = true;
    // A dry run's would-reject that then failed at the app is counted, and said, as that failure.
    log.would_reject = None;
    if !error.is_client_error() {
        tracing::warn!(
            request_id = &*log.request_id,
            reason = error.reason(),
            "request not forwarded"
        );
    }
    error.into_response(&log.request_id)
}

/// The one place for what every response gets, whoever made it (the app, a refusal, the info
/// route, the dashboard): dev mode's header, its status in the log record, the connection and an
/// observer told of it, and the body that logs the request once it is done.
fn finish<E: Exchange>(
    mesh: &Mesh,
    mut log: RequestLog,
    mut held: Held<E>,
    response: Response<MeshBody>,
) -> Response<LoggedBody<Held<E>>> {
    let (mut parts, body) = response.into_parts();
    if parts.status == StatusCode::SWITCHING_PROTOCOLS {
        held.active.switching_protocols();
    }
    if mesh.config.is_dev() {
        parts
            .headers
            .insert(MESH_MODE, HeaderValue::from_static("dev"));
    }
    log.status = parts.status.as_u16();
    held.active.response_started();
    if let Some(observation) = log.observation.as_mut() {
        observation.responded(&parts.headers);
    }
    Response::from_parts(
        parts,
        LoggedBody::new(body, log, mesh.metrics.clone(), mesh.traces.clone(), held),
    )
}

/// The caller's `x-request-id`, or a new UUID v4.
fn request_id<B>(request: &Request<B>) -> Arc<str> {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map_or_else(new_request_id, Arc::from)
}

/// A new UUID v4, written straight into its one allocation.
fn new_request_id() -> Arc<str> {
    let mut text = uuid::Uuid::encode_buffer();
    Arc::from(&*uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text))
}

async fn pipeline(
    mesh: &Mesh,
    request: Request<Incoming>,
    log: &mut RequestLog,
    held: &mut Held<impl Exchange>,
) -> Result<Response<MeshBody>, MeshError> {
    if request.uri().path() == INFO_ROUTE {
        log.kind = "info";
        log.outcome = "info";
        return Ok(info_response());
    }
    if request.method() == Method::CONNECT {
        return Err(MeshError::MethodNotAllowed);
    }
    if mesh.shutdown.is_draining() {
        return Err(MeshError::ShuttingDown);
    }
    held.slot = Some(mesh.admit_one()?);
    let (parts, body) = request.into_parts();
    let (mut parts, normal_form) = check_head(mesh, parts)?;

    let mut admission = match admission::decide(mesh, &mut parts, normal_form, body, log).await {
        Ok(admission) => admission,
        Err(refused) => dry_run(mesh, refused, log)?,
    };
    held.buffered = admission.reserved.take();

    mesh.gate.wait().await?;
    forward::forward(mesh, parts, admission, log).await
}

/// A refused request in the dry run (docs/behaviour.md §4.6): an authentication decision, with its
/// body whole, goes on without context and its line says `outcome=would-reject` and why. Anything
/// else is refused as always.
fn dry_run(mesh: &Mesh, refused: Refused, log: &mut RequestLog) -> Result<Admission, MeshError> {
    if !(mesh.config.auth.report_only && refused.error.is_authentication_decision()) {
        return Err(refused.error);
    }
    let reason = refused.error.reason();
    let admission = Admission::unverified(refused)?;
    log.outcome = "would-reject";
    log.would_reject = Some(reason);
    Ok(admission)
}

/// The checks on the request's head (docs/behaviour.md §4.1, §4.3, §11): its size, its path, and
/// its protected and repeated headers (protected names spelled with `_` or `.` are removed).
/// Returns the head and whether the path is in normal form.
fn check_head(mesh: &Mesh, mut parts: Parts) -> Result<(Parts, bool), MeshError> {
    let limit = mesh.config.limits.header_bytes;
    if head_bytes(&parts) > limit {
        return Err(MeshError::HeadersTooLarge { limit });
    }
    let normal_form =
        routes::check_path(parts.uri.path()).map_err(|why| MeshError::BadPath(why.into()))?;
    if parts.uri.query().is_some_and(|query| !query.is_ascii()) {
        return Err(MeshError::BadPath(
            "the query has bytes that are not ASCII; percent-encode them (RFC 3986)".into(),
        ));
    }
    headers::remove_disguised_protected_names(&mut parts.headers);
    if let Some(name) = headers::first_duplicate(&parts.headers) {
        return Err(MeshError::DuplicateHeader(name));
    }
    Ok((parts, normal_form))
}

/// The size of the request line and headers, as the caller sent them (near enough).
fn head_bytes(parts: &Parts) -> u64 {
    let uri = &parts.uri;
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    let line = parts.method.as_str().len() + target + 12;
    line as u64 + headers::header_bytes(&parts.headers)
}

fn info_response() -> Response<MeshBody> {
    let mut response = Response::new(full(format!("v{}", env!("CARGO_PKG_VERSION"))));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    // The version changes with a deploy: a cache must not keep the old one.
    headers.insert(header::CACHE_CONTROL, error::NO_STORE);
    response
}
