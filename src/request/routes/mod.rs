//! Which routes skip authentication (docs/behaviour.md §3, §4.1–4.2): path safety and bypass globs.
//!
//! Patterns are compiled once into a tiny NFA and matched in time linear in the path, so no
//! pattern/path pair can make matching slow.

use crate::config::BypassRoute;

/// Route decisions that depend only on configuration, built once at start-up.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    health: Option<String>,
    /// Each `bypassRoutes` entry's glob, compiled, and the entry.
    bypass: Vec<(Glob, BypassRoute)>,
    bypass_all: bool,
}

/// Why a route skips authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bypass {
    Health,
    /// The `bypassRoutes` entry at this index.
    Route(usize),
    All,
}

impl RouteTable {
    pub(crate) fn new(
        health: Option<String>,
        bypass_routes: &[BypassRoute],
        bypass_all: bool,
    ) -> Self {
        RouteTable {
            health,
            bypass: bypass_routes
                .iter()
                .map(|route| (Glob::new(&route.glob), route.clone()))
                .collect(),
            bypass_all,
        }
    }

    /// The bypass decision for a request whose path was already checked with [`check_path`].
    /// A path not in normal form never matches the health route or a pattern; an entry with
    /// methods applies to those methods only, and not at all to a request whose query could change
    /// its method at the app (`overridable`: it names `_method`).
    pub(crate) fn bypass(
        &self,
        method: &str,
        path: &str,
        normal_form: bool,
        overridable: bool,
    ) -> Option<Bypass> {
        if normal_form {
            if self.health.as_deref() == Some(path) {
                return Some(Bypass::Health);
            }
            let applies = |route: &BypassRoute| {
                route.methods.is_empty() || (!overridable && route.allows(method))
            };
            if let Some(at) = self
                .bypass
                .iter()
                .position(|(glob, route)| applies(route) && glob.matches(path))
            {
                return Some(Bypass::Route(at));
            }
        }
        self.bypass_all.then_some(Bypass::All)
    }

    /// Whether some entry is for some methods only (whether a query could matter).
    pub(crate) fn has_method_entries(&self) -> bool {
        self.bypass
            .iter()
            .any(|(_, route)| !route.methods.is_empty())
    }

    /// The entry at `at`, as configured.
    pub(crate) fn route(&self, at: usize) -> Option<&BypassRoute> {
        self.bypass.get(at).map(|(_, route)| route)
    }

    /// The first entry whose glob matches `path`, whatever its methods.
    pub(crate) fn matching_path(&self, path: &str) -> Option<&BypassRoute> {
        self.bypass
            .iter()
            .find(|(glob, _)| glob.matches(path))
            .map(|(_, route)| route)
    }
}

/// Checks a raw (still percent-encoded) path. `Err` for a path that must be rejected (NUL);
/// `Ok(false)` for a path that is not in normal form and so may never be bypassed.
pub(crate) fn check_path(path: &str) -> Result<bool, &'static str> {
    if path.contains('\0') || contains_ignoring_case(path, "%00") {
        return Err("the path contains a NUL character");
    }
    if !path.is_ascii() {
        // Runtimes read raw bytes above 127 as Latin-1 (Node, WSGI, Java), as UTF-8 (Go, PHP),
        // or refuse them outright (Node's parser, PHP's server): one request, several paths.
        return Err("the path has bytes that are not ASCII; percent-encode them (RFC 3986)");
    }
    if !path.starts_with('/') {
        return Ok(false);
    }
    if path.contains('\\')
        || contains_ignoring_case(path, "%2f")
        || contains_ignoring_case(path, "%5c")
        || path.contains("//")
    {
        return Ok(false);
    }
    let dot_segment = path[1..]
        .split('/')
        .any(|segment| is_dot_segment(segment.split(';').next().unwrap_or_default()));
    Ok(!dot_segment)
}

