//! Fuzz target: see `applink_mesh::fuzzing::path` for the property it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        applink_mesh::fuzzing::path(text);
    }
});
