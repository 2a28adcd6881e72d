//! How the app command is run (docs/behaviour.md §7): as separate words, or one string through
//! `/bin/sh -c`; and, when its program is not found, what the command shows went wrong. A message
//! names the program, with any secret in it masked (`config::shown`), never the rest of the
//! command.

use crate::config::shown::shown;

/// The program and arguments to run. A command that is one argument with whitespace in it and
/// not an existing file (a Procfile's `heroku-applink-service-mesh "java $JAVA_OPTS -jar app.jar"`)
/// runs through `/bin/sh -c`, which expands it. A simple command runs as `exec <it>`, so the app
/// itself is the process the exit code comes from; a script (`cd web && npm start`,
/// `FOO=bar node app.js`, `exec ...`) runs as it is written. Signals go to the whole process group
/// either way.
pub(crate) fn program_and_args(command: &[String]) -> Option<(String, Vec<String>, bool)> {
    let (program, args) = command.split_first()?;
    let one_string = args.is_empty()
        && program.contains(char::is_whitespace)
        && !std::path::Path::new(program).exists();
    if one_string {
        let script = if is_simple_command(program) {
            format!("exec {program}")
        } else {
            program.clone()
        };
        return Some(("/bin/sh".into(), vec!["-c".into(), script], true));
    }
    Some((program.clone(), args.to_vec(), false))
}

/// A command the shell would run as one program: no operators, redirections or substitutions, no
/// leading variable assignment, not already an `exec`.
fn is_simple_command(script: &str) -> bool {
    let first = script.split_whitespace().next().unwrap_or_default();
    let operators = ['&', '|', ';', '<', '>', '(', ')', '`', '\n'];
    !script.contains(operators) && !script.contains("$(") && !first.contains('=') && first != "exec"
}

/// Words a shell runs itself: as the app command they cannot be found, or do nothing useful.
const SHELL_BUILTINS: [&str; 12] = [
    "cd", "export", "source", ".", "set", "unset", "alias", "ulimit", "umask", "eval", "exec",
    "trap",
];

/// Why a command's program was not found, when the command itself shows it.
pub(crate) fn not_found_hint(command: &[String]) -> Option<String> {
    let (program, args) = command.split_first()?;
    let is_assignment = program.split_once('=').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    let more = if args.is_empty() { "" } else { " …" };
    if is_assignment {
        let assignment = shown(program);
        return Some(format!(
            "'{assignment}' is a variable assignment, not a program: put variable assignments \
             before heroku-applink-service-mesh ({assignment} heroku-applink-service-mesh -- \
             <the rest of the command>)"
        ));
    }
    SHELL_BUILTINS.contains(&program.as_str()).then(|| {
        format!(
            "'{program}' is a shell builtin, not a program: wrap the command in a shell: \
             sh -c '{program}{more}'"
        )
    })
}

/// Why `program` was not found, in words: where it was looked for, and the usual causes. `path`
/// is the `PATH` the app was started with.
pub(crate) fn not_found_reason(program: &str, path: Option<&str>) -> String {
    let program = &shown(program);
    if program.starts_with('~') {
        return format!(
            "'{program}' was not found: `~` is expanded only by a shell, and not inside quotes; the \
             app command runs without one, so write the full path or $HOME/{} unquoted",
            program.trim_start_matches('~').trim_start_matches('/')
        );
    }
    if program.contains('/') {
        return format!(
            "'{program}' was not found: there is no such file (a path is taken as written, relative \
             to the app's directory)"
        );
    }
    let path = path.unwrap_or_default();
    format!(
        "'{program}' was not found on PATH ({}). Check the spelling; a program a language \
         buildpack installs (node, python, java, ruby, php) needs that buildpack on the app \
         (`heroku buildpacks`), and locally its runtime installed; the command runs without a \
         shell, so it must be a program on PATH or a path to one",
        if path.is_empty() { "empty" } else { path }
    )
}

/// Whether `program` (a bare name) is an executable file in one of `path`'s directories.
pub(crate) fn on_path(program: &str, path: Option<&str>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.unwrap_or_default().split(':').any(|dir| {
        let candidate = std::path::Path::new(if dir.is_empty() { "." } else { dir }).join(program);
        std::fs::metadata(candidate)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    })
}

/// The program a one-string command's shell runs first: its first word after any `NAME=value`
/// assignments and an `exec`.
pub(crate) fn script_program(script: &str) -> Option<&str> {
    script
        .split_whitespace()
        .find(|word| *word != "exec" && !word.contains('='))
}

