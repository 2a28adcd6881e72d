//! Deciding whether a request may reach the app (docs/behaviour.md §4–5), in two steps:
//! [`classify`] looks at the route and headers only; [`admit`] validates the context and asks the
//! AppLink API. The body is handed over by value and comes back in the [`Admission`], streaming or
//! read (only a Data Action Target's is read, because the API checks its signature).

mod data_action_target;
mod salesforce;

use std::time::Instant;

use bytes::Bytes;
use http::HeaderValue;
use http::header::{AsHeaderName, HeaderName};
use http::request::Parts;
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use crate::request::auth::client_context::ClientContext;
use crate::request::auth::{AuthRequest, Authenticator};
use crate::request::error::MeshError;
use crate::request::headers::{self, CLIENT_CONTEXT, REQUEST_CONTEXT, SIGNATURE};
use crate::request::query;
use crate::request::routes::Bypass;
use crate::request::state::Mesh;
use crate::telemetry::{Phase, RequestLog};

/// What kind of caller the sidecar let through (`x-applink-request-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Salesforce,
    DataActionTarget,
    Bypass,
    /// Dev mode, a request with no context at all: forwarded, as every dev request is.
    DevWithoutContext,
}

impl RequestKind {
    /// The kind as the app reads it in `x-applink-request-kind`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RequestKind::Salesforce => "salesforce",
            RequestKind::DataActionTarget => "data-action-target",
            // What the app is told matches a bypassed route: no context, not authenticated.
            RequestKind::Bypass | RequestKind::DevWithoutContext => "bypass",
        }
    }

    /// The kind in the access log: there a dev request without context says so, since no
    /// route was bypassed.
    pub(crate) fn log_name(self) -> &'static str {
        match self {
            RequestKind::DevWithoutContext => "dev-no-context",
            other => other.as_str(),
        }
    }
}

/// How a request is to be admitted, decided from its route and headers alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// A bypassed route; `with_context` when it carries RC and CC, which are checked anyway
    /// (docs/behaviour.md §4.5).
    Bypass {
        with_context: bool,
        /// Let through by an entry for some methods only: a method-override header must not turn
        /// the request into another method at the app.
        for_its_method: bool,
    },
    Salesforce,
    DataActionTarget,
    /// Dev mode: nothing is authenticated; the kind is read from the headers.
    Dev(RequestKind),
}

impl Class {
    /// Whether the request was let through for its method only (docs/behaviour.md §4.2).
    pub(crate) fn bypassed_for_its_method(self) -> bool {
        matches!(
            self,
            Class::Bypass {
                for_its_method: true,
                ..
            }
        )
    }

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

/// Who the sidecar verified (the signed assertion's `orgId` and `userId`, docs/behaviour.md §6.1):
/// the org whose token or signature the AppLink API authenticated, and the user CC names when
/// `verifyClientContext` checked CC against that org. Never read back from the headers.
#[derive(Default)]
pub(crate) struct Identity {
    pub(crate) org_id: String,
    pub(crate) user_id: Option<String>,
}

/// A request let through, with the context that goes to the app.
pub(crate) struct Admission {
    pub(crate) kind: RequestKind,
    /// Who was verified, kept only when the assertion is on (its one reader); `None` too when
    /// nobody was (a bypass, dev mode, the dry run's would-reject).
    pub(crate) identity: Option<Identity>,
    /// Decoded `x-applink-*` headers (without the kind).
    pub(crate) context: Vec<(HeaderName, HeaderValue)>,
    /// Whether `x-client-context` is forwarded (as the caller sent it).
    pub(crate) keep_client_context: bool,
    pub(crate) body: RequestBody,
    /// The buffered body's share of `limits.bufferedBodies`, held until the response is done.
    pub(crate) reserved: Option<OwnedSemaphorePermit>,
}

impl Admission {
    fn bypass(body: RequestBody) -> Admission {
        Admission {
            kind: RequestKind::Bypass,
            identity: None,
            context: Vec::new(),
            keep_client_context: false,
            body,
            reserved: None,
        }
    }

    /// The dry run's admission of a request that would be refused (docs/behaviour.md §4.6): no
    /// context, and the app told what it is told on a bypassed route. A refusal whose body was
    /// partly read stays a refusal.
    pub(crate) fn unverified(refused: Refused) -> Result<Admission, MeshError> {
        match refused.body {
            Some(body) => Ok(Admission {
                reserved: refused.reserved,
                ..Admission::bypass(body)
            }),
            None => Err(refused.error),
        }
    }

