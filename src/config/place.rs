//! Where in the YAML file a key is written, for messages: its line, and the place a misplaced
//! key belongs.

use super::file_values::KEYS;

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
pub(super) fn with_place_of_misplaced_key(why: String) -> String {
    let Some(name) = why
        .split_once("unknown field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name)
    else {
        return why;
    };
    let places: Vec<&str> = KEYS
        .iter()
        .map(|(key, _)| *key)
        .filter(|key| key.rsplit('.').next() == Some(name))
        .collect();
    if places.is_empty() {
        return why;
    }
    format!("{why}; `{name}` belongs at {}", places.join(" or "))
}
