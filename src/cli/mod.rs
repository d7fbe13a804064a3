//! Command-line flags (clap). Raw values only; `config` turns them into checked
//! types. Every flag sits under one of the headings Input, Mapping, Time, Sending,
//! State, Output, Logging; defaults are shown as `[default: ...]`, units are part of
//! the value (`1/s`, `30m`, `SECS`).

mod import;
mod input;
mod sandbox;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use import::{ClickTimeUnitArg, ImportArgs, ReferrerField, UncertainArg};
pub use input::{InputArgs, ValidateArgs};
pub use sandbox::SandboxArgs;

/// Help headings.
pub const INPUT: &str = "Input";
pub const MAPPING: &str = "Mapping";
pub const TIME: &str = "Time";
pub const SENDING: &str = "Sending";
pub const STATE: &str = "State";
pub const OUTPUT: &str = "Output";
pub const LOGGING: &str = "Logging";

#[derive(Debug, Parser)]
#[command(
    name = "setclick",
    version,
    about = "Import offline leads (CSV, XLSX, Parquet) into the SealMetrics Set-Click API",
    long_about = "Import offline leads (CSV, XLSX, Parquet) into the SealMetrics Set-Click API.\n\n\
        Every row is read, mapped to the set-click fields, normalized (click_time to Unix \
        milliseconds, UTM parameters to JSON) and checked. Rejected rows go to a rejects \
        file with the reason; nothing is dropped silently.\n\n\
        Exit codes: 0 all rows valid (and sent); 1 some rows rejected, refused, failed or \
        uncertain, or some files unreadable (the rest went through); 2 usage, \
        configuration or unreadable input, an account the token does not have, or an \
        endpoint that answers as if misconfigured (nothing went through); 3 credentials refused, the POST redirected \
        away, or the API unreachable past --max-outage (leads stay pending); 130 \
        interrupted (state saved).",
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Only errors on stderr: no summary, no progress, no notices.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = LOGGING)]
    pub quiet: bool,

    /// More on stderr: -v the mapping and decisions, -vv debugging detail.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = LOGGING)]
    pub verbose: u8,

    /// Format of everything on stderr: text, or one JSON object a line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, help_heading = LOGGING)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dry run: read, map, normalize and check every row; nothing is sent.
    Validate(ValidateArgs),
    /// Validate and send every valid lead to the Set-Click API.
    Import(ImportArgs),
    /// Check the token, the account and the endpoint without sending a lead.
    Check(CheckArgs),
    /// What the state store knows: per file, rows sent, rejected, failed, pending.
    Status(StatusArgs),
    /// Run a local Set-Click-compatible server with fault injection.
    Sandbox(SandboxArgs),
    /// Get an API token from the login endpoint.
    #[command(
        after_help = "The password comes from the SEALMETRICS_PASSWORD variable \
        when it is set, otherwise from a prompt that does not echo it; never from a \
        flag. The token is printed on stdout, or saved with --save (mode 0600) for \
        --token-file."
    )]
    Login(LoginArgs),
}

/// Where the API is and who sends to it: shared by `import` and `check`.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// The full set-click URL; login and accounts URLs are derived from its origin.
    /// Plain http only to loopback addresses.
    #[arg(
        long,
        env = "SEALMETRICS_ENDPOINT",
        value_name = "URL",
        help_heading = SENDING,
        default_value = "https://app.sealmetrics.com/api/auth/v1.0/set-click"
    )]
    pub endpoint: String,

    /// Account id sent with every lead (must match the token's client id).
    #[arg(long, env = "SEALMETRICS_ACCOUNT_ID", value_name = "ID", help_heading = SENDING)]
    pub account_id: Option<String>,

    /// Read the API token from this file [default: the SEALMETRICS_TOKEN variable].
    #[arg(long, value_name = "PATH", help_heading = SENDING)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    args_override_self = true,
    after_help = "The token comes from SEALMETRICS_TOKEN or --token-file. Nothing \
    is sent but an empty request, which the API refuses for its missing fields. Exit \
    codes as for import: 0 ready, 2 a setting to fix (endpoint, account id), 3 credentials refused or the API \
    unreachable."
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 15.0, value_name = "SECS", help_heading = SENDING)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these files (matched by content, so renamed copies count) [default: all].
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The state directory to read.
    #[arg(
        long,
        env = "SETCLICK_STATE_DIR",
        default_value = ".setclick",
        value_name = "DIR",
        help_heading = STATE
    )]
    pub state_dir: PathBuf,

    /// Print JSON (an array of files) for scripts.
    #[arg(long, help_heading = OUTPUT)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Account email.
    #[arg(long, env = "SEALMETRICS_EMAIL", value_name = "EMAIL")]
    pub email: String,

    /// The set-click URL whose origin serves /api/auth/login.
    #[arg(
        long,
        env = "SEALMETRICS_ENDPOINT",
        value_name = "URL",
        default_value = "https://app.sealmetrics.com/api/auth/v1.0/set-click"
    )]
    pub endpoint: String,

    /// Save the token to this file (mode 0600) instead of printing it.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,

    /// Send the credentials as a JSON body (newer API pages) instead of a form.
    #[arg(long)]
    pub json: bool,
}
