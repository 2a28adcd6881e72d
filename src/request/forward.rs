//! Forwarding an admitted request to the app (docs/behaviour.md §6), in three steps: rewrite the
//! request, send it, rewrite the response.

use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::upgrade::OnUpgrade;

use crate::body::{MeshBody, full};
use crate::request::admission::{Admission, RequestBody};
use crate::request::app_client;
use crate::request::assertion::{ASSERTION, Assertions, Claims};
use crate::request::error::MeshError;
use crate::request::headers::{
    self, APPLINK_REQUEST_KIND, CLIENT_CONTEXT, REQUEST_CONTEXT, REQUEST_ID,
};
use crate::request::state::Mesh;
use crate::telemetry::{CountingBody, Phase, RequestLog, TRACEPARENT, TRACESTATE};

/// What the response step needs to know about the request that was sent.
struct Sent {
    upgrade: bool,
    /// The caller's side of an upgrade, joined to the app's once it switches protocols.
    inbound_upgrade: Option<OnUpgrade>,
    /// The caller's protocol version, which the response keeps.
    version: Version,
    /// The caller's `x-request-id` when it is the request's id, for the response to share.
    callers_request_id: Option<HeaderValue>,
}

/// Sends the admitted request to the app and returns the app's response, rewritten.
pub(crate) async fn forward(
    mesh: &Mesh,
    parts: Parts,
    admission: Admission,
    log: &mut RequestLog,
) -> Result<Response<MeshBody>, MeshError> {
    let (request, sent) = rewrite_request(mesh, parts, admission, log);
    if let Some(observation) = log.observation.as_mut() {
        observation.forwarded(request.headers());
    }
    // The app's deadline counts from the request's arrival, authentication included, so the
    // sidecar answers (and logs) `app-timeout` before Heroku's router gives up at 30 s. An
    // upgraded connection has none.
    let deadline = (!sent.upgrade).then(|| mesh.app_deadline(log));
    let started = Instant::now();
    let result = mesh
        .app
        .send(request, deadline, &log.inbound, &mesh.shutdown)
        .await;
    log.app = Some(Phase::since(
        started,
        result.as_ref().err().map(MeshError::reason),
    ));
    let response = result?;
    mesh.gate.mark_ready();
    rewrite_response(mesh, response, sent, log)
}

