//! Deciding whether a request may reach the app (docs/behaviour.md §4–5), in two steps:
//! [`classify`] looks at the route and headers only; [`admit`] validates the context and asks the
//! AppLink API. The body is handed over by value and comes back in the [`Admission`], streaming or
//! read (only a Data Action Target's is read, because the API checks its signature).

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::auth::context::{ClientContext, RequestContext, org_ids_agree};
use crate::auth::{AuthRequest, Authenticator};
use crate::error::MeshError;
use crate::headers::{CLIENT_CONTEXT, REQUEST_CONTEXT, REQUEST_ID, SIGNATURE};
use crate::routes::Bypass;
use crate::state::Mesh;
use crate::telemetry::RequestLog;

/// What kind of caller the sidecar let through (`x-applink-request-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Salesforce,
    DataActionTarget,
    Bypass,
}

impl RequestKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RequestKind::Salesforce => "salesforce",
            RequestKind::DataActionTarget => "data-action-target",
            RequestKind::Bypass => "bypass",
        }
    }
}

/// How a request is to be admitted, decided from its route and headers alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// A bypassed route; `with_context` when it carries RC and CC, which are checked anyway
    /// (§4.5).
    Bypass {
        with_context: bool,
    },
    Salesforce,
    DataActionTarget,
    /// Dev mode: nothing is authenticated; the kind is read from the headers.
    Dev(RequestKind),
}

impl Class {
    /// The kind the request has unless admission changes it.
    pub(crate) fn kind(self) -> RequestKind {
        match self {
            Class::Bypass { .. } => RequestKind::Bypass,
            Class::Salesforce => RequestKind::Salesforce,
            Class::DataActionTarget => RequestKind::DataActionTarget,
            Class::Dev(kind) => kind,
        }
    }
}

/// The request body as admission hands it on.
pub(crate) enum RequestBody {
    Streamed(Incoming),
    /// Read to its end before the request was authenticated.
    Buffered(Bytes),
}

/// A request let through, with the context that goes to the app.
pub(crate) struct Admission {
    pub(crate) kind: RequestKind,
    /// Decoded `x-applink-*` headers (without the kind).
    pub(crate) context: Vec<(&'static str, HeaderValue)>,
    /// Whether `x-client-context` is forwarded.
    pub(crate) keep_client_context: bool,
    pub(crate) body: RequestBody,
}

impl Admission {
    fn bypass(body: RequestBody) -> Admission {
        Admission {
            kind: RequestKind::Bypass,
            context: Vec::new(),
            keep_client_context: false,
            body,
        }
    }

