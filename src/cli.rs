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
    /// Validate and send every valid lead to the Set-Click API.
    Import(ImportArgs),
    /// What the state store knows: per file, rows sent, rejected, failed, pending.
    Status(StatusArgs),
    /// Run a local Set-Click-compatible server with fault injection.
    Sandbox(SandboxArgs),
    /// Get an API token from the login endpoint.
    Login(LoginArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "The token comes from SEALMETRICS_TOKEN or --token-file, never from a flag \
    value, and is never printed or logged.\n\nExample (nightly, from cron):\n  \
    SEALMETRICS_TOKEN=... SEALMETRICS_ACCOUNT_ID=... setclick import /data/exports/ \\\n    \
    --timezone Europe/Madrid --rate 1/s --report /var/log/setclick/report.json -q"
)]
pub struct ImportArgs {
    /// Files to import: .csv, .tsv, .csv.gz, .tsv.gz, .xlsx, .parquet; a directory
    /// (its supported files, by name) or - (CSV on stdin).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Only validate (the same as `setclick validate`); nothing is sent.
    #[arg(long)]
    pub dry_run: bool,

    /// Start a local sandbox on a free loopback port and import into it (no token
    /// needed): the quickest way to see the whole flow.
    #[arg(long, conflicts_with_all = ["endpoint", "token_file"])]
    pub sandbox: bool,

    /// The full set-click URL; login and accounts URLs are derived from its origin.
    /// Plain http only to loopback addresses.
    #[arg(long, env = "SEALMETRICS_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,

    /// Account id sent with every lead (must match the token's client id).
    #[arg(long, env = "SEALMETRICS_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,

    /// Read the API token from this file (default: the SEALMETRICS_TOKEN variable).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Requests per second (N/s), minute (N/m) or hour (N/h), or unlimited
    /// [default: 1/s; unlimited with --sandbox].
    #[arg(long, value_name = "N/s|N/m|unlimited")]
    pub rate: Option<String>,

    /// Requests that may leave at once after an idle spell.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub burst: u32,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,

    /// Attempts per lead for retryable answers (408, 425, 429, 5xx, network errors).
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub max_attempts: u32,

    /// Seconds to wait for one answer.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,

    /// Unit of click_time on the wire: ms (the endpoint page) or s (the original
    /// v1.0 collection).
    #[arg(long, value_enum, default_value_t = ClickTimeUnitArg::Ms)]
    pub click_time_unit: ClickTimeUnitArg,

    /// Name of the referrer field on the wire.
    #[arg(long, value_enum, default_value_t = ReferrerField::Referrer)]
    pub referrer_field: ReferrerField,

    /// Where imports remember files, rows and sent leads (SQLite), so that an
    /// interrupted import resumes and no lead is sent twice [default: .setclick;
    /// none with --sandbox].
    #[arg(long, env = "SETCLICK_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Keep no state: a one-off send that cannot resume nor skip leads sent before.
    #[arg(long, conflicts_with_all = ["restart", "retry_failed"])]
    pub no_state: bool,

    /// Rows that were in flight when an earlier run died: send them again (nothing
    /// lost; the API may see them twice) or skip them and list them in the report.
    #[arg(long, value_enum, default_value_t = UncertainArg::Resend)]
    pub uncertain: UncertainArg,

    /// Rows that failed in earlier runs are sent again by every run (the default);
    /// this flag is kept for scripts that give it.
    #[arg(long)]
    pub retry_failed: bool,

    /// Do not send again the rows that failed in earlier runs (they stay failed).
    #[arg(long, conflicts_with = "retry_failed")]
    pub no_retry_failed: bool,

    /// How long to wait out an unreachable API (sending paused, one request probing
    /// it), or a wait the API asks for, before stopping with exit 3; the leads not
    /// sent stay pending for the next run. A number with s, m or h.
    #[arg(long, default_value = "30m", value_name = "DURATION")]
    pub max_outage: String,

