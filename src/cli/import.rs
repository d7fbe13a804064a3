//! `setclick import` flags: where and how fast to send, and the state store.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{InputArgs, SENDING, STATE, TargetArgs};

#[derive(Debug, Args)]
#[command(
    args_override_self = true,
    after_help = "The token comes from SEALMETRICS_TOKEN or --token-file, never from a flag \
    value, and is never printed or logged.\n\nNightly, from cron (see README, A nightly import \
    from cron):\n  setclick import /data/exports/ --config /etc/setclick/nightly.toml"
)]
pub struct ImportArgs {
    /// Files to import: .csv, .tsv, .csv.gz, .tsv.gz, .xlsx, .parquet; a directory
    /// (its lead files, by name) or - (CSV on stdin).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Only validate (the same as `setclick validate`); nothing is sent.
    #[arg(long, help_heading = SENDING)]
    pub dry_run: bool,

    /// Start a local sandbox on a free loopback port and import into it (no token
    /// needed): the quickest way to see the whole flow.
    #[arg(long, conflicts_with_all = ["token_file"], help_heading = SENDING)]
    pub sandbox: bool,

    /// Requests per second, minute or hour (N/s, N/m, N/h; N may be a fraction), or
    /// unlimited [default: 1/s; unlimited with --sandbox].
    #[arg(long, value_name = "N/s|N/m|N/h|unlimited", help_heading = SENDING)]
    pub rate: Option<String>,

    /// Requests that may leave at once after an idle spell.
    #[arg(long, default_value_t = 1, value_name = "N", help_heading = SENDING)]
    pub burst: u32,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N", help_heading = SENDING)]
    pub concurrency: usize,

    /// Attempts per lead for retryable answers (408, 425, 429, 5xx, cut
    /// connections); an outage uses none of them.
    #[arg(long, default_value_t = 6, value_name = "N", help_heading = SENDING)]
    pub max_attempts: u32,

    /// Seconds to wait for one answer; a request unanswered by then is uncertain.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", help_heading = SENDING)]
    pub timeout: f64,

    /// How long to wait out an unreachable API (sending paused, one request probing
    /// it), or a wait the API asks for, before stopping with exit 3; the leads not
    /// sent stay pending for the next run. A number with s, m or h.
    #[arg(long, default_value = "30m", value_name = "DURATION", help_heading = SENDING)]
    pub max_outage: String,

    /// Unit of click_time on the wire: ms (the endpoint page) or s (the original
    /// v1.0 collection).
    #[arg(long, value_enum, default_value_t = ClickTimeUnitArg::Ms, help_heading = SENDING)]
    pub click_time_unit: ClickTimeUnitArg,

    /// Name of the referrer field on the wire.
    #[arg(long, value_enum, default_value_t = ReferrerField::Referrer, help_heading = SENDING)]
    pub referrer_field: ReferrerField,

    /// Where imports remember files, rows and sent leads (SQLite), so that an
    /// interrupted import resumes and no lead is sent twice [default: .setclick;
    /// none with --sandbox].
    #[arg(long, env = "SETCLICK_STATE_DIR", value_name = "DIR", help_heading = STATE)]
    pub state_dir: Option<PathBuf>,

    /// Keep no state: a one-off send that cannot resume nor skip leads sent before.
    #[arg(long, conflicts_with_all = ["restart", "retry_failed"], help_heading = STATE)]
    pub no_state: bool,

    /// Rows whose request may have reached the API without an answer (a run that
    /// died, a timeout, a cut connection): send them again (nothing lost; the API
    /// may see them twice) or only list them. Both list them in the report.
    #[arg(long, value_enum, default_value_t = UncertainArg::Resend, help_heading = STATE)]
    pub uncertain: UncertainArg,

    /// Rows that failed in earlier runs are sent again by every run (the default);
    /// this flag is kept for scripts that give it.
    #[arg(long, help_heading = STATE)]
    pub retry_failed: bool,

    /// Do not send again the rows that failed in earlier runs (they stay failed).
    #[arg(long, conflicts_with = "retry_failed", help_heading = STATE)]
    pub no_retry_failed: bool,

    /// Forget what earlier runs did with these files (needed to import a file again
    /// under other settings). The ledger still skips leads sent before, unless
    /// --no-dedupe.
    #[arg(long, help_heading = STATE)]
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
