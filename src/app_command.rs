//! How the app command is run (docs/behaviour.md §7): as separate words, or one string through
//! `/bin/sh -c`; and, when its program is not found, what the command shows went wrong.

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
    if is_assignment {
        return Some(format!(
            "'{program}' is a variable assignment, not a program: put variable assignments before \
             heroku-applink-service-mesh ({program} heroku-applink-service-mesh -- {})",
            args.join(" ")
        ));
    }
    SHELL_BUILTINS.contains(&program.as_str()).then(|| {
        format!(
            "'{program}' is a shell builtin, not a program: wrap it: sh -c '{}'",
            command.join(" ")
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
             heroku-applink-service-mesh -- node app.js)"
        );
        assert_eq!(
            not_found_hint(&command(&["cd", "web"])).unwrap(),
            "'cd' is a shell builtin, not a program: wrap it: sh -c 'cd web'"
        );
        assert_eq!(not_found_hint(&command(&["nodee", "app.js"])), None);
        assert_eq!(not_found_hint(&command(&["./a=b"])), None);
    }
}