    /// Forget what earlier runs did with these files (needed to import a file again
    /// under other settings). The ledger still skips leads sent before, unless
    /// --no-dedupe.
    #[arg(long)]
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UncertainArg {
    Resend,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClickTimeUnitArg {
    Ms,
    S,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReferrerField {
    Referrer,
    #[value(name = "referrer_url")]
    ReferrerUrl,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these files (matched by content, so renamed copies count); default all.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The state directory to read.
    #[arg(
        long,
        env = "SETCLICK_STATE_DIR",
        default_value = ".setclick",
        value_name = "DIR"
    )]
    pub state_dir: PathBuf,

    /// Print JSON (an array of files) for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on. Loopback unless you mean otherwise.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR")]
    pub listen: String,

    /// Bearer token the sandbox accepts (a test value, not a real token).
    #[arg(
        long,
        env = "SETCLICK_SANDBOX_TOKEN",
        default_value = "sandbox-token",
        value_name = "T"
    )]
    pub token: String,

    /// The account id the sandbox accepts.
    #[arg(long, default_value = "sandbox-account", value_name = "A")]
    pub account_id: String,

    /// Password accepted by POST /api/auth/login (any email).
    #[arg(long, default_value = "sandbox", value_name = "P")]
    pub password: String,

    /// Append every accepted click to this JSON Lines file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub record: Option<PathBuf>,

    /// Answer 429 (with Retry-After and X-RateLimit-* headers) beyond N requests a second.
    #[arg(long, value_name = "N/s")]
    pub rate_limit: Option<String>,

    /// Share of valid requests answered 500 and not applied (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub fail_rate: f64,

    /// Share of valid requests applied and then answered by cutting the connection.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub drop_rate: f64,

    /// Share of valid requests refused with 400, as a server refuses a lead it will
    /// not take (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub reject_rate: f64,

    /// 429 storms: every N seconds, half a second in which every request gets 429
    /// with Retry-After: 1.
    #[arg(long, value_name = "SECS")]
    pub storm_every: Option<f64>,

    /// Delay before each answer, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub latency_ms: u64,

    /// Seed of the fault dice, to repeat a run.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,

    /// Outage: from START seconds after the sandbox started, for SECS seconds, refuse
    /// new connections (ECONNREFUSED), close the open ones and apply nothing; then
    /// listen on the same address again. Repeatable; decimals allowed (e.g. 10:2.5).
    #[arg(long, value_name = "START:SECS")]
    pub outage: Vec<String>,

    /// Share of valid requests applied at once but answered only after --slow-ms
    /// (0 to 1): a client that times out first never hears the click went through.
    /// The record marks them "slow": true.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub slow_rate: f64,

    /// How long a slow answer (--slow-rate) waits, in milliseconds; the default is
    /// beyond the importer's default 30 s --timeout.
    #[arg(long, default_value_t = 35_000, value_name = "MS")]
    pub slow_ms: u64,

    /// Share of valid requests answered 200 with an error body and not applied
    /// (0 to 1).
    #[arg(long = "error-200", default_value_t = 0.0, value_name = "P")]
    pub error_200: f64,

    /// Body of the --error-200 answers: json ({"status":"error","message":"Invalid
    /// account"}) or html (a maintenance page, text/html).
    #[arg(
        long = "error-200-body",
        default_value = "json",
        value_name = "json|html",
        value_parser = ["json", "html"]
    )]
    pub error_200_body: String,

    /// Answer every POST to the set-click path with this redirect, Location on this
    /// sandbox: 307 and 308 to /api/auth/v1.0/set-click-moved (served like
    /// set-click); 301, 302 and 303 to /login, an HTML page that answers 200 to any
    /// method and applies nothing.
    #[arg(long, value_name = "STATUS", value_parser = ["301", "302", "303", "307", "308"])]
    pub redirect: Option<String>,

    /// Answer every set-click request with --retry-after-status and Retry-After: SECS
    /// (whole seconds), not applied, until SECS seconds after the first such answer;
    /// then serve normally.
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u64>,

    /// Status of the --retry-after answers.
    #[arg(
        long,
        default_value = "429",
        value_name = "429|503",
        value_parser = ["429", "503"],
        requires = "retry_after"
    )]
    pub retry_after_status: String,

    /// X-RateLimit-Reset in --rate-limit answers: delta (seconds until the limit
    /// resets), epoch-s (Unix time of the reset, in seconds) or epoch-ms (in
    /// milliseconds).
    #[arg(
        long,
        default_value = "delta",
        value_name = "FORMAT",
        value_parser = ["delta", "epoch-s", "epoch-ms"]
    )]
    pub reset_format: String,

    /// Answer 404 on the set-click path, as a wrong endpoint would (other paths
    /// always get 404).
    #[arg(long, conflicts_with = "redirect")]
    pub not_found: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Account email.
    #[arg(long, env = "SEALMETRICS_EMAIL", value_name = "EMAIL")]
    pub email: String,

    /// The set-click URL whose origin serves /api/auth/login.
    #[arg(long, env = "SEALMETRICS_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,

    /// Save the token to this file (mode 0600) instead of printing it.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,

    /// Send the credentials as a JSON body (newer API pages) instead of a form.
    #[arg(long)]
    pub json: bool,
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

    /// Do not look for duplicate leads, neither in this run nor (import) in the state
    /// store's ledger of leads sent before: every valid row is emitted or sent. Saves
    /// the duplicate check's memory (about 9 MiB, and 26 MiB once it has seen more
    /// than ~460,000 leads, however many more) and its temporary file (16 bytes a
    /// lead, in TMPDIR).
    #[arg(long)]
    pub no_dedupe: bool,

    /// Write a JSON report (per-file and total counts) to PATH.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Write rejected rows to a CSV at PATH: row, location, field, reason, then the
    /// original cells.
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,

    /// Read the folders inside a directory given as FILE too (by default they are
    /// listed as skipped).
    #[arg(long, short = 'r')]
    pub recursive: bool,
}
