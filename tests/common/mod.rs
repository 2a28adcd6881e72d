//! Test harness: a fake app and a fake AppLink API (plain HTTP or HTTPS with a test CA), both real
//! servers on 127.0.0.1, the sidecar started in-process or as the built binary, and small clients.
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod app;
pub mod assertion;
pub mod client;
pub mod collector;
pub mod differential;
pub mod exporting;
pub mod hostile;
pub mod languages;
pub mod salesforce;
pub mod sidecar;
pub mod test_app;

pub use api::{Answer, FakeApi};
pub use app::FakeApp;
pub use client::{Reply, raw_request, send};
pub use sidecar::{Sidecar, SidecarProcess};

/// A fake app, a fake AppLink API, and a production-mode sidecar in front of them.
pub async fn production() -> (FakeApp, FakeApi, Sidecar) {
    production_with("").await
}

/// The same, with this configuration file.
pub async fn production_with(yaml: &str) -> (FakeApp, FakeApi, Sidecar) {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url())
        .yaml(yaml)
        .start()
        .await;
    (app, api, mesh)
}

/// The same, with `/public/**` bypassed (the risk acknowledged).
pub async fn production_with_public_bypass() -> (FakeApp, FakeApi, Sidecar) {
    production_with_acknowledged("mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n")
        .await
}

/// The same, with this configuration file and its bypass routes acknowledged.
pub async fn production_with_acknowledged(yaml: &str) -> (FakeApp, FakeApi, Sidecar) {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url())
        .yaml(yaml)
        .env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )
        .start()
        .await;
    (app, api, mesh)
}

/// Skips the calling test, which needs what this machine lacks (`why` says what, and how to get
/// it): the line goes to `target/test-skips.txt`, which `bin/test` prints at the end, so a skip is
/// never silent. Under `.ci/run` (`APPLINK_MESH_NO_SKIPS` set) nothing may be skipped: it fails.
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var_os("APPLINK_MESH_NO_SKIPS").is_none(),
        "{test} cannot run here, and CI runs every test: {why}"
    );
    eprintln!("SKIPPED {test}: {why}");
    let skips = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-skips.txt");
    let line = format!("{test}: {why}\n");
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(skips)
        .and_then(|mut file| std::io::Write::write_all(&mut file, line.as_bytes()));
}

/// A port kept free of listeners for as long as the socket lives: bound, never listening, so a
/// connection to it is refused and no other test's listener can take it meanwhile. For an app port
/// that the app under test never binds (it listens elsewhere).
pub fn reserved_port() -> (u16, socket2::Socket) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (port, socket)
}

/// A port nothing listens on right now (for an app to take later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
