//! A Data Cloud Data Action Target: `x-signature`, `orgId` and `apiName`, and a body the AppLink
//! API checks the signature of (docs/behaviour.md §4.4, §5).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use super::{Admission, Identity, Refused, RequestBody, RequestKind, authenticate, header};
use crate::request::auth::{AuthRequest, Authenticator, json_escaped_len};
use crate::request::error::MeshError;
use crate::request::headers::{APPLINK_ORG_ID, SIGNATURE};
use crate::request::query;
use crate::request::state::Mesh;
use crate::telemetry::RequestLog;

/// A Data Cloud Data Action Target: `x-signature`, `orgId` and `apiName`, and a UTF-8 body that
/// the AppLink API checks the signature of. The body is held twice while it is checked (as it came,
/// and serialised in the API call), both counted against `limits.bufferedBodies`; the first
/// reservation stays with the admission until the response is done.
pub(super) async fn admit(
    mesh: &Mesh,
    authenticator: &Authenticator,
    parts: &Parts,
    body: Incoming,
    log: &mut RequestLog,
) -> Result<Admission, Refused> {
    let (org_id, api_name, signature) = match data_action_target_params(parts) {
        Ok(params) => params,
        Err(error) => return Err(Refused::keeping(error, RequestBody::Streamed(body))),
    };
    let (bytes, reserved) = read_body(mesh, parts, body, mesh.app_deadline(log)).await?;
    log.inbound
        .bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let context = HeaderValue::from_str(&org_id)
        .map(|v| vec![(APPLINK_ORG_ID, v)])
        .unwrap_or_default();
    // The org whose signature the API checks; a Data Action Target names no user.
    let identity = mesh.assertions.is_some().then(|| Identity {
        org_id: org_id.clone(),
        user_id: None,
    });
    let request = AuthRequest::DataActionTarget {
        api_name,
        org_id,
        signature,
        payload: bytes.clone(),
    };
    if let Err(error) = check_and_authenticate(mesh, authenticator, &request, &bytes, log).await {
        // The body is whole: a refusal keeps it, and its share of the budget.
        return Err(Refused {
            error,
            body: Some(RequestBody::Buffered(bytes)),
            reserved: Some(reserved),
        });
    }
    Ok(Admission {
        kind: RequestKind::DataActionTarget,
        identity,
        context,
        keep_client_context: false,
        body: RequestBody::Buffered(bytes),
        reserved: Some(reserved),
    })
}

/// The body's checks, then the API's, with the serialised call held (exactly its size) from the
/// budget while the API checks it.
async fn check_and_authenticate(
    mesh: &Mesh,
    authenticator: &Authenticator,
    request: &AuthRequest,
    bytes: &[u8],
    log: &mut RequestLog,
) -> Result<(), MeshError> {
    check_payload(mesh, bytes)?;
    let _call = mesh.reserve_body_bytes(request.body_len())?;
    // A Data Action Target request names no add-on: the default attachment checks it.
    authenticate(authenticator, None, request, log).await
}

/// The body must be UTF-8, and JSON-escaped (as the API receives it, up to six times its size)
/// within `limits.dataActionTargetBody`.
fn check_payload(mesh: &Mesh, bytes: &[u8]) -> Result<(), MeshError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(bad_data_action_target("the body must be UTF-8"));
    }
    let limit = mesh.config.limits.data_action_target_body;
    if json_escaped_len(bytes) as u64 > limit {
        return Err(MeshError::PayloadTooLarge { limit });
    }
    Ok(())
}

/// The first buffer for a body, and the least it grows by: what is reserved follows what arrives.
const FIRST_CHUNK: usize = 64 * 1024;

fn bad_data_action_target(why: &str) -> MeshError {
    MeshError::BadDataActionTarget(why.to_string())
}

/// `orgId` and `apiName` from the query, and the signature. The app reads the query again, so
/// each parameter must have one reading in every runtime (docs/behaviour.md §4.4).
fn data_action_target_params(parts: &Parts) -> Result<(String, String, String), MeshError> {
    let query = parts.uri.query().unwrap_or("");
    let param = |name: &str| {
        query::single_value(query, name)
            .map_err(MeshError::BadDataActionTarget)
            .map(|value| value.filter(|v| !v.is_empty()))
    };
    let org_id = param("orgId")?
        .ok_or_else(|| bad_data_action_target("the orgId query parameter is required"))?;
    let api_name = param("apiName")?
        .ok_or_else(|| bad_data_action_target("the apiName query parameter is required"))?;
    let signature = header(parts, SIGNATURE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad_data_action_target("x-signature must be text"))?
        .to_string();
    Ok((org_id, api_name, signature))
}

/// Reads the body, at most `limits.dataActionTargetBody` bytes, before `deadline` (it is read
/// before anything is forwarded, so a caller that sends it slowly must not hold its slot for ever),
/// reserving from the buffered-body budget as the bytes arrive.
async fn read_body(
    mesh: &Mesh,
    parts: &Parts,
    body: Incoming,
    deadline: tokio::time::Instant,
) -> Result<(Bytes, OwnedSemaphorePermit), MeshError> {
    let limit = mesh.config.limits.data_action_target_body;
    let declared = header(parts, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(MeshError::PayloadTooLarge { limit });
    }
    tokio::time::timeout_at(deadline, collect(mesh, body, limit))
        .await
        .map_err(|_| {
            bad_data_action_target(&format!(
                "the request body did not arrive within {}s",
                mesh.config.timeouts.app_response.as_secs()
            ))
        })?
}

/// The body's bytes in one buffer. Memory is reserved from the budget before the buffer grows,
/// and only as bytes arrive (a declared length reserves nothing): a caller that announces a large
/// body and sends nothing holds nothing.
async fn collect(
    mesh: &Mesh,
    mut body: Incoming,
    limit: u64,
) -> Result<(Bytes, OwnedSemaphorePermit), MeshError> {
    let limit_bytes = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut reserved = mesh.reserve_body_bytes(0)?;
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| bad_data_action_target("the request body could not be read"))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let needed = buffer.len() + data.len();
        if needed as u64 > limit {
            return Err(MeshError::PayloadTooLarge { limit });
        }
        if needed > buffer.capacity() {
            // Grow by doubling (few copies), never past the limit, reserving before allocating.
            let capacity = needed
                .max(buffer.capacity() * 2)
                .max(FIRST_CHUNK)
                .min(limit_bytes);
            reserved.merge(mesh.reserve_body_bytes(capacity - buffer.capacity())?);
            buffer.reserve_exact(capacity - buffer.len());
        }
        buffer.extend_from_slice(data);
    }
    Ok((Bytes::from(buffer), reserved))
}

#[cfg(test)]
mod tests {
    use crate::request::auth::json_escaped_len;

    #[test]
    fn escaped_length_is_what_serde_json_writes() {
        for text in [
            "",
            "plain {\"json\": [1, 2]}",
            "\u{1}\u{1f}\n\r\t\u{8}\u{c}\\\"/",
            "ünïcödé \u{7f} 🦀",
        ] {
            let written = serde_json::to_string(text).unwrap();
            assert_eq!(
                json_escaped_len(text.as_bytes()),
                written.len() - 2,
                "{text:?}"
            );
        }
    }
}