/// After a one-string command (run through `/bin/sh -c`) exited 127, the shell's "not found": the
/// sidecar's own explanation, when the script's program is not to be found.
pub(crate) fn shell_not_found(command: &[String], path: Option<&str>) -> Option<String> {
    let [script] = command else {
        return None;
    };
    let program = script_program(script)?;
    let found = if program.contains('/') {
        std::path::Path::new(program).exists()
    } else {
        on_path(program, path)
    };
    (!found).then(|| {
        format!(
            "the app command ran through /bin/sh (it is one quoted string), which exited 127: {}",
            not_found_reason(program, path)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_string_with_spaces_runs_through_the_shell() {
        let words = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (program, args, shell) =
            program_and_args(&words(&["java $JAVA_OPTS -jar app.jar"])).unwrap();
        assert_eq!((program.as_str(), shell), ("/bin/sh", true));
        assert_eq!(args, ["-c", "exec java $JAVA_OPTS -jar app.jar"]);
        // A script runs as it is written.
        for script in [
            "cd web && npm start",
            "FOO=bar node app.js",
            "exec node app.js",
            "npm run build; npm start",
            "node $(cat entry)",
        ] {
            let (_, args, shell) = program_and_args(&words(&[script])).unwrap();
            assert!(shell);
            assert_eq!(args, ["-c", script]);
        }
        // Separate words, one word, or a file whose name has a space: run as they are.
        let (program, args, shell) = program_and_args(&words(&["npm", "start"])).unwrap();
        assert_eq!((program.as_str(), args.len(), shell), ("npm", 1, false));
        assert!(!program_and_args(&words(&["uvicorn"])).unwrap().2);
        let spaced = std::env::temp_dir().join(format!("app with space {}", std::process::id()));
        std::fs::write(&spaced, "").unwrap();
        let name = spaced.to_str().unwrap().to_string();
        assert!(!program_and_args(&[name]).unwrap().2);
        let _ = std::fs::remove_file(spaced);
        assert!(program_and_args(&[]).is_none());
    }

    #[test]
    fn a_command_that_cannot_be_a_program_gets_its_fix() {
        let command = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            not_found_hint(&command(&["NODE_ENV=production", "node", "app.js"])).unwrap(),
            "'NODE_ENV=production' is a variable assignment, not a program: put variable \
             assignments before heroku-applink-service-mesh (NODE_ENV=production \
             heroku-applink-service-mesh -- <the rest of the command>)"
        );
        assert_eq!(
            not_found_hint(&command(&["cd", "web"])).unwrap(),
            "'cd' is a shell builtin, not a program: wrap the command in a shell: sh -c 'cd …'"
        );
        // The rest of the command, and a secret in the one word shown, never appear.
        for words in [
            &["API_KEY=s3cret", "node", "app.js", "--token=s3cret"][..],
            &["export", "TOKEN=s3cret"],
            &["app", "--password=s3cret"],
        ] {
            let said = not_found_hint(&command(words)).unwrap_or_default()
                + &not_found_reason(words[0], None);
            assert!(!said.contains("s3cret"), "{said}");
        }
        assert!(not_found_reason("API_KEY=s3cret", None).starts_with("'API_KEY=***'"));
        assert_eq!(not_found_hint(&command(&["nodee", "app.js"])), None);
        assert_eq!(not_found_hint(&command(&["./a=b"])), None);
    }

    #[test]
    fn a_program_not_found_is_explained() {
        let reason = not_found_reason("nodee", Some("/usr/bin:/bin"));
        assert!(
            reason.starts_with("'nodee' was not found on PATH (/usr/bin:/bin)"),
            "{reason}"
        );
        assert!(reason.contains("heroku buildpacks"), "{reason}");
        let reason = not_found_reason("~/bin/app", None);
        assert!(reason.contains("$HOME/bin/app unquoted"), "{reason}");
        assert!(not_found_reason("./app", None).contains("no such file"));
        assert!(on_path("sh", Some("/nonexistent:/bin")));
        assert!(!on_path("sh", Some("/nonexistent")));
    }

    #[test]
    fn a_one_string_command_that_the_shell_did_not_find_is_explained() {
        assert_eq!(script_program("FOO=1 exec nodee app.js"), Some("nodee"));
        let words = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let said =
            shell_not_found(&words(&["nodee app.js --port 3000"]), Some("/usr/bin:/bin")).unwrap();
        assert!(said.contains("'nodee' was not found on PATH"), "{said}");
        assert_eq!(
            shell_not_found(&words(&["sh -c false"]), Some("/bin")),
            None,
            "found: another cause"
        );
        assert_eq!(
            shell_not_found(&words(&["a", "b"]), Some("/bin")),
            None,
            "not one string"
        );
    }
}
