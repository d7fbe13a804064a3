//! What the sandbox keeps of its traffic: the counts ([`Stats`]), the clicks it
//! applied ([`Click`]) and the JSON Lines file they are appended to (`--record`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

use super::lock;

/// What the sandbox has answered so far.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// Set-click requests that reached the handler (on the real path or, with a 307
    /// or 308 redirect, the moved one), whatever their answer. Requests cut at the
    /// door by an outage are in `outage_cut` only.
    pub requests: u64,
    /// Clicks applied (including those whose connection was then cut).
    pub accepted: u64,
    pub unauthorized: u64,
    pub forbidden: u64,
    pub bad_request: u64,
    pub rate_limited: u64,
    pub failed: u64,
    /// Applied, then cut (`drop_rate`).
    pub dropped: u64,
    /// Applied at once, answered late (`slow_rate`).
    pub slow: u64,
    /// Answered 200 with an error body and not applied (`error_200_rate`).
    pub error_200: u64,
    /// POSTs to the set-click path answered with a redirect (`redirect`).
    pub redirected: u64,
    /// Requests (any method) to the login page that 301, 302 and 303 point to.
    pub login_page: u64,
    /// Answered 429 or 503 with `Retry-After` and not applied (`retry_after`).
    pub retry_after: u64,
    /// Answered 404 on the set-click path (`not_found`).
    pub not_found: u64,
    /// Outages begun (the listening socket closed). Connections refused meanwhile
    /// are refused by the kernel, unseen and uncounted.
    pub outages: u64,
    /// Connections closed because an outage began while they were open (or they
    /// were accepted as it began).
    pub connections_cut: u64,
    /// Requests (any path) cut unanswered and unapplied because they came during
    /// an outage.
    pub outage_cut: u64,
}

/// One accepted click, as received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Click {
    pub account_id: String,
    pub click_time: i64,
    pub url_parameters: Value,
    pub settings: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_url: Option<String>,
    /// Applied, then answered by cutting the connection (`--drop-rate`): the client
    /// never heard it went through.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
    /// Applied at once, answered only after the slow delay (`--slow-rate`): a client
    /// that timed out first never heard it went through.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub slow: bool,
}

/// The `--record` file, if any: one JSON line per applied click.
pub(super) struct Record(Mutex<Option<BufWriter<File>>>);

impl Record {
    pub(super) fn open(path: Option<&Path>) -> std::io::Result<Record> {
        let file = match path {
            Some(p) => Some(BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
            None => None,
        };
        Ok(Record(Mutex::new(file)))
    }

    pub(super) fn write(&self, click: &Click) {
        if let Some(w) = lock(&self.0).as_mut() {
            let _ = serde_json::to_writer(&mut *w, click);
            let _ = w.write_all(b"\n");
        }
    }

    pub(super) fn flush(&self) {
        if let Some(w) = lock(&self.0).as_mut() {
            let _ = w.flush();
        }
    }
}
