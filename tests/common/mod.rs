//! Test harness: a fake app and a fake AppLink API (plain HTTP or HTTPS with a test CA), both real
//! servers on 127.0.0.1, the sidecar started in-process or as the built binary, and small clients.
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod app;
pub mod client;
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
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url())
        .yaml("mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n")
        .env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )
        .start()
        .await;
    (app, api, mesh)
}

/// A port nothing listens on right now (for an app to take later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
