//! `setclick sandbox` flags: where it listens, what it accepts, the faults it
//! injects.

use std::path::PathBuf;

use clap::Args;

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
