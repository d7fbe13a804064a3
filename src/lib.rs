//! setclick: import offline leads into the SealMetrics Set-Click API.
//!
//! Data flows one way: `source` (readers) → `normalize` (fields, times, parameters)
//! → `lead` → `report`. `pipeline` runs that flow for one file across threads;
//! `commands` wire it to each subcommand. Core modules never import `cli` or
//! `commands`.

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod lead;
pub mod normalize;
pub mod panics;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod sandbox;
pub mod seen;
pub mod source;
pub mod state;
pub mod tally;

use cli::{Cli, Command, LogFormat};

/// Process exit codes (documented in README and `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Exit {
    /// Every row valid (and sent).
    Ok = 0,
    /// Some rows rejected or failed; the rest went through.
    Partial = 1,
    /// Usage, configuration or unreadable input; nothing sent.
    Usage = 2,
    /// Credentials or scope refused (401/403), or the API unreachable.
    Auth = 3,
    /// Interrupted; state saved.
    Interrupted = 130,
}

/// A run that could not complete, with the exit code it means.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl ToString) -> Failure {
        Failure {
            exit: Exit::Usage,
            message: message.to_string(),
        }
    }
}

/// How to talk to the user.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: u8,
}

fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn,setclick=warn",
        (false, 1) => "warn,setclick=info",
        (false, _) => "info,setclick=debug",
    };
    let filter = EnvFilter::try_from_env("SETCLICK_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.without_time().try_init(),
    };
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    panics::install_hook();
    init_logging(&cli);
    let ui = Ui {
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(args, &ui),
        Command::Import(args) => commands::import::run(args, &ui),
        Command::Status(args) => commands::status::run(args),
        Command::Sandbox(args) => commands::sandbox::run(args),
        Command::Login(args) => commands::login::run(args),
    };
    match result {
        Ok(exit) => exit as i32,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.exit as i32
        }
    }
}
