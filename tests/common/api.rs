//! The fake AppLink API: records every call and answers as the test scripts it, over plain HTTP
//! or over HTTPS with a CA generated for the test.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};

/// How the fake API answers one call.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub delay: Duration,
    /// Close the connection without answering at all.
    pub hang_up: bool,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            delay: Duration::ZERO,
            hang_up: false,
        }
    }

    /// Reads the call, then closes the connection without a response byte.
    pub fn hang_up() -> Answer {
        Answer {
            hang_up: true,
            ..Answer::status(200)
        }
    }

    /// The response this answer gives: its status, a body holding the API's secret text, and a
    /// `location` for a redirect.
    fn response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(format!(
            "{{\"detail\":\"{API_SECRET_TEXT}\"}}"
        ))));
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap();
        if self.status / 100 == 3 {
            response
                .headers_mut()
                .insert("location", "https://elsewhere.example/".parse().unwrap());
        }
        response
    }
}

/// One call the API received.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    /// HTTP/1.1, or HTTP/2 when the sidecar chose it by ALPN.
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

/// The add-on of the test requests' `addonUuid`, and of [`FakeApi::url`].
pub use super::salesforce::ADDON_UUID;

/// Text the API puts in every answer's body; it must never reach a caller.
pub const API_SECRET_TEXT: &str = "internal-applink-detail-7f3a";

#[derive(Clone)]
pub struct FakeApi {
    pub addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
    /// Calls being answered now, and the most there ever were at once.
    concurrency: Arc<Mutex<(usize, usize)>>,
    /// Connections open now, and the most there ever were at once.
    connections: Arc<Mutex<(usize, usize)>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    default: Arc<Mutex<Answer>>,
    /// The CA certificate (PEM file) that signed the HTTPS server's certificate.
    pub ca_file: Option<PathBuf>,
    /// TLS handshakes so far: full, and resumed.
    handshakes: Arc<Mutex<(usize, usize)>>,
    /// Bumped to close every open connection gracefully (HTTP/2: `GOAWAY`).
    close: Arc<tokio::sync::watch::Sender<u64>>,
    /// How many of the next connections are accepted and then never answered (a handshake that
    /// stalls).
    stalls: Arc<AtomicUsize>,
}

impl FakeApi {
    /// A plain-HTTP fake on 127.0.0.1 that answers 200 unless scripted.
    pub async fn start() -> FakeApi {
        FakeApi::start_with(None).await
    }

    /// An HTTPS fake whose certificate (for `localhost` and 127.0.0.1) is signed by a new test CA;
    /// it offers no protocol by ALPN, so the sidecar speaks HTTP/1.1.
    pub async fn start_tls() -> FakeApi {
        FakeApi::start_with(Some(tls::acceptor(false, false))).await
    }

    /// The same, offering `h2` and `http/1.1` by ALPN.
    pub async fn start_tls_h2() -> FakeApi {
        FakeApi::start_with(Some(tls::acceptor(false, true))).await
    }

    /// An HTTPS fake that presents its CA certificate itself as the server certificate, a common
    /// mistake with self-made certificates.
    pub async fn start_tls_with_a_ca_as_server() -> FakeApi {
        FakeApi::start_with(Some(tls::acceptor(true, false))).await
    }

