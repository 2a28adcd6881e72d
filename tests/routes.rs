//! Routes that skip authentication (docs/behaviour.md §3, §4.1–4.2, §4.5): info, health, bypass
//! globs, bypass-all.

use crate::common;

use common::salesforce::{self, ORG_ID};
use common::{Answer, FakeApi, FakeApp, Sidecar, raw_request, send};

const BYPASS_YAML: &str = "mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\", \"/favicon*\", \"/files/*.png\"]\n";

async fn with_bypass(acknowledged: bool) -> (FakeApp, FakeApi, Sidecar) {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mut builder = Sidecar::production(app.port(), &api.url()).yaml(BYPASS_YAML);
    if acknowledged {
        builder = builder.env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        );
    }
    (app, api, builder.start().await)
}

#[tokio::test]
async fn info_route_answers_the_version_for_any_method() {
    let (app, api, mesh) = with_bypass(false).await;
    for method in ["GET", "POST", "DELETE"] {
        let reply = send(
            mesh.addr,
            method,
            "/__herokuAppLinkServiceMeshInfo",
            &[],
            "",
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["content-type"], "text/plain");
        // The version changes with a deploy: never stored (an HTTP linter flags it otherwise).
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert_eq!(reply.text(), format!("v{}", env!("CARGO_PKG_VERSION")));
    }
    assert!(app.received().is_empty() && api.calls().is_empty());
}

