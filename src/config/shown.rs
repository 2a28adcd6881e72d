//! How a word of the app's command line is shown in a message (docs/behaviour.md §7): the command
//! may hold secrets (`--api-key=…`, `DATABASE_URL=postgres://user:pass@…`), and messages go to the
//! log. A message names the one argument it is about, never the rest of the command, and masks in
//! it the value of anything named like a key, token, secret or password, and a URL's user
//! information.

/// What a name holds when it names a secret (compared ignoring case): `pass` covers `password`,
/// `passwd`, `PGPASSWORD` and `DB_PASS`.
const SECRET_WORDS: [&str; 12] = [
    "key",
    "token",
    "secret",
    "pass",
    "pwd",
    "auth",
    "credential",
    "jwt",
    "bearer",
    "session",
    "cookie",
    "private",
];

/// What stands for a masked value.
pub(crate) const MASK: &str = "***";

/// Whether `name` (an option, a variable, a query parameter) names a secret. A port is never one
/// (`--auth-port 5006`): the port warnings must be able to show it.
fn names_a_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| lower.contains(word)) && !lower.contains("port")
}

/// The word at `at` of `command`, as a message may show it: a value after an option named like a
/// secret (`--token s3cret`) masked whole, else as [`shown`] shows it.
pub(crate) fn shown_at(command: &[String], at: usize) -> String {
    let word = command.get(at).map_or("", String::as_str);
    let after_secret_option = at
        .checked_sub(1)
        .and_then(|before| command.get(before))
        .is_some_and(|before| {
            before.starts_with('-') && !before.contains('=') && names_a_secret(before)
        });
    if after_secret_option {
        MASK.to_string()
    } else {
        shown(word)
    }
}

/// `word` with the value of a `name=value` whose name is a secret's masked (`--api-key=***`,
/// `API_TOKEN=***`), and in a URL the user information and the values of query parameters named
/// like secrets.
pub(crate) fn shown(word: &str) -> String {
    match word.split_once('=') {
        Some((name, value)) if !name.contains("://") => {
            if names_a_secret(name) && !value.is_empty() {
                format!("{name}={MASK}")
            } else {
                format!("{name}={}", shown_url(value))
            }
        }
        _ => shown_url(word),
    }
}

/// A URL with its user information and secret-named query values masked; any other text as is.
fn shown_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    // The user information ends at the last `@`: a password may hold an unencoded `/` or `?`
    // (`postgres://u:ab/cd@db/x`), so an `@` anywhere masks all before it.
    let (user, rest) = match rest.rfind('@') {
        Some(at) => (format!("{MASK}@"), &rest[at + 1..]),
        None => (String::new(), rest),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = format!("{user}{authority}");
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, value)) if names_a_secret(name) && !value.is_empty() => {
                        format!("{name}={MASK}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", parameters.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_shown() {
        for (word, expected) in [
            ("--api-key=s3cret", "--api-key=***"),
            ("API_TOKEN=s3cret", "API_TOKEN=***"),
            ("--Password=s3cret", "--Password=***"),
            ("NODE_ENV=production", "NODE_ENV=production"),
            ("--port=", "--port="),
            ("--token=", "--token="),
            (
                "postgres://user:s3cret@db:5432/app",
                "postgres://***@db:5432/app",
            ),
            (
                "DATABASE_URL=postgres://u:s3cret@db/x",
                "DATABASE_URL=postgres://***@db/x",
            ),
            (
                "http://h/p?page=2&api_key=s3cret",
                "http://h/p?page=2&api_key=***",
            ),
            ("http://*:", "http://*:"),
            ("postgres://u:ab/cd@db/x", "postgres://***@db/x"),
            ("DB_PASS=hunter2", "DB_PASS=***"),
            ("PGPASSWORD=hunter2", "PGPASSWORD=***"),
            ("--client_secret=x", "--client_secret=***"),
            ("SESSION_JWT=x", "SESSION_JWT=***"),
            ("--auth-port=5006", "--auth-port=5006"),
            ("0.0.0.0:5006", "0.0.0.0:5006"),
            ("app.js", "app.js"),
        ] {
            assert_eq!(shown(word), expected, "{word}");
        }
    }

    #[test]
    fn a_value_after_an_option_named_like_a_secret_is_masked_whole() {
        let command: Vec<String> = ["app", "--token", "s3cret:", "--port", "5006:", "-k", "x"]
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(shown_at(&command, 2), "***");
        assert_eq!(shown_at(&command, 4), "5006:");
        assert_eq!(shown_at(&command, 6), "x");
        assert_eq!(shown_at(&command, 0), "app");
        assert_eq!(shown_at(&command, 9), "");
    }
}
