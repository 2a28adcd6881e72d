//! Test harness: a fake app and a fake AppLink API (plain HTTP or HTTPS with a test CA), both real
//! servers on 127.0.0.1, the sidecar started in-process or as the built binary, and small clients.

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

/// A port nothing listens on right now (for an app, or a sidecar, to take later). It is drawn
/// below the kernel's ephemeral range, from which every `bind(0)` and every outgoing connection of
/// every test running meanwhile takes its port: a port from that range could be taken by one of
/// them before the app binds it (a listener there answers in its stead, a client's port makes the
/// bind fail). Where that range leaves no room below, any free port.
pub fn free_port() -> u16 {
    static DRAWN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let below = ephemeral_low().filter(|low| *low > LOWEST + 1_000);
    let Some(below) = below else {
        let any = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        return any.local_addr().unwrap().port();
    };
    let span = below - LOWEST;
    // Another test binary draws from the same span: start where this process's id points.
    let start = std::process::id().wrapping_mul(7_919);
    loop {
        let drawn = DRAWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port =
            u16::try_from(LOWEST + start.wrapping_add(drawn.wrapping_mul(257)) % span).unwrap();
        // Free on the loopback, and on `[::]` where the sidecar binds (a machine without IPv6
        // refuses that bind for another reason).
        let taken = |ip: std::net::IpAddr| {
            std::net::TcpListener::bind((ip, port))
                .is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse)
        };
        let loopback_free = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        if loopback_free && !taken(std::net::Ipv6Addr::UNSPECIFIED.into()) {
            return port;
        }
    }
}

/// The lowest port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`).
fn ephemeral_low() -> Option<u32> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}
