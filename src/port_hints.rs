//! Port mistakes visible before the app starts (docs/behaviour.md §7): the public port among the
//! app's arguments, something already listening on the app's address. Said at once, and again as
//! the likely cause if the app then exits with an error.

use std::time::Duration;

use crate::supervisor::AppExit;

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
        let port = public_port.to_string();
        let in_args = command
            .iter()
            .skip(1)
            .any(|arg| arg == &port || arg.rsplit_once(['=', ':']).is_some_and(|(_, p)| p == port));
        let public_port_in_args = in_args.then_some(public_port);
        if in_args {
            tracing::warn!(
                public_port,
                "the app's command line holds the public port, which the sidecar listens on (a Procfile that passes $PORT to the app?): give the app $APP_PORT instead"
            );
        }
        let probe = tokio::net::TcpStream::connect(authority);
        let taken = tokio::time::timeout(Duration::from_millis(300), probe)
            .await
            .is_ok_and(|connected| connected.is_ok());
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

    /// After the app exited with an error: the likely cause, if one was seen.
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
                "the app exited; it was given the public port, which the sidecar holds: use $APP_PORT in the Procfile's app command instead of $PORT"
            );
        }
    }
}