    fn salesforce(context: Vec<(&'static str, HeaderValue)>, body: RequestBody) -> Admission {
        Admission {
            kind: RequestKind::Salesforce,
            context,
            keep_client_context: true,
            body,
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a HeaderValue> {
    parts.headers.get(name)
}

/// Step one: which way the request goes (§4.2, §4.4). A request with half a Salesforce context,
/// or none and no signature, stops here.
pub(crate) fn classify(mesh: &Mesh, parts: &Parts, normal_form: bool) -> Result<Class, MeshError> {
    let has = |name: &str| parts.headers.contains_key(name);
    let (rc, cc, signature) = (has(REQUEST_CONTEXT), has(CLIENT_CONTEXT), has(SIGNATURE));
    if mesh.authenticator.is_none() {
        return Ok(Class::Dev(match (cc, signature) {
            (true, _) => RequestKind::Salesforce,
            (false, true) => RequestKind::DataActionTarget,
            (false, false) => RequestKind::Bypass,
        }));
    }
    if let Some(bypass) = mesh.routes.bypass(parts.uri.path(), normal_form) {
        if bypass == Bypass::All {
            tracing::warn!(
                "authentication is off for every route (HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES)"
            );
        }
        return Ok(Class::Bypass {
            with_context: rc && cc,
        });
    }
    match (rc, cc, signature) {
        (true, true, _) => Ok(Class::Salesforce),
        (true, false, _) => Err(MeshError::PartialContext {
            present: REQUEST_CONTEXT,
            missing: CLIENT_CONTEXT,
        }),
        (false, true, _) => Err(MeshError::PartialContext {
            present: CLIENT_CONTEXT,
            missing: REQUEST_CONTEXT,
        }),
        (false, false, true) => Ok(Class::DataActionTarget),
        (false, false, false) => Err(MeshError::MissingContext),
    }
}

/// Step two: validates the context and authenticates (§4.4, §4.5, §5).
pub(crate) async fn admit(
    mesh: &Mesh,
    class: Class,
    parts: &Parts,
    body: Incoming,
    log: &mut RequestLog,
) -> Result<Admission, MeshError> {
    let streamed = RequestBody::Streamed;
    match (class, &mesh.authenticator) {
        (Class::Dev(_), _) | (_, None) => Ok(admit_dev(class.kind(), parts, streamed(body))),
        (Class::Bypass { with_context }, Some(authenticator)) => {
            if !with_context {
                return Ok(Admission::bypass(streamed(body)));
            }
            // Authenticate anyway so the app can trust the context when it is valid; never reject.
            match salesforce(mesh, authenticator, parts, log).await {
                Ok(context) => Ok(Admission::salesforce(context, streamed(body))),
                Err(error) => {
                    tracing::debug!(
                        reason = error.reason(),
                        "context on a bypassed route did not authenticate; forwarding without it"
                    );
                    Ok(Admission::bypass(streamed(body)))
                }
            }
        }
        (Class::Salesforce, Some(authenticator)) => {
            let context = salesforce(mesh, authenticator, parts, log).await?;
            Ok(Admission::salesforce(context, streamed(body)))
        }
        (Class::DataActionTarget, Some(authenticator)) => {
            data_action_target(mesh, authenticator, parts, body, log).await
        }
    }
}

/// Dev mode: everything passes; a present CC is decoded into the context headers, unverified.
fn admit_dev(kind: RequestKind, parts: &Parts, body: RequestBody) -> Admission {
    let context = header(parts, CLIENT_CONTEXT)
        .and_then(|cc| ClientContext::decode(cc.as_bytes()).ok())
        .map(|cc| cc.headers())
        .unwrap_or_default();
    Admission {
        kind,
        context,
        keep_client_context: true,
        body,
    }
}

/// A Salesforce request (Apex, Flow, Agentforce): validates RC and CC and authenticates;
/// returns the context headers for the app.
async fn salesforce(
    mesh: &Mesh,
    authenticator: &Authenticator,
    parts: &Parts,
    log: &mut RequestLog,
) -> Result<Vec<(&'static str, HeaderValue)>, MeshError> {
    let rc_value = header(parts, REQUEST_CONTEXT).map_or(&b""[..], HeaderValue::as_bytes);
    let rc = RequestContext::decode(rc_value).map_err(MeshError::BadRequestContext)?;
    if !rc.extra_fields.is_empty() {
        tracing::debug!(fields = ?rc.extra_fields, "request context has extra fields");
    }
    check_request_id(parts, &rc.id)?;
    let context = client_context_headers(mesh, parts, &rc)?;
    let request = AuthRequest::Salesforce {
        org_domain_url: rc.org_domain_url,
        core_jwt_token: rc.auth,
        org_id: rc.org_id,
        app_uuid: rc.app_uuid,
    };
    authenticate(authenticator, &request, log).await?;
    Ok(context)
}

/// `x-request-id` must contain RC's `id` (compat).
fn check_request_id(parts: &Parts, context_id: &str) -> Result<(), MeshError> {
    let why = match header(parts, REQUEST_ID).map(HeaderValue::to_str) {
        None => "x-request-id is missing; it must contain the request context's id",
        Some(Err(_)) => "x-request-id is not plain text; it must contain the request context's id",
        Some(Ok(rid)) if !rid.contains(context_id) => {
            "x-request-id does not contain the request context's id"
        }
        Some(Ok(_)) => return Ok(()),
    };
    Err(MeshError::RequestIdMismatch(why.into()))
}

/// The `x-applink-*` headers from CC, after the org id cross-check (`verifyClientContext`). A CC
/// that does not decode is forwarded unchanged but gives no headers (compat).
fn client_context_headers(
    mesh: &Mesh,
    parts: &Parts,
    rc: &RequestContext,
) -> Result<Vec<(&'static str, HeaderValue)>, MeshError> {
    let cc_value = header(parts, CLIENT_CONTEXT).map_or(&b""[..], HeaderValue::as_bytes);
    match ClientContext::decode(cc_value) {
        Ok(cc) => {
            if mesh.config.auth.verify_client_context {
                org_ids_agree(&rc.org_id, &cc.org_id).map_err(MeshError::BadClientContext)?;
            }
            Ok(cc.headers())
        }
        Err(why) => {
            tracing::warn!(
                reason = why,
                "x-client-context is forwarded unchanged but gives no x-applink-* headers"
            );
            Ok(Vec::new())
        }
    }
}

/// A Data Cloud Data Action Target: `x-signature`, `orgId` and `apiName`, and a UTF-8 body that
/// the AppLink API checks the signature of.
async fn data_action_target(
    mesh: &Mesh,
    authenticator: &Authenticator,
    parts: &Parts,
    body: Incoming,
    log: &mut RequestLog,
) -> Result<Admission, MeshError> {
    let (org_id, api_name, signature) = data_action_target_params(parts)?;
    let bytes = read_data_action_target_body(mesh, parts, body).await?;
    log.bytes_in
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let payload = std::str::from_utf8(&bytes)
        .map_err(|_| bad_data_action_target("the body must be UTF-8"))?
        .to_string();
    let context = HeaderValue::from_str(&org_id)
        .map(|v| vec![("x-applink-org-id", v)])
        .unwrap_or_default();
    let request = AuthRequest::DataActionTarget {
        api_name,
        org_id,
        signature,
        payload,
    };
    authenticate(authenticator, &request, log).await?;
    Ok(Admission {
        kind: RequestKind::DataActionTarget,
        context,
        keep_client_context: false,
        body: RequestBody::Buffered(bytes),
    })
}

fn bad_data_action_target(why: &str) -> MeshError {
    MeshError::BadDataActionTarget(why.to_string())
}

/// `orgId` and `apiName` from the query, and the signature.
fn data_action_target_params(parts: &Parts) -> Result<(String, String, String), MeshError> {
    let query = parts.uri.query().unwrap_or("");
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let org_id = param("orgId")
        .ok_or_else(|| bad_data_action_target("the orgId query parameter is required"))?;
    let api_name = param("apiName")
        .ok_or_else(|| bad_data_action_target("the apiName query parameter is required"))?;
    let signature = header(parts, SIGNATURE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad_data_action_target("x-signature must be text"))?
        .to_string();
    Ok((org_id, api_name, signature))
}

/// Reads the body, at most `limits.dataActionTargetBody` bytes within `timeouts.appResponse`: it
/// is read before anything is forwarded, so a caller that sends it slowly must not hold its slot
/// for ever.
async fn read_data_action_target_body(
    mesh: &Mesh,
    parts: &Parts,
    body: Incoming,
) -> Result<Bytes, MeshError> {
    let limit = mesh.config.limits.data_action_target_body;
    let declared = header(parts, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(MeshError::PayloadTooLarge { limit });
    }
    let deadline = mesh.config.timeouts.app_response;
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    let collected = tokio::time::timeout(deadline, limited.collect())
        .await
        .map_err(|_| {
            bad_data_action_target(&format!(
                "the request body did not arrive within {}s",
                deadline.as_secs()
            ))
        })?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(MeshError::PayloadTooLarge { limit })
        }
        Err(_) => Err(bad_data_action_target("the request body could not be read")),
    }
}

async fn authenticate(
    authenticator: &Authenticator,
    request: &AuthRequest,
    log: &mut RequestLog,
) -> Result<(), MeshError> {
    let started = Instant::now();
    let result = authenticator.authenticate(request, &log.request_id).await;
    log.auth = Some(started.elapsed());
    result
}
