//! Forwarding to the app (docs/behaviour.md §6): headers, request ids, streaming, upgrades, the
//! protocols, and the failures of the app side.

use crate::common;

use bytes::Bytes;
use common::client::{read_one_response, wait_for};
use common::salesforce;
use common::{FakeApi, FakeApp, Sidecar, raw_request, send};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn host_repeated_headers_and_hop_by_hop() {
    let (app, _api, mesh) = common::production().await;
    let auth: Vec<String> = salesforce::headers()
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    let head = format!(
        "GET /h?x=1 HTTP/1.1\r\nhost: myapp.herokuapp.com\r\naccept: a\r\naccept: b\r\nx-forwarded-for: 1.2.3.4\r\n\
         x-forwarded-proto: https\r\nkeep-alive: timeout=5\r\nx-hop: secret\r\nte: trailers\r\n{}\r\nconnection-extra: 1",
        auth.join("\r\n")
    );
    let head = head.replace("connection-extra: 1", "connection: x-hop");
    let reply = raw_request(mesh.addr, &head, b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        !reply.headers.contains_key("keep-alive"),
        "hop-by-hop response headers are stripped"
    );
    assert_eq!(reply.headers["x-app"], "fake");

    let seen = app.only_request();
    assert_eq!(seen.headers["host"], "myapp.herokuapp.com");
    let accepts: Vec<_> = seen.headers.get_all("accept").iter().collect();
    assert_eq!(accepts, ["a", "b"]);
    assert_eq!(seen.headers["x-forwarded-for"], "1.2.3.4");
    assert_eq!(seen.headers["x-forwarded-proto"], "https");
    for hop in ["keep-alive", "x-hop", "te"] {
        assert!(!seen.headers.contains_key(hop), "{hop} reached the app");
    }
}

/// A request with `x-request-id: id` (and these other headers) through the sidecar at `addr`.
async fn with_request_id(
    addr: std::net::SocketAddr,
    id: &str,
    others: &[(&'static str, String)],
) -> common::Reply {
    let headers = [&[("x-request-id", id.to_string())][..], others].concat();
    send(addr, "GET", "/", &headers, "").await
}

#[tokio::test]
async fn request_id_is_kept_or_made_and_returned() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let reply = with_request_id(mesh.addr, "abc-123", &[]).await;
    assert_eq!(reply.headers["x-request-id"], "abc-123");
    let reply = send(mesh.addr, "GET", "/", &[], "").await;
    let made = reply.headers["x-request-id"].to_str().unwrap().to_string();
    assert!(
        uuid::Uuid::parse_str(&made).is_ok_and(|u| u.get_version_num() == 4),
        "{made}"
    );
    // A `Connection` header that nominates it does not keep it from the app.
    let nominated = [("connection", "x-request-id".to_string())];
    let reply = with_request_id(mesh.addr, "hop-1", &nominated).await;
    assert_eq!(reply.headers["x-request-id"], "hop-1");
    let received = app.received();
    assert_eq!(received[0].headers["x-request-id"], "abc-123");
    assert_eq!(received[1].headers["x-request-id"], made.as_str());
    assert_eq!(received[2].headers["x-request-id"], "hop-1");
}

#[tokio::test]
async fn a_rejection_carries_the_request_id_too() {
    let (_app, _api, mesh) = common::production().await;
    let reply = with_request_id(mesh.addr, "r-9", &[]).await;
    assert_eq!(reply.headers["x-request-id"], "r-9");
    assert_eq!(reply.json()["requestId"], "r-9");
}

#[tokio::test]
async fn streams_a_256_mib_upload_through_an_authenticated_route() {
    let (app, _api, mesh) = common::production().await;
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 256;
    let expected = std::sync::Arc::new(std::sync::Mutex::new(Sha256::new()));
    let hasher = expected.clone();
    let chunks = futures_util::stream::iter(0..CHUNKS).map(move |i| {
        let chunk: Vec<u8> = (0..CHUNK)
            .map(|j| (i.wrapping_mul(31) ^ j.wrapping_mul(7)).to_le_bytes()[0])
            .collect();
        hasher.lock().unwrap().update(&chunk);
        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(chunk)))
    });
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::post(format!("http://{}/sha256", mesh.addr))
        .body(StreamBody::new(chunks))
        .unwrap();
    for (name, value) in salesforce::headers() {
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let digest: String = expected
        .lock()
        .unwrap()
        .clone()
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("{digest} {}", CHUNK * CHUNKS)
    );
    assert_eq!(app.only_request().target, "/sha256");
}

