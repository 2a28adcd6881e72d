//! heroku-applink-service-mesh: the sidecar between the Heroku router and a web app that lets only
//! a connected Salesforce org call the app. See README.md for the user's view and the module list,
//! and docs/behaviour.md for what it does, section by section.
//!
//! The library exists for the binary and the tests: [`run`] is the process's life, [`start`] the
//! proxy alone; configuration comes from [`Config::load`]. Everything else is private.

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

/// This build's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
