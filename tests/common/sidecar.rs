//! Starting the sidecar: in-process through the library, or as the built binary.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use applink_mesh::config::Flags;
use applink_mesh::{Config, Running};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{FakeApi, FakeApp};

pub const TOKEN: &str = "applink-token-5ecret-9d8c";

pub fn temp_file(name: &str, text: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("applink-mesh-{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A sidecar running in this process on 127.0.0.1 with a free port.
pub struct Sidecar {
    pub addr: SocketAddr,
    pub running: Running,
}

#[derive(Default)]
pub struct SidecarBuilder {
    env: HashMap<String, String>,
    yaml: String,
}

impl Sidecar {
    /// Production mode against `api`, forwarding to the app on `app_port`.
    pub fn production(app_port: u16, api_url: &str) -> SidecarBuilder {
        SidecarBuilder::default()
            .env("APP_PORT", &app_port.to_string())
            .env("HEROKU_APPLINK_API_URL", api_url)
            .env("HEROKU_APPLINK_TOKEN", TOKEN)
    }

    pub fn dev(app_port: u16) -> SidecarBuilder {
        SidecarBuilder::default()
            .env("APP_PORT", &app_port.to_string())
            .env("HEROKU_APPLINK_SERVICE_MESH_DEV", "true")
    }
}

impl SidecarBuilder {
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    pub fn yaml(mut self, yaml: &str) -> Self {
        self.yaml = yaml.to_string();
        self
    }

    pub fn config(&self) -> Config {
        let flags = Flags {
            port: Some(0),
            config: Some(temp_file("mesh.yaml", &self.yaml)),
            ..Flags::default()
        };
        Config::load(&flags, &self.env).expect("valid test configuration")
    }

    pub async fn start(self) -> Sidecar {
        let running = applink_mesh::start(self.config().into())
            .await
            .expect("sidecar starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], running.local_addr().port()));
        Sidecar { addr, running }
    }
}

/// The built binary, run as a child process; its output is collected.
pub struct SidecarProcess {
    pub child: Child,
    output: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr into `output`; they end at end of file.
    readers: Vec<std::thread::JoinHandle<()>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_heroku-applink-service-mesh")
}

impl SidecarProcess {
    /// Starts the binary with exactly this environment (nothing inherited) and these arguments.
    pub fn spawn(env: &[(&str, &str)], args: &[&str]) -> SidecarProcess {
        SidecarProcess::spawn_program(binary(), env, args)
    }

    /// Starts the binary the same way in the folder `dir` (an app's root, as a dyno runs it).
    pub fn spawn_in(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> SidecarProcess {
        let mut command = Command::new(binary());
        command.current_dir(dir);
        SidecarProcess::spawn_command(command, env, args)
    }

    /// Starts `program` (a shell that runs the binary, as a dyno runs a Procfile line) the same
    /// way.
    pub fn spawn_program(program: &str, env: &[(&str, &str)], args: &[&str]) -> SidecarProcess {
        SidecarProcess::spawn_command(Command::new(program), env, args)
    }

    fn spawn_command(mut command: Command, env: &[(&str, &str)], args: &[&str]) -> SidecarProcess {
        let mut child = command
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        for mut stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            readers.push(std::thread::spawn(move || {
                let mut buffer = [0u8; 8192];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }));
        }
        SidecarProcess {
            child,
            output,
            readers,
        }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The process's resident memory in KiB, from /proc.
    pub fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap()
    }

    /// The output in JSON mode, a value per line; a line that is not JSON fails the test.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.output()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect()
    }

    /// Polls the log for the bound address (`--port 0`), failing after 30 s.
    pub fn wait_listening(&mut self) -> SocketAddr {
        let started = Instant::now();
        loop {
            let output = self.output();
            if let Some(rest) = output.split("msg=listening addr=").nth(1) {
                let addr: SocketAddr = rest.split_whitespace().next().unwrap().parse().unwrap();
                return SocketAddr::from(([127, 0, 0, 1], addr.port()));
            }
            // The same line in JSON mode.
            let json_addr = output
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|l| l["message"] == "listening")
                .and_then(|l| {
                    l["addr"]
                        .as_str()
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                });
            if let Some(addr) = json_addr {
                return SocketAddr::from(([127, 0, 0, 1], addr.port()));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the sidecar exited ({status}) before listening:\n{output}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "not listening after 30 s:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit, at most 30 s.
    pub fn wait(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.drain_output();
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "still running after 30 s:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most 10 s) until the reader threads have copied everything the process wrote:
    /// its last lines are written just before it exits.
    fn drain_output(&mut self) {
        let started = Instant::now();
        while self.readers.iter().any(|r| !r.is_finished()) {
            if started.elapsed() > Duration::from_secs(10) {
                // Something else holds the pipes open (a process the app left behind).
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        self.wait()
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("the sidecar can be signalled");
    }

    /// Polls the output until it contains `text`, failing after 30 s or when the process exits.
    pub fn wait_for_output(&mut self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let output = self.output();
            if output.contains(text) {
                return output;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain_output();
                let output = self.output();
                assert!(
                    output.contains(text),
                    "exited ({status}) without printing {text:?}:\n{output}"
                );
                return output;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {text:?} after 30 s:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The app's pid, from the sidecar's start-up log.
    pub fn app_pid(&mut self) -> i32 {
        let output = self.wait_for_output("msg=\"started the app");
        let line = output
            .lines()
            .find(|l| l.contains("msg=\"started the app"))
            .unwrap();
        line.split_whitespace()
            .find_map(|w| w.strip_prefix("pid="))
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for SidecarProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the built binary with exactly this environment and these arguments, to its exit.
pub fn run_binary(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The built binary in dev mode in front of `app`, listening on a port of its own.
pub fn in_dev_mode(app: &FakeApp) -> SidecarProcess {
    let app_port = app.port().to_string();
    SidecarProcess::spawn(
        &[
            ("APP_PORT", app_port.as_str()),
            ("HEROKU_APPLINK_SERVICE_MESH_DEV", "true"),
        ],
        &["--port", "0"],
    )
}

/// The binary in production mode against a fake API; an HTTPS one's CA comes from `SSL_CERT_FILE`.
/// `extra` is set last, so it can replace any of these.
pub fn behind_api(app: &FakeApp, api: &FakeApi, extra: &[(&str, &str)]) -> SidecarProcess {
    let app_port = app.port().to_string();
    let url = api.url();
    let mut env = vec![
        ("APP_PORT", app_port.as_str()),
        ("HEROKU_APPLINK_API_URL", url.as_str()),
        ("HEROKU_APPLINK_TOKEN", TOKEN),
    ];
    if let Some(ca) = &api.ca_file {
        env.push(("SSL_CERT_FILE", ca.to_str().unwrap()));
    }
    env.extend_from_slice(extra);
    SidecarProcess::spawn(&env, &["--port", "0"])
}
