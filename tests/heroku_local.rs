//! `heroku local` (its engine, node-foreman's `nf`) running a Procfile with the sidecar in front of
//! the app, dev mode switched on from `.env`, as the README tells a developer to do. `bin/test`
//! installs node-foreman into `target/node` from the npm registry.

use crate::common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sidecar::binary;
use common::{free_port, send, test_app};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// node-foreman's `nf`, as `bin/test` installs it, or `None` (after a skip line) when it is not
/// installed (no npm on this machine).
fn foreman() -> Option<PathBuf> {
    let nf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/node/node_modules/.bin/nf");
    if !nf.exists() {
        common::skip(
            "heroku_local",
            "node-foreman is not installed in target/node (bin/test installs it with npm: apt-get install npm)",
        );
        return None;
    }
    Some(nf)
}

#[tokio::test]
async fn the_procfile_runs_under_heroku_local_in_dev_mode() {
    let Some(nf) = foreman() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("applink-heroku-local-{}", std::process::id()));
    let port = free_port();
    let mut foreman = heroku_local(&nf, &dir, port);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let reply = foreman.first_answer(addr, "/hello").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "ok");
    assert_eq!(reply.headers["x-applink-mesh-mode"], "dev");
    foreman.stops_on_ctrl_c(addr).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// `nf start` (what `heroku local` runs) in `dir`, with a Procfile whose web line puts the sidecar
/// in front of the test app and a `.env` that turns dev mode on, the built binary on its PATH.
fn heroku_local(nf: &Path, dir: &Path, port: u16) -> Foreman {
    std::fs::create_dir_all(dir).unwrap();
    let app_port = free_port();
    let web = format!(
        "web: APP_PORT={app_port} heroku-applink-service-mesh -- {}\n",
        test_app::command()
    );
    std::fs::write(dir.join("Procfile"), web).unwrap();
    std::fs::write(dir.join(".env"), "HEROKU_APPLINK_SERVICE_MESH_DEV=true\n").unwrap();
    let bin_dir = Path::new(binary()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let log = dir.join("foreman.log");
    let child = Command::new(nf)
        .args(["start", "-p", &port.to_string(), "web"])
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        // Its own process group, the terminal's foreground group in real life.
        .process_group(0)
        .spawn()
        .expect("nf starts");
    Foreman { child, log }
}

/// node-foreman and everything it started; a failed test leaves none of them running.
struct Foreman {
    child: std::process::Child,
    log: PathBuf,
}

impl Foreman {
    /// Signals its whole process group.
    fn signal(&self, signal: Signal) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), signal);
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The first answer but a 503 (the app still starting) on `addr`, polled for 30 s at most.
    async fn first_answer(&self, addr: std::net::SocketAddr, path: &str) -> common::Reply {
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                let reply = send(addr, "GET", path, &[], "").await;
                if reply.status != 503 {
                    return reply;
                }
            }
            let output = self.output();
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "nothing answered on the Procfile's port within 30 s:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ctrl-C, as a developer stops `heroku local`: the terminal signals the whole foreground
    /// process group (nf, the shell it runs the web line in, the sidecar), and everything ends
    /// within 20 s: nf exits and nothing listens on `addr` any more.
    async fn stops_on_ctrl_c(&mut self, addr: std::net::SocketAddr) {
        self.signal(Signal::SIGINT);
        let stopped = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            let output = self.output();
            assert!(
                stopped.elapsed() < Duration::from_secs(20),
                "heroku local did not stop on Ctrl-C:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            let output = self.output();
            assert!(
                stopped.elapsed() < Duration::from_secs(20),
                "the sidecar outlived heroku local:\n{output}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Foreman {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}
