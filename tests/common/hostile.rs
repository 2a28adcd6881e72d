//! The differential table (docs/behaviour.md §4): hostile requests, each tried as an attacker
//! holding a valid request context for one connected org would, sent through the sidecar to every
//! app of the language matrix. Each app answers with what its runtime's idiomatic reading gives:
//!
//! - `readings`: every reading of the caller's identity, each `{via, orgId, userId, error?}`:
//!   `X-Client-Context` decoded each idiomatic way (PHP's `$_SERVER` and `getallheaders()`, Go's
//!   struct, Jackson, the SDKs, ...), and the sidecar's `X-Applink-Org-Id`/`X-Applink-User-Id`;
//! - `method`: the method after the ecosystem's method-override idiom;
//! - `query`: `orgId` and `apiName` as its query parser reads them.
//!
//! For every case, either the sidecar refused it, or every runtime read exactly the org and user
//! the sidecar verified, and no other method (`differential.rs` judges). A new case is one line in
//! [`cases`].

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::client::raw_request;
use super::salesforce::{self, CONTEXT_ID, ORG_ID};

/// The request id of the Salesforce cases, which contains RC's `id` as the sidecar requires.
pub fn verified_request_id() -> String {
    format!("{CONTEXT_ID}-1234")
}

/// Another org, and another user, than the ones the attacker holds a context for.
pub const OTHER_ORG: &str = "00DJS0000000999XYZ";
pub const USER_ID: &str = "005JS000000ABCD";
pub const OTHER_USER: &str = "005JS000000EVIL";
/// The Data Action Target the cases call.
pub const API_NAME: &str = "Acme_Action";

/// What the sidecar verified, and so what every runtime must read, when it forwards the request.
#[derive(Debug, Clone, Copy)]
pub enum Verified {
    /// A Salesforce context: the attacker's own org and user, in CC and the context headers.
    Salesforce,
    /// Nothing: no context, no context headers.
    Nothing,
    /// A Data Action Target: the org and API name of its query, the org in `X-Applink-Org-Id`.
    DataActionTarget,
}

/// One hostile request.
pub struct Case {
    pub name: &'static str,
    pub method: &'static str,
    pub target: String,
    /// Header lines as sent, name spelling and all (a value may hold `\r\n ` for obs-fold).
    pub headers: Vec<(String, String)>,
    pub body: &'static str,
    /// Trailers after the body, sent chunked, when there are any.
    pub trailers: Vec<(String, String)>,
    pub verified: Verified,
    /// A control: refusing it would be a bug (the table must not pass by refusing everything).
    pub must_forward: bool,
}

impl Case {
    fn forwarded(mut self) -> Case {
        self.must_forward = true;
        self
    }

    fn verifying(mut self, verified: Verified) -> Case {
        self.verified = verified;
        self
    }
}

