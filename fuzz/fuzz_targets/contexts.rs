//! Fuzz target: see `applink_mesh::fuzzing::contexts` for the property it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    applink_mesh::fuzzing::contexts(data);
});
