//! The connections to the AppLink API (docs/behaviour.md §5): one opened at start-up, HTTP/2 when
//! the API offers it (a burst shares one connection), kept while the API keeps it and reopened in
//! the background when it closes the last, TLS sessions resumed; and every fault a connection can
//! meet (closed mid-call, `GOAWAY` with calls in flight) ends as §5's table says, with one retry.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::client::wait_for;
use common::{Answer, FakeApi, FakeApp, Sidecar, salesforce, send};

/// A production sidecar in front of a fake app, against `api` (its CA trusted).
async fn against(api: &FakeApi) -> (FakeApp, Sidecar) {
    let app = FakeApp::start().await;
    let mut builder = Sidecar::production(app.port(), &api.url());
    if let Some(ca) = &api.ca_file {
        builder = builder.env("SSL_CERT_FILE", ca.to_str().unwrap());
    }
    (app, builder.start().await)
}

#[tokio::test]
async fn a_connection_is_opened_at_start_up_and_the_first_call_takes_it() {
    let api = FakeApi::start_tls_h2().await;
    let (_app, mesh) = against(&api).await;
    // Before any request: the connection the first call will take.
    wait_for(|| api.open_connections() == 1).await;
    assert!(api.calls().is_empty());
    let reply = send(mesh.addr, "GET", "/first", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(api.calls().len(), 1);
    assert_eq!(
        api.peak_connections(),
        1,
        "the call took the warm connection"
    );
    assert_eq!(api.handshakes(), (1, 0));
}

/// The dial at start-up stalls (the API accepts it and never answers its TLS handshake): a call
/// waits for that dial 1 s at most, then opens its own connection, well within `timeouts.auth`.
/// (Waiting for the stalled dial until it timed out would spend the call's whole deadline: 504.)
#[tokio::test]
async fn a_stalled_dial_holds_the_calls_that_wait_for_it_a_moment_only() {
    let api = FakeApi::start_tls_h2().await;
    api.stall_connections(1);
    let (_app, mesh) = against(&api).await;
    // The start-up dial reached the API, which holds it.
    wait_for(|| api.open_connections() == 1).await;
    let reply = send(mesh.addr, "GET", "/first", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(api.calls().len(), 1);
    assert_eq!(api.handshakes(), (1, 0), "the call's own connection");
}

#[tokio::test]
async fn http2_when_the_api_offers_it_a_burst_shares_one_connection() {
    let api = FakeApi::start_tls_h2().await;
    api.always(Answer {
        delay: Duration::from_millis(200),
        ..Answer::status(200)
    });
    let (_app, mesh) = against(&api).await;
    let headers = salesforce::headers();
    let burst = (0..32).map(|_| send(mesh.addr, "GET", "/burst", &headers, ""));
    let replies = futures_util::future::join_all(burst).await;
    let refused: Vec<String> = replies
        .iter()
        .filter(|r| r.status != 200)
        .map(|r| format!("{} {}", r.status, r.text()))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let calls = api.calls();
    assert_eq!(calls.len(), 32);
    assert!(
        calls.iter().all(|c| c.version == http::Version::HTTP_2),
        "{calls:?}"
    );
    assert_eq!(
        api.peak_connections(),
        1,
        "32 calls at once on one HTTP/2 connection"
    );
    assert!(
        api.peak_concurrency() > 1,
        "the calls were in flight together"
    );
}

#[tokio::test]
async fn http11_when_the_api_offers_nothing_else() {
    let api = FakeApi::start_tls().await;
    let (_app, mesh) = against(&api).await;
    let reply = send(mesh.addr, "GET", "/one", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(api.only_call().version, http::Version::HTTP_11);
}

/// The API closes the last connection (its idle timeout, a `GOAWAY`): a fresh one is open again
/// before the next call, on a resumed TLS session, and the next call takes it.
#[tokio::test]
async fn a_closed_connection_is_reopened_in_the_background_on_a_resumed_session() {
    for api in [FakeApi::start_tls_h2().await, FakeApi::start_tls().await] {
        let (_app, mesh) = against(&api).await;
        let headers = salesforce::headers();
        assert_eq!(send(mesh.addr, "GET", "/a", &headers, "").await.status, 200);
        wait_for(|| api.open_connections() == 1).await;
        api.close_connections();
        // Closed, then reopened without a call asking for it.
        wait_for(|| api.handshakes().0 + api.handshakes().1 == 2 && api.open_connections() == 1)
            .await;
        assert_eq!(
            api.handshakes(),
            (1, 1),
            "the second handshake resumed the first session"
        );
        assert_eq!(send(mesh.addr, "GET", "/b", &headers, "").await.status, 200);
        assert_eq!(
            api.handshakes(),
            (1, 1),
            "the call took the reopened connection"
        );
    }
}

/// A call the API drops mid-way (the connection closed, or the stream reset, without an answer)
/// is sent once more on a new connection; when that fails too, 503 `auth-unavailable`.
#[tokio::test]
async fn a_call_dropped_mid_way_is_retried_once() {
    for api in [FakeApi::start_tls_h2().await, FakeApi::start_tls().await] {
        let (app, mesh) = against(&api).await;
        let headers = salesforce::headers();
        api.script(&[Answer::hang_up()]);
        let reply = send(mesh.addr, "GET", "/once", &headers, "").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(api.calls().len(), 2, "the call and its one retry");
        api.script(&[Answer::hang_up(), Answer::hang_up(), Answer::hang_up()]);
        send(mesh.addr, "GET", "/twice", &headers, "")
            .await
            .assert_mesh_error(503, "auth-unavailable");
        assert_eq!(api.calls().len(), 4, "one retry, not more");
        assert_eq!(app.received().len(), 1);
        // Nothing is left behind: one warm connection again.
        let started = std::time::Instant::now();
        while api.open_connections() != 1 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} open",
                api.open_connections()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `GOAWAY` with calls in flight: they finish on the old connection; later calls take a new one.
#[tokio::test]
async fn calls_in_flight_when_the_api_goes_away_finish() {
    let api = FakeApi::start_tls_h2().await;
    api.always(Answer {
        delay: Duration::from_millis(400),
        ..Answer::status(200)
    });
    let (_app, mesh) = against(&api).await;
    let addr = mesh.addr;
    let in_flight: Vec<_> = (0..5)
        .map(|_| {
            tokio::spawn(
                async move { send(addr, "GET", "/slow", &salesforce::headers(), "").await },
            )
        })
        .collect();
    wait_for(|| api.calls().len() == 5).await;
    api.close_connections();
    for call in in_flight {
        assert_eq!(call.await.unwrap().status, 200);
    }
    api.always(Answer::status(200));
    assert_eq!(
        send(addr, "GET", "/after", &salesforce::headers(), "")
            .await
            .status,
        200
    );
    assert_eq!(api.calls().len(), 6);
    assert_eq!(api.calls()[5].version, http::Version::HTTP_2);
}

/// An HTTP/2 AppLink API (TLS, `h2` by ALPN) that resets the streams `reset` picks (by their
/// number, from 0) with `reason`, and answers the others 200; its CA file, address and the streams
/// it has seen.
async fn resetting_api(
    reset: fn(usize) -> bool,
    reason: h2::Reason,
) -> (std::path::PathBuf, std::net::SocketAddr, Arc<AtomicUsize>) {
    let (acceptor, ca_file) = common::api::tls::acceptor(false, true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut connection) = h2::server::handshake(tls).await else {
                    return;
                };
                while let Some(Ok((_request, mut respond))) = connection.accept().await {
                    if reset(seen.fetch_add(1, Ordering::SeqCst)) {
                        respond.send_reset(reason);
                    } else {
                        let _ = respond.send_response(http::Response::new(()), true);
                    }
                }
            });
        }
    });
    (ca_file, addr, seen)
}

