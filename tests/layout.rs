//! The floor plan, kept true (docs/architecture.md, "The module map"): read from the sources, no
//! tool. It fails when an import runs against the floors the map writes down, when files of one
//! wing import each other in a loop, when `src/` has more than 14 entries, when a source file has
//! more than 400 lines besides its tests, or when a module is missing from the map. Each rule is
//! also run on a small planted tree, where it must fail, so that none of them passes by reading
//! nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path below `crate` (`["request", "auth", "client"]`); `[]` is the crate root.
type Module = Vec<String>;

/// The source tree: every module that is not test code, and its text without its inline tests.
struct Tree {
    modules: BTreeMap<Module, Source>,
}

struct Source {
    /// Its file, below `src/`.
    file: String,
    /// Its text, without inline `#[cfg(test)]` modules and `//` comments.
    code: String,
    /// Its lines besides inline test modules.
    lines: usize,
}

impl Tree {
    /// `files`: each `.rs` file below `src/` and its text.
    fn new(files: &BTreeMap<String, String>) -> Tree {
        let mut modules = BTreeMap::new();
        let mut test_only = BTreeSet::new();
        for (file, text) in files {
            let module = module_of(file);
            for child in test_modules(text) {
                let mut path = module.clone();
                path.push(child);
                test_only.insert(path);
            }
            let code = without_inline_tests(text);
            let lines = code.lines().count();
            let code = code
                .lines()
                .map(|l| l.split("//").next().unwrap())
                .collect::<Vec<_>>()
                .join("\n");
            modules.insert(
                module,
                Source {
                    file: file.clone(),
                    code,
                    lines,
                },
            );
        }
        modules.retain(|module, _| !test_only.iter().any(|t| module.starts_with(t)));
        Tree { modules }
    }

    fn read() -> Tree {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = BTreeMap::new();
        collect(&src, &src, &mut files);
        Tree::new(&files)
    }

    /// Each import between two modules, with the names it takes: `use` paths (groups expanded)
    /// and paths written inline, from `crate::`, `super::`, `self::` or a child module, followed
    /// through re-exports (`pub(crate) use access::RequestLog` sends `RequestLog` on to `access`).
    fn imports(&self) -> BTreeMap<(Module, Module), BTreeSet<String>> {
        let reexports: BTreeMap<(Module, String), Module> = self
            .modules
            .iter()
            .flat_map(|(module, source)| {
                uses(&source.code, true)
                    .into_iter()
                    .filter_map(|path| self.absolute(module, &path))
                    .map(move |path| {
                        let name = path.last().unwrap().clone();
                        ((module.clone(), name), path)
                    })
            })
            .collect();
        let mut imports: BTreeMap<(Module, Module), BTreeSet<String>> = BTreeMap::new();
        for (module, source) in &self.modules {
            let written = uses(&source.code, false)
                .into_iter()
                .chain(uses(&source.code, true))
                .chain(inline_paths(&source.code));
            for path in written {
                let Some(absolute) = self.absolute(module, &path) else {
                    continue;
                };
                let Some(target) = self.resolve(absolute, &reexports, 0) else {
                    continue;
                };
                if &target != module && !target.is_empty() {
                    let name = path.last().unwrap().clone();
                    imports
                        .entry((module.clone(), target))
                        .or_default()
                        .insert(name);
                }
            }
        }
        imports
    }

