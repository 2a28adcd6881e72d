//! Port mistakes visible before the app starts (docs/behaviour.md §7): the public port among the
//! app's arguments, something already listening on the app's address. Said at once, and again as
//! the likely cause if the app then exits with an error.

use std::time::Duration;

use crate::app::AppExit;
use crate::config::shown::{shown, shown_at};

/// Port mistakes visible before the app starts (docs/behaviour.md §7), said at once and again if
/// the app then exits with an error.
pub(crate) struct PortHints {
    /// The public port appears among the app's arguments (a Procfile that passed `$PORT`).
    public_port_in_args: Option<u16>,
    /// Something already listened on the app's address.
    app_port_taken: Option<String>,
}

impl PortHints {
    pub(crate) async fn look(command: &[String], public_port: u16, authority: &str) -> PortHints {
        if command.is_empty() {
            return PortHints {
                public_port_in_args: None,
                app_port_taken: None,
            };
        }
        // Said at start-up, with the other warnings (startup_log); remembered for `explain`.
        let public_port_in_args = gives_port(command, public_port).then_some(public_port);
        let taken = crate::request::boot_gate::accepts(authority, Duration::from_millis(300)).await;
        let app_port_taken = taken.then(|| authority.to_string());
        if taken {
            tracing::warn!(
                app = authority,
                "something already listens on the app's port before the app started (an earlier run still up?): stop it, or set APP_PORT to a free port"
            );
        }
        PortHints {
            public_port_in_args,
            app_port_taken,
        }
    }

    /// After the app exited with an error: a likely cause, if one was seen.
    pub(crate) fn explain(&self, exit: AppExit) {
        if exit.exit_code() == 0 {
            return;
        }
        if let Some(app) = &self.app_port_taken {
            tracing::error!(
                app = app.as_str(),
                "the app exited; something else was already listening on its port when it started, which is the likely cause: stop it, or set APP_PORT to a free port"
            );
        }
        if let Some(public_port) = self.public_port_in_args {
            tracing::error!(
                public_port,
                "the app exited; it may have tried the public port it was given, which the sidecar holds: give the app its own port as a number (see the warning at start-up)"
            );
        }
    }
}

/// The warning for an app command that is given the public port, if it is, with the arguments
/// that work: the app's port written as a number. (`$APP_PORT` would not do in a Procfile line
/// that sets `APP_PORT=3000` itself: the shell expands the line before the assignment applies.)
/// Only the arguments that hold the port are shown, each after the option it follows, with any
/// secret in them masked: the rest of the command may hold secrets, and this goes to the log.
pub(crate) fn public_port_in_args(
    command: &[String],
    public_port: u16,
    app_port: u16,
) -> Option<String> {
    (public_port != 0 && gives_port(command, public_port)).then(|| {
        let (public, app) = (public_port.to_string(), app_port.to_string());
        let fixes: Vec<String> = command
            .iter()
            .enumerate()
            .skip(1)
            .filter_map(|(n, arg)| {
                let rest = arg.strip_suffix(public.as_str())?;
                if !(rest.is_empty() || rest.ends_with([':', '='])) {
                    return None;
                }
                let option = command
                    .get(n - 1)
                    .filter(|before| n > 1 && before.starts_with('-'))
                    .map_or(String::new(), |option| format!("{} ", shown(option)));
                // The argument as a message may show it (`user:***@0.0.0.0:5006`), the port kept.
                let shown = shown_at(command, n);
                let shown_rest = shown.strip_suffix(public.as_str())?;
                Some(format!("`{option}{shown_rest}{app}` for `{option}{shown}`"))
            })
            .collect();
        format!(
            "the app's command line holds the public port {public_port}, which the sidecar listens on \
             (a Procfile that passes $PORT to the app?): give the app its own port as a number, \
             with APP_PORT={app_port}: {}",
            fixes.join(", ")
        )
    })
}

