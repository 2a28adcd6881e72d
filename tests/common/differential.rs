//! Judging the differential table (`hostile.rs`): a case is refused by the sidecar (with a 4xx of
//! its own), or forwarded and read by every runtime exactly as the sidecar verified it. An app that
//! answers anything but its reading, with fewer readings than it must make, or crashes the request
//! into a 5xx, fails the case: the table cannot pass by an app going quiet.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::hostile::{API_NAME, Case, USER_ID, Verified, cases, verified_request_id};
use super::salesforce::ORG_ID;

/// What one case came to with one app.
pub enum Outcome {
    Refused(String),
    /// Forwarded, and every runtime read what the sidecar verified.
    ReadAlike,
    /// Forwarded, and a runtime read something else: what.
    Differs(String),
}

/// Sends `case` to the sidecar at `addr` and judges what the app answered.
pub async fn run(case: &Case, addr: SocketAddr) -> Outcome {
    let reply = case.send(addr).await;
    if !reply.reason().is_empty() {
        let refused = format!("refused {} {}", reply.status.as_u16(), reply.reason());
        // Only the caller's mistake is a refusal: a 5xx means the app or the sidecar failed.
        return if case.must_forward || !reply.status.is_client_error() {
            Outcome::Differs(format!("{refused}: {}", reply.text()))
        } else {
            Outcome::Refused(refused)
        };
    }
    let read: Option<Value> = (reply.status == 200)
        .then(|| serde_json::from_slice(&dechunked(&reply)).ok())
        .flatten();
    let Some(read) = read else {
        return Outcome::Differs(format!(
            "not the app's reading: {} {}",
            reply.status,
            reply.text()
        ));
    };
    let differences = differences(case, &read);
    if differences.is_empty() {
        Outcome::ReadAlike
    } else {
        Outcome::Differs(differences.join("; "))
    }
}

/// Where the app's reading `read` of `case` is not what the sidecar verified.
fn differences(case: &Case, read: &Value) -> Vec<String> {
    let mut differences = Vec::new();
    if read["method"] != case.method {
        differences.push(format!("the app runs it as {}", read["method"]));
    }
    let readings = read["readings"].as_array().map_or(&[][..], Vec::as_slice);
    // Every app reads CC at least one way and the context headers at least one way.
    let headers = readings.iter().filter(|r| is_context_header(r)).count();
    if headers == 0 || headers == readings.len() {
        differences.push(format!("the app reports too few readings: {read}"));
    }
    for reading in readings {
        let expected = expected(case.verified, is_context_header(reading));
        let got = (&reading["orgId"], &reading["userId"]);
        if got != (&expected.0, &expected.1) || reading.get("error").is_some() {
            let error = reading.get("error").map(|e| format!(" ({e})"));
            differences.push(format!(
                "{} read org {} user {}{}",
                reading["via"],
                got.0,
                got.1,
                error.unwrap_or_default()
            ));
        }
    }
    if matches!(case.verified, Verified::Salesforce) && read["requestId"] != verified_request_id() {
        differences.push(format!("the request id reads {}", read["requestId"]));
    }
    let query = &read["query"];
    if matches!(case.verified, Verified::DataActionTarget)
        && (query["orgId"] != ORG_ID || query["apiName"] != API_NAME)
    {
        differences.push(format!("the query reads {query}"));
    }
    differences
}

/// Whether a reading is of the sidecar's context headers (`X-Applink-Org-Id`) rather than CC.
fn is_context_header(reading: &Value) -> bool {
    let via = reading["via"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    via.contains("applink-org-id") || via.contains("applink_org_id")
}

/// The org and user a reading must give.
fn expected(verified: Verified, context_header: bool) -> (Value, Value) {
    match (verified, context_header) {
        (Verified::Salesforce, _) => (json!(ORG_ID), json!(USER_ID)),
        (Verified::DataActionTarget, true) => (json!(ORG_ID), Value::Null),
        (Verified::DataActionTarget, false) | (Verified::Nothing, _) => (Value::Null, Value::Null),
    }
}

/// The body, with chunked transfer coding undone (the apps' servers choose it).
fn dechunked(reply: &super::Reply) -> Vec<u8> {
    let chunked = reply
        .headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_str().unwrap_or_default().contains("chunked"));
    if !chunked {
        return reply.body.to_vec();
    }
    let mut body = Vec::new();
    let mut rest = &reply.body[..];
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        body.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
    body
}

/// Runs the whole table against one app; returns a line per case and the cases that differ.
pub async fn run_table(language: &str, addr: SocketAddr) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut differing = Vec::new();
    for case in cases() {
        let line = match run(&case, addr).await {
            Outcome::Refused(how) => how,
            Outcome::ReadAlike => "read what the sidecar verified".to_string(),
            Outcome::Differs(how) => {
                differing.push(format!("{language}: {}: {how}", case.name));
                format!("DIFFERS: {how}")
            }
        };
        lines.push(format!("differential {language} | {} | {line}", case.name));
    }
    (lines, differing)
}
