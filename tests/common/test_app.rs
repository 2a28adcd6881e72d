//! The test app (`examples/test_app.rs`), built once per test binary, and the other examples.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The path of the built test app.
pub fn path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_example("test-app"))
}

/// Builds one of the crate's examples and returns its executable's path.
///
/// Without the variables `cargo test` set for this test binary (`CARGO_PKG_NAME`, `OUT_DIR`, …):
/// ring's build script reruns when those change, so with them this build would rebuild ring and
/// all above it (15 s), and the next `cargo test` would rebuild them back.
pub fn build_example(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    for (variable, _) in std::env::vars_os() {
        if variable.to_str().is_some_and(set_for_the_test) {
            cargo.env_remove(variable);
        }
    }
    let output = cargo
        .args([
            "build",
            "--quiet",
            "--example",
            name,
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building the example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the example's executable")
}

/// Whether `cargo test` set this variable for the test binary (rather than the user for cargo).
fn set_for_the_test(variable: &str) -> bool {
    variable.starts_with("CARGO_PKG_")
        || variable.starts_with("CARGO_MANIFEST_")
        || variable.starts_with("CARGO_BIN_")
        || matches!(
            variable,
            "OUT_DIR" | "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR"
        )
}

/// The test app as a string, for an app command line.
pub fn command() -> String {
    path().to_str().unwrap().to_string()
}