#[tokio::test]
async fn health_route_is_forwarded_without_authentication_on_exact_match_only() {
    let (app, api, mesh) = with_bypass(false).await;
    let reply = send(mesh.addr, "GET", "/healthcheck", &[], "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "ok");
    assert_eq!(
        app.only_request().headers["x-applink-request-kind"],
        "bypass"
    );
    for path in [
        "/healthcheck/",
        "/healthcheck/x",
        "/Healthcheck",
        "/./healthcheck",
    ] {
        send(mesh.addr, "GET", path, &[], "")
            .await
            .assert_mesh_error(401, "missing-context");
    }
    assert_eq!(app.received().len(), 1);
    assert!(api.calls().is_empty());
}

#[tokio::test]
async fn health_route_can_move_or_be_disabled() {
    let (app, api, mesh) = common::production_with("mesh:\n  healthcheck: { route: /up }\n").await;
    assert_eq!(send(mesh.addr, "GET", "/up", &[], "").await.status, 200);
    assert_eq!(
        send(mesh.addr, "GET", "/healthcheck", &[], "").await.status,
        401
    );
    let mesh = Sidecar::production(app.port(), &api.url())
        .yaml("mesh:\n  healthcheck: { enable: false }\n")
        .start()
        .await;
    assert_eq!(
        send(mesh.addr, "GET", "/healthcheck", &[], "").await.status,
        401
    );
}

#[tokio::test]
async fn bypass_routes_are_ignored_without_the_acknowledgement() {
    let (app, _api, mesh) = with_bypass(false).await;
    send(mesh.addr, "GET", "/public/a", &[], "")
        .await
        .assert_mesh_error(401, "missing-context");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn bypass_globs_follow_the_truth_table() {
    let (app, api, mesh) = with_bypass(true).await;
    for (path, bypassed) in [
        ("/public", true),
        ("/public/", true),
        ("/public/a/b?q=1", true),
        ("/publicity", false),
        ("/favicon.ico", true),
        ("/favicon/a.png", true),
        ("/files/a.png", true),
        ("/files/x/a.png", false),
        ("/Public/a", false),
        ("/x?/public/a", false),
    ] {
        let reply = send(mesh.addr, "GET", path, &[], "").await;
        let expected = if bypassed { 200 } else { 401 };
        assert_eq!(reply.status, expected, "{path}: {}", reply.text());
    }
    assert_eq!(app.received().len(), 6);
    assert!(
        app.received()
            .iter()
            .all(|r| r.headers["x-applink-request-kind"] == "bypass")
    );
    assert!(api.calls().is_empty());
}

#[tokio::test]
async fn paths_not_in_normal_form_never_bypass() {
    let (app, _api, mesh) = with_bypass(true).await;
    for path in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "/public/..;/admin",
        "/public/%2fadmin",
        "/public/%5cadmin",
        "/public\\..\\admin",
        "/public//admin",
        "/public/./a",
    ] {
        let reply = raw_request(mesh.addr, &format!("GET {path} HTTP/1.1\r\nhost: x"), b"").await;
        assert!(
            reply.status == 401 || reply.status == 400,
            "{path} must not bypass, got {} {}",
            reply.status,
            reply.text()
        );
    }
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn bypass_all_forwards_everything_without_context() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    let mesh = Sidecar::production(app.port(), &api.url())
        .env("HEROKU_APPLINK_SERVICE_MESH_BYPASS_ALL_ROUTES", "true")
        .start()
        .await;
    let mut headers = vec![(
        "x-client-context",
        salesforce::encode(&salesforce::client_context()),
    )];
    headers.push(("x-applink-org-id", "spoof".into()));
    assert_eq!(
        send(mesh.addr, "GET", "/anything/../x", &headers, "")
            .await
            .status,
        200
    );
    let seen = app.only_request();
    assert!(
        !seen.headers.contains_key("x-client-context"),
        "an unauthenticated CC is removed on bypassed routes"
    );
    assert!(!seen.headers.contains_key("x-applink-org-id"));
    assert!(api.calls().is_empty());
}

#[tokio::test]
async fn bypassed_route_with_context_is_authenticated_opportunistically() {
    let (app, api, mesh) = with_bypass(true).await;
    let reply = send(mesh.addr, "GET", "/public/page", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200);
    let seen = &app.received()[0];
    assert_eq!(seen.headers["x-applink-org-id"], ORG_ID);
    assert!(seen.headers.contains_key("x-client-context"));
    assert_eq!(api.calls().len(), 1);

    // Denied: forwarded anyway, without the context.
    api.script(&[Answer::status(403)]);
    let reply = send(mesh.addr, "GET", "/public/page", &salesforce::headers(), "").await;
    assert_eq!(reply.status, 200);
    let seen = &app.received()[1];
    assert!(!seen.headers.contains_key("x-client-context"));
    assert!(!seen.headers.contains_key("x-applink-org-id"));
    assert_eq!(seen.headers["x-applink-request-kind"], "bypass");

    // Malformed context: never rejected on a bypassed route.
    let mut headers = salesforce::headers();
    headers[0].1 = "garbage".into();
    assert_eq!(
        send(mesh.addr, "GET", "/public/page", &headers, "")
            .await
            .status,
        200
    );
    assert_eq!(api.calls().len(), 2);
}

const METHOD_YAML: &str = "mesh:\n  authentication:\n    bypassRoutes:\n      - /public/**\n      - path: /webhooks/**\n        methods: [POST]\n";

/// Another method on the webhook's path is authenticated: refused without a context, and with
/// one, refused here by the API. Only the POST reached the app.
async fn another_method_is_authenticated(mesh: &Sidecar, app: &FakeApp) {
    for method in ["GET", "PUT", "DELETE"] {
        send(mesh.addr, method, "/webhooks/stripe", &[], "")
            .await
            .assert_mesh_error(401, "missing-context");
    }
    send(
        mesh.addr,
        "GET",
        "/webhooks/stripe",
        &salesforce::headers(),
        "",
    )
    .await
    .assert_mesh_error(403, "forbidden");
    assert_eq!(app.received().len(), 1, "only the POST reached the app");
}

/// A bypass entry with methods lets only those methods through unauthenticated; another method on
/// the same path is authenticated like any route.
#[tokio::test]
async fn a_bypass_entry_with_methods_applies_to_those_methods_only() {
    let app = FakeApp::start().await;
    let api = FakeApi::start().await;
    api.always(Answer::status(403));
    let mesh = Sidecar::production(app.port(), &api.url())
        .yaml(METHOD_YAML)
        .env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )
        .start()
        .await;
    let reply = send(mesh.addr, "POST", "/webhooks/stripe", &[], "{}").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        app.only_request().headers["x-applink-request-kind"],
        "bypass"
    );
    another_method_is_authenticated(&mesh, &app).await;
    a_method_override_header_is_removed(&mesh, &app).await;
    a_method_override_query_is_authenticated(&mesh, &app).await;
    // An entry for every method still applies: it does not depend on the method.
    let reply = send(mesh.addr, "POST", "/public/x?_method=DELETE", &[], "{}").await;
    assert_eq!(reply.status, 200);
    // The plain string form is every method.
    assert_eq!(
        send(mesh.addr, "DELETE", "/public/x", &[], "").await.status,
        200
    );
}