    /// `path` (as written in `module`) from the crate root, or `None` when it names no module of
    /// the crate (`std::…`, a crate's).
    fn absolute(&self, module: &Module, path: &[String]) -> Option<Module> {
        let (mut base, rest) = match path.first()?.as_str() {
            "crate" => (Vec::new(), &path[1..]),
            "self" => (module.clone(), &path[1..]),
            "super" => (
                module[..module.len().saturating_sub(1)].to_vec(),
                &path[1..],
            ),
            child
                if self
                    .modules
                    .contains_key(&[module.clone(), vec![child.into()]].concat()) =>
            {
                (module.clone(), path)
            }
            _ => return None,
        };
        let mut rest = rest;
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The module that defines what `path` names: its longest prefix that is a module, followed
    /// through a re-export of the next name.
    fn resolve(
        &self,
        path: Module,
        reexports: &BTreeMap<(Module, String), Module>,
        depth: usize,
    ) -> Option<Module> {
        let module = (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| self.modules.contains_key(m))?;
        match path
            .get(module.len())
            .and_then(|name| reexports.get(&(module.clone(), name.clone())))
        {
            Some(target) if depth < 8 => {
                let mut followed = target.clone();
                followed.extend(path[module.len() + 1..].iter().cloned());
                self.resolve(followed, reexports, depth + 1)
            }
            _ => Some(module),
        }
    }
}

/// The floors of `src/`, from the top, as the map writes them: the numbered list after "The
/// floors", each item the wings of one floor in backticks.
fn floors(map: &str) -> BTreeMap<String, usize> {
    let section = map.split("The floors").nth(1).unwrap_or("");
    section
        .lines()
        .skip_while(|l| !l.starts_with("1. "))
        .take_while(|l| {
            l.split_once(". ")
                .is_some_and(|(n, _)| n.parse::<usize>().is_ok())
        })
        .enumerate()
        .flat_map(|(floor, line)| backticked(line).into_iter().map(move |wing| (wing, floor)))
        .collect()
}

/// Imports against the floors: to a higher floor, or between two wings of one floor.
fn upward_imports(tree: &Tree, floors: &BTreeMap<String, usize>) -> Vec<String> {
    let floor = |module: &Module| module.first().and_then(|wing| floors.get(wing.as_str()));
    tree.imports()
        .iter()
        .filter(|((from, to), _)| !from.is_empty() && from.first() != to.first())
        .filter(|((from, _), _)| !from[0].starts_with('<'))
        .filter_map(|((from, to), names)| {
            let (Some(f), Some(t)) = (floor(from), floor(to)) else {
                return Some(format!(
                    "{} or {} is on no floor",
                    from.join("::"),
                    to.join("::")
                ));
            };
            (t <= f).then(|| format!("{} -> {} ({names:?})", from.join("::"), to.join("::")))
        })
        .collect()
}

/// Loops among the files of one wing: each strongly connected set of more than one module. A
/// folder's `mod.rs` gathering what its own files offer is its face, not a tie.
fn loops_in_wings(tree: &Tree) -> Vec<String> {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, to) in tree.imports().into_keys() {
        if !from.is_empty() && from.first() == to.first() && !to.starts_with(&from) {
            edges.entry(from).or_default().insert(to);
        }
    }
    let reach = |start: &Module| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(m) = todo.pop() {
            for next in edges.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut loops = BTreeSet::new();
    for module in edges.keys() {
        let reached = reach(module);
        if reached.contains(module) {
            let members: BTreeSet<String> = reached
                .iter()
                .filter(|other| reach(other).contains(module))
                .map(|m| m.join("::"))
                .collect();
            loops.insert(members.into_iter().collect::<Vec<_>>().join(" <-> "));
        }
    }
    loops.into_iter().collect()
}

/// Files with more than 400 lines besides their tests.
fn long_files(tree: &Tree) -> Vec<String> {
    tree.modules
        .values()
        .filter(|source| source.lines > 400)
        .map(|source| format!("src/{}: {} lines", source.file, source.lines))
        .collect()
}

/// Modules not named in backticks on their wing's row of the map (a wing by its own row).
fn missing_from_the_map(tree: &Tree, map: &str) -> Vec<String> {
    let rows: BTreeMap<String, &str> = map
        .lines()
        .filter_map(|row| {
            let wing = backticked(row.strip_prefix("| ")?.split(" |").next()?)
                .into_iter()
                .next()?;
            Some((wing.trim_end_matches('/').to_string(), row))
        })
        .collect();
    tree.modules
        .keys()
        .filter(|module| !module.is_empty() && !module[0].starts_with('<'))
        .filter(|module| match rows.get(&module[0]) {
            None => true,
            Some(row) => {
                module.len() > 1 && {
                    let name = module.last().unwrap();
                    !row.contains(&format!("`{name}`")) && !row.contains(&format!("`{name}/`"))
                }
            }
        })
        .map(|module| module.join("::"))
        .collect()
}

fn module_of(file: &str) -> Module {
    // The binary imports the library by its name, never through `crate::`: a module of its own.
    if file == "main.rs" {
        return vec!["<binary>".into()];
    }
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The children a file declares under `#[cfg(test)]` (`mod tests;`, `mod properties;`).
fn test_modules(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|pair| pair[0] == "#[cfg(test)]")
        .filter_map(|pair| {
            pair[1]
                .strip_prefix("mod ")?
                .strip_suffix(';')
                .map(String::from)
        })
        .collect()
}

/// The text without its inline test modules (`#[cfg(test)]` then `mod name {` … its closing brace).
fn without_inline_tests(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let opens_tests = lines[at].trim() == "#[cfg(test)]"
            && lines.get(at + 1).is_some_and(|next| {
                let next = next.trim();
                next.starts_with("mod ") && next.ends_with('{')
            });
        if !opens_tests {
            kept.push(lines[at]);
            at += 1;
            continue;
        }
        let mut depth = 0i64;
        at += 1;
        while at < lines.len() {
            depth += lines[at].matches('{').count() as i64 - lines[at].matches('}').count() as i64;
            at += 1;
            if depth <= 0 {
                break;
            }
        }
    }
    kept.join("\n")
}

