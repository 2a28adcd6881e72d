//! The dev dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! opens the page, sends two calls with its form and one with `bin/invoke`, and checks the three
//! rows and the detail view's decoded org id. It saves a screenshot under `target/`.
//!
//! `.ci/run` installs `chromium` and `chromium-driver`; where either is missing the test prints
//! SKIPPED with the reason.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{FakeApp, SidecarProcess};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

const ORG: &str = "00DJS0000000123ABC";

/// A program on PATH, or `None`.
fn program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|path| path.is_file())
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(chromedriver: &PathBuf) -> Driver {
        let port = common::free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

async fn browser(driver: &Driver, chromium: &PathBuf) -> Client {
    let capabilities = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1500,1000"],
        },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with headless Chromium")
}

/// Polls `check` until it gives a value, for at most 20 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The rows' (path, status) as the page shows them, newest first.
async fn rows(client: &Client) -> Vec<(String, String)> {
    let script = "return Array.from(document.querySelectorAll('#rows tr'))\
                  .map(tr => [tr.children[2].textContent, tr.dataset.status]);";
    let value = client.execute(script, vec![]).await.unwrap();
    serde_json::from_value(value).unwrap_or_default()
}

async fn send_with_form(client: &Client, method: &str, path: &str, body: &str) {
    client
        .find(Locator::Css("#f-method"))
        .await
        .unwrap()
        .select_by_value(method)
        .await
        .unwrap();
    for (field, value) in [("#f-path", path), ("#f-body", body)] {
        let input = client.find(Locator::Css(field)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    client
        .find(Locator::Css("#f-send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(&format!("the form's result for {path}"), || async {
        let result = client
            .find(Locator::Css("#f-result"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        result.starts_with("200").then_some(())
    })
    .await;
    // Cleared, so the next call's result is its own.
    client
        .execute(
            "document.getElementById('f-result').textContent = '';",
            vec![],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_dashboard_in_headless_chromium() {
    let (Some(chromium), Some(chromedriver)) = (program("chromium"), program("chromedriver"))
    else {
        common::skip(
            "the_dashboard_in_headless_chromium",
            "chromium or chromedriver is not installed (apt-get install chromium chromium-driver; .ci/run installs them)",
        );
        return;
    };
    let app = FakeApp::start().await;
    let app_port = app.port().to_string();
    let mut mesh = SidecarProcess::spawn(&[("APP_PORT", &app_port)], &["--dev", "--port", "0"]);
    let base = format!("http://localhost:{}", mesh.wait_listening().port());
    let url = the_printed_url(&mut mesh, &base);

    let driver = Driver::start(&chromedriver);
    let client = browser(&driver, &chromium).await;
    client.goto(&url).await.unwrap();
    the_stream_goes_live(&client).await;

    send_with_form(&client, "GET", "/from-form", "").await;
    send_with_form(&client, "POST", "/from-form/post", "{\"name\":\"Acme\"}").await;
    send_with_bin_invoke(&base, "/from-invoke").await;
    the_rows_show_the_three_as_the_app_received_them(&client, &app).await;
    the_detail_shows_the_decoded_org_and_no_token(&client).await;

    a_screenshot_is_kept(&client).await;
    client.close().await.unwrap();
}

/// The page says `live` once its event stream is connected.
async fn the_stream_goes_live(client: &fantoccini::Client) {
    eventually("the stream is live", || async {
        let live = client
            .find(Locator::Css("#live"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (live == "live").then_some(())
    })
    .await;
}

/// The page as drawn, in target/dashboard-screenshot.png.
async fn a_screenshot_is_kept(client: &fantoccini::Client) {
    let png = client.screenshot().await.unwrap();
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("dashboard-screenshot.png"), &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
}

/// The dashboard's URL with this run's token, as a developer would copy it from the terminal.
fn the_printed_url(mesh: &mut SidecarProcess, base: &str) -> String {
    let output = mesh.wait_for_output("dev dashboard");
    let url = output
        .split("url=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no dashboard URL in {output}"))
        .trim_matches('"')
        .to_string();
    assert!(
        url.starts_with(&format!("{base}/__applink/?token=")),
        "{url}"
    );
    url
}

/// A request from the terminal, as the README shows: `bin/invoke` with an org id.
async fn send_with_bin_invoke(base: &str, path: &str) {
    let invoke = tokio::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/bin/invoke"))
        .args(["-u", base, "-o", ORG, path])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&invoke.stderr);
    assert!(invoke.status.success(), "{stderr}");
}

/// The page lists the three requests, newest first, as the app received them.
async fn the_rows_show_the_three_as_the_app_received_them(client: &Client, app: &FakeApp) {
    let shown = eventually("three rows", || async {
        let shown = rows(client).await;
        (shown.len() == 3).then_some(shown)
    })
    .await;
    let shown: Vec<(&str, &str)> = shown
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    let expected = [
        ("/from-invoke", "200"),
        ("/from-form/post", "200"),
        ("/from-form", "200"),
    ];
    assert_eq!(shown, expected);
    let received = app.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[1].method, "POST");
    assert_eq!(received[1].body, "{\"name\":\"Acme\"}");
}

/// The detail view of the newest row (the bin/invoke call) shows the decoded org id, never the
/// local access token.
async fn the_detail_shows_the_decoded_org_and_no_token(client: &Client) {
    let newest = client
        .find(Locator::Css("#rows tr:first-child"))
        .await
        .unwrap();
    newest.click().await.unwrap();
    let detail = eventually("the detail view", || async {
        let text = client
            .find(Locator::Css("#detail"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("x-applink-org-id").then_some(text)
    })
    .await;
    assert!(detail.contains(ORG), "{detail}");
    assert!(detail.contains("GET /from-invoke → 200"), "{detail}");
    assert!(!detail.contains("local-access-token"), "{detail}");
}
