//! What `setclick status` shows: per file, the rows sent, rejected, failed,
//! uncertain and pending, and the last run.

use serde::Serialize;

use super::{RowState, StateError, Store};

impl Store {
    /// Per-file summaries, newest first; only `fingerprints` when given.
    pub fn status(&self, fingerprints: Option<&[String]>) -> Result<Vec<FileStatus>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.id, f.fingerprint, f.path, f.rows, f.finished, f.account,
                        (SELECT max(coalesce(r.ended_at, r.started_at)) FROM runs r WHERE r.id IN
                           (SELECT run_id FROM rows WHERE file_id = f.id
                            UNION SELECT run_id FROM sent WHERE file_id = f.id))
                 FROM files f ORDER BY f.id DESC",
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
                    last_run: r
                        .get::<_, Option<i64>>(6)?
                        .and_then(|s| jiff::Timestamp::from_second(s).ok())
                        .map(|t| t.to_string()),
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
            s.uncertain_rows = self.uncertain_rows(s.file_id, &outcomes)?;
            s.uncertain = s.uncertain_rows.len() as u64;
            s.pending = s.rows.map(|r| {
                r.saturating_sub(s.sent + s.rejected + s.failed + s.uncertain + s.skipped)
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
    /// Rows in flight when a run died.
    pub uncertain: u64,
    /// Duplicates and leads already sent from another file.
    pub skipped: u64,
    /// Rows without an outcome yet (when the row count is known).
    pub pending: Option<u64>,
    pub last_run: Option<String>,
    pub uncertain_rows: Vec<u64>,
}
