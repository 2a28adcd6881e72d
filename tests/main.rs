//! The integration tests, one binary: a module per file of `tests/`, each a behaviour of the
//! sidecar run for real (its binary or its server in this process, real sockets, real processes).
//! `tests/common` is the harness they share. bin/test runs each module in a process of its own
//! (`suite --exact <its tests>`), as if it were its own binary; `cargo test --test suite MODULE::`
//! runs one by hand.

// Test code: a failed unwrap is a loud failure, and `pub` only says what a helper offers.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod common;

mod api_connections;
mod assertion;
mod authentication;
mod boot_gate;
mod browser;
mod cli;
mod client_context;
mod dashboard;
mod deadlines;
mod docs;
mod drain;
mod dry_run;
mod export_costs;
mod fidelity;
mod first_hour;
mod forwarding;
mod heroku_local;
mod integrity;
mod invoke;
mod languages;
mod layout;
mod logs;
mod observability;
mod process;
mod properties;
mod routes;
mod slow_readers;
mod supervision;
mod tracing;
mod validation;
