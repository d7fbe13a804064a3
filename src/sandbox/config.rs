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
        }
    }
}