/// The paths of the `use` items (`pub` ones only, or all but `pub` ones), groups expanded.
fn uses(code: &str, public: bool) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for item in code.split(';') {
        let item: String = item.split_whitespace().collect::<Vec<_>>().join(" ");
        let Some(at) = item.find("use ") else {
            continue;
        };
        // What stands before `use` in this item, after the end of the previous one (a block, an
        // attribute): nothing, or a visibility.
        let before = item[..at].rsplit(['}', ']']).next().unwrap().trim();
        let visibility = before == "pub" || (before.starts_with("pub(") && before.ends_with(')'));
        if !(before.is_empty() || visibility) || visibility != public {
            continue;
        }
        let mut tree = item[at + 4..].to_string();
        for (spaced, tight) in [
            (":: ", "::"),
            (" ::", "::"),
            ("{ ", "{"),
            (" }", "}"),
            (", ", ","),
            (" ,", ","),
        ] {
            tree = tree.replace(spaced, tight);
        }
        // A use tree holds paths, braces, commas and renames only (not a `use` inside a string).
        let is_a_tree = tree
            .replace(" as ", ",")
            .chars()
            .all(|c| c.is_alphanumeric() || "_:{},*".contains(c));
        if is_a_tree && tree.matches('{').count() == tree.matches('}').count() {
            expand("", &tree, &mut paths);
        }
    }
    paths
}

fn expand(prefix: &str, tree: &str, paths: &mut Vec<Vec<String>>) {
    let Some(open) = tree.find('{') else {
        let path = format!("{prefix}{}", tree.split(" as ").next().unwrap());
        paths.push(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        );
        return;
    };
    let prefix = format!("{prefix}{}", &tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&prefix, &inner[start..i], paths);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner[start..].is_empty() {
        expand(&prefix, &inner[start..], paths);
    }
}

/// Paths written in the code outside `use` items: `crate::…`, `super::…`, `self::…`.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let code: String = code
        .split(';')
        .filter(|item| {
            uses(&format!("{item};"), true).is_empty()
                && uses(&format!("{item};"), false).is_empty()
        })
        .collect::<Vec<_>>()
        .join(";");
    let mut paths = Vec::new();
    for head in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(head) {
            let starts_a_word = at == 0
                || !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
            if !starts_a_word {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
    }
    paths
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.trim_end_matches('/').to_string())
        .collect()
}

