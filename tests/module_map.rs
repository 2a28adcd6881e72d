//! The module map in docs/architecture.md matches the house: every module `src/lib.rs` declares
//! is named in it, so the map cannot fall behind the code unnoticed.

// Test code: a failed unwrap is a loud failure.
#![allow(clippy::unwrap_used)]

#[test]
fn every_module_in_lib_rs_is_on_the_module_map() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let map = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let declared = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            declared.strip_suffix(';')
        })
        .collect();
    assert!(
        modules.len() >= 8,
        "the declarations were not read: {modules:?}"
    );
    // The names in the first cell of each row of the map's table.
    let section = map
        .split("## The module map")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mapped: Vec<&str> = section
        .lines()
        .filter_map(|row| row.strip_prefix("| "))
        .filter_map(|row| row.split(" |").next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .map(|name| name.trim_end_matches('/'))
        .collect();
    let missing: Vec<&&str> = modules
        .iter()
        .filter(|name| !mapped.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "modules of src/lib.rs missing from the first column of docs/architecture.md's module map: \
         {missing:?} (mapped: {mapped:?})"
    );
}
