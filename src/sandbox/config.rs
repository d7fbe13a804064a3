//! What a sandbox is started with: address, credentials and the faults it injects.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub listen: SocketAddr,
    pub token: String,
    pub account_id: String,
    /// Password accepted by the login endpoint (any email).
    pub password: String,
    /// Requests per second before answering 429.
    pub rate_limit: Option<f64>,
    /// Share of valid requests answered 500 (not applied).
    pub fail_rate: f64,
    /// Share of valid requests applied, then answered by cutting the connection.
    pub drop_rate: f64,
    /// Share of valid requests refused with 400 (a lead the server will not take).
    pub reject_rate: f64,
    /// 429 storms: every this often, half a second of 429 + `Retry-After: 1` for all.
    pub storm_every: Option<Duration>,
    pub latency: Duration,
    pub seed: u64,
    /// Append accepted clicks to this JSON Lines file.
    pub record: Option<PathBuf>,
    /// Keep accepted clicks in memory (tests); off for long runs.
    pub keep_clicks: bool,
    /// Outages, timed from the sandbox's start: in each, new connections are refused
    /// (ECONNREFUSED: the listening socket is closed, and bound again afterwards), the
    /// connections open when it begins are closed, and no request is applied.
    /// [`Sandbox::outage`](super::Sandbox::outage) begins one on a running sandbox.
    pub outages: Vec<Outage>,
    /// Share of valid requests applied at once but answered only after `slow`
    /// ([`Click::slow`](super::Click::slow)): a client that gives up first never
    /// hears that its click went through.
    pub slow_rate: f64,
    /// How long a slow answer waits after the click is applied.
    pub slow: Duration,
    /// Share of valid requests answered 200 with an error body (`error_200_body`),
    /// and not applied.
    pub error_200_rate: f64,
    pub error_200_body: ErrorBody,
    /// Answer every POST to the set-click path with this status (301, 302, 303, 307
    /// or 308) and an absolute `Location`: for 307 and 308, [`MOVED_PATH`], which
    /// serves set-click like the real path; for 301, 302 and 303, [`LOGIN_PAGE_PATH`],
    /// an HTML page answering 200 to any method and applying nothing (a client that
    /// follows with a GET sees a success). Those two paths exist only with a redirect.
    ///
    /// [`MOVED_PATH`]: super::MOVED_PATH
    /// [`LOGIN_PAGE_PATH`]: super::LOGIN_PAGE_PATH
    pub redirect: Option<u16>,
    /// Answer every set-click request `retry_after_status` with `Retry-After: N`
    /// (this many seconds), not applied, until N seconds after the first such
    /// answer; then serve normally.
    pub retry_after: Option<u64>,
    /// 429 or 503.
    pub retry_after_status: u16,
    /// What `X-RateLimit-Reset` carries in `rate_limit` answers.
    pub reset_format: ResetFormat,
    /// Answer 404 on the set-click path (a wrong endpoint). Wins over `redirect`.
    pub not_found: bool,
}

/// One outage: from `start` after the sandbox started, for `len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub start: Duration,
    pub len: Duration,
}

/// The body of a 200 that is an error (`error_200_rate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorBody {
    /// `{"status":"error","message":"Invalid account"}`, as application/json.
    #[default]
    Json,
    /// A maintenance page, as text/html.
    Html,
}

/// What `X-RateLimit-Reset` carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResetFormat {
    /// Seconds until the bucket is full again (rounded up).
    #[default]
    Delta,
    /// The Unix time of that instant, in seconds (rounded up).
    EpochS,
    /// The Unix time of that instant, in milliseconds (rounded up).
    EpochMs,
}

/// Redirect statuses the sandbox answers with.
pub(super) const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

impl SandboxConfig {
    /// Refuse what the sandbox could not serve as described.
    pub(super) fn check(&self) -> Result<(), String> {
        if let Some(code) = self.redirect
            && !REDIRECTS.contains(&code)
        {
            return Err(format!(
                "redirect {code}: give one of 301, 302, 303, 307, 308"
            ));
        }
        if ![429, 503].contains(&self.retry_after_status) {
            return Err(format!(
                "retry_after_status {}: give 429 or 503",
                self.retry_after_status
            ));
        }
        if self.retry_after == Some(0) {
            return Err("retry_after: give at least 1 second".into());
        }
        if let Some(o) = self.outages.iter().find(|o| o.len.is_zero()) {
            return Err(format!("outage at {:?}: give it a length", o.start));
        }
        Ok(())
    }
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: "sandbox-token".into(),
            account_id: "sandbox-account".into(),
            password: "sandbox".into(),
            rate_limit: None,
            fail_rate: 0.0,
            drop_rate: 0.0,
            reject_rate: 0.0,
            storm_every: None,
            latency: Duration::ZERO,
            seed: 1,
            record: None,
            keep_clicks: true,
            outages: Vec::new(),
            slow_rate: 0.0,
            slow: Duration::from_secs(35),
            error_200_rate: 0.0,
            error_200_body: ErrorBody::Json,
            redirect: None,
            retry_after: None,
            retry_after_status: 429,
            reset_format: ResetFormat::Delta,
            not_found: false,
        }
    }
}
