//! The `heroku-applink-service-mesh` binary: parse, configure (exit 64 on error), run, exit with
//! the app's code.

use std::io::Write;
use std::process::exit;

use applink_mesh::cli::{self, EXIT_USAGE, Invocation};
use applink_mesh::config::Config;

fn main() {
    let mut cli = match cli::parse(std::env::args_os()) {
        Invocation::Run(cli) => cli,
        Invocation::Print(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            exit(0);
        }
        Invocation::UsageError(line) => {
            eprintln!("{line}");
            exit(EXIT_USAGE);
        }
    };
    // `--check POST /webhooks/x` asks about a request, not about an app command.
    let after_separator = std::env::args_os().any(|arg| arg == "--");
    let route = cli
        .check
        .then(|| cli::route_query(&cli.command, after_separator))
        .flatten();
    if route.is_some() {
        cli.command.clear();
    }
    // Variables whose name or value is not UTF-8 cannot be configuration; they are left out.
    let vars = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let config = match Config::load(&cli.flags(), &vars) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("heroku-applink-service-mesh: {e}");
            exit(EXIT_USAGE);
        }
    };
    if cli.check {
        print!("{}", applink_mesh::check(&config));
        if let Some((method, path)) = route {
            println!("{}", applink_mesh::check_route(&config, &method, &path));
        }
        exit(0);
    }
    exit(applink_mesh::run(config));
}