#[tokio::test]
async fn websocket_echo_through_a_bypassed_route() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url())
        .yaml("mesh:\n  authentication:\n    bypassRoutes: [/ws]\n")
        .env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )
        .start()
        .await;
    let stream = TcpStream::connect(mesh.addr).await.unwrap();
    let (mut ws, response) =
        tokio_tungstenite::client_async(format!("ws://{}/ws", mesh.addr), stream)
            .await
            .unwrap();
    assert_eq!(response.status(), 101);
    for text in ["hello", "through the sidecar"] {
        ws.send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
    let seen = app.only_request();
    assert_eq!(seen.headers["upgrade"], "websocket");
    assert!(api.calls().is_empty());
}

#[tokio::test]
async fn too_many_requests_in_flight_is_503_overloaded() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port())
        .yaml("mesh:\n  limits:\n    maxInFlightRequests: 1\n")
        .start()
        .await;
    let slow = tokio::spawn(send(mesh.addr, "GET", "/slow?ms=1500", &[], ""));
    wait_for(|| !app.received().is_empty()).await;
    send(mesh.addr, "GET", "/", &[], "")
        .await
        .assert_mesh_error(503, "overloaded");
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(
        send(mesh.addr, "GET", "/", &[], "").await.status,
        200,
        "the slot is released"
    );
}

#[tokio::test]
async fn h2c_with_prior_knowledge() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let response = client
        .get(format!("http://{}/h2", mesh.addr).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let seen = app.only_request();
    assert_eq!(seen.headers["host"], mesh.addr.to_string().as_str());
}

#[tokio::test]
async fn an_http_1_0_app_is_answered_as_http_1_1() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    let mesh = Sidecar::dev(port).start().await;
    let reply = raw_request(mesh.addr, "GET / HTTP/1.1\r\nhost: x", b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "ok");
    let mut stream = TcpStream::connect(mesh.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let response = read_one_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// `OPTIONS *` (asterisk-form) is not a path the app can be sent: 400 `bad-path`, never forwarded.
#[tokio::test]
async fn asterisk_form_is_refused_not_forwarded() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let reply = raw_request(mesh.addr, "OPTIONS * HTTP/1.1\r\nhost: x", b"").await;
    reply.assert_mesh_error(400, "bad-path");
    assert!(app.received().is_empty(), "{:?}", app.received());
}

/// Context forged through trailers: the protected names (and their `_` and `.` spellings) and the
/// method overrides never reach the app; other trailers do.
#[tokio::test]
async fn protected_names_never_arrive_as_trailers() {
    let (app, _api, mesh) = common::production_with_public_bypass().await;
    let head = "POST /public/upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\
                te: trailers\r\ntrailer: x-applink-org-id, x-client-context, x_client_context, X.Client.Context, \
                x.applink_org.id, X-HTTP-Method-Override, x.http.method.override, x-request-context, x-checksum";
    let body = b"5\r\nhello\r\n0\r\nx-applink-org-id: 00Dforged000000AAA\r\nx-client-context: Zm9yZ2Vk\r\nx_client_context: Zm9yZ2Vk\r\nX.Client.Context: Zm9yZ2Vk\r\nx.applink_org.id: 00Dforged000000AAA\r\nX-HTTP-Method-Override: DELETE\r\nx.http.method.override: DELETE\r\nx-request-context: Zm9yZ2Vk\r\nx-checksum: kept\r\n\r\n";
    let reply = raw_request(mesh.addr, head, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = app.only_request();
    assert_eq!(seen.body, "hello");
    let trailers = seen.trailers.expect("the trailers reach the app");
    let names: Vec<&str> = trailers.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["x-checksum"], "{trailers:?}");
}

