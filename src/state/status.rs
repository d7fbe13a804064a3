//! What `setclick status` shows: per file, the rows sent, rejected, failed,
//! uncertain and pending, and the last run; and whether an import runs now (its
//! rows in flight are then in flight, not uncertain).

use serde::Serialize;

use super::{RowState, StateError, Store, lock};

/// An import running on the store now, as its lock says.
#[derive(Debug, Clone, Serialize)]
pub struct Live {
    /// `pid N started T`.
    pub holder: String,
    /// Its run's number in the store.
    #[serde(skip)]
    pub run: Option<i64>,
}

impl Store {
    /// The import running on this store now, if one is (other than this store's
    /// own: an import asking is not watching another).
    pub fn live(&self) -> Result<Option<Live>, StateError> {
        if self._lock.is_some() {
            return Ok(None);
        }
        let Some(holder) = lock::holder(&self.dir) else {
            return Ok(None);
        };
        let run = self
            .conn
            .query_row("SELECT max(id) FROM runs WHERE ended_at IS NULL", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map_err(|e| self.err(e))?;
        Ok(Some(Live { holder, run }))
    }

    /// Per-file summaries, newest first; only `fingerprints` when given.
    pub fn status(&self, fingerprints: Option<&[String]>) -> Result<Vec<FileStatus>, StateError> {
        let live_run = self.live()?.and_then(|l| l.run);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.id, f.fingerprint, f.path, f.rows, f.finished, f.account,
                        r.started_at, r.ended_at, r.exit_code, f.last_run
                 FROM files f LEFT JOIN runs r ON r.id = f.last_run ORDER BY f.id DESC",
            )
            .map_err(|e| self.err(e))?;
        let all = stmt
            .query_map([], |r| {
                Ok(FileStatus {
                    file_id: r.get(0)?,
                    fingerprint: r.get(1)?,
                    path: r.get(2)?,
                    rows: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    finished: r.get(4)?,
                    account: r.get(5)?,
                    sent: 0,
                    rejected: 0,
                    failed: 0,
                    uncertain: 0,
                    skipped: 0,
                    pending: None,
                    last_run: time(r.get(6)?),
                    last_run_ended: time(r.get(7)?),
                    last_exit: r.get(8)?,
                    importing: live_run.is_some() && r.get::<_, Option<i64>>(9)? == live_run,
                    in_flight: 0,
                    uncertain_rows: Vec::new(),
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for mut s in all {
            if fingerprints.is_some_and(|f| !f.contains(&s.fingerprint)) {
                continue;
            }
            let outcomes = self.outcomes(s.file_id)?;
            s.sent = outcomes.sent.count();
            for (_, state) in outcomes.others() {
                match state {
                    Some(RowState::Sent) => s.sent += 1,
                    Some(RowState::Rejected) => s.rejected += 1,
                    Some(RowState::Failed) => s.failed += 1,
                    Some(RowState::Duplicate | RowState::Skipped) => s.skipped += 1,
                    Some(RowState::Pending) | None => {}
                }
            }
            let open = self.uncertain_rows(s.file_id, &outcomes)?;
            if s.importing {
                // Marked by the import running now, and not answered yet.
                s.in_flight = open.len() as u64;
            } else {
                s.uncertain = open.len() as u64;
                s.uncertain_rows = open;
            }
            s.pending = s.rows.map(|r| {
                r.saturating_sub(
                    s.sent + s.rejected + s.failed + s.uncertain + s.skipped + s.in_flight,
                )
            });
            out.push(s);
        }
        Ok(out)
    }
}

/// What `setclick status` shows for one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    #[serde(skip)]
    pub file_id: i64,
    pub path: String,
    pub account: String,
    pub fingerprint: String,
    /// Data rows, once the file has been read to its end.
    pub rows: Option<u64>,
    pub finished: bool,
    pub sent: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Rows in flight when a run died (or left uncertain by a run): sent or not,
    /// nobody knows.
    pub uncertain: u64,
    /// Duplicates and leads already sent from another file.
    pub skipped: u64,
    /// Rows without an outcome yet (when the row count is known).
    pub pending: Option<u64>,
    /// When the last run that opened this file started, and ended (with its exit
    /// code), or `None` while it runs or when it died.
    pub last_run: Option<String>,
    pub last_run_ended: Option<String>,
    pub last_exit: Option<i32>,
    /// An import is sending this file now.
    pub importing: bool,
    /// Rows in flight in the import running now.
    pub in_flight: u64,
    pub uncertain_rows: Vec<u64>,
}

fn time(secs: Option<i64>) -> Option<String> {
    secs.and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
}
