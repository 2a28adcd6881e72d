//! A Salesforce request (Apex, Flow, Agentforce): `x-request-context` and `x-client-context`
//! (docs/behaviour.md §4.4).

use http::request::Parts;
use http::{HeaderName, HeaderValue};

use super::{Identity, authenticate, header};
use crate::request::auth::client_context::{ClientContext, org_ids_agree};
use crate::request::auth::context::RequestContext;
use crate::request::auth::{AuthRequest, Authenticator};
use crate::request::error::MeshError;
use crate::request::headers::{CLIENT_CONTEXT, REQUEST_CONTEXT, REQUEST_ID};
use crate::request::state::Mesh;
use crate::telemetry::RequestLog;

/// A Salesforce request (Apex, Flow, Agentforce): validates RC and CC and authenticates;
/// returns what the app receives of CC.
pub(super) async fn admit(
    mesh: &Mesh,
    authenticator: &Authenticator,
    parts: &Parts,
    log: &mut RequestLog,
) -> Result<CheckedClientContext, MeshError> {
    let rc_value = header(parts, REQUEST_CONTEXT).map_or(&b""[..], HeaderValue::as_bytes);
    let rc = RequestContext::decode(rc_value).map_err(MeshError::BadRequestContext)?;
    check_request_id(parts, &rc.id)?;
    let mut context = check_client_context(mesh, parts, &rc)?;
    // Only the assertion reads who was verified: the org the API authenticates; the user, when
    // CC was checked against that org.
    if mesh.assertions.is_some() {
        context
            .identity
            .get_or_insert_with(Identity::default)
            .org_id = rc.org_id.clone();
    }
    let request = AuthRequest::Salesforce {
        org_domain_url: rc.org_domain_url,
        core_jwt_token: rc.auth,
        org_id: rc.org_id,
        app_uuid: rc.app_uuid,
    };
    authenticate(authenticator, rc.addon_uuid.as_deref(), &request, log).await?;
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

/// What the app receives from CC beside CC itself (forwarded as it came): the decoded
/// `x-applink-*` headers; and who the sidecar verified, when the assertion is on.
pub(super) struct CheckedClientContext {
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) identity: Option<Identity>,
}

/// Reads CC. With `verifyClientContext` (the default) it must be standard base64 of a JSON object
/// whose org id agrees with RC's, else 400 `bad-client-context`. Without it, a CC that does not
/// decode is forwarded unchanged but gives no headers (compat). Either way the app receives CC
/// byte for byte as the caller sent it.
fn check_client_context(
    mesh: &Mesh,
    parts: &Parts,
    rc: &RequestContext,
) -> Result<CheckedClientContext, MeshError> {
    let cc_value = header(parts, CLIENT_CONTEXT).map_or(&b""[..], HeaderValue::as_bytes);
    if !mesh.config.auth.verify_client_context {
        let headers = match ClientContext::decode(cc_value) {
            Ok(cc) => cc.headers(),
            Err(why) => {
                tracing::warn!(
                    reason = why,
                    "x-client-context is forwarded unchanged but gives no x-applink-* headers"
                );
                Vec::new()
            }
        };
        return Ok(CheckedClientContext {
            headers,
            identity: None,
        });
    }
    let cc = ClientContext::decode_checked(cc_value)
        .map_err(|why| MeshError::BadClientContext(why.to_string()))?;
    org_ids_agree(&rc.org_id, cc.org_id()).map_err(MeshError::BadClientContext)?;
    Ok(CheckedClientContext {
        headers: cc.headers(),
        identity: mesh.assertions.is_some().then(|| Identity {
            org_id: String::new(),
            user_id: cc.user_id().map(str::to_string),
        }),
    })
}
