//! The boot gate (docs/behaviour.md §6): requests wait for an app that is still booting, one that
//! never boots is answered `app-booting`, and one that went away is answered at once.

use crate::common;

use std::time::Duration;

use common::{FakeApp, Sidecar, send};

#[tokio::test]
async fn app_gone_after_boot_is_502_at_once() {
    let app = FakeApp::start().await;
    let mesh = Sidecar::dev(app.port()).start().await;
    assert_eq!(send(mesh.addr, "GET", "/", &[], "").await.status, 200);
    app.stop();
    let started = std::time::Instant::now();
    send(mesh.addr, "GET", "/", &[], "")
        .await
        .assert_mesh_error(502, "app-unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection after boot must not wait"
    );
}

#[tokio::test]
async fn requests_wait_for_an_app_that_is_still_booting() {
    let port = common::free_port();
    let mesh = Sidecar::dev(port).start().await;
    assert!(!mesh.running.app_ready());
    let request = tokio::spawn(send(mesh.addr, "GET", "/", &[], ""));
    // The app comes up while the request waits at the gate.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let app = FakeApp::start_on(port).await;
    let reply = request.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(app.received().len(), 1);
}

/// Until `timeouts.appBoot` a request waits and gets 503 `app-booting`; after it, the app is not
/// "still starting": 502 `app-unavailable` saying it never listened.
#[tokio::test]
async fn app_that_never_boots_is_503_app_booting() {
    let port = common::free_port();
    let mesh = Sidecar::dev(port)
        .yaml("mesh:\n  timeouts:\n    appBoot: 400ms\n")
        .start()
        .await;
    send(mesh.addr, "GET", "/", &[], "")
        .await
        .assert_mesh_error(503, "app-booting");
    // Past the boot deadline the answer is immediate, and says the app never listened.
    let started = std::time::Instant::now();
    let reply = send(mesh.addr, "GET", "/", &[], "").await;
    reply.assert_mesh_error(502, "app-unavailable");
    reply.assert_error_mentions("never started listening on APP_PORT");
    assert!(started.elapsed() < Duration::from_secs(5));
}
