//! heroku-applink-service-mesh: the sidecar between the Heroku router and a web app that lets only
//! a connected Salesforce org call the app. See README.md for the user's view and the module list.
#![deny(unsafe_code)]

mod admission;
pub mod auth;
mod body;
mod boot;
pub mod cli;
pub mod config;
mod conn;
pub mod error;
mod handler;
pub mod headers;
mod proxy;
pub mod routes;
mod run;
pub mod runtime;
mod server;
mod state;
mod supervisor;
pub mod telemetry;

pub use config::Config;
pub use handler::INFO_ROUTE;
pub use run::run;
pub use server::{Running, StartError, start};

/// This build's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
