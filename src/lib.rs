//! heroku-applink-service-mesh: the sidecar between the Heroku router and a web app that lets only
//! a connected Salesforce org call the app. See README.md for the user's view, docs/architecture.md
//! for the module map, and docs/behaviour.md for what it does, section by section.
//!
//! The library exists for the binary and the tests: [`run`] is the process's life, [`start`] the
//! proxy alone; configuration comes from [`Config::load`]. Everything else is private. This file
//! only declares and re-exports: nothing below imports from it (the version every module prints is
//! Cargo's `CARGO_PKG_VERSION`, read where it is printed).

mod app;
mod body;
pub mod cli;
pub mod config;
mod connection;
mod dashboard;
mod request;
mod run;
mod shutdown;
mod telemetry;

pub use config::Config;
pub use connection::{Running, StartError, start};
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use request::fuzzing;
pub use run::run;
pub use run::startup_log::{check, check_route};
