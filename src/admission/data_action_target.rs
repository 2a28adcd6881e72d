//! A Data Cloud Data Action Target: `x-signature`, `orgId` and `apiName`, and a body the AppLink
//! API checks the signature of (docs/behaviour.md §4.4, §5).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::{Admission, RequestBody, RequestKind, authenticate, header};
use crate::auth::{AuthRequest, Authenticator};
use crate::error::MeshError;
use crate::headers::SIGNATURE;
use crate::state::Mesh;
use crate::telemetry::RequestLog;

/// A Data Cloud Data Action Target: `x-signature`, `orgId` and `apiName`, and a UTF-8 body that
/// the AppLink API checks the signature of.
pub(super) async fn admit(
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
