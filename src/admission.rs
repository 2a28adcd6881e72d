//! Deciding whether a request may reach the app (§4–5): bypass, classification, context
//! validation and the AppLink API call. The result says what context goes with it.

use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::auth::context::{ClientContext, RequestContext, org_ids_agree};
use crate::auth::{ApiClient, AuthRequest};
use crate::error::MeshError;
use crate::headers::{CLIENT_CONTEXT, REQUEST_CONTEXT, REQUEST_ID, SIGNATURE};
use crate::routes::Bypass;
use crate::state::Mesh;
use crate::telemetry::RequestLog;

/// What kind of caller the sidecar let through (`x-applink-request-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Salesforce,
    DataActionTarget,
    Bypass,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Salesforce => "salesforce",
            RequestKind::DataActionTarget => "data-action-target",
            RequestKind::Bypass => "bypass",
        }
    }
}

/// A request let through, with the context that goes to the app.
pub struct Admission {
    pub kind: RequestKind,
    /// Decoded `x-applink-*` headers (without the kind).
    pub context: Vec<(&'static str, HeaderValue)>,
    /// Whether `x-client-context` is forwarded.
    pub keep_client_context: bool,
    /// The body, when authentication had to read it (Data Action Targets).
    pub buffered_body: Option<Bytes>,
}

impl Admission {
    fn bypass() -> Admission {
        Admission {
            kind: RequestKind::Bypass,
            context: Vec::new(),
            keep_client_context: false,
            buffered_body: None,
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a HeaderValue> {
    parts.headers.get(name)
}

/// Dev mode: everything passes; a present CC is decoded into the context headers, unverified.
pub fn admit_dev(parts: &Parts) -> Admission {
    let kind = match (header(parts, CLIENT_CONTEXT), header(parts, SIGNATURE)) {
        (Some(_), _) => RequestKind::Salesforce,
        (None, Some(_)) => RequestKind::DataActionTarget,
        (None, None) => RequestKind::Bypass,
    };
    let context = header(parts, CLIENT_CONTEXT)
        .and_then(|cc| ClientContext::decode(cc.as_bytes()).ok())
        .map(|cc| cc.headers())
        .unwrap_or_default();
    Admission {
        kind,
        context,
        keep_client_context: true,
        buffered_body: None,
    }
}

/// Production: bypass, or classify and authenticate (§4.2–4.5, §5).
pub async fn admit(
    mesh: &Mesh,
    api: &ApiClient,
    parts: &Parts,
    body: &mut Option<Incoming>,
    normal_form: bool,
    log: &mut RequestLog,
) -> Result<Admission, MeshError> {
    let has_rc = parts.headers.contains_key(REQUEST_CONTEXT);
    let has_cc = parts.headers.contains_key(CLIENT_CONTEXT);
    if let Some(bypass) = mesh.routes.bypass(parts.uri.path(), normal_form) {
        if bypass == Bypass::All {
            tracing::warn!(
                "authentication is off for every route (HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES)"
            );
        }
        if has_rc && has_cc {
            // Authenticate anyway so the app can trust the context when it is valid; never reject.
            return Ok(match salesforce(mesh, api, parts, log).await {
                Ok(admission) => admission,
                Err(e) => {
                    tracing::debug!(
                        reason = e.reason(),
                        "context on a bypassed route did not authenticate; forwarding without it"
                    );
                    Admission::bypass()
                }
            });
        }
        return Ok(Admission::bypass());
    }
    match (has_rc, has_cc, parts.headers.contains_key(SIGNATURE)) {
        (true, true, _) => {
            log.kind = RequestKind::Salesforce.as_str();
            salesforce(mesh, api, parts, log).await
        }
        (true, false, _) => Err(MeshError::PartialContext {
            present: REQUEST_CONTEXT,
            missing: CLIENT_CONTEXT,
        }),
        (false, true, _) => Err(MeshError::PartialContext {
            present: CLIENT_CONTEXT,
            missing: REQUEST_CONTEXT,
        }),
        (false, false, true) => {
            log.kind = RequestKind::DataActionTarget.as_str();
            data_action_target(mesh, api, parts, body, log).await
        }
        (false, false, false) => Err(MeshError::MissingContext),
    }
}

/// A Salesforce request (Apex, Flow, Agentforce): RC and CC.
async fn salesforce(
    mesh: &Mesh,
    api: &ApiClient,
    parts: &Parts,
    log: &mut RequestLog,
) -> Result<Admission, MeshError> {
    let rc_value = header(parts, REQUEST_CONTEXT).map_or(&b""[..], HeaderValue::as_bytes);
    let rc = RequestContext::decode(rc_value).map_err(MeshError::BadRequestContext)?;
    if !rc.extra_fields.is_empty() {
        tracing::debug!(fields = ?rc.extra_fields, "request context has extra fields");
    }
    let rid = match header(parts, REQUEST_ID).map(HeaderValue::to_str) {
        None => {
            return Err(MeshError::RequestIdMismatch(
                "x-request-id is missing; it must contain the request context's id".into(),
            ));
        }
        Some(Err(_)) => {
            return Err(MeshError::RequestIdMismatch(
                "x-request-id is not plain text; it must contain the request context's id".into(),
            ));
        }
        Some(Ok(rid)) => rid,
    };
    if !rid.contains(rc.id.as_str()) {
        return Err(MeshError::RequestIdMismatch(
            "x-request-id does not contain the request context's id".into(),
        ));
    }
    let cc_value = header(parts, CLIENT_CONTEXT).map_or(&b""[..], HeaderValue::as_bytes);
    let context = match ClientContext::decode(cc_value) {
        Ok(cc) => {
            if mesh.config.auth.verify_client_context {
                org_ids_agree(&rc.org_id, &cc.org_id).map_err(MeshError::BadClientContext)?;
            }
            cc.headers()
        }
        Err(why) => {
            tracing::warn!(
                reason = why,
                "x-client-context is forwarded unchanged but gives no x-applink-* headers"
            );
            Vec::new()
        }
    };
    let request = AuthRequest::Salesforce {
        org_domain_url: rc.org_domain_url,
        core_jwt_token: rc.auth,
        org_id: rc.org_id,
        app_uuid: rc.app_uuid,
    };
    authenticate(mesh, api, &request, log).await?;
    Ok(Admission {
        kind: RequestKind::Salesforce,
        context,
        keep_client_context: true,
        buffered_body: None,
    })
}

/// A Data Cloud Data Action Target: `x-signature`, `orgId` and `apiName`, and a UTF-8 body that
/// the AppLink API checks the signature of.
async fn data_action_target(
    mesh: &Mesh,
    api: &ApiClient,
    parts: &Parts,
    body: &mut Option<Incoming>,
    log: &mut RequestLog,
) -> Result<Admission, MeshError> {
    let bad = |why: &str| MeshError::BadDataActionTarget(why.to_string());
    let query = parts.uri.query().unwrap_or("");
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let org_id = param("orgId").ok_or_else(|| bad("the orgId query parameter is required"))?;
    let api_name =
        param("apiName").ok_or_else(|| bad("the apiName query parameter is required"))?;
    let signature = header(parts, SIGNATURE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("x-signature must be text"))?
        .to_string();

    let limit = mesh.config.limits.data_action_target_body;
    let declared = header(parts, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(MeshError::PayloadTooLarge { limit });
    }
    let incoming = body
        .take()
        .ok_or_else(|| bad("the request body could not be read"))?;
    // The body is read before anything is forwarded, so a caller that sends it slowly must not
    // hold its slot forever: it gets `timeouts.appResponse` to finish.
    let deadline = mesh.config.timeouts.app_response;
    let bytes = tokio::time::timeout(deadline, Limited::new(incoming, limit as usize).collect())
        .await
        .map_err(|_| {
            bad(&format!(
                "the request body did not arrive within {}s",
                deadline.as_secs()
            ))
        })?
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                MeshError::PayloadTooLarge { limit }
            } else {
                bad("the request body could not be read")
            }
        })?
        .to_bytes();
    log.bytes_in
        .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let payload = std::str::from_utf8(&bytes)
        .map_err(|_| bad("the body must be UTF-8"))?
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
    authenticate(mesh, api, &request, log).await?;
    Ok(Admission {
        kind: RequestKind::DataActionTarget,
        context,
        keep_client_context: false,
        buffered_body: Some(bytes),
    })
}

async fn authenticate(
    mesh: &Mesh,
    api: &ApiClient,
    request: &AuthRequest,
    log: &mut RequestLog,
) -> Result<(), MeshError> {
    let started = Instant::now();
    let result = match &mesh.auth_cache {
        Some(cache) => cache.authenticate(api, request, &log.request_id).await,
        None => api.authenticate(request, &log.request_id).await,
    };
    log.auth = Some(started.elapsed());
    result
}
