//! Arguments a shell should have filled in and did not (docs/behaviour.md §7), each named at
//! start-up with the fix: a variable that expanded to nothing (`--port=`, `http://*:`, or a
//! `--port` left without its value), typically `$APP_PORT` on a Procfile line that sets
//! `APP_PORT=3000` itself, where the shell expands the line before the assignment applies; and a
//! `$PORT` or `$APP_PORT` that no shell expanded (quoted in the Procfile, or an exec-form command),
//! which the app would get as text.

use crate::app::command::program_and_args;
use crate::config::shown::shown_at;

/// Every warning of this kind for the app command, in the order of its arguments' kinds.
pub(crate) fn expansion_warnings(command: &[String], app_port: u16) -> Vec<String> {
    let mut warnings = empty_expansions(command, app_port);
    warnings.extend(dangling_port_options(command, app_port));
    warnings.extend(literal_port_variables(command, app_port));
    warnings
}

/// How the fix for a variable that expanded to nothing reads, after what was seen.
fn expanded_to_nothing(seen: &str, written: &str, fixed: &str, app_port: u16) -> String {
    format!(
        "{seen}: a variable that expanded to nothing? In a Procfile, `APP_PORT={app_port} \
         heroku-applink-service-mesh -- app {written}$APP_PORT` expands $APP_PORT before APP_PORT \
         is set; write the port as a number ({fixed}), or set APP_PORT as a config var instead of \
         on the line"
    )
}

/// Arguments that end in `:` or `=` (`http://*:`, `--port=`).
fn empty_expansions(command: &[String], app_port: u16) -> Vec<String> {
    command
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, arg)| arg.len() > 1 && arg.ends_with([':', '=']))
        .map(|(n, original)| {
            let ending = &original[original.len() - 1..];
            // The argument as a message may show it: a secret's value masked (its ending kept).
            let mut arg = shown_at(command, n);
            if !arg.ends_with(ending) {
                arg.push_str(ending);
            }
            let seen = format!("the app's argument '{arg}' ends in '{ending}'");
            expanded_to_nothing(&seen, &arg, &format!("{arg}{app_port}"), app_port)
        })
        .collect()
}

/// Options that take a port (`--port`, `-p`, `--bind`, `--listen`, `-port`, …) with no value
/// after them: the last argument, or followed by another option.
fn dangling_port_options(command: &[String], app_port: u16) -> Vec<String> {
    command
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(n, arg)| {
            let next = command.get(n + 1);
            takes_a_port(arg) && next.is_none_or(|next| next.starts_with('-') && next.len() > 1)
        })
        .map(|(_, option)| {
            let seen = format!("the app's option '{option}' has no value after it");
            expanded_to_nothing(
                &seen,
                &format!("{option} "),
                &format!("{option} {app_port}"),
                app_port,
            )
        })
        .collect()
}

/// Whether `option` is one of the usual names of an option that takes the port to listen on.
fn takes_a_port(option: &str) -> bool {
    let name = option.trim_start_matches('-').to_ascii_lowercase();
    option.starts_with('-')
        && matches!(
            name.as_str(),
            "p" | "b" | "port" | "bind" | "listen" | "listen-port" | "http-port" | "server-port"
        )
}

/// Arguments holding `$PORT` or `$APP_PORT` (or `${…}`) as text, when no shell will expand them:
/// the sidecar runs the app's words without a shell, unless they are one string (run through
/// `/bin/sh -c`) or the program is a shell given `-c`.
fn literal_port_variables(command: &[String], app_port: u16) -> Vec<String> {
    let through_a_shell = program_and_args(command).is_some_and(|(_, _, shell)| shell)
        || (is_a_shell(command.first().map_or("", String::as_str))
            && command
                .iter()
                .skip(1)
                .any(|arg| arg.starts_with('-') && !arg.starts_with("--") && arg.contains('c')));
    if through_a_shell {
        return Vec::new();
    }
    command
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(n, arg)| {
            let variable = port_variable_in(arg)?;
            let arg = shown_at(command, n);
            Some(format!(
                "the app's argument '{arg}' holds the text ${variable}, which no shell expands: the \
                 sidecar starts the app's words without one, so the app gets those characters, not \
                 a port. Write the port as a number ({app_port}), or run the command through a \
                 shell: -- sh -c 'app --port ${variable}' (there PORT and APP_PORT are the app's port)"
            ))
        })
        .collect()
}

/// `PORT` or `APP_PORT` when `arg` holds `$PORT`, `${PORT}`, `$APP_PORT` or `${APP_PORT}` (not
/// `$PORTS` or `$PORT_X`).
fn port_variable_in(arg: &str) -> Option<&'static str> {
    ["APP_PORT", "PORT"].into_iter().find(|name| {
        arg.match_indices('$').any(|(at, _)| {
            let rest = &arg[at + 1..];
            let rest = rest.strip_prefix('{').unwrap_or(rest);
            rest.strip_prefix(name).is_some_and(|after| {
                !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
        })
    })
}

fn is_a_shell(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    matches!(name, "sh" | "bash" | "dash" | "zsh" | "ksh")
}

#[cfg(test)]
mod tests;