fn owned(headers: &[(&str, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

/// `GET /read` with a valid Salesforce context and `extra` header lines after it.
fn salesforce(name: &'static str, extra: &[(&str, String)]) -> Case {
    let mut headers = owned(&salesforce::headers());
    headers.extend(owned(extra));
    Case {
        name,
        method: "GET",
        target: "/read".into(),
        headers,
        body: "",
        verified: Verified::Salesforce,
        must_forward: false,
        trailers: Vec::new(),
    }
}

/// A Salesforce request whose CC header carries `cc` (already encoded) and whose RC is valid.
fn with_client_context(name: &'static str, cc: String) -> Case {
    let mut case = salesforce(name, &[]);
    case.headers[1].1 = cc;
    case
}

/// A Salesforce request whose RC carries the JSON text `rc`, and whose CC is valid.
fn with_request_context(name: &'static str, rc: &str) -> Case {
    let mut case = salesforce(name, &[]);
    case.headers[0].1 = b64(rc);
    case
}

/// A request to the public route (`/public/**`, bypassed for every method).
fn public(name: &'static str, headers: &[(&str, String)]) -> Case {
    Case {
        name,
        method: "GET",
        target: "/public/read".into(),
        headers: owned(headers),
        body: "",
        verified: Verified::Nothing,
        must_forward: false,
        trailers: Vec::new(),
    }
}

/// A `POST` to the webhook route (`/webhooks/**`, bypassed for `POST` only).
fn webhook(name: &'static str, query: &str, headers: &[(&str, String)]) -> Case {
    let mut headers = owned(headers);
    headers.push(("Content-Type".into(), "application/json".into()));
    Case {
        name,
        method: "POST",
        target: format!("/webhooks/read{query}"),
        headers,
        body: "{}",
        verified: Verified::Nothing,
        must_forward: false,
        trailers: Vec::new(),
    }
}

/// A Data Action Target with this query and a signature.
fn data_action_target(name: &'static str, query: &str) -> Case {
    Case {
        name,
        method: "POST",
        target: format!("/dat/read?{query}"),
        headers: vec![
            ("X-Signature".into(), "c2lnbmF0dXJl".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: r#"{"events":[]}"#,
        verified: Verified::DataActionTarget,
        must_forward: false,
        trailers: Vec::new(),
    }
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The valid client context's JSON text, with `edit` applied to its object.
fn cc_json(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut cc = salesforce::client_context();
    edit(cc.as_object_mut().unwrap());
    cc.to_string()
}

/// The valid client context's text with `member` (a `"name":value` pair) put in front or at the
/// end (`serde_json` would keep only one of two equal names).
fn cc_with_member(member: &str, at_end: bool) -> String {
    let valid = salesforce::client_context().to_string();
    if at_end {
        format!("{},{member}}}", &valid[..valid.len() - 1])
    } else {
        format!("{{{member},{}", &valid[1..])
    }
}

/// A context for another org and user, as an attacker would forge it.
fn forged_cc() -> String {
    b64(&cc_json(|cc| {
        cc.insert("orgId".into(), OTHER_ORG.into());
        cc.insert(
            "userContext".into(),
            json!({"userId": OTHER_USER, "username": "evil@example.com"}),
        );
    }))
}

/// The valid client context encoded so that the standard alphabet holds `+` or `/`, and so the
/// URL-safe one `-` or `_`: a namespace is padded until it does.
fn cc_url_safe() -> String {
    use base64::Engine;
    (0..64)
        .map(|n| cc_json(|cc| _ = cc.insert("namespace".into(), "~".repeat(n).into())))
        .map(|text| base64::engine::general_purpose::URL_SAFE.encode(text))
        .find(|encoded| encoded.contains(['-', '_']))
        .unwrap()
}

/// The table: every hostile case, one line each (kept so by `rustfmt::skip`), in five groups.
pub fn cases() -> Vec<Case> {
    [
        controls(),
        header_name_foldings(),
        context_json_readings(),
        query_readings(),
        method_overrides(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A Data Action Target's query, its org and action, then `extra`.
fn query(extra: &str) -> String {
    format!("orgId={ORG_ID}&apiName={API_NAME}{extra}")
}

/// Controls: forwarded, and read alike everywhere.
#[rustfmt::skip]
fn controls() -> Vec<Case> {
    vec![
        salesforce("valid", &[]).forwarded(),
        public("public route, no context", &[]).forwarded(),
        public("public route, a valid context", &salesforce::headers()).verifying(Verified::Salesforce).forwarded(),
        webhook("webhook POST", "", &[]).forwarded(),
        data_action_target("data action target", &query("")).forwarded(),
    ]
}

/// Header names as runtimes fold them (PHP: case, and `-` `.` ` ` into `_`).
#[rustfmt::skip]
fn header_name_foldings() -> Vec<Case> {
    let other = || OTHER_ORG.to_string();
    let forged = forged_cc;
    vec![
        salesforce("X.Client.Context after the verified one", &[("X.Client.Context", forged())]),
        salesforce("X_Client_Context after the verified one", &[("X_Client_Context", forged())]),
        salesforce("x.client-CONTEXT after the verified one", &[("x.client-CONTEXT", forged())]),
        salesforce("X.Applink.Org.Id beside a verified context", &[("X.Applink.Org.Id", other()), ("X_Applink_User_Id", OTHER_USER.into())]),
        salesforce("X-Applink-Org-Id beside a verified context", &[("X-Applink-Org-Id", other())]),
        salesforce("X.Request.Id beside the verified one", &[("X.Request.Id", "forged".into())]),
        public("public route, X.Client.Context and X.Applink.Org.Id", &[("X.Client.Context", forged()), ("X.Applink.Org.Id", other())]),
        public("public route, X_Client_Context", &[("X_Client_Context", forged())]),
        public("public route, x.APPLINK.user_ID", &[("x.APPLINK.user_ID", OTHER_USER.into())]),
        salesforce("X-Client-Context in another letter case", &[]).respelled("x-CLIENT-context").forwarded(),
        salesforce("a second X-Client-Context", &[("X-Client-Context", forged())]),
        salesforce("obs-fold continuing X-Client-Context", &[]).obs_folded(),
        salesforce("trailers X-Client-Context, X.Client.Context, X-Applink-Org-Id", &[]).with_trailers(&[("X-Client-Context", forged()), ("X.Client.Context", forged()), ("X-Applink-Org-Id", other())]),
        public("public route, trailers X_Client_Context and X.Applink.User.Id", &[]).with_trailers(&[("X_Client_Context", forged()), ("X.Applink.User.Id", OTHER_USER.into())]),
    ]
}

/// One reading of the context JSON.
#[rustfmt::skip]
fn context_json_readings() -> Vec<Case> {
    let valid_cc = salesforce::encode(&salesforce::client_context());
    let cc_member = |member: String, at_end| b64(&cc_with_member(&member, at_end));
    let valid_cc_text = salesforce::client_context().to_string();
    let user = format!("\"userId\":\"{USER_ID}\"");
    assert!(valid_cc_text.contains(&user), "{valid_cc_text}");
    vec![
        with_client_context("CC: orgId then OrgId", cc_member(format!("\"OrgId\":\"{OTHER_ORG}\""), true)),
        with_client_context("CC: ORGID before orgId", cc_member(format!("\"ORGID\":\"{OTHER_ORG}\""), false)),
        with_client_context("CC: orgId twice, the verified one last", cc_member(format!("\"orgId\":\"{OTHER_ORG}\""), false)),
        with_client_context("CC: an escaped orgId (org\\u0049d) twice", cc_member(format!("\"org\\u0049d\":\"{OTHER_ORG}\""), true)),
        with_client_context("CC: userId then UserId", b64(&valid_cc_text.replace(&user, &format!("{user},\"UserId\":\"{OTHER_USER}\"")))),
        with_client_context("CC: UserContext instead of userContext", b64(&cc_json(|cc| { cc.remove("userContext"); cc.insert("UserContext".into(), json!({"userId": OTHER_USER})); }))),
        with_client_context("CC: u\\u017ferContext (Go folds it onto userContext)", cc_member(format!("\"u\\u017ferContext\":{{\"userId\":\"{OTHER_USER}\"}}"), true)),
        with_client_context("CC: base64 without padding", valid_cc.trim_end_matches('=').to_string()),
        with_client_context("CC: base64 with a space inside", format!("{} {}", &valid_cc[..12], &valid_cc[12..])),
        with_client_context("CC: URL-safe base64", cc_url_safe()),
        with_client_context("CC: userId a number", b64(&cc_json(|cc| _ = cc.insert("userContext".into(), json!({"userId": 5, "username": "a@b.c"}))))),
        with_request_context("RC: orgId then OrgId", &rc_with_member(&format!("\"OrgId\":\"{OTHER_ORG}\""))),
        with_request_context("RC: orgId twice", &rc_with_member(&format!("\"orgId\":\"{OTHER_ORG}\""))),
    ]
}

/// One reading of the Data Action Target query.
#[rustfmt::skip]
fn query_readings() -> Vec<Case> {
    vec![
        data_action_target("orgId twice", &query(&format!("&orgId={OTHER_ORG}"))),
        data_action_target("orgId and orgId[]", &query(&format!("&orgId[]={OTHER_ORG}"))),
        data_action_target("orgId after a ;", &query(&format!(";orgId={OTHER_ORG}"))),
        data_action_target("orgId and OrgId", &query(&format!("&OrgId={OTHER_ORG}"))),
        data_action_target("orgId and ]orgId (Rack)", &query(&format!("&]orgId={OTHER_ORG}"))),
        data_action_target("orgId and [orgId] (Rack, qs)", &query(&format!("&[orgId]={OTHER_ORG}"))),
        data_action_target("orgId and %20orgId (PHP)", &query(&format!("&%20orgId={OTHER_ORG}"))),
        data_action_target("orgId and orgId%00 (PHP)", &query(&format!("&orgId%00={OTHER_ORG}"))),
        data_action_target("apiName twice", &query("&apiName=Other_Action")),
    ]
}

/// A method-only bypass keeps its method.
#[rustfmt::skip]
fn method_overrides() -> Vec<Case> {
    vec![
        webhook("webhook POST ?_method=DELETE", "?_method=DELETE", &[]),
        webhook("webhook POST ?.method=DELETE", "?.method=DELETE", &[]),
        webhook("webhook POST ?_METHOD=delete", "?_METHOD=delete", &[]),
        webhook("webhook POST, X-HTTP-Method-Override", "", &[("X-HTTP-Method-Override", "DELETE".into())]),
        webhook("webhook POST, X.HTTP.Method.Override", "", &[("X.HTTP.Method.Override", "DELETE".into())]),
        webhook("webhook POST, X_HTTP_Method_Override", "", &[("X_HTTP_Method_Override", "DELETE".into())]),
    ]
}

/// The valid request context's text with `member` put in front.
fn rc_with_member(member: &str) -> String {
    let valid = salesforce::request_context().to_string();
    format!("{{{member},{}", &valid[1..])
}

impl Case {
    /// The case with its CC header name spelled `name` (a valid request all the same).
    fn respelled(mut self, name: &str) -> Case {
        self.headers[1].0 = name.into();
        self
    }

    /// The case with its CC value folded over two lines (obs-fold, RFC 9112 §5.2).
    fn obs_folded(mut self) -> Case {
        let value = self.headers[1].1.clone();
        self.headers[1].1 = format!("{}\r\n {}", &value[..10], &value[10..]);
        self
    }

    /// The case with these trailers after a chunked body (a `POST`): PHP's built-in server reads
    /// trailers as headers.
    fn with_trailers(mut self, trailers: &[(&str, String)]) -> Case {
        self.method = "POST";
        self.body = "{}";
        self.trailers = owned(trailers);
        self
    }

    /// The request as bytes on the wire, sent on a new connection.
    pub async fn send(&self, addr: SocketAddr) -> super::Reply {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: localhost",
            self.method, self.target
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("\r\n{name}: {value}"));
        }
        if self.trailers.is_empty() {
            return raw_request(addr, &head, self.body.as_bytes()).await;
        }
        let names: Vec<&str> = self
            .trailers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        head.push_str(&format!(
            "\r\nTransfer-Encoding: chunked\r\nTrailer: {}",
            names.join(", ")
        ));
        let mut body = format!("{:x}\r\n{}\r\n0\r\n", self.body.len(), self.body);
        for (name, value) in &self.trailers {
            body.push_str(&format!("{name}: {value}\r\n"));
        }
        body.push_str("\r\n");
        raw_request(addr, &head, body.as_bytes()).await
    }
}
