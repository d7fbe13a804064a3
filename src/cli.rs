//! Command-line flags (clap). Raw values only; `config` turns them into checked types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "setclick",
    version,
    about = "Import offline leads (CSV, XLSX, Parquet) into the SealMetrics Set-Click API",
    long_about = "Import offline leads (CSV, XLSX, Parquet) into the SealMetrics Set-Click API.\n\n\
        Every row is read, mapped to the set-click fields, normalized (click_time to Unix \
        milliseconds, UTM parameters to JSON) and checked. Rejected rows go to a rejects \
        file with the reason; nothing is dropped silently.\n\n\
        Exit codes: 0 all rows valid (and sent); 1 some rows rejected or failed; \
        2 usage, configuration or unreadable input; 3 credentials refused or API \
        unreachable; 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Only errors on stderr (no summary, no progress).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on stderr (-v: mapping and decisions, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
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
    #[command(visible_alias = "check")]
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files to check: .csv, .tsv, .csv.gz, .tsv.gz, .xlsx, .parquet; a directory
    /// (its supported files, by name) or - (CSV on stdin).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Write the normalized leads as JSON Lines to PATH (- for stdout): one object per
    /// valid row, duplicates left out, in file order.
    #[arg(long, value_name = "PATH")]
    pub emit: Option<PathBuf>,

    /// Account id to include in emitted leads.
    #[arg(long, env = "SEALMETRICS_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,
}

/// Options shared by every command that reads lead files.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Input format (default: from the file extension; .gz means gzip).
    #[arg(long, value_name = "csv|tsv|xlsx|parquet")]
    pub format: Option<String>,

    /// CSV delimiter: one character, or "tab" (default: sniffed among , ; TAB |).
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,

    /// Text encoding of CSV input, any WHATWG label such as windows-1252 or latin1
    /// (default UTF-8; a byte-order mark is honoured).
    #[arg(long, value_name = "LABEL")]
    pub encoding: Option<String>,

    /// XLSX sheet to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,

    /// Row (CSV line, sheet row; 1-based) that holds the column names (default: found
    /// among the first 20 rows).
    #[arg(long, value_name = "N")]
    pub header_row: Option<u64>,

    /// Map a field to a column: FIELD=COLUMN (repeatable). Fields: click_time,
    /// click_date, click_time_of_day, email, referrer, current_url, url_parameters,
    /// microconversion, utm_*, gclid, fbclid, msclkid, ttclid, dclid, gbraid, wbraid,
    /// li_fat_id, settings.KEY.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,

    /// A TOML file with a [map] table (field = "column"), a [settings] table and any
    /// other option by its long name (timezone = "Europe/Madrid"). Flags win over it.
    #[arg(long, value_name = "FILE.toml")]
    pub mapping: Option<PathBuf>,

    /// IANA time zone of times without a UTC offset (e.g. Europe/Madrid). Required
    /// when the file has such times.
    #[arg(long, value_name = "IANA")]
    pub timezone: Option<String>,

    /// strftime format of the click time column (e.g. "%d/%m/%Y %H:%M").
    #[arg(long, value_name = "STRFTIME")]
    pub time_format: Option<String>,

    /// What numbers in the time column count: auto decides by magnitude (Excel days,
    /// seconds, ms, µs, ns).
    #[arg(long, value_name = "auto|s|ms|us|ns|excel")]
    pub time_unit: Option<String>,

    /// A setting sent with every lead: KEY=VALUE (repeatable), e.g.
    /// conversion_type=call. A settings.KEY column wins where it has a value.
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    pub setting: Vec<String>,

    /// Send every lead as a microconversion ("microconversion":"1" in settings).
    #[arg(long)]
    pub microconversion: bool,

    /// Write a JSON report (per-file and total counts) to PATH.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Write rejected rows to a CSV at PATH: row, location, field, reason, then the
    /// original cells.
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,
}
