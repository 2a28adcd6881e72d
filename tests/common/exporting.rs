//! The opening the trace tests share: a fake collector, the fake app and AppLink API, and the
//! built sidecar between them with trace export on, its batches sent every millisecond
//! (`OTEL_BSP_SCHEDULE_DELAY=1`) so that a test waits on spans, never on a timer.

use std::net::SocketAddr;

use super::collector::FakeCollector;
use super::sidecar::behind_api;
use super::{FakeApi, FakeApp, SidecarProcess};

/// A sidecar about to start, exporting to a collector.
pub struct Exporting {
    collector: FakeCollector,
    env: Vec<(String, String)>,
}

/// The started sidecar and everything around it. Bind every field (`api: _api`): one left to `..`
/// is dropped at once, and its server with it.
pub struct Exported {
    pub collector: FakeCollector,
    pub app: FakeApp,
    pub api: FakeApi,
    pub mesh: SidecarProcess,
    pub addr: SocketAddr,
}

impl Exporting {
    /// Exporting to a collector that accepts every export.
    pub async fn new() -> Exporting {
        Exporting::to(FakeCollector::start().await)
    }

    /// Exporting to `collector` (one that hangs, throttles, fails).
    pub fn to(collector: FakeCollector) -> Exporting {
        let endpoint = collector.endpoint();
        Exporting {
            collector,
            env: vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint),
                ("OTEL_BSP_SCHEDULE_DELAY".into(), "1".into()),
            ],
        }
    }

    /// Sets a variable of the sidecar's environment (one set already is replaced).
    pub fn env(mut self, name: &str, value: &str) -> Exporting {
        self.env.retain(|(set, _)| set != name);
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets each of these variables, as [`Exporting::env`] does.
    pub fn envs<'a>(self, variables: impl IntoIterator<Item = (&'a str, &'a str)>) -> Exporting {
        variables
            .into_iter()
            .fold(self, |exporting, (name, value)| exporting.env(name, value))
    }

    /// Starts the app, the API and the sidecar, and waits until the sidecar listens.
    pub async fn start(self) -> Exported {
        let app = FakeApp::start().await;
        let api = FakeApi::start().await;
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let mut mesh = behind_api(&app, &api, &env);
        let addr = mesh.wait_listening();
        Exported {
            collector: self.collector,
            app,
            api,
            mesh,
            addr,
        }
    }
}
