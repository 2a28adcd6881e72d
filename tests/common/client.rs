//! Small clients: a hyper client for ordinary requests, and raw TCP for requests hyper would not
//! send (odd paths, duplicate or odd headers).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The `x-applink-mesh-error` reason, or "" when the app answered.
    pub fn reason(&self) -> &str {
        self.headers
            .get("x-applink-mesh-error")
            .map_or("", |v| v.to_str().unwrap())
    }

    /// Asserts that the JSON error message mentions `needle`.
    pub fn assert_error_mentions(&self, needle: &str) {
        let message = self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(needle),
            "{needle:?} not in {}",
            self.text()
        );
    }

    /// Asserts a response the sidecar made itself: status, reason, JSON body with the request id,
    /// never to be stored, and a challenge on a 401 (RFC 9110, section 15.5.2).
    pub fn assert_mesh_error(&self, status: u16, reason: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(self.reason(), reason, "body: {}", self.text());
        assert_eq!(self.headers["content-type"], "application/json");
        assert_eq!(self.headers["cache-control"], "no-store");
        assert_eq!(
            self.headers.get("www-authenticate").is_some(),
            status == 401,
            "{:?}",
            self.headers
        );
        let json = self.json();
        assert!(
            !json["error"].as_str().unwrap_or_default().is_empty(),
            "{json}"
        );
        assert_eq!(
            json["requestId"].as_str(),
            self.headers
                .get("x-request-id")
                .map(|v| v.to_str().unwrap())
        );
    }
}

/// Sends one request through a new client (no connection reuse between calls).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: impl Into<Bytes>,
) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(format!("http://{addr}{target}"))
        .body(Full::new(body.into()))
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
        .await
        .expect("no response within 60 s")
        .expect("request failed");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// Writes `head` (request line and headers, `\r\n`-separated, without the final blank line) and
/// `body` on a new connection with `Connection: close` (and `Content-Length` unless the head sets
/// `Transfer-Encoding`), and parses the response.
pub async fn raw_request(addr: SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let length = if head.to_ascii_lowercase().contains("transfer-encoding") {
        String::new()
    } else {
        format!("content-length: {}\r\n", body.len())
    };
    let mut bytes = format!("{head}\r\nconnection: close\r\n{length}\r\n").into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .expect("no response within 30 s")
        .unwrap();
    parse_response(&response)
}

pub fn parse_response(bytes: &[u8]) -> Reply {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of head in response");
    let head = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .unwrap()
        .parse::<u16>()
        .unwrap();
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    Reply {
        status: StatusCode::from_u16(status).unwrap(),
        headers,
        body: Bytes::copy_from_slice(&bytes[split + 4..]),
    }
}

/// Polls `condition` every 10 ms until it holds, failing after 20 s.
pub async fn wait_for(condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "condition not met in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads what the sidecar sends until it closes the connection.
pub async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut data))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&data).into_owned()
}

/// Reads one response with a `content-length` body from a kept-alive connection.
pub async fn read_one_response(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed mid-response");
        data.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
    }
}