/// An HTTP/2 POST of `hello` to `url` with these headers, then trailers of these names.
async fn h2_post_with_trailers(
    url: &str,
    headers: &[(&str, &str)],
    trailer_names: &[&'static str],
) -> http::Response<hyper::body::Incoming> {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<StreamBody<
            futures_util::stream::Iter<
                std::vec::IntoIter<Result<Frame<Bytes>, std::convert::Infallible>>,
            >,
        >>();
    let mut trailers = http::HeaderMap::new();
    for name in trailer_names {
        trailers.insert(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_static("Zm9yZ2Vk"),
        );
    }
    let frames = vec![
        Ok(Frame::data(Bytes::from_static(b"hello"))),
        Ok(Frame::trailers(trailers)),
    ];
    let mut request = http::Request::post(url)
        .header("te", "trailers")
        .header("trailer", trailer_names.join(", "));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(StreamBody::new(futures_util::stream::iter(frames)))
        .unwrap();
    client.request(request).await.unwrap()
}

/// Over HTTP/2 too, a name PHP would fold onto a protected one (`x.client.context` is
/// `HTTP_X_CLIENT_CONTEXT` to it) never reaches the app, as a header or as a trailer.
#[tokio::test]
async fn http2_names_that_fold_onto_protected_ones_never_arrive() {
    let (app, _api, mesh) = common::production_with_public_bypass().await;
    let response = h2_post_with_trailers(
        &format!("http://{}/public/h2", mesh.addr),
        &[
            ("x.client.context", "Zm9yZ2Vk"),
            ("x.applink.org-id", "00Dforged000000AAA"),
            ("x_applink_user.id", "005forged"),
            ("x.request.id", "forged"),
            ("x.custom", "kept"),
        ],
        &["x.client.context", "x_applink_org_id", "x-checksum"],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let seen = app.only_request();
    let mut names: Vec<&str> = seen.headers.keys().map(|k| k.as_str()).collect();
    names.retain(|name| name.starts_with('x'));
    names.sort_unstable();
    assert_eq!(
        names,
        ["x-applink-request-kind", "x-request-id", "x.custom"],
        "{:?}",
        seen.headers
    );
    assert_ne!(seen.headers["x-request-id"], "forged");
    let trailers = seen.trailers.expect("the trailers reach the app");
    let names: Vec<&str> = trailers.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["x-checksum"], "{trailers:?}");
}

/// h2c smuggling: only a WebSocket upgrade is forwarded; any other upgrade arrives as a plain
/// request, and `HTTP2-Settings` never arrives, however `Connection` lists it.
#[tokio::test]
async fn only_websocket_upgrades_are_forwarded() {
    let (app, _api, mesh) = common::production_with_public_bypass().await;
    for connection in [
        "Upgrade, HTTP2-Settings",
        "Upgrade, x HTTP2-Settings",
        "HTTP2-Settings;",
    ] {
        let head = format!(
            "GET /public/h2c HTTP/1.1\r\nhost: x\r\nconnection: {connection}\r\nupgrade: h2c\r\n\
             http2-settings: AAMAAABkAAQAAP__"
        );
        let reply = raw_request(mesh.addr, &head, b"").await;
        assert_eq!(reply.status, 200, "{connection}: {}", reply.text());
    }
    for seen in app.received() {
        for name in ["upgrade", "http2-settings", "connection"] {
            assert!(
                !seen.headers.contains_key(name),
                "{name} reached the app: {:?}",
                seen.headers
            );
        }
    }
    assert_eq!(app.received().len(), 3);
}

/// `CONNECT` is refused on any route, never re-targeted at the app; a 101 the caller did not ask
/// for is a 502, never a connection handed over to the app.
#[tokio::test]
async fn connect_is_refused_and_an_unasked_switch_is_a_502() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let reply = raw_request(
        mesh.addr,
        "CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: 127.0.0.1:22",
        b"",
    )
    .await;
    reply.assert_mesh_error(405, "method-not-allowed");
    assert!(reply.headers["allow"].to_str().unwrap().contains("GET"));
    assert!(app.received().is_empty());
    // The fake app answers 101 on /ws whatever it is asked.
    let reply = send(mesh.addr, "GET", "/ws", &[], "").await;
    reply.assert_mesh_error(502, "app-protocol-error");
}

/// A caller's broken chunked framing is the caller's mistake: 400 `bad-request-body`, not a 502
/// that blames the app.
#[tokio::test]
async fn broken_chunked_framing_is_a_400() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    let head = "POST /upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked";
    for body in [
        &b"5\r\nhello\r\nffffffffffffffffffff\r\nx\r\n0\r\n\r\n"[..],
        &b"0x5\r\nhello\r\n0\r\n\r\n"[..],
        &b"5\r\nhelloXX\r\n0\r\n\r\n"[..],
    ] {
        let reply = raw_request(mesh.addr, head, body).await;
        reply.assert_mesh_error(400, "bad-request-body");
    }
}

/// The sidecar reads at most 64 KiB ahead from the app (docs/behaviour.md §11), and the app's
/// response head must fit in it, as the caller's request head does by default: a 40 KiB head
/// passes, a 70 KiB one is the app's failure, a 502, never a hang.
#[tokio::test]
async fn an_app_response_head_must_fit_in_64_kib() {
    for (kib, status) in [(40, 200), (70, 502)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = stream.read(&mut buffer).await;
                    let big = "c".repeat(kib * 1024);
                    let answer =
                        format!("HTTP/1.1 200 OK\r\nx-big: {big}\r\ncontent-length: 2\r\n\r\nok");
                    // In pieces, as a head larger than one read arrives.
                    for piece in answer.as_bytes().chunks(4096) {
                        let _ = stream.write_all(piece).await;
                        tokio::task::yield_now().await;
                    }
                });
            }
        });
        let mesh = Sidecar::dev(port).start().await;
        let reply = send(mesh.addr, "GET", "/", &[], "").await;
        assert_eq!(reply.status, status, "a {kib} KiB head: {}", reply.text());
        if status == 502 {
            reply.assert_mesh_error(502, "app-unavailable");
        }
    }
}
