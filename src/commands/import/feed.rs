//! The pipeline's consumer during an import: counts and rejects rows, consults the
//! state store (rows done before, uncertain rows, the ledger of sent leads), marks
//! new leads in flight one batch at a time and queues them for the senders.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::lead::Lead;
use crate::normalize::Rejected;
use crate::pipeline::{Consumer, FileInfo};
use crate::progress::Progress;
use crate::report::RejectsWriter;
use crate::state::{Ledger, Prior, RowOutcome, RowState, WriterHandle};
use crate::tally::{Checked, FileTally, Seen};

/// Leads marked in flight per commit: after a crash, at most this many plus the
/// senders' own can be uncertain.
pub const INFLIGHT_BATCH: usize = 64;

/// Per-file books shared by the pipeline thread and the event loop.
pub(super) struct Books {
    pub tally: FileTally,
    pub rejects: Option<RejectsWriter>,
    pub seen: Seen,
    pub progress: Progress,
    pub write_error: Option<std::io::Error>,
    pub store_error: Option<String>,
}

pub(super) fn books(b: &Mutex<Books>) -> MutexGuard<'_, Books> {
    b.lock().unwrap_or_else(|p| p.into_inner())
}

/// This file in the state store.
pub(super) struct FileState {
    pub file_id: i64,
    pub prior: Prior,
    /// `None` with `--no-dedupe`.
    pub ledger: Option<Ledger>,
    pub writer: WriterHandle,
    /// `--uncertain skip`: list uncertain rows instead of sending them again.
    pub uncertain_skip: bool,
}

impl FileState {
    pub fn record(&self, row: u64, state: RowState, message: Option<String>) {
        self.writer.outcome(RowOutcome {
            file_id: self.file_id,
            row,
            state,
            status: None,
            message,
            fingerprint: None,
        });
    }
}

pub(super) struct Feed {
    pub books: Arc<Mutex<Books>>,
    pub leads: mpsc::Sender<Lead>,
    pub name: String,
    pub state: Option<FileState>,
    pub batch: Vec<Lead>,
}

impl Feed {
    /// Mark the batch in flight (durably), then queue it. Back-pressure: this waits
    /// while the senders are busy. A closed queue means the run stopped.
    fn flush(&mut self) -> ControlFlow<()> {
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() {
            return ControlFlow::Continue(());
        }
        if let Some(st) = &self.state
            && !st
                .writer
                .mark_inflight(st.file_id, batch.iter().map(|l| l.row).collect())
        {
            let mut b = books(&self.books);
            b.store_error
                .get_or_insert_with(|| "the state store could not record leads in flight".into());
            b.tally.report.counts.pending += batch.len() as u64;
            return ControlFlow::Break(());
        }
        let mut leads = batch.into_iter();
        while let Some(lead) = leads.next() {
            if let Err(unsent) = self.leads.blocking_send(lead) {
                let rows: Vec<u64> = std::iter::once(unsent.0.row)
                    .chain(leads.map(|l| l.row))
                    .collect();
                if let Some(st) = &self.state {
                    for &row in &rows {
                        st.writer.forget(st.file_id, row);
                    }
                }
                books(&self.books).tally.report.counts.pending += rows.len() as u64;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// What to do with a valid lead; `true`: send it.
    fn decide(&self, b: &mut Books, row: u64, fingerprint: u128) -> Result<bool, String> {
        let Books { tally, seen, .. } = b;
        let c = &mut tally.report.counts;
        if let Some(st) = &self.state {
            if st.prior.done.get(row) {
                c.skipped += 1;
                return Ok(false);
            }
            if st.prior.uncertain.contains(&row) {
                c.uncertain += 1;
                tally.report.uncertain_rows.push(row);
                if st.uncertain_skip {
                    return Ok(false);
                }
            }
        }
        if !seen.first(fingerprint) {
            c.duplicates += 1;
            if let Some(st) = &self.state {
                st.record(row, RowState::Duplicate, None);
            }
            return Ok(false);
        }
        if let Some(st) = &self.state
            && let Some(ledger) = &st.ledger
            && ledger.contains(fingerprint).map_err(|e| e.to_string())?
        {
            c.skipped += 1;
            st.record(row, RowState::Skipped, Some("sent before (ledger)".into()));
            return Ok(false);
        }
        Ok(true)
    }
}

impl Consumer<Checked<Lead>> for Feed {
    fn start(&mut self, info: &FileInfo) {
        let mut b = books(&self.books);
        let Books {
            tally,
            rejects,
            progress,
            write_error,
            ..
        } = &mut *b;
        if let Err(e) = tally.start(info, rejects.as_mut()) {
            write_error.get_or_insert(e);
        }
        progress.start_file(&self.name, info);
    }

    fn outcome(&mut self, checked: Checked<Lead>) -> ControlFlow<()> {
        match checked {
            Checked::Valid(v) => {
                let send = {
                    let mut b = books(&self.books);
                    b.tally.count_valid(v.dst);
                    match self.decide(&mut b, v.payload.row, v.fingerprint) {
                        Ok(send) => send,
                        Err(e) => {
                            b.store_error.get_or_insert(e);
                            return ControlFlow::Break(());
                        }
                    }
                };
                if send {
                    self.batch.push(v.payload);
                    if self.state.is_none() || self.batch.len() >= INFLIGHT_BATCH {
                        return self.flush();
                    }
                }
            }
            Checked::Rejected(r) => {
                if let Some(st) = &self.state {
                    st.record(r.row, RowState::Rejected, Some(reasons(&r)));
                }
                let mut b = books(&self.books);
                let Books {
                    tally,
                    rejects,
                    write_error,
                    ..
                } = &mut *b;
                if let Err(e) = tally.rejected(&r, true, rejects.as_mut()) {
                    write_error.get_or_insert(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn finish(&mut self) -> ControlFlow<()> {
        self.flush()
    }
}

fn reasons(r: &Rejected) -> String {
    r.problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.reason))
        .collect::<Vec<_>>()
        .join("; ")
}