    fn salesforce(checked: salesforce::CheckedClientContext, body: RequestBody) -> Admission {
        Admission {
            kind: RequestKind::Salesforce,
            identity: checked.identity,
            context: checked.headers,
            keep_client_context: true,
            body,
            reserved: None,
        }
    }
}

/// A request admission refused, with its body when it is still whole (only the dry run forwards it).
pub(crate) struct Refused {
    pub(crate) error: MeshError,
    body: Option<RequestBody>,
    reserved: Option<OwnedSemaphorePermit>,
}

impl Refused {
    fn keeping(error: MeshError, body: RequestBody) -> Refused {
        Refused {
            error,
            body: Some(body),
            reserved: None,
        }
    }
}

impl From<MeshError> for Refused {
    /// A refusal after the body was partly read: it can only be refused.
    fn from(error: MeshError) -> Refused {
        Refused {
            error,
            body: None,
            reserved: None,
        }
    }
}

/// Classifies and admits the request; the one place its kind is set in the log record: what
/// admission let through, or what it refused. (A request refused before it could be classified
/// keeps `unknown`.) A request let through for its method only loses its method overrides.
pub(crate) async fn decide(
    mesh: &Mesh,
    parts: &mut Parts,
    normal_form: bool,
    body: Incoming,
    log: &mut RequestLog,
) -> Result<Admission, Refused> {
    let class = match classify(mesh, parts, normal_form) {
        Ok(class) => class,
        Err(error) => return Err(Refused::keeping(error, RequestBody::Streamed(body))),
    };
    if class.bypassed_for_its_method() {
        headers::remove_method_overrides(&mut parts.headers);
    }
    let admitted = admit(mesh, class, parts, body, log).await;
    log.kind = admitted
        .as_ref()
        .map_or(class.kind(), |admission| admission.kind)
        .log_name();
    admitted
}

pub(super) fn header(parts: &Parts, name: impl AsHeaderName) -> Option<&HeaderValue> {
    parts.headers.get(name)
}

/// Step one: which way the request goes (docs/behaviour.md §4.2, §4.4). A request with half a
/// Salesforce context, or none and no signature, stops here.
fn classify(mesh: &Mesh, parts: &Parts, normal_form: bool) -> Result<Class, MeshError> {
    let has = |name: HeaderName| parts.headers.contains_key(name);
    let (rc, cc, signature) = (has(REQUEST_CONTEXT), has(CLIENT_CONTEXT), has(SIGNATURE));
    if mesh.authenticator.is_none() {
        return Ok(Class::Dev(match (cc, signature) {
            (true, _) => RequestKind::Salesforce,
            (false, true) => RequestKind::DataActionTarget,
            (false, false) => RequestKind::DevWithoutContext,
        }));
    }
    if let Some(bypass) = bypass(mesh, parts, normal_form, rc && cc) {
        return Ok(bypass);
    }
    match (rc, cc, signature) {
        (true, true, _) => Ok(Class::Salesforce),
        (true, false, _) => Err(MeshError::PartialContext {
            present: "x-request-context",
            missing: "x-client-context",
        }),
        (false, true, _) => Err(MeshError::PartialContext {
            present: "x-client-context",
            missing: "x-request-context",
        }),
        (false, false, true) => Ok(Class::DataActionTarget),
        (false, false, false) => Err(MeshError::MissingContext),
    }
}

/// The bypass decision (docs/behaviour.md §4.2), `with_context` when the request carries RC and CC.
fn bypass(mesh: &Mesh, parts: &Parts, normal_form: bool, with_context: bool) -> Option<Class> {
    // Only an entry for some methods looks at the query: without one, it is not parsed.
    let overridable =
        mesh.routes.has_method_entries() && query::names_method_override(parts.uri.query());
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let bypass = mesh.routes.bypass(method, path, normal_form, overridable)?;
    if bypass == Bypass::All {
        tracing::warn!(
            "authentication is off for every route (HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES)"
        );
    }
    let for_its_method = matches!(bypass, Bypass::Route(at)
        if mesh.routes.route(at).is_some_and(|route| !route.methods.is_empty()));
    Some(Class::Bypass {
        with_context,
        for_its_method,
    })
}

/// Step two: validates the context and authenticates (docs/behaviour.md §4.4, §4.5, §5).
async fn admit(
    mesh: &Mesh,
    class: Class,
    parts: &Parts,
    body: Incoming,
    log: &mut RequestLog,
) -> Result<Admission, Refused> {
    let streamed = RequestBody::Streamed;
    match (class, &mesh.authenticator) {
        (Class::Dev(_), _) | (_, None) => Ok(admit_dev(class.kind(), parts, streamed(body))),
        (Class::Bypass { with_context, .. }, Some(authenticator)) => {
            if !with_context {
                return Ok(Admission::bypass(streamed(body)));
            }
            // Authenticate anyway so the app can trust the context when it is valid; never reject.
            match salesforce::admit(mesh, authenticator, parts, log).await {
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
            match salesforce::admit(mesh, authenticator, parts, log).await {
                Ok(context) => Ok(Admission::salesforce(context, streamed(body))),
                Err(error) => Err(Refused::keeping(error, streamed(body))),
            }
        }
        (Class::DataActionTarget, Some(authenticator)) => {
            data_action_target::admit(mesh, authenticator, parts, body, log).await
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
        identity: None,
        context,
        keep_client_context: true,
        body,
        reserved: None,
    }
}

/// One AppLink API call, timed for the log line.
pub(super) async fn authenticate(
    authenticator: &Authenticator,
    addon_uuid: Option<&str>,
    request: &AuthRequest,
    log: &mut RequestLog,
) -> Result<(), MeshError> {
    let started = Instant::now();
    let result = authenticator
        .authenticate(addon_uuid, request, &log.request_id)
        .await;
    log.auth = Some(Phase::since(
        started,
        result.as_ref().err().map(MeshError::reason),
    ));
    result
}
