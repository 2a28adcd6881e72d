//! The documentation matches the house: every module `src/lib.rs` declares is named on the module
//! map in docs/architecture.md, and every relative link in the README and `docs/` leads to a file
//! and heading that exist, so neither can fall behind the code unnoticed.

/// The modules `src/lib.rs` declares.
fn declared_modules(lib: &str) -> Vec<&str> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let declared = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            declared.strip_suffix(';')
        })
        .collect()
}

/// The names in the first cell of each row of the module map's table.
fn mapped_modules(map: &str) -> Vec<&str> {
    let section = map
        .split("## The module map")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    section
        .lines()
        .filter_map(|row| row.strip_prefix("| "))
        .filter_map(|row| row.split(" |").next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .map(|name| name.trim_end_matches('/'))
        .collect()
}

#[test]
fn every_module_in_lib_rs_is_on_the_module_map() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let map = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let modules = declared_modules(&lib);
    assert!(
        modules.len() >= 8,
        "the declarations were not read: {modules:?}"
    );
    let mapped = mapped_modules(&map);
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

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| anchor(line.trim_start_matches('#').trim()))
        .collect()
}

#[test]
fn every_relative_link_in_the_docs_leads_somewhere() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut checked = 0;
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (_, rest) in text.match_indices("](").map(|(i, _)| text.split_at(i + 2)) {
            let Some(link) = rest.split(')').next() else {
                continue;
            };
            if link.contains("://") || link.contains(' ') {
                continue;
            }
            let (path, heading) = link.split_once('#').unwrap_or((link, ""));
            let target = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            checked += 1;
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
            } else if !heading.is_empty() && target.extension().is_some_and(|e| e == "md") {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                if !headings.iter().any(|h| h == heading) {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(checked >= 15, "only {checked} links were read");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// A `cargo install` the docs show builds the versions CI tested: `--locked` makes cargo use
/// `Cargo.lock`, which it otherwise ignores.
#[test]
fn every_cargo_install_in_the_docs_is_locked() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    let mut seen = 0;
    for page in pages
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(page).unwrap();
        for (at, _) in text.match_indices("cargo install ") {
            let command = text[at..].split(['`', '\n']).next().unwrap();
            seen += 1;
            assert!(
                command.contains("--locked"),
                "{}: `{command}` builds whatever versions are newest; add --locked",
                page.display()
            );
        }
    }
    assert!(seen >= 1, "no cargo install found in the docs");
}
