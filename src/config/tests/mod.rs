//! Loading the configuration, by behaviour: `settings` (environment, flags, defaults),
//! `attachments` (the AppLink add-ons), `file` (the YAML file and `--check`), `command_line`.
//! Here: what they share, a process environment and files to load from.

mod attachments;
mod command_line;
mod file;
mod settings;

use std::collections::HashMap;

use super::*;

pub(super) const TOKEN: &str = "tok-very-secret-123";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = [
        (
            "HEROKU_APPLINK_API_URL",
            "https://applink.example/addons/1234/",
        ),
        ("HEROKU_APPLINK_TOKEN", TOKEN),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in pairs {
        if v.is_empty() {
            map.remove(*k);
        } else {
            map.insert(k.to_string(), v.to_string());
        }
    }
    map
}

fn default_attachment(config: &Config) -> &ApiConfig {
    let Mode::Production(attachments) = &config.mode else {
        panic!("production expected")
    };
    attachments.iter().next().unwrap()
}

fn load_with(flags: &Flags, vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
    Config::load(flags, vars)
}

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_with(&cli_with_file(None), &env(pairs))
}

fn cli_with_file(file: Option<PathBuf>) -> Flags {
    // Point at a file that cannot exist so the working directory's file is never read.
    Flags {
        config: Some(file.unwrap_or_else(|| write_file(""))),
        ..Flags::default()
    }
}

fn write_file(text: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "applink-mesh-config-{}-{n}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

fn load_file(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_with(&cli_with_file(Some(write_file(text))), &env(pairs))
}
