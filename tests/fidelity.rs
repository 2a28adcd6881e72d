//! What the app receives, as bytes on its socket (docs/behaviour.md §6): header names in the
//! canonical form the official mesh (Go) writes, and the client context exactly as the caller sent
//! it. The app here is a raw TCP server, so nothing folds the case of what arrives.

use crate::common;

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::salesforce::{self, ORG_ID};
use common::{FakeApi, Sidecar, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A raw app that keeps the head of every request as it arrived and answers `200 ok`.
struct RawApp {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawApp {
    async fn start() -> RawApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let kept = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 8192];
                    loop {
                        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                            buffer.drain(..end + 4);
                            kept.lock().unwrap().push(head);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        RawApp { port, heads }
    }

    /// The one request's header lines, as `(name, value)` with the name as written.
    fn only_head(&self) -> Vec<(String, String)> {
        let heads = self.heads.lock().unwrap();
        assert_eq!(heads.len(), 1, "{heads:?}");
        heads[0]
            .split("\r\n")
            .skip(1)
            .map(|line| {
                let (name, value) = line.split_once(": ").unwrap();
                (name.to_string(), value.to_string())
            })
            .collect()
    }
}

fn value<'a>(head: &'a [(String, String)], name: &str) -> Option<&'a str> {
    head.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A name as Go's `CanonicalMIMEHeaderKey` writes it: each word's first letter upper case, the
/// rest lower case.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Every header name reaches the app as Go's `CanonicalMIMEHeaderKey` writes it: the sidecar's own
/// (`X-Client-Context`, `X-Request-Id`, `X-Applink-…`) and the caller's alike, as behind the official
/// mesh. A .NET app that looks `X-Client-Context` up in a case-sensitive dictionary finds it.
#[tokio::test]
async fn header_names_reach_the_app_in_canonical_form() {
    let app = RawApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port, &api.url()).start().await;
    let mut headers = salesforce::headers();
    headers.push(("x-forwarded-for", "203.0.113.7".into()));
    headers.push(("x-custom-thing", "1".into()));
    headers.push(("ACCEPT-language", "en".into()));
    let reply = send(mesh.addr, "POST", "/accounts", &headers, "{}").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let head = app.only_head();
    let names: Vec<&str> = head.iter().map(|(n, _)| n.as_str()).collect();
    #[rustfmt::skip]
    let expected = [
        "Host", "X-Client-Context", "X-Request-Id", "X-Forwarded-For", "X-Custom-Thing",
        "Accept-Language", "Content-Length", "X-Applink-Org-Id", "X-Applink-Org-Domain-Url",
        "X-Applink-User-Id", "X-Applink-Username", "X-Applink-Api-Version", "X-Applink-Namespace",
        "X-Applink-Request-Kind",
    ];
    for name in expected {
        assert!(names.contains(&name), "no {name} in {names:?}");
    }
    for name in &names {
        assert_eq!(*name, canonical(name), "{names:?}");
    }
    assert_eq!(value(&head, "X-Applink-Org-Id"), Some(ORG_ID));
}

/// The client context arrives as the bytes the caller sent, with the fields the sidecar does not
/// read (`version`, anything new) inside, and Salesforce's standard base64 decodes with a strict
/// decoder (as Java's `Base64.getDecoder()` and .NET's `Convert.FromBase64String` are).
#[tokio::test]
async fn the_client_context_arrives_byte_for_byte() {
    let app = RawApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port, &api.url()).start().await;
    let mut context = salesforce::client_context();
    context["somethingNew"] = serde_json::json!({"nested": [1, 2, 3]});
    let sent = salesforce::encode(&context);
    let mut headers = salesforce::headers();
    headers[1].1 = sent.clone();
    let reply = send(mesh.addr, "GET", "/", &headers, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let head = app.only_head();
    let received = value(&head, "X-Client-Context").unwrap();
    assert_eq!(received, sent);
    let strict = STANDARD.decode(received).expect("strict standard base64");
    let decoded: serde_json::Value = serde_json::from_slice(&strict).unwrap();
    assert_eq!(decoded["version"], "1");
    assert_eq!(decoded["somethingNew"]["nested"][2], 3);
    assert_eq!(decoded, context);
}