/// Whether the app's arguments give it `port` to listen on: after `-p`, `-b`, `--bind` or an
/// option whose name says port (`--port`, `--listen-port`), as `--port=N`, `PORT=N`, `host:N`, or
/// as a bare argument that does not follow an option (`python -m http.server 5006`); not a number
/// that merely follows another option, such as `--timeout 5000`.
fn gives_port(command: &[String], port: u16) -> bool {
    let port = port.to_string();
    let args = command.get(1..).unwrap_or_default();
    let bare = command
        .windows(2)
        .any(|pair| pair[1] == port && !pair[0].starts_with('-'));
    if bare {
        return true;
    }
    let after_flag = args.windows(2).any(|pair| {
        let flag = pair[0].to_ascii_lowercase();
        let names_a_port = matches!(flag.as_str(), "-p" | "-b" | "--bind")
            || (flag.starts_with('-') && flag.contains("port"));
        names_a_port && ends_with_port(&pair[1], &port)
    });
    let inline = args.iter().any(|arg| {
        arg.split_once('=').is_some_and(|(name, value)| {
            name.to_ascii_lowercase().contains("port") && value == port
        }) || arg
            .rsplit_once(':')
            .is_some_and(|(host, p)| !host.is_empty() && p == port)
    });
    after_flag || inline
}

/// `5000`, `0.0.0.0:5000` or `[::]:5000`.
fn ends_with_port(value: &str, port: &str) -> bool {
    value == port || value.rsplit_once(':').is_some_and(|(_, p)| p == port)
}

#[cfg(test)]
mod tests {
    use super::{gives_port, public_port_in_args};

    fn words(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    /// The hint for this command when the app is told the public port 5006 and APP_PORT is 3000.
    fn hint_for(command: &[&str]) -> Option<String> {
        public_port_in_args(&words(command), 5006, 3000)
    }

    #[test]
    fn the_fix_gives_the_port_as_a_number_and_nothing_else_of_the_command() {
        let hint = hint_for(&["python", "-m", "http.server", "5006"]).unwrap();
        assert!(
            hint.ends_with("with APP_PORT=3000: `3000` for `5006`"),
            "{hint}"
        );
        assert_eq!(hint_for(&["app", "3000"]), None);
        // A port is never taken for a secret, even after an option named `auth`.
        let hint = hint_for(&["app", "--auth-port", "5006"]).unwrap();
        assert!(
            hint.ends_with("`--auth-port 3000` for `--auth-port 5006`"),
            "{hint}"
        );
    }

    #[test]
    fn the_rest_of_the_command_and_any_credential_stay_out_of_the_hint() {
        let hint = hint_for(&["gunicorn", "--token=s3cret", "-b", "0.0.0.0:5006"]).unwrap();
        assert!(
            hint.ends_with("`-b 0.0.0.0:3000` for `-b 0.0.0.0:5006`"),
            "{hint}"
        );
        assert!(
            !hint.contains("s3cret"),
            "the rest of the command stays out of the log"
        );
        // The option before the port is shown masked too.
        if let Some(hint) = hint_for(&["app", "--api-key=s3cret", "0.0.0.0:5006"]) {
            assert!(!hint.contains("s3cret"), "{hint}");
        }
        // The one argument shown has its credentials masked, the port kept.
        let listen = ["app", "--listen", "http://user:s3cret@0.0.0.0:5006"];
        let hint = hint_for(&listen).unwrap();
        assert!(
            hint.ends_with(
                "`--listen http://***@0.0.0.0:3000` for `--listen http://***@0.0.0.0:5006`"
            ),
            "{hint}"
        );
    }

    #[test]
    fn the_port_must_be_given_as_a_port() {
        for given in [
            &["app", "--port", "5000"][..],
            &["app", "-p", "5000"],
            &["app", "--listen-port", "5000"],
            &["app", "--port=5000"],
            &["uvicorn", "app:app", "--bind", "0.0.0.0:5000"],
            &["gunicorn", "-b", "[::]:5000"],
            &["env", "PORT=5000", "node"],
            &["app", "localhost:5000"],
            &["python", "-m", "http.server", "5000"],
            &["./server", "5000"],
        ] {
            assert!(gives_port(&words(given), 5000), "{given:?}");
        }
        for not_given in [
            &["app", "--timeout", "5000"][..],
            &["app", "-w", "5000"],
            &["app", "--port", "3000"],
            &["app", "/srv/5000"],
            &["5000"],
        ] {
            assert!(!gives_port(&words(not_given), 5000), "{not_given:?}");
        }
    }
}
