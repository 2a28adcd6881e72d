//! Property tests for `routes` (proptest), run with the unit tests.

use super::*;
use proptest::prelude::*;

/// Paths built from the pieces attackers use.
fn tricky_path() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "public",
        "a",
        "b.png",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        "..;",
        ".;x",
        "%2f",
        "%2F",
        "%5c",
        "\\",
        "",
        "x;y",
        "%00",
        "healthcheck",
        "*",
        "%",
        "é",
    ]);
    (prop::collection::vec(piece, 0..6), any::<bool>()).prop_map(|(pieces, slash)| {
        let joined = pieces.join("/");
        if slash { format!("/{joined}") } else { joined }
    })
}

proptest! {
    /// A path said to be in normal form has no dot segment, no empty segment and no encoded or
    /// raw separator, however it was spelled.
    #[test]
    fn normal_form_means_no_traversal(path in tricky_path()) {
        match check_path(&path) {
            Err(_) => prop_assert!(
                path.contains('\0') || path.to_ascii_lowercase().contains("%00") || !path.is_ascii()
            ),
            Ok(true) => {
                let lower = path.to_ascii_lowercase();
                prop_assert!(path.starts_with('/'));
                prop_assert!(!path.contains("//") && !path.contains('\\'));
                prop_assert!(!lower.contains("%2f") && !lower.contains("%5c"));
                for segment in lower[1..].split('/') {
                    let bare = segment.split(';').next().unwrap_or_default().replace("%2e", ".");
                    prop_assert!(bare != "." && bare != "..", "{path}");
                }
            }
            Ok(false) => {}
        }
    }

    /// A path that is not in normal form never matches a bypass pattern or the health route.
    #[test]
    fn only_normal_paths_are_bypassed(path in tricky_path()) {
        let routes = [BypassRoute::any_method("/public/**"), BypassRoute::any_method("/*")];
        let table = RouteTable::new(Some("/healthcheck".into()), &routes, false);
        if let Ok(false) = check_path(&path) {
            prop_assert_eq!(table.bypass("GET", &path, false, false), None);
        }
    }

    /// Refusing by the literal prefix, or matching a literal pattern by equality, decides as
    /// running the states would.
    #[test]
    fn the_shortcuts_decide_as_the_states(pattern in "[/a*]{0,8}", path in "[/ab]{0,8}") {
        let glob = Glob::new(&pattern);
        prop_assert_eq!(glob.matches(&path), glob.run(&path), "{} {}", pattern, path);
    }

    /// A pattern without wildcards matches only itself; `P/**` matches `P` and everything below.
    #[test]
    fn literal_and_subtree_patterns(prefix in "(/[a-z.]{1,4}){1,3}", rest in "(/[a-z.]{0,4}){0,3}", other in "(/[a-z.]{1,4}){1,3}") {
        let literal = Glob::new(&prefix);
        prop_assert!(literal.matches(&prefix));
        prop_assert_eq!(literal.matches(&other), other == prefix);
        let subtree = Glob::new(&format!("{prefix}/**"));
        prop_assert!(subtree.matches(&prefix));
        let below = format!("{prefix}{rest}");
        prop_assert!(subtree.matches(&below), "{below}");
        prop_assert_eq!(subtree.matches(&other), other == prefix || other.starts_with(&format!("{prefix}/")));
    }
}
