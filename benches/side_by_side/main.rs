//! The sidecar side by side with nginx, on the same app and the same AppLink API stub, in one run.
//! Run through `bin/bench`, which installs wrk and nginx, builds release and pins this driver (and
//! so the load) to one CPU; every server runs on the other. Prints figures; asserts nothing.
//!
//! Settings (environment): BENCH_SIDECAR, BENCH_PEER (paths of the release builds), BENCH_SECONDS
//! (per row, default 10), BENCH_RATE (the fixed rate, default 2000), BENCH_LOAD_CPU (default 0),
//! BENCH_SERVER_CPU (default 1), BENCH_DIR (scratch folder), BENCH_PARTS (which parts to run, of
//! `table,rate,memory,dat,dashboard,start-up`, or `guard` for CI's regression guard; default all but
//! the guard; memory needs the table).

// A benchmark tool: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
// Its arithmetic is on figures to print, where a rounded cast is what is meant.
#![allow(clippy::cast_possible_truncation)]

mod load;
mod procfs;

#[path = "../../tests/common/salesforce.rs"]
#[allow(dead_code)]
mod salesforce;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use procfs::Usage;

struct Settings {
    sidecar: PathBuf,
    peer: PathBuf,
    seconds: u64,
    rate: u64,
    load_cpu: String,
    server_cpu: String,
    dir: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or(default.to_string());
        Settings {
            sidecar: var(
                "BENCH_SIDECAR",
                "target/release/heroku-applink-service-mesh",
            )
            .into(),
            peer: var("BENCH_PEER", "target/bench-peer/release/bench-peer").into(),
            seconds: var("BENCH_SECONDS", "10").parse().unwrap_or(10),
            rate: var("BENCH_RATE", "2000").parse().unwrap_or(2000),
            load_cpu: var("BENCH_LOAD_CPU", "0"),
            server_cpu: var("BENCH_SERVER_CPU", "1"),
            dir: var("BENCH_DIR", "target/bench").into(),
        }
    }
}

/// The processes under test; all are killed when this is dropped.
#[derive(Default)]
struct Fleet {
    children: Vec<Child>,
}

impl Fleet {
    /// Starts `command` pinned to `cpu`, its output to `stdout`; returns its pid.
    fn start(&mut self, cpu: &str, command: &Command, stdout: Stdio) -> u32 {
        let program = command.get_program().to_os_string();
        let mut pinned = Command::new("taskset");
        pinned.arg("-c").arg(cpu).arg(&program);
        pinned.args(command.get_args());
        // The commands here start from an empty environment or from this one.
        if command.get_envs().any(|(name, _)| name == "PATH") {
            pinned.env_clear();
        }
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => pinned.env(name, value),
                None => pinned.env_remove(name),
            };
        }
        let child = pinned
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program:?}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }
}