/// A method-override header, in any spelling, cannot turn the anonymous POST into another method
/// at the app: it is removed, and other headers are kept.
async fn a_method_override_header_is_removed(mesh: &Sidecar, app: &FakeApp) {
    let overrides = [
        ("x-http-method-override", "DELETE".to_string()),
        ("x-http-method", "DELETE".to_string()),
        ("x_method_override", "DELETE".to_string()),
        ("x.http.method.override", "DELETE".to_string()),
        ("x-other", "kept".to_string()),
    ];
    let reply = send(mesh.addr, "POST", "/webhooks/stripe", &overrides, "{}").await;
    assert_eq!(reply.status, 200);
    let seen = &app.received()[1];
    let names: Vec<&str> = seen.headers.keys().map(http::HeaderName::as_str).collect();
    assert!(names.iter().all(|n| !n.contains("method")), "{names:?}");
    assert_eq!(seen.headers["x-other"], "kept");
}

/// Nor can a `_method` in the query, in any spelling a framework reads: such a POST is not let
/// through by the entry for POST; it is authenticated like any other (here: no context).
async fn a_method_override_query_is_authenticated(mesh: &Sidecar, app: &FakeApp) {
    for query in [
        "_method=DELETE",
        "x=1&_METHOD=put",
        ".method=DELETE",
        "a=1;_method=PATCH",
    ] {
        let target = format!("/webhooks/stripe?{query}");
        send(mesh.addr, "POST", &target, &[], "{}")
            .await
            .assert_mesh_error(401, "missing-context");
    }
    assert_eq!(app.received().len(), 2, "no _method query reached the app");
}

/// `--check METHOD PATH` says whether a request would be authenticated, and which entry bypasses
/// it: the server's own decision, asked before deploying.
/// `--check` with `METHOD_YAML` (the bypass routes acknowledged or not) for `route` gives a route
/// line that says `says`.
fn check_says(ack: bool, route: &[&str], says: &str) {
    let yaml = common::sidecar::temp_file("routes.yaml", METHOD_YAML);
    let text = check(&yaml, ack, route);
    let line = text.lines().find(|line| line.starts_with("route = "));
    let line = line.unwrap_or_else(|| panic!("no route line in {text}"));
    assert!(line.contains(says), "{route:?}: {line}");
}

#[test]
#[rustfmt::skip]
fn check_says_whether_a_route_would_be_authenticated() {
    check_says(true, &["POST", "/webhooks/stripe"], "POST /webhooks/stripe: forwarded without authentication: bypassRoutes entry 2 \"/webhooks/**\" (POST)");
    check_says(true, &["POST", "/webhooks/stripe?x=1"], "POST /webhooks/stripe: forwarded without authentication");
    check_says(true, &["GET", "/webhooks/stripe"], "GET /webhooks/stripe: authenticated (\"/webhooks/**\" (POST) matches the path, but not this method)");
    check_says(true, &["POST", "/webhooks/stripe?.method=DELETE"], "POST /webhooks/stripe: authenticated (\"/webhooks/**\" (POST) matches the path, but the query names _method");
    check_says(true, &["GET", "/public/a"], "GET /public/a: forwarded without authentication: bypassRoutes entry 1 \"/public/**\"");
    check_says(true, &["GET", "/public/../admin"], "authenticated (the path is not in normal form");
    check_says(true, &["GET", "/healthcheck"], "it is the health route");
    check_says(true, &["GET", "/orders"], "GET /orders: authenticated");
    check_says(false, &["POST", "/webhooks/stripe"], "authenticated (bypassRoutes \"/webhooks/**\" (POST) matches, but bypassRoutes are ignored until HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS=true)");
}

/// An app command after `--check` stays an app command: a lower-case word, or anything after `--`.
#[test]
fn check_reads_an_app_command_as_one() {
    let yaml = common::sidecar::temp_file("routes.yaml", METHOD_YAML);
    for command in [&["node", "/app/server.js"][..], &["--", "GET", "/x"]] {
        let text = check(&yaml, false, command);
        let asked = text.lines().any(|line| line.starts_with("route = "));
        assert!(!asked, "{command:?}: {text}");
        assert!(text.contains("app command = "), "{command:?}: {text}");
    }
}

/// `--check` with the file `yaml` and the words `after` it, the risk acknowledged or not: its
/// output, after checking it exits 0.
fn check(yaml: &std::path::Path, acknowledged: bool, after: &[&str]) -> String {
    let mut command = std::process::Command::new(common::sidecar::binary());
    command
        .args(["--config", yaml.to_str().unwrap(), "--check"])
        .args(after)
        .env_clear()
        .env("HEROKU_APPLINK_API_URL", "https://applink.example/addons/1")
        .env("HEROKU_APPLINK_TOKEN", "t");
    if acknowledged {
        command.env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        );
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout).unwrap()
}
