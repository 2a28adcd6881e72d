use super::*;

#[test]
fn spec_truth_table() {
    let table = [
        ("/robots.txt", "/robots.txt", true),
        ("/robots.txt", "/robots.txt/", false),
        ("/robots.txt", "/Robots.txt", false),
        ("/public/**", "/public", true),
        ("/public/**", "/public/", true),
        ("/public/**", "/public/a/b", true),
        ("/public/**", "/publicity", false),
        ("/favicon*", "/favicon.ico", true),
        ("/favicon*", "/favicon/a.png", true),
        ("/api/*", "/api/a/b", true),
        ("/files/*.png", "/files/a.png", true),
        ("/files/*.png", "/files/x/a.png", false),
        ("/a/**/b", "/a/b", true),
        ("/a/**/b", "/a/x/y/b", true),
        ("/a/**/b", "/a/x/bc", false),
        ("/docs/[v1]", "/docs/[v1]", true),
    ];
    for (pattern, path, expected) in table {
        assert_eq!(
            Glob::new(pattern).matches(path),
            expected,
            "{pattern} vs {path}"
        );
    }
}

#[test]
fn more_glob_cases() {
    assert!(Glob::new("/a/*/c").matches("/a/b/c"));
    assert!(!Glob::new("/a/*/c").matches("/a/b/x/c"));
    assert!(Glob::new("/a/**").matches("/a/b/c"));
    assert!(!Glob::new("/a/**").matches("/ab"));
    assert!(Glob::new("/x**").matches("/x/y"));
    assert!(!Glob::new("/docs/[v1]").matches("/docs/v"));
    assert!(!Glob::new("/a?").matches("/ab"));
    // Long adversarial paths stay linear.
    let path = format!("/{}", "a".repeat(100_000));
    assert!(!Glob::new("/*a*a*a*a*a*b").matches(&path));
}

#[test]
fn nul_is_rejected() {
    assert!(check_path("/a%00b").is_err());
    assert!(check_path("/a\0b").is_err());
}

#[test]
fn raw_bytes_above_127_are_rejected_and_their_encoding_is_not() {
    assert!(check_path("/caf\u{e9}").is_err());
    assert_eq!(check_path("/caf%C3%A9"), Ok(true));
}

#[test]
fn paths_not_in_normal_form() {
    for path in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "/public/.%2e/admin",
        "/public/..;/admin",
        "/public/..;x=1/admin",
        "/public/./a",
        "/public/%2fadmin",
        "/public/%5Cadmin",
        "/public\\admin",
        "/public//a",
        "//public/a",
        "/public/..",
    ] {
        assert_eq!(check_path(path), Ok(false), "{path}");
    }
    for path in ["/", "/public/a", "/public/", "/a.b/c..d/...", "/x;y=1"] {
        assert_eq!(check_path(path), Ok(true), "{path}");
    }
}

/// The health route, `/public/**` for every method and `/hooks/**` for POST only.
fn health_public_and_hooks() -> RouteTable {
    let routes = [
        BypassRoute::any_method("/public/**"),
        BypassRoute {
            glob: "/hooks/**".into(),
            methods: vec!["POST".into()],
        },
    ];
    RouteTable::new(Some("/healthcheck".into()), &routes, false)
}

#[test]
#[rustfmt::skip]
fn route_table_never_bypasses_abnormal_paths() {
    let table = health_public_and_hooks();
    // (method, path, normal path, a method-override query): the bypass, if any.
    let cases = [
        ("GET", "/healthcheck", true, false, Some(Bypass::Health)),
        ("GET", "/healthcheck/", true, false, None),
        ("PUT", "/public/x", true, false, Some(Bypass::Route(0))),
        ("GET", "/public/x", false, false, None),
        ("POST", "/hooks/a", true, false, Some(Bypass::Route(1))),
        ("GET", "/hooks/a", true, false, None), // another method
        ("post", "/hooks/a", true, false, None), // methods are case-sensitive
        // A query that could change the method takes the request out of a method-only entry,
        // not out of one for every method.
        ("POST", "/hooks/a", true, true, None),
        ("POST", "/public/x", true, true, Some(Bypass::Route(0))),
    ];
    for (method, path, normal, override_query, expected) in cases {
        assert_eq!(table.bypass(method, path, normal, override_query), expected, "{method} {path}");
    }
    let all = RouteTable::new(None, &[], true);
    assert_eq!(all.bypass("GET", "/anything", false, false), Some(Bypass::All));
}