fn collect(dir: &Path, src: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, src, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let file = path
                .strip_prefix(src)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            files.insert(file, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn the_map() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
        .unwrap()
}

/// Every rule the tree breaks, one line each: imports against the floors written in `map`,
/// loops in a wing, long files, modules missing from the map, and more than 14 entries in src/.
fn broken_rules(tree: &Tree, map: &str, entries: usize) -> Vec<String> {
    let floors = floors(map);
    let mut broken = Vec::new();
    broken.extend(
        upward_imports(tree, &floors)
            .into_iter()
            .map(|i| format!("against the floors: {i}")),
    );
    broken.extend(
        loops_in_wings(tree)
            .into_iter()
            .map(|l| format!("a loop in a wing: {l}")),
    );
    broken.extend(
        long_files(tree)
            .into_iter()
            .map(|f| format!("over 400 lines: {f}")),
    );
    broken.extend(
        missing_from_the_map(tree, map)
            .into_iter()
            .map(|m| format!("not on the map: {m}")),
    );
    if entries > 14 {
        broken.push(format!("src/ has {entries} entries, more than 14"));
    }
    broken
}

#[test]
fn src_keeps_its_floor_plan() {
    let tree = Tree::read();
    let map = the_map();
    let floors = floors(&map);
    assert!(
        floors.len() >= 10,
        "the floors were not read from docs/architecture.md: {floors:?}"
    );
    assert!(
        tree.modules.len() >= 80 && tree.imports().len() >= 150,
        "the sources were not read"
    );
    let entries = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .unwrap()
        .count();
    let broken = broken_rules(&tree, &map, entries);
    assert!(
        broken.is_empty(),
        "the floor plan (docs/architecture.md) is broken:\n{}",
        broken.join("\n")
    );
}

/// The planted tree's map: three floors, and its modules.
const PLANTED_MAP: &str = "The floors, from the top:\n\n1. `top`\n2. `low`, `side`\n\n\
                           | `top/` | `a`, `b` |\n| `low/` | `c` |\n| `side` | the side |\n";

/// A tree of a few files, each rule broken once.
fn planted_files() -> BTreeMap<String, String> {
    [
        ("lib.rs", "mod top;\nmod low;\nmod side;\n"),
        (
            "top/mod.rs",
            "mod a;\nmod b;\nmod hidden;\npub(crate) use a::Thing;\n",
        ),
        (
            "top/a.rs",
            "use super::b::Other;\npub(crate) struct Thing;\n",
        ),
        (
            "top/b.rs",
            "use crate::top::Thing;\npub(crate) struct Other;\n",
        ),
        ("top/hidden.rs", "fn f() { crate::low::c::go(); }\n"),
        ("low/mod.rs", "mod c;\n#[cfg(test)]\nmod tests;\n"),
        (
            "low/c.rs",
            "use crate::top::a::Thing;\npub(crate) fn go() { crate::side::x(); }\n",
        ),
        ("low/tests.rs", "use crate::top::b::Other;\n"),
        ("side.rs", "pub(crate) fn x() {}\n"),
    ]
    .into_iter()
    .map(|(f, t)| (f.to_string(), t.to_string()))
    .collect()
}

/// Each rule names its planted violation, and only it.
#[test]
fn each_rule_fails_on_a_planted_violation() {
    let tree = Tree::new(&planted_files());
    let floors = floors(PLANTED_MAP);
    assert_eq!(floors.len(), 3, "{floors:?}");
    // `low::c` imports `top::a` (up), and `low::c` imports `side` (the same floor).
    assert_eq!(
        upward_imports(&tree, &floors).len(),
        2,
        "{:?}",
        upward_imports(&tree, &floors)
    );
    // `a` -> `b` -> `Thing`, re-exported by `top` from `a`: a loop through the face.
    assert_eq!(loops_in_wings(&tree), vec!["top::a <-> top::b".to_string()]);
    // `top::hidden` is not on the map; the test module `low::tests` is not asked for.
    assert_eq!(
        missing_from_the_map(&tree, PLANTED_MAP),
        vec!["top::hidden".to_string()]
    );
    assert!(long_files(&tree).is_empty());
    // All of it, as the floor plan's test words it, with one entry too many in src/.
    let broken = broken_rules(&tree, PLANTED_MAP, 15);
    assert_eq!(broken.len(), 5, "{broken:#?}");
    assert_eq!(
        broken[4], "src/ has 15 entries, more than 14",
        "{broken:#?}"
    );
}

/// 401 lines of code fail; as many more in an inline test module do not count.
#[test]
fn a_long_file_fails_but_not_for_its_inline_tests() {
    let mut long = planted_files();
    let body = "let x = 1;\n".repeat(401);
    long.insert(
        "side.rs".into(),
        format!("pub(crate) fn x() {{\n{body}}}\n#[cfg(test)]\nmod t {{\n{body}}}\n"),
    );
    assert_eq!(
        long_files(&Tree::new(&long)),
        vec!["src/side.rs: 403 lines".to_string()]
    );
}
