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
