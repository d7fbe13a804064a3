//! setclick: import offline leads into the SealMetrics Set-Click API.
//!
//! Data flows one way: `source` (readers) → `normalize` (fields, times, parameters)
//! → `lead` → `dispatch` (pacing, retries, the API `api`) → `report`. The
//! `engine` runs that flow for each file of a run, with the `state` store; `cli`
//! and `config` turn the command line into the engine's plan; `commands` wire one
//! subcommand each. ARCHITECTURE.md maps the modules, threads and owners.

/// `println!` for a command's own output on stdout, without its panic: a reader
/// that went away (`status | head -1`) comes back as an `Error::Output` that `main`
/// ends quietly, as it does for `validate --emit - | head`.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::ui::out(format_args!($($arg)*)).map_err($crate::error::Error::stdout)
    };
}

pub mod api;
pub mod cell;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod json;
pub mod lead;
pub mod normalize;
pub mod panics;
pub mod profile;
pub mod report;
pub mod sandbox;
pub mod seen;
pub mod source;
pub mod state;
pub mod ui;

use cli::{Cli, Command};
use error::{Error, Exit};
use ui::{LogFormat, Ui};

/// Run a parsed command line: the exit code of a command that ran its course, or
/// the error that stopped it (`main` says it and exits with `error::exit_code`).
pub fn run(cli: Cli) -> Result<Exit, Error> {
    panics::install_hook();
    let ui = Ui {
        quiet: cli.quiet,
        verbose: cli.verbose,
        format: match cli.log_format {
            cli::LogFormat::Text => LogFormat::Text,
            cli::LogFormat::Json => LogFormat::Json,
        },
        ..Ui::default()
    };
    ui::init(&ui);
    match cli.command {
        Command::Validate(args) => commands::validate::run(args, ui),
        Command::Import(args) => commands::import::run(args, ui),
        Command::Check(args) => commands::check::run(args, ui),
        Command::Status(args) => commands::status::run(args),
        Command::Sandbox(args) => commands::sandbox::run(args),
        Command::Login(args) => commands::login::run(args),
    }
}