    async fn start_with(tls: Option<(tokio_rustls::TlsAcceptor, PathBuf)>) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = FakeApi {
            addr: listener.local_addr().unwrap(),
            calls: Arc::default(),
            concurrency: Arc::default(),
            connections: Arc::default(),
            script: Arc::default(),
            default: Arc::new(Mutex::new(Answer::status(200))),
            ca_file: tls.as_ref().map(|(_, path)| path.clone()),
            handshakes: Arc::default(),
            close: Arc::new(tokio::sync::watch::channel(0).0),
            stalls: Arc::default(),
        };
        let acceptor = tls.map(|(acceptor, _)| acceptor);
        let shared = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(shared.clone().serve_connection(stream, acceptor.clone()));
            }
        });
        api
    }

    /// One accepted connection: stalled (accepted, never read) when a stall is due, else served
    /// over TLS or plain text until the test closes it.
    async fn serve_connection(
        self,
        stream: TcpStream,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let open = self.connection_opened();
        let stalled = self
            .stalls
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if stalled {
            // Accepted, never read or answered: the client's handshake waits.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop((stream, open));
            return;
        }
        let close = self.close.subscribe();
        let handshakes = self.handshakes.clone();
        let api = self;
        let service = service_fn(move |request| {
            let api = api.clone();
            async move { api.answer(request).await }
        });
        match acceptor {
            Some(acceptor) => {
                if let Ok(tls) = acceptor.accept(stream).await {
                    let resumed =
                        tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                    count_handshake(&handshakes, resumed);
                    serve(TokioIo::new(tls), service, close).await;
                }
            }
            None => serve(TokioIo::new(stream), service, close).await,
        }
        drop(open);
    }

    /// The base URL to give the sidecar, `https://host/addons/<uuid>`, for the add-on the test
    /// requests name.
    pub fn url(&self) -> String {
        self.url_for_addon(ADDON_UUID)
    }

    /// The base URL of another add-on's attachment.
    pub fn url_for_addon(&self, uuid: &str) -> String {
        match self.ca_file {
            Some(_) => format!("https://localhost:{}/addons/{uuid}", self.addr.port()),
            None => format!("http://127.0.0.1:{}/addons/{uuid}", self.addr.port()),
        }
    }

    /// Answers the next calls in order, then the default.
    pub fn script(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    /// Answers every unscripted call this way.
    pub fn always(&self, answer: Answer) {
        *self.default.lock().unwrap() = answer;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn only_call(&self) -> Call {
        let calls = self.calls();
        assert_eq!(
            calls.len(),
            1,
            "expected exactly one AppLink API call, got {}",
            calls.len()
        );
        calls.into_iter().next().unwrap()
    }

    /// The most calls it was answering at once.
    pub fn peak_concurrency(&self) -> usize {
        self.concurrency.lock().unwrap().1
    }

    /// Connections from the sidecar open now.
    pub fn open_connections(&self) -> usize {
        self.connections.lock().unwrap().0
    }

    /// The most connections from the sidecar open at once.
    pub fn peak_connections(&self) -> usize {
        self.connections.lock().unwrap().1
    }

    /// TLS handshakes so far: full, and resumed (a session the sidecar kept).
    pub fn handshakes(&self) -> (usize, usize) {
        *self.handshakes.lock().unwrap()
    }

    /// Closes every open connection as a server that is going away does: an HTTP/1.1 one once it
    /// is idle, an HTTP/2 one with `GOAWAY` (calls in flight finish).
    /// The next `n` connections are accepted and never answered: their TLS handshakes stall.
    pub fn stall_connections(&self, n: usize) {
        self.stalls.store(n, Ordering::SeqCst);
    }

    pub fn close_connections(&self) {
        self.close.send_modify(|generation| *generation += 1);
    }

    fn connection_opened(&self) -> OpenConnection {
        let mut connections = self.connections.lock().unwrap();
        connections.0 += 1;
        connections.1 = connections.1.max(connections.0);
        OpenConnection(self.connections.clone())
    }

    /// The scripted answer; an `Err` makes hyper close the connection without a response.
    async fn answer(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        self.record(request).await;
        let answer = self.next_answer();
        {
            let mut concurrency = self.concurrency.lock().unwrap();
            concurrency.0 += 1;
            concurrency.1 = concurrency.1.max(concurrency.0);
        }
        tokio::time::sleep(answer.delay).await;
        self.concurrency.lock().unwrap().0 -= 1;
        if answer.hang_up {
            return Err(std::io::Error::other("hanging up, as scripted"));
        }
        Ok(answer.response())
    }

    /// Keeps the call, its body read as JSON (`Null` when it is not).
    async fn record(&self, request: Request<Incoming>) {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        self.calls.lock().unwrap().push(Call {
            path: parts.uri.path().to_string(),
            version: parts.version,
            headers: parts.headers,
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        });
    }

    /// The next scripted answer, or the default.
    fn next_answer(&self) -> Answer {
        self.script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(*self.default.lock().unwrap())
    }
}

fn count_handshake(handshakes: &Mutex<(usize, usize)>, resumed: bool) {
    let mut counts = handshakes.lock().unwrap();
    if resumed {
        counts.1 += 1;
    } else {
        counts.0 += 1;
    }
}

/// Serves one connection, HTTP/1.1 or HTTP/2, until it ends; closes it gracefully when `close`
/// changes.
async fn serve<I, S>(io: I, service: S, mut close: tokio::sync::watch::Receiver<u64>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Full<Bytes>>> + Send,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = close.changed() => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}

/// A connection to the fake, counted until it closes.
struct OpenConnection(Arc<Mutex<(usize, usize)>>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.lock().unwrap().0 -= 1;
    }
}

pub mod tls {
    use std::path::PathBuf;
    use std::sync::Arc;

    use rcgen::{
        BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::TlsAcceptor;

    /// A new CA, a server certificate it signs (or, with `ca_as_server`, the CA certificate
    /// itself), and the CA written to a PEM file.
    pub fn acceptor(ca_as_server: bool, offers_h2: bool) -> (TlsAcceptor, PathBuf) {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let (ca_cert, issuer) = test_ca(if ca_as_server {
            names.clone()
        } else {
            Vec::new()
        });
        let server_key = KeyPair::generate().unwrap();
        let server_params = CertificateParams::new(names).unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
        let (served, served_key) = if ca_as_server {
            (ca_cert.der().to_vec(), issuer.key().serialize_der())
        } else {
            (server_cert.der().to_vec(), server_key.serialize_der())
        };
        let ca_file = write_pem(&ca_cert.pem());
        (server_config(served, served_key, offers_h2), ca_file)
    }

    /// A self-signed CA for `names` (none for a CA that is only a CA).
    fn test_ca(names: Vec<String>) -> (Certificate, Issuer<'static, KeyPair>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(names).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "applink-mesh test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        (ca_cert, Issuer::new(ca_params, ca_key))
    }

    /// The CA's PEM in a file of its own in the temporary folder.
    fn write_pem(pem: &str) -> PathBuf {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ca_file = std::env::temp_dir().join(format!(
            "applink-mesh-test-ca-{}-{n}.pem",
            std::process::id()
        ));
        std::fs::write(&ca_file, pem).unwrap();
        ca_file
    }

    /// A TLS server with this certificate and key, offering `h2` by ALPN when asked.
    fn server_config(certificate: Vec<u8>, key: Vec<u8>, offers_h2: bool) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(certificate)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
            )
            .unwrap();
        if offers_h2 {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        }
        TlsAcceptor::from(Arc::new(config))
    }
}
