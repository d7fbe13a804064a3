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
    pub requests: u64,
    /// Clicks applied (including those whose connection was then cut).
    pub accepted: u64,
    pub unauthorized: u64,
    pub forbidden: u64,
    pub bad_request: u64,
    pub rate_limited: u64,
    pub failed: u64,
    pub dropped: u64,
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