/// A stream the API refuses (`REFUSED_STREAM`, it was not processed) is sent once more; a stream
/// reset every time is 503 `auth-unavailable` after the one retry.
#[tokio::test]
async fn refused_and_reset_streams_end_as_the_table_says() {
    for (reset, reason, status, streams) in [
        (
            (|n| n == 0) as fn(usize) -> bool,
            h2::Reason::REFUSED_STREAM,
            200,
            2,
        ),
        (|_| true, h2::Reason::INTERNAL_ERROR, 503, 2),
    ] {
        let (ca_file, addr, seen) = resetting_api(reset, reason).await;
        let app = FakeApp::start().await;
        let url = format!(
            "https://localhost:{}/addons/{}",
            addr.port(),
            common::api::ADDON_UUID
        );
        let mesh = Sidecar::production(app.port(), &url)
            .env("SSL_CERT_FILE", ca_file.to_str().unwrap())
            .start()
            .await;
        let reply = send(mesh.addr, "GET", "/r", &salesforce::headers(), "").await;
        assert_eq!(reply.status, status, "{reason:?}: {}", reply.text());
        if status == 503 {
            reply.assert_mesh_error(503, "auth-unavailable");
        }
        assert_eq!(
            seen.load(Ordering::SeqCst),
            streams,
            "{reason:?}: the call and one retry"
        );
    }
}

/// Nothing leaks from faults: after calls dropped mid-way and the API going away, the sidecar's
/// open files and the API's connections are back where they were, one warm connection.
#[tokio::test]
async fn faults_leave_no_connection_or_file_behind() {
    let api = FakeApi::start_tls_h2().await;
    let app = FakeApp::start().await;
    let mut mesh = common::sidecar::behind_api(&app, &api, &[]);
    let addr = mesh.wait_listening();
    wait_for(|| api.open_connections() == 1).await;
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", mesh.child.id()))
            .unwrap()
            .count()
    };
    let baseline = fds();
    for round in 0..5 {
        api.script(&[Answer::hang_up()]);
        assert_eq!(
            send(addr, "GET", "/r", &salesforce::headers(), "")
                .await
                .status,
            200
        );
        if round % 2 == 1 {
            api.close_connections();
        }
    }
    let started = std::time::Instant::now();
    while api.open_connections() != 1 || fds() != baseline {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} API connections, {} open files against {baseline}",
            api.open_connections(),
            fds()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    mesh.terminate();
}
