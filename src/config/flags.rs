//! What the configuration takes from the command line: the flags that choose settings and the app
//! command, as a plain struct (the command line's own parsing is `cli`'s).

use std::path::PathBuf;

/// The command line's part of the configuration.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--port`.
    pub port: Option<u16>,
    /// `--dev`.
    pub dev: bool,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// The app command and its arguments.
    pub command: Vec<String>,
}

/// The sidecar's own options, written after the app command (`npm start --dev`): there they are
/// the app's. Says so, with the line as it should be. `--config` counts only with a YAML file
/// (`gunicorn --config gunicorn.conf.py` is the app's own option).
pub(crate) fn misplaced_option(command: &[String]) -> Option<String> {
    let args = command.get(1..)?;
    let yaml = |file: &str| file.ends_with(".yaml") || file.ends_with(".yml");
    let at = args
        .iter()
        .enumerate()
        .position(|(n, arg)| match arg.as_str() {
            "--dev" | "--check" => true,
            "--config" => args.get(n + 1).is_some_and(|file| yaml(file)),
            other => other.strip_prefix("--config=").is_some_and(yaml),
        })?;
    let takes_value = args[at] == "--config";
    let option_words = &args[at..=at + usize::from(takes_value)];
    let option = option_words.join(" ");
    // Only the option and the program are shown: the rest of the command may hold secrets.
    let more = if command.len() > 1 + option_words.len() {
        " …"
    } else {
        ""
    };
    Some(format!(
        "`{option}` is written after the app command, so it goes to the app, not to the sidecar; \
         options go before the app command: heroku-applink-service-mesh {option} -- {}{more}",
        super::shown::shown(&command[0])
    ))
}
