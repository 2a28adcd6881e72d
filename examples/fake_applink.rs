//! A local AppLink API for development: run the sidecar in production mode on a laptop, without
//! the add-on (`bin/dev --production` starts it for you).
//!
//! It answers the two calls the sidecar makes, as the real API does:
//! - `POST /addons/<uuid>/invocations/authentication` with `org_domain_url`, `core_jwt_token`,
//!   `org_id` and `app_uuid`;
//! - `POST /addons/<uuid>/data_action_targets/authenticate` with `api_name`, `org_id`, `signature`
//!   and `payload`;
//!
//! each with `Authorization: Bearer <token>` and a JSON body. It cannot check a JWT's signature
//! (only Salesforce's keys can), so it stands in for the real verdicts:
//!
//! | the call | answer |
//! |---|---|
//! | the wrong bearer token, or none | 401 |
//! | a JWT whose `exp` has passed (`bin/invoke --expired-jwt`) | 401 |
//! | `--deny`, or an org named by `--deny-org` | 403 |
//! | a body that is not JSON with every field a non-empty string | 400 |
//! | another path or method | 404 / 405 |
//! | anything else | 200 |
//!
//! Every call is printed on one line, without the token, the JWT or the payload.
//!
//! `cargo run --example fake-applink -- --help`

// An example: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A local AppLink API: answers the sidecar's authentication calls like the real one.
#[derive(Parser, Debug, Clone)]
#[command(name = "fake-applink")]
struct Options {
    /// Port on 127.0.0.1; 0 picks a free one
    #[arg(long, default_value_t = 8090)]
    port: u16,
    /// The bearer token the sidecar must send (its HEROKU_APPLINK_TOKEN)
    #[arg(long, default_value = "local-applink-token")]
    token: String,
    /// The add-on's uuid, the last part of HEROKU_APPLINK_API_URL
    #[arg(long, default_value = "0a11c0de-0000-4000-8000-000000000001")]
    addon_uuid: String,
    /// Refuse every call (403), as for an org that is not connected
    #[arg(long)]
    deny: bool,
    /// Refuse the calls for this org id (403); repeatable
    #[arg(long, value_name = "ORG_ID")]
    deny_org: Vec<String>,
}

const SALESFORCE_FIELDS: [&str; 4] = ["org_domain_url", "core_jwt_token", "org_id", "app_uuid"];
const DATA_ACTION_TARGET_FIELDS: [&str; 4] = ["api_name", "org_id", "signature", "payload"];

struct Api {
    options: Options,
    denied_orgs: HashSet<String>,
    base_path: String,
}

/// One verdict: the status, and why, for the answer and the log line.
struct Verdict {
    status: StatusCode,
    why: String,
}

fn verdict(status: StatusCode, why: impl Into<String>) -> Verdict {
    Verdict {
        status,
        why: why.into(),
    }
}

impl Api {
    fn judge(&self, method: &Method, path: &str, bearer: Option<&str>, body: &[u8]) -> Verdict {
        let Some(endpoint) = path.strip_prefix(&self.base_path) else {
            return verdict(
                StatusCode::NOT_FOUND,
                format!("no such path; the API is at {}", self.base_path),
            );
        };
        let fields = match endpoint {
            "/invocations/authentication" => SALESFORCE_FIELDS,
            "/data_action_targets/authenticate" => DATA_ACTION_TARGET_FIELDS,
            _ => return verdict(StatusCode::NOT_FOUND, "no such endpoint"),
        };
        if method != Method::POST {
            return verdict(StatusCode::METHOD_NOT_ALLOWED, "only POST");
        }
        if bearer != Some(self.options.token.as_str()) {
            return verdict(StatusCode::UNAUTHORIZED, "wrong or missing bearer token");
        }
        let call: Value = match serde_json::from_slice(body) {
            Ok(Value::Object(call)) => Value::Object(call),
            _ => return verdict(StatusCode::BAD_REQUEST, "the body is not a JSON object"),
        };
        if let Some(field) = fields
            .iter()
            .find(|field| call[**field].as_str().is_none_or(str::is_empty))
        {
            return verdict(
                StatusCode::BAD_REQUEST,
                format!("field {field} missing or empty"),
            );
        }
        let org = call["org_id"].as_str().unwrap_or_default();
        if self.options.deny {
            return verdict(
                StatusCode::FORBIDDEN,
                format!("org_id={org} denied (--deny)"),
            );
        }
        if self.denied_orgs.contains(org) {
            return verdict(
                StatusCode::FORBIDDEN,
                format!("org_id={org} denied (--deny-org)"),
            );
        }
        if let Some(jwt) = call["core_jwt_token"].as_str()
            && jwt_has_expired(jwt)
        {
            return verdict(
                StatusCode::UNAUTHORIZED,
                format!("org_id={org}: the JWT has expired"),
            );
        }
        verdict(StatusCode::OK, format!("org_id={org} authenticated"))
    }
}

/// Whether the JWT carries an `exp` in the past. A token that is not a JWT has none.
fn jwt_has_expired(jwt: &str) -> bool {
    let claims = jwt
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    claims
        .as_ref()
        .and_then(|c| c["exp"].as_u64())
        .is_some_and(|exp| exp <= now)
}

async fn answer(
    api: Arc<Api>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let bearer = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let verdict = api.judge(&parts.method, parts.uri.path(), bearer, &body);
    println!(
        "fake-applink: {} {} -> {} {}",
        parts.method,
        parts.uri.path(),
        verdict.status.as_u16(),
        verdict.why
    );
    let text = if verdict.status.is_success() {
        json!({"authenticated": true})
    } else {
        json!({"error": verdict.why})
    };
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = verdict.status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let options = Options::parse();
    let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
    let port = listener.local_addr()?.port();
    let api = Arc::new(Api {
        denied_orgs: options.deny_org.iter().cloned().collect(),
        base_path: format!("/addons/{}", options.addon_uuid),
        options,
    });
    println!(
        "fake-applink: listening; give the sidecar\n  \
         HEROKU_APPLINK_API_URL=http://127.0.0.1:{port}{}\n  \
         HEROKU_APPLINK_TOKEN={}",
        api.base_path, api.options.token
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(api.clone(), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
