//! Where in the YAML file a key is written, for messages: its line, and the place a misplaced
//! key belongs.

/// The line (from 1) where the dotted `key` is written, block style; for a key written inside a
/// flow mapping (`healthcheck: { enable: x }`), the line of its deepest parent found.
pub(super) fn line_of(text: &str, key: &str) -> Option<usize> {
    let wanted: Vec<&str> = key.split('.').collect();
    let mut open: Vec<(usize, &str)> = Vec::new();
    let mut best: Option<(usize, usize)> = None;
    for (n, line) in text.lines().enumerate() {
        let written = line.trim_start();
        if written.is_empty() || written.starts_with('#') || written.starts_with('-') {
            continue;
        }
        let Some((name, _)) = written.split_once(':') else {
            continue;
        };
        let indent = line.len() - written.len();
        while open.last().is_some_and(|(at, _)| *at >= indent) {
            open.pop();
        }
        open.push((indent, name.trim().trim_matches(['"', '\''])));
        let path: Vec<&str> = open.iter().map(|(_, name)| *name).collect();
        if wanted.starts_with(&path) && best.is_none_or(|(depth, _)| path.len() > depth) {
            best = Some((path.len(), n + 1));
            if path.len() == wanted.len() {
                break;
            }
        }
    }
    best.map(|(_, line)| line)
}

/// `unknown field `idle`` → adds where `idle` belongs, when it is a key of another section.
pub(super) fn with_place_of_misplaced_key(why: String, keys: &[&str]) -> String {
    let Some(name) = why
        .split_once("unknown field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name)
    else {
        return why;
    };
    let places: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| key.rsplit('.').next() == Some(name))
        .collect();
    if places.is_empty() {
        return why;
    }
    format!("{why}; `{name}` belongs at {}", places.join(" or "))
}

/// A type mismatch said in the file's words: `invalid type: integer `5`, expected struct
/// MeshSection` names a Rust type the user never wrote; this says what was found and what the
/// place takes (`found the number 5 where a section of settings goes`).
pub(super) fn in_the_files_words(why: String) -> String {
    let Some((before, mismatch)) = why.split_once("invalid type: ") else {
        return why;
    };
    let Some((found, expected)) = mismatch.split_once(", expected ") else {
        return why;
    };
    let found = match found.split_once(' ') {
        Some(("integer" | "floating", _)) => {
            let number = found.rsplit('`').nth(1).unwrap_or(found);
            format!("the number {number}")
        }
        Some(("boolean", value)) => format!("the value {}", value.trim_matches('`')),
        Some(("string", text)) => format!("the text {text}"),
        _ => match found {
            "sequence" => "a list".into(),
            "map" => "a section of settings".into(),
            "unit value" => "nothing".into(),
            other => other.into(),
        },
    };
    let expected = if expected.starts_with("struct FileConfig") {
        "the file takes sections: `app:` and `mesh:`".to_string()
    } else if expected.starts_with("struct ") {
        "a section of settings goes (`key: value` lines, indented under it)".to_string()
    } else if expected == "a sequence" {
        "a list goes (`[\"/a\", \"/b\"]`, or `- /a` lines)".to_string()
    } else if expected == "a string" {
        "a single value goes (a number, a duration such as 10s, a size such as 64KiB, true or false, or text)"
            .to_string()
    } else {
        format!("{expected} goes")
    };
    format!("{before}found {found} where {expected}")
}

#[cfg(test)]
mod tests {
    use super::in_the_files_words;

    #[test]
    fn type_errors_name_no_rust_type() {
        for (serde_says, we_say) in [
            (
                "mesh: invalid type: integer `5`, expected struct MeshSection",
                "mesh: found the number 5 where a section of settings goes (`key: value` lines, indented under it)",
            ),
            (
                "mesh.authentication.bypassRoutes: invalid type: string \"/x\", expected a sequence",
                "mesh.authentication.bypassRoutes: found the text \"/x\" where a list goes (`[\"/a\", \"/b\"]`, or `- /a` lines)",
            ),
            (
                "mesh.limits.headerBytes: invalid type: sequence, expected a string",
                "mesh.limits.headerBytes: found a list where a single value goes",
            ),
            (
                "invalid type: sequence, expected struct FileConfig",
                "found a list where the file takes sections: `app:` and `mesh:`",
            ),
        ] {
            let said = in_the_files_words(serde_says.to_string());
            assert!(said.starts_with(we_say), "{said}");
            assert!(!said.contains("struct"), "{said}");
        }
        let other = "mesh: unknown field `x`".to_string();
        assert_eq!(in_the_files_words(other.clone()), other);
    }
}