/// The headers the app receives (docs/behaviour.md §6): hop-by-hop, RC, inbound `x-applink-*` and
/// (unless admitted with it) CC removed; the request id, the decoded context, the request kind and
/// (when on) the assertion added.
fn rewrite_request(
    mesh: &Mesh,
    mut parts: Parts,
    mut admission: Admission,
    log: &RequestLog,
) -> (Request<MeshBody>, Sent) {
    let upgrade = headers::is_websocket_upgrade(&parts.headers);
    let h = &mut parts.headers;
    headers::strip_hop_by_hop(h, upgrade);
    // What is left of the caller's `x-request-id` once `Connection` may have nominated it away.
    let callers_request_id = h
        .get(REQUEST_ID)
        .filter(|sent| sent.as_bytes() == log.request_id.as_bytes())
        .cloned();
    if upgrade {
        // Only WebSocket is asked for, whatever else the caller listed beside it.
        h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    h.remove(REQUEST_CONTEXT);
    headers::remove_applink_headers(h);
    continue_the_trace(h, log);
    if !admission.keep_client_context {
        h.remove(CLIENT_CONTEXT);
    }
    // The caller's id is already there as it came; a new one is added.
    if callers_request_id.is_none()
        && let Ok(id) = HeaderValue::from_str(&log.request_id)
    {
        h.insert(REQUEST_ID, id);
    }
    for (name, value) in admission.context.drain(..) {
        h.insert(name, value);
    }
    h.insert(
        APPLINK_REQUEST_KIND,
        HeaderValue::from_static(admission.kind.as_str()),
    );
    if let Some(assertions) = &mesh.assertions
        && let Some(signed) = assertion(assertions, &parts, &admission, log)
    {
        parts.headers.insert(ASSERTION, signed);
    }
    let sent = Sent {
        upgrade,
        inbound_upgrade: parts.extensions.remove::<OnUpgrade>(),
        version: parts.version,
        callers_request_id,
    };
    let body = outbound_body(admission.body, log);
    (Request::from_parts(parts, body), sent)
}

/// A continued trace: the app's span nests under the sidecar's (`tracestate` passes as sent).
/// Without one, `traceparent` passes as sent too, a malformed one included.
fn continue_the_trace(h: &mut http::HeaderMap, log: &RequestLog) {
    if let Some(trace) = &log.trace {
        h.insert(TRACEPARENT, trace.for_the_app());
        // A trace the sidecar started (export on, no valid `traceparent`): a caller's
        // `tracestate` belonged to no trace of this one.
        if trace.parent_id_bytes().is_none() {
            h.remove(TRACESTATE);
        }
    }
}

/// The assertion for the request as it is forwarded (docs/behaviour.md §6.1): the org and user
/// only as admission verified them, never read back from the headers.
fn assertion(
    assertions: &Assertions,
    parts: &Parts,
    admission: &Admission,
    log: &RequestLog,
) -> Option<HeaderValue> {
    let identity = admission.identity.as_ref();
    assertions.sign(&Claims {
        jti: &log.request_id,
        method: parts.method.as_str(),
        path: parts.uri.path(),
        kind: admission.kind.as_str(),
        org_id: identity.map(|who| who.org_id.as_str()),
        user_id: identity.and_then(|who| who.user_id.as_deref()),
    })
}

/// The body the app receives: the buffered bytes, or the caller's stream, counted and with its
/// trailers filtered.
fn outbound_body(body: RequestBody, log: &RequestLog) -> MeshBody {
    match body {
        RequestBody::Buffered(bytes) => full(bytes),
        RequestBody::Streamed(incoming) => {
            let filtered = incoming.map_frame(filter_trailer_frame);
            CountingBody::new(filtered, log.inbound.clone()).boxed_unsync()
        }
    }
}

/// Request trailers go through the same rules as request headers (docs/behaviour.md §6).
fn filter_trailer_frame(frame: Frame<Bytes>) -> Frame<Bytes> {
    with_trailers(frame, headers::filter_trailers)
}

/// `frame` with `filter` applied to it if it holds trailers; data frames as they are.
fn with_trailers(frame: Frame<Bytes>, filter: fn(&mut http::HeaderMap)) -> Frame<Bytes> {
    match frame.into_trailers() {
        Ok(mut trailers) => {
            filter(&mut trailers);
            Frame::trailers(trailers)
        }
        Err(frame) => frame,
    }
}

/// The response the caller receives: hop-by-hop headers removed (or, for a switch of protocols,
/// the two upgraded connections joined), the app's `x-applink-mesh-*` removed, the request id,
/// and the caller's protocol version.
fn rewrite_response(
    mesh: &Mesh,
    mut response: Response<Incoming>,
    sent: Sent,
    log: &mut RequestLog,
) -> Result<Response<MeshBody>, MeshError> {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching && !(sent.upgrade && headers::is_websocket_upgrade(response.headers())) {
        // The caller's connection would be left speaking a protocol nobody checked.
        tracing::warn!("the app switched protocols without being asked to, or not to WebSocket");
        return Err(MeshError::AppSwitchedProtocols);
    }
    if switching {
        if let Some(inbound) = sent.inbound_upgrade {
            let outbound = hyper::upgrade::on(&mut response);
            app_client::tunnel(inbound, outbound, mesh.shutdown.watch());
        }
        log.outcome = "upgraded";
    } else {
        headers::strip_hop_by_hop(response.headers_mut(), false);
    }
    headers::remove_mesh_headers(response.headers_mut());
    if let Some(id) = sent
        .callers_request_id
        .or_else(|| HeaderValue::from_str(&log.request_id).ok())
    {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    // The caller talks to the sidecar: answer in its protocol version, not the app's (an
    // HTTP/1.0 app must not turn the response into HTTP/1.0).
    *response.version_mut() = sent.version;
    Ok(response.map(|b| b.map_frame(filter_response_trailers).boxed_unsync()))
}

/// The app's response trailers may not speak for the sidecar either.
fn filter_response_trailers(frame: Frame<Bytes>) -> Frame<Bytes> {
    with_trailers(frame, headers::remove_mesh_headers)
}