impl Drop for Fleet {
    /// SIGTERM first (nginx's master stops its worker on it), SIGKILL what is left after 3 s.
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        for child in &self.children {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        }
        let until = Instant::now() + Duration::from_secs(3);
        for child in &mut self.children {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for(port: u16) {
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Peer counters: `connections=N requests=M` from a bench peer.
fn peer_connections(port: u16) -> u64 {
    let Ok(output) = Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/__bench/stats"))
        .output()
    else {
        return 0;
    };
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix("connections="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

struct Ports {
    app: u16,
    api: u16,
    api_empty: u16,
    nginx_auth: u16,
    nginx_auth_empty: u16,
    nginx_plain: u16,
    sidecar: u16,
    sidecar_info: u16,
    sidecar_empty: u16,
    sidecar_assertion: u16,
}

fn sidecar_command(settings: &Settings, ports: &Ports, port: u16, log: &str) -> Command {
    let mut command = Command::new(&settings.sidecar);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("APP_PORT", ports.app.to_string())
        .env(
            "HEROKU_APPLINK_API_URL",
            // The add-on the requests' contexts name (their `addonUuid`).
            format!(
                "http://127.0.0.1:{}/addons/{}",
                ports.api,
                salesforce::ADDON_UUID
            ),
        )
        .env("HEROKU_APPLINK_TOKEN", "bench-token")
        .env("HEROKU_APPLINK_SERVICE_MESH_LOG", log)
        .env(
            "HEROKU_APPLINK_SERVICE_MESH_ACKNOWLEDGE_RISK_BYPASS",
            "true",
        )
        .arg("--config")
        .arg(settings.dir.join("bench.yaml"));
    command
}

fn start_nginx(settings: &Settings, ports: &Ports, fleet: &mut Fleet) -> u32 {
    let dir = settings.dir.join("nginx");
    std::fs::create_dir_all(&dir).expect("a scratch folder for nginx");
    let template = include_str!("../nginx.conf");
    let config = template
        .replace(
            "@DIR@",
            &dir.canonicalize().expect("absolute").to_string_lossy(),
        )
        .replace("@APP_PORT@", &ports.app.to_string())
        .replace("@API_PORT@", &ports.api.to_string())
        .replace("@API_EMPTY_PORT@", &ports.api_empty.to_string())
        .replace("@AUTH_PORT@", &ports.nginx_auth.to_string())
        .replace("@AUTH_EMPTY_PORT@", &ports.nginx_auth_empty.to_string())
        .replace("@PLAIN_PORT@", &ports.nginx_plain.to_string());
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).expect("nginx.conf written");
    let mut command = Command::new("nginx");
    command
        .arg("-c")
        .arg(path.canonicalize().expect("absolute"));
    fleet.start(&settings.server_cpu, &command, Stdio::null())
}

/// One line of the main table.
struct Row {
    name: &'static str,
    port: u16,
    path: &'static str,
    /// Whether it sends the Salesforce headers and so calls the API stub.
    headers: bool,
    /// The server's processes; empty for the app itself.
    server: Vec<u32>,
    /// The API stub it calls: its pid and port.
    api: (u32, u16),
    /// The row of the nginx peer a sidecar row is compared with.
    peer: Option<usize>,
}

struct Measured {
    per_second: f64,
    requests: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    server: Usage,
    app: Usage,
    api: Usage,
    app_connections: u64,
    api_connections: u64,
    server_rss_max_kib: u64,
}

fn measure(
    settings: &Settings,
    ports: &Ports,
    row: &Row,
    app: u32,
    headers: &[(&'static str, String)],
) -> Measured {
    let (api, api_port) = row.api;
    let url = format!("http://127.0.0.1:{}{}", row.port, row.path);
    let headers: &[(&str, String)] = if row.headers { headers } else { &[] };
    // Warm up pools and caches, unmeasured.
    load::wrk("wrk", &settings.load_cpu, &url, headers, 64, 1);

    let (app_conns, api_conns) = (peer_connections(ports.app), peer_connections(api_port));
    let before = (
        procfs::usage_of(&row.server),
        procfs::usage(app),
        procfs::usage(api),
    );
    let peak = procfs::RssPeak::start(row.server.clone(), Duration::from_millis(100));
    let figures = load::wrk(
        "wrk",
        &settings.load_cpu,
        &url,
        headers,
        64,
        settings.seconds,
    );
    let server_rss_max_kib = peak.stop();
    let after = (
        procfs::usage_of(&row.server),
        procfs::usage(app),
        procfs::usage(api),
    );
    Measured {
        per_second: figures.per_second,
        requests: figures.requests,
        errors: figures.errors,
        p50_ms: figures.p50_ms,
        p99_ms: figures.p99_ms,
        server: after.0 - before.0,
        app: after.1 - before.1,
        api: after.2 - before.2,
        // Minus the one connection each stats request itself opens.
        app_connections: peer_connections(ports.app)
            .saturating_sub(app_conns)
            .saturating_sub(1),
        api_connections: peer_connections(api_port)
            .saturating_sub(api_conns)
            .saturating_sub(1),
        server_rss_max_kib,
    }
}

fn per_request_us(usage: Usage, requests: u64) -> f64 {
    if requests == 0 {
        return 0.0;
    }
    usage.cpu_seconds * 1e6 / requests as f64
}

/// The user-space part of [`per_request_us`].
fn per_request_user_us(usage: Usage, requests: u64) -> f64 {
    if requests == 0 {
        return 0.0;
    }
    usage.user_seconds * 1e6 / requests as f64
}

fn per_request(count: u64, requests: u64) -> f64 {
    if requests == 0 {
        return 0.0;
    }
    count as f64 / requests as f64
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` asks for a listing; there are no tests here.
    }
    let settings = Settings::from_env();
    std::fs::create_dir_all(&settings.dir).expect("a scratch folder");
    std::fs::write(
        settings.dir.join("bench.yaml"),
        "mesh:\n  authentication:\n    bypassRoutes: [\"/public/**\"]\n",
    )
    .expect("the bench config written");
    let ports = Ports {
        app: free_port(),
        api: free_port(),
        api_empty: free_port(),
        nginx_auth: free_port(),
        nginx_auth_empty: free_port(),
        nginx_plain: free_port(),
        sidecar: free_port(),
        sidecar_info: free_port(),
        sidecar_empty: free_port(),
        sidecar_assertion: free_port(),
    };
    let headers = salesforce::headers();
    let mut fleet = Fleet::default();
    let cpu = settings.server_cpu.clone();
    let peer = |role: &str, port: u16| {
        let mut command = Command::new(&settings.peer);
        command.arg(role).arg(port.to_string());
        command
    };
    let app = fleet.start(&cpu, &peer("app", ports.app), Stdio::null());
    let api = fleet.start(&cpu, &peer("api", ports.api), Stdio::null());
    let api_empty = fleet.start(&cpu, &peer("api-empty", ports.api_empty), Stdio::null());
    wait_for(ports.app);
    wait_for(ports.api);
    wait_for(ports.api_empty);

    let sidecar = fleet.start(
        &cpu,
        &sidecar_command(&settings, &ports, ports.sidecar, "warn"),
        Stdio::null(),
    );
    wait_for(ports.sidecar);
    std::thread::sleep(Duration::from_millis(200));
    let idle_rss = procfs::rss_kib(sidecar);
    let sidecar_info = start_logging_sidecar(&settings, &ports, &mut fleet);
    // The same sidecar in front of the API stub that answers with no body (nginx's best case).
    let mut command = sidecar_command(&settings, &ports, ports.sidecar_empty, "warn");
    command.env(
        "HEROKU_APPLINK_API_URL",
        format!(
            "http://127.0.0.1:{}/addons/{}",
            ports.api_empty,
            salesforce::ADDON_UUID
        ),
    );
    let sidecar_empty = fleet.start(&cpu, &command, Stdio::null());
    wait_for(ports.sidecar_empty);
    // The same sidecar signing every request (docs/behaviour.md §6.1): the assertion's cost. It
    // needs an app command to give the key to; the app it forwards to is still the peer.
    let mut command = sidecar_command(&settings, &ports, ports.sidecar_assertion, "warn");
    command
        .env("HEROKU_APPLINK_SERVICE_MESH_ASSERTION", "true")
        .args(["--", "sleep", "86400"]);
    let sidecar_assertion = fleet.start(&cpu, &command, Stdio::null());
    wait_for(ports.sidecar_assertion);
    let nginx = start_nginx(&settings, &ports, &mut fleet);
    wait_for(ports.nginx_auth);
    wait_for(ports.nginx_plain);
    // The master listens before it forks its worker: wait for the worker too.
    let until = Instant::now() + Duration::from_secs(10);
    let mut nginx_pids = procfs::with_children(nginx);
    while nginx_pids.len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
        nginx_pids = procfs::with_children(nginx);
    }

    println!(
        "bin/bench: {} s per row, wrk -t1 -c64 pinned to CPU {}, every server on CPU {}; CPU from /proc per process / requests",
        settings.seconds, settings.load_cpu, settings.server_cpu
    );
    let row = |name, port, path, headers, server: &[u32], api, peer| Row {
        name,
        port,
        path,
        headers,
        server: server.to_vec(),
        api,
        peer,
    };
    let stub = (api, ports.api);
    let rows = [
        row(
            "direct to the app",
            ports.app,
            "/bench",
            false,
            &[],
            stub,
            None,
        ),
        row(
            "nginx auth_request",
            ports.nginx_auth,
            "/bench",
            true,
            &nginx_pids,
            stub,
            None,
        ),
        row(
            "sidecar, authenticated",
            ports.sidecar,
            "/bench",
            true,
            &[sidecar],
            stub,
            Some(1),
        ),
        row(
            "sidecar, authenticated, info log",
            ports.sidecar_info,
            "/bench",
            true,
            &[sidecar_info],
            stub,
            Some(1),
        ),
        row(
            "nginx plain proxy",
            ports.nginx_plain,
            "/public/bench",
            false,
            &nginx_pids,
            stub,
            None,
        ),
        row(
            "sidecar, bypassed route",
            ports.sidecar,
            "/public/bench",
            false,
            &[sidecar],
            stub,
            Some(4),
        ),
        row(
            "nginx auth_request, bodiless API",
            ports.nginx_auth_empty,
            "/bench",
            true,
            &nginx_pids,
            (api_empty, ports.api_empty),
            None,
        ),
        row(
            "sidecar, authenticated, bodiless API",
            ports.sidecar_empty,
            "/bench",
            true,
            &[sidecar_empty],
            (api_empty, ports.api_empty),
            Some(6),
        ),
        row(
            "sidecar, authenticated, assertion",
            ports.sidecar_assertion,
            "/bench",
            true,
            &[sidecar_assertion],
            stub,
            None,
        ),
    ];
    let parts =
        std::env::var("BENCH_PARTS").unwrap_or("table,rate,memory,dat,dashboard,start-up".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut guard_failed = false;
    if parts.contains("guard") {
        let results: Vec<Option<Measured>> = rows
            .iter()
            .enumerate()
            .map(|(index, row)| {
                let compared = row.peer.is_some() || rows.iter().any(|r| r.peer == Some(index));
                compared.then(|| measure(&settings, &ports, row, app, &headers))
            })
            .collect();
        guard_failed = !guard(&rows, &results);
    }
    if parts.contains("table") {
        let results: Vec<Measured> = rows
            .iter()
            .map(|row| measure(&settings, &ports, row, app, &headers))
            .collect();
        print_table(&rows, &results);
        if parts.contains("memory") {
            print_memory(
                &settings, &ports, sidecar, idle_rss, &results, &headers, &runtime,
            );
        }
    }
    if parts.contains("dat") {
        print_data_action_target_memory(&ports, sidecar, &runtime);
    }
    if parts.contains("dashboard") {
        print_dashboard_memory(&settings, &ports, &mut fleet, &runtime);
    }
    if parts.contains("rate") {
        print_fixed_rate(&settings, &rows, &headers, &runtime);
    }
    if parts.contains("start-up") {
        print_start_up(&settings, &ports);
    }
    drop(fleet);
    if guard_failed {
        std::process::exit(1);
    }
}

/// The committed ratios (sidecar CPU per request / its nginx peer's), one `row name = ratio` a line.
const BASELINE: &str = include_str!("../baseline.txt");

/// How far past its baseline a row's ratio may go before the guard fails: far beyond this shared
/// machine's noise (±30%), well inside what a lost optimisation costs.
const GUARD_FACTOR: f64 = 2.0;

/// CI's regression guard (`bin/bench --guard`): each sidecar row's CPU per request against its
/// nginx peer, measured in the same run, within [`GUARD_FACTOR`] of the committed baseline.
fn guard(rows: &[Row], results: &[Option<Measured>]) -> bool {
    let baseline: Vec<(&str, f64)> = BASELINE
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (name, ratio) = line.rsplit_once('=')?;
            Some((name.trim(), ratio.trim().parse().ok()?))
        })
        .collect();
    println!();
    println!(
        "regression guard: sidecar CPU per request / nginx's, in this run, against benches/baseline.txt (fails past {GUARD_FACTOR}× the baseline)"
    );
    let mut ok = true;
    for (row, result) in rows.iter().zip(results) {
        let (Some(peer), Some(ours)) = (row.peer, result) else {
            continue;
        };
        let Some(theirs) = &results[peer] else {
            continue;
        };
        let ratio = per_request_us(ours.server, ours.requests)
            / per_request_us(theirs.server, theirs.requests);
        let Some((_, expected)) = baseline.iter().find(|(name, _)| *name == row.name) else {
            println!(
                "  {:<38} {ratio:.2}×  (no baseline: add `{} = {ratio:.2}` to benches/baseline.txt)",
                row.name, row.name
            );
            ok = false;
            continue;
        };
        // Both rows must have served, without errors: a sidecar that is down costs 0 µs.
        let served = ours.requests > 0 && theirs.requests > 0 && theirs.errors == 0;
        let within =
            served && ratio.is_finite() && ratio <= expected * GUARD_FACTOR && ours.errors == 0;
        println!(
            "  {:<38} {ratio:.2}× (baseline {expected:.2}×, limit {:.2}×, {} errors)  {}",
            row.name,
            expected * GUARD_FACTOR,
            ours.errors,
            if within { "ok" } else { "REGRESSED" }
        );
        ok &= within;
    }
    for (name, _) in &baseline {
        if !rows.iter().any(|row| row.name == *name) {
            println!("  {name}: in benches/baseline.txt but no such row");
            ok = false;
        }
    }
    ok
}

fn start_logging_sidecar(settings: &Settings, ports: &Ports, fleet: &mut Fleet) -> u32 {
    // The default log level, one line per request, to a file as on a dyno's log drain.
    let log = std::fs::File::create(settings.dir.join("sidecar-info.log")).expect("a log file");
    let command = sidecar_command(settings, ports, ports.sidecar_info, "info");
    let pid = fleet.start(&settings.server_cpu, &command, log.into());
    wait_for(ports.sidecar_info);
    pid
}

fn print_table(rows: &[Row], results: &[Measured]) {
    let direct = results[0].per_second;
    println!();
    println!(
        "{:<38} {:>8} {:>7} {:>7} {:>9} {:>8} {:>8} {:>9} {:>9} {:>11} {:>13}",
        "target",
        "req/s",
        "/direct",
        "/nginx",
        "server µs",
        "app µs",
        "api µs",
        "app conn",
        "api conn",
        "vcsw srv/app",
        "p50/p99 ms"
    );
    for (row, m) in rows.iter().zip(results) {
        let peer = row.peer.map(|index| &results[index]);
        let ratio = |ours: f64, theirs: f64| {
            if theirs > 0.0 {
                format!("{:.2}×", ours / theirs)
            } else {
                "-".into()
            }
        };
        let server_us = per_request_us(m.server, m.requests);
        println!(
            "{:<38} {:>8.0} {:>7} {:>7} {:>9} {:>8.1} {:>8} {:>9.4} {:>9} {:>11} {:>13}",
            row.name,
            m.per_second,
            ratio(m.per_second, direct),
            peer.map_or("-".into(), |p| ratio(m.per_second, p.per_second)),
            if row.server.is_empty() {
                "-".into()
            } else {
                format!("{server_us:.1}")
            },
            per_request_us(m.app, m.requests),
            if row.headers {
                format!("{:.1}", per_request_us(m.api, m.requests))
            } else {
                "-".into()
            },
            per_request(m.app_connections, m.requests),
            if row.headers {
                format!("{:.4}", per_request(m.api_connections, m.requests))
            } else {
                "-".into()
            },
            format!(
                "{:.2}/{:.2}",
                per_request(m.server.voluntary_switches, m.requests),
                per_request(m.app.voluntary_switches, m.requests)
            ),
            format!("{:.2}/{:.2}", m.p50_ms, m.p99_ms),
        );
        if m.errors > 0 {
            println!(
                "    ! {} errors (non-2xx or socket errors) of {}",
                m.errors, m.requests
            );
        }
    }
    println!();
    let compared = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.peer?)));
    for (index, peer) in compared {
        let (ours, theirs) = (&results[index], &results[peer]);
        let split = |m: &Measured| {
            let user = per_request_user_us(m.server, m.requests);
            (user, per_request_us(m.server, m.requests) - user)
        };
        let ((our_user, our_kernel), (their_user, their_kernel)) = (split(ours), split(theirs));
        println!(
            "{} vs {}: CPU per request {:.2}× (user {our_user:.1} + kernel {our_kernel:.1} µs vs {their_user:.1} + {their_kernel:.1}), requests/s {:.2}×, app CPU per request {:.2}×{}",
            rows[index].name,
            rows[peer].name,
            per_request_us(ours.server, ours.requests)
                / per_request_us(theirs.server, theirs.requests),
            ours.per_second / theirs.per_second,
            per_request_us(ours.app, ours.requests) / per_request_us(theirs.app, theirs.requests),
            if rows[index].headers {
                format!(
                    ", API stub CPU per request {:.2}×",
                    per_request_us(ours.api, ours.requests)
                        / per_request_us(theirs.api, theirs.requests)
                )
            } else {
                String::new()
            }
        );
    }
    let (warn, info) = (&results[2], &results[3]);
    println!(
        "info log vs warn: CPU per request {:.2}×",
        per_request_us(info.server, info.requests) / per_request_us(warn.server, warn.requests)
    );
}

fn print_fixed_rate(
    settings: &Settings,
    rows: &[Row],
    headers: &[(&'static str, String)],
    runtime: &tokio::runtime::Runtime,
) {
    let runs: usize = std::env::var("BENCH_RATE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    println!();
    println!(
        "fixed rate: {} req/s for {} s over 16 connections, {runs} runs per row taken in turn, the median of each figure; latency from each request's due time (no coordinated omission)",
        settings.rate, settings.seconds
    );
    let mut figures: Vec<Vec<load::RateFigures>> = vec![Vec::new(); rows.len()];
    for _ in 0..runs {
        for (row, kept) in rows.iter().zip(&mut figures) {
            let addr = SocketAddr::from(([127, 0, 0, 1], row.port));
            let row_headers: &[(&'static str, String)] = if row.headers { headers } else { &[] };
            kept.push(runtime.block_on(load::fixed_rate(
                addr,
                row.path,
                row_headers,
                settings.rate,
                settings.seconds,
                16,
            )));
        }
    }
    let medians: Vec<load::RateFigures> = figures
        .iter()
        .map(|runs| load::RateFigures::median(runs))
        .collect();
    let direct = &medians[0];
    for (index, (row, m)) in rows.iter().zip(&medians).enumerate() {
        let added = if index == 0 {
            String::new()
        } else {
            format!(
                "   added: p50 {:+.3}, p99 {:+.3}, p99.9 {:+.3} ms",
                m.p50_ms - direct.p50_ms,
                m.p99_ms - direct.p99_ms,
                m.p999_ms - direct.p999_ms
            )
        };
        println!(
            "  {:<38} p50 {:>6.3}  p99 {:>6.3}  p99.9 {:>6.3}  max {:>6.2} ms  ({} sent, {} errors){added}",
            row.name, m.p50_ms, m.p99_ms, m.p999_ms, m.max_ms, m.sent, m.errors
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn print_memory(
    settings: &Settings,
    ports: &Ports,
    sidecar: u32,
    idle_rss: u64,
    results: &[Measured],
    headers: &[(&'static str, String)],
    runtime: &tokio::runtime::Runtime,
) {
    println!();
    println!("memory of the sidecar (RSS):");
    println!(
        "  idle, just started:                  {:>6.1} MiB",
        mib(idle_rss)
    );
    println!(
        "  under the 64-connection load (max):  {:>6.1} MiB",
        mib(results[2].server_rss_max_kib)
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], ports.sidecar));
    let (ok, open) = runtime.block_on(load::idle_connections(addr, "/bench", headers, 1000));
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "  1,000 idle keep-alive connections:   {:>6.1} MiB   ({ok} of 1000 answered 200)",
        mib(procfs::rss_kib(sidecar))
    );
    drop(open);
    std::thread::sleep(Duration::from_millis(300));

    let before = procfs::rss_kib(sidecar);
    let peak = procfs::RssPeak::start(vec![sidecar], Duration::from_millis(20));
    let gib = 1u64 << 30;
    let (status, took) = runtime.block_on(load::big_body(addr, "/upload", headers, gib, 0));
    let peak = peak.stop().max(before);
    println!(
        "  growth while 1 GiB streams through an authenticated route: {:+.1} MiB   (status {status}, {:.0} MiB/s)",
        mib(peak.saturating_sub(before)),
        1024.0 / took.as_secs_f64()
    );
    let _ = settings;
}

/// RSS while 8, then 64, Data Action Target requests with 10 MiB bodies arrive at once (anyone
/// can send them: the body is read before the API says no).
fn print_data_action_target_memory(ports: &Ports, sidecar: u32, runtime: &tokio::runtime::Runtime) {
    println!();
    println!("memory while 10 MiB Data Action Target bodies arrive at once (RSS growth, max):");
    let addr = SocketAddr::from(([127, 0, 0, 1], ports.sidecar));
    let headers = [("x-signature", "anything".to_string())];
    for concurrent in [8, 64] {
        let before = procfs::rss_kib(sidecar);
        let peak = procfs::RssPeak::start(vec![sidecar], Duration::from_millis(10));
        let statuses = runtime.block_on(async {
            let sends = (0..concurrent).map(|_| {
                load::big_body(addr, "/dat?orgId=00D&apiName=A", &headers, 10 << 20, b'a')
            });
            futures_util::future::join_all(sends).await
        });
        let peak = peak.stop().max(before);
        let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
        let overloaded = statuses.iter().filter(|(s, _)| *s == 503).count();
        // 0: the connection closed before an answer was read, as when a 503 comes while the
        // client is still sending and the sidecar closes the connection without reading on.
        let others: Vec<String> = statuses
            .iter()
            .filter(|(s, _)| *s != 200 && *s != 503)
            .map(|(s, _)| s.to_string())
            .collect();
        let others = if others.is_empty() {
            String::new()
        } else {
            format!(", others: {}", others.join(" "))
        };
        println!(
            "  {concurrent:>2} at once: {:+.1} MiB   ({ok} authenticated, {overloaded} answered 503 overloaded{others})",
            mib(peak.saturating_sub(before))
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// RSS of a dev-mode sidecar as its dashboard's ring fills: 500 records (the default), each with
/// a 4 KiB request-body preview (the most it keeps) and the usual Salesforce headers.
fn print_dashboard_memory(
    settings: &Settings,
    ports: &Ports,
    fleet: &mut Fleet,
    runtime: &tokio::runtime::Runtime,
) {
    const RECORDS: usize = 500;
    let port = free_port();
    let mut command = sidecar_command(settings, ports, port, "warn");
    command.arg("--dev");
    let sidecar = fleet.start(&settings.server_cpu, &command, Stdio::null());
    wait_for(port);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let headers = salesforce::headers();
    // One request first, so the connection pool and the first allocations are counted as idle.
    runtime.block_on(load::big_body(addr, "/warm", &headers, 16, b'a'));
    std::thread::sleep(Duration::from_millis(200));
    let before = procfs::rss_kib(sidecar);
    for n in 0..RECORDS {
        let (status, _) = runtime.block_on(load::big_body(
            addr,
            &format!("/dashboard/{n}"),
            &headers,
            8 << 10,
            b'a',
        ));
        assert_eq!(status, 200, "the dev sidecar forwards");
    }
    std::thread::sleep(Duration::from_millis(200));
    let full = procfs::rss_kib(sidecar);
    println!();
    println!(
        "dev dashboard, ring of {RECORDS} records with 4 KiB body previews: RSS {:.1} → {:.1} MiB ({:+.1} MiB, {:.1} KiB per record)",
        mib(before),
        mib(full),
        mib(full.saturating_sub(before)),
        full.saturating_sub(before) as f64 / RECORDS as f64
    );
}

fn print_start_up(settings: &Settings, ports: &Ports) {
    const RUNS: usize = 20;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let port = free_port();
        let mut command = sidecar_command(settings, ports, port, "warn");
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let started = Instant::now();
        let Ok(mut child) = command.spawn() else {
            continue;
        };
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        times.push(started.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    times.sort_unstable();
    let size = std::fs::metadata(&settings.sidecar).map_or(0, |m| m.len());
    println!();
    println!(
        "start-up, exec → accepting (no app command, {RUNS} runs): median {:.1} ms, max {:.1} ms",
        times
            .get(RUNS / 2)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    println!(
        "binary: {:.1} MiB stripped ({})",
        size as f64 / (1024.0 * 1024.0),
        settings.sidecar.display()
    );
}