/// Whether `haystack` contains `needle` (ASCII), ignoring case.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// `.` or `..`, each dot written as itself or as `%2e`.
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        if rest[0] == b'.' {
            rest = &rest[1..];
        } else if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"%2e") {
            rest = &rest[3..];
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Consume this byte.
    Byte(u8),
    /// Consume any byte but `/` and stay; or move on.
    AnyButSlash,
    /// Consume any byte and stay; or move on.
    Any,
    /// Move on to the next state or jump to the given one.
    Fork(usize),
    Accept,
}

/// A compiled bypass pattern (docs/behaviour.md §4.2).
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    states: Vec<State>,
    /// The bytes every match starts with: the pattern up to its first wildcard. A path without
    /// them is refused without running the states (most requests match no bypass route).
    prefix: Box<[u8]>,
    /// The pattern has no wildcard: a match is the path equal to `prefix`.
    literal: bool,
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Glob {
        let bytes = pattern.as_bytes();
        let mut states = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            i += Self::compile_next(&bytes[i..], &mut states);
        }
        states.push(State::Accept);
        // Leading bytes are states no fork skips and no wildcard loops back to: every match
        // starts with them.
        let prefix: Box<[u8]> = states
            .iter()
            .map_while(|state| match state {
                State::Byte(b) => Some(*b),
                _ => None,
            })
            .collect();
        let literal = prefix.len() + 1 == states.len();
        Glob {
            states,
            prefix,
            literal,
        }
    }

    /// Compiles the token at the start of `rest` into `states`; returns the bytes it took.
    fn compile_next(rest: &[u8], states: &mut Vec<State>) -> usize {
        // A fork to the state after the ones `push` adds: "skip them, or go through them".
        let optional = |states: &mut Vec<State>, push: &dyn Fn(&mut Vec<State>)| {
            let fork = states.len();
            states.push(State::Fork(0));
            push(states);
            let end = states.len();
            states[fork] = State::Fork(end);
        };
        if rest == b"/**" {
            // A trailing `/**` also matches the bare prefix: `/` followed by anything, or nothing.
            optional(states, &|s| s.extend([State::Byte(b'/'), State::Any]));
            3
        } else if rest.starts_with(b"/**/") {
            // `/**/` matches `/` or `/anything/`.
            states.push(State::Byte(b'/'));
            optional(states, &|s| s.extend([State::Any, State::Byte(b'/')]));
            4
        } else if rest.starts_with(b"**") {
            states.push(State::Any);
            2
        } else if rest == b"*" {
            // A single trailing `*` matches any suffix, `/` included (compat with the prefix rule).
            states.push(State::Any);
            1
        } else if rest[0] == b'*' {
            states.push(State::AnyButSlash);
            1
        } else {
            states.push(State::Byte(rest[0]));
            1
        }
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        if self.literal {
            return path.as_bytes() == &*self.prefix;
        }
        if !path.as_bytes().starts_with(&self.prefix) {
            return false;
        }
        self.run(path)
    }

    /// Runs the states over the whole path.
    fn run(&self, path: &str) -> bool {
        // Two sets of active states, swapped at each byte: two allocations per match, not one
        // per byte of the path.
        let mut current = vec![false; self.states.len()];
        let mut next = vec![false; self.states.len()];
        self.add(&mut current, 0);
        for &byte in path.as_bytes() {
            next.fill(false);
            for (index, active) in current.iter().enumerate() {
                if !active {
                    continue;
                }
                match self.states[index] {
                    State::Byte(b) if b == byte => self.add(&mut next, index + 1),
                    State::AnyButSlash if byte != b'/' => self.add(&mut next, index),
                    State::Any => self.add(&mut next, index),
                    _ => {}
                }
            }
            if !next.contains(&true) {
                return false;
            }
            std::mem::swap(&mut current, &mut next);
        }
        current[self.states.len() - 1]
    }

    /// Activates a state and everything reachable from it without consuming a byte.
    fn add(&self, set: &mut [bool], index: usize) {
        if set[index] {
            return;
        }
        set[index] = true;
        match self.states[index] {
            State::Fork(other) => {
                self.add(set, index + 1);
                self.add(set, other);
            }
            State::AnyButSlash | State::Any => self.add(set, index + 1),
            State::Byte(_) | State::Accept => {}
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
