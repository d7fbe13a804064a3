//! Flags of every command that reads lead files, and `setclick validate`.

use std::path::PathBuf;

use clap::Args;

use super::{INPUT, MAPPING, OUTPUT, TIME};

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ValidateArgs {
    /// Files to check: .csv, .tsv, .csv.gz, .tsv.gz, .xlsx, .parquet; a directory
    /// (its lead files, by name) or - (CSV on stdin).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Write the normalized leads as JSON Lines to PATH (- for stdout): one object per
    /// valid row, duplicates left out, in file order.
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    pub emit: Option<PathBuf>,

    /// Account id to include in emitted leads.
    #[arg(long, env = "SEALMETRICS_ACCOUNT_ID", value_name = "ID", help_heading = OUTPUT)]
    pub account_id: Option<String>,
}

/// Options shared by every command that reads lead files.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// A job file (TOML): any option of the command by its long name
    /// (timezone = "Europe/Madrid", rate = "1/s"), a [map] table (field = "column")
    /// and a [settings] table; flags given on the command line win. No token in it
    /// (token-file is fine).
    #[arg(long, visible_alias = "mapping", value_name = "FILE.toml", help_heading = INPUT)]
    pub config: Option<PathBuf>,

    /// Input format [default: from the file extension; .gz means gzip].
    #[arg(long, value_name = "csv|tsv|xlsx|parquet", help_heading = INPUT)]
    pub format: Option<String>,

    /// CSV delimiter: one character, or "tab" [default: sniffed among , ; TAB |].
    #[arg(long, value_name = "C", help_heading = INPUT)]
    pub delimiter: Option<String>,

    /// Text encoding of CSV input, any WHATWG label such as windows-1252 or latin1
    /// [default: UTF-8; a byte-order mark is honoured].
    #[arg(long, value_name = "LABEL", help_heading = INPUT)]
    pub encoding: Option<String>,

    /// XLSX sheet to read [default: the first].
    #[arg(long, value_name = "NAME", help_heading = INPUT)]
    pub sheet: Option<String>,

    /// Row (CSV line, sheet row; 1-based) that holds the column names [default: found
    /// among the first 20 rows].
    #[arg(long, value_name = "N", help_heading = INPUT)]
    pub header_row: Option<u64>,

    /// Read the folders inside a directory given as FILE too [default: they are
    /// listed as skipped].
    #[arg(long, short = 'r', help_heading = INPUT)]
    pub recursive: bool,

    /// Do not look for duplicate leads, neither in this run nor (import) in the state
    /// store's ledger of leads sent before: every valid row is emitted or sent. Saves
    /// the duplicate check's memory (about 9 MiB, and 26 MiB once it has seen more
    /// than ~460,000 leads, however many more) and its temporary file (16 bytes a
    /// lead, in TMPDIR).
    #[arg(long, help_heading = INPUT)]
    pub no_dedupe: bool,

    /// Map a field to a column: FIELD=COLUMN (repeatable). Fields: click_time,
    /// click_date, click_time_of_day, email, referrer, current_url, url_parameters,
    /// microconversion, utm_*, gclid, fbclid, msclkid, ttclid, dclid, gbraid, wbraid,
    /// li_fat_id, settings.KEY.
    #[arg(long = "map", value_name = "FIELD=COLUMN", help_heading = MAPPING)]
    pub map: Vec<String>,

    /// A setting sent with every lead: KEY=VALUE (repeatable), e.g.
    /// conversion_type=call. A settings.KEY column wins where it has a value.
    #[arg(long = "setting", value_name = "KEY=VALUE", help_heading = MAPPING)]
    pub setting: Vec<String>,

    /// Send every lead as a microconversion ("microconversion":"1" in settings).
    #[arg(long, help_heading = MAPPING)]
    pub microconversion: bool,

    /// IANA time zone of times without a UTC offset (e.g. Europe/Madrid). Required
    /// when the file has such times.
    #[arg(long, value_name = "IANA", help_heading = TIME)]
    pub timezone: Option<String>,

    /// strftime format of the click time column (e.g. "%d/%m/%Y %H:%M") [default:
    /// ISO 8601 and common exports, day/month order decided once per file].
    #[arg(long, value_name = "STRFTIME", help_heading = TIME)]
    pub time_format: Option<String>,

    /// What numbers in the time column count: Excel serial days, or Unix seconds,
    /// milliseconds, microseconds, nanoseconds [default: auto, by magnitude].
    #[arg(long, value_name = "auto|excel|s|ms|us|ns", help_heading = TIME)]
    pub time_unit: Option<String>,

    /// Write a JSON report (per-file and total counts, the settings) to PATH;
    /// {date} in PATH becomes today's date (YYYY-MM-DD).
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    pub report: Option<PathBuf>,

    /// Write rejected rows to a CSV at PATH: file, row, location, field, reason,
    /// then the original cells (fix rows there and import the file again); {date}
    /// in PATH becomes today's date. Written only when the run rejects rows; rows
    /// already in the file (an earlier run the same day) are kept, under one
    /// header. Its directory must exist.
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    pub rejects: Option<PathBuf>,
}
