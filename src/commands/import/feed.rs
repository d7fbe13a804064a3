//! The pipeline's consumer during an import: counts and rejects rows, consults the
//! state store (rows done before, uncertain rows, the ledger of sent leads), marks
//! new leads in flight one batch at a time and queues them for the senders.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::dispatch::queue::LeadQueue;
use crate::lead::Lead;
use crate::normalize::Rejected;
use crate::pipeline::{Consumer, FileInfo};
use crate::progress::Progress;
use crate::report::RejectsWriter;
use crate::state::{Ledger, LedgerKey, MarkDone, Prior, RowOutcome, RowState, WriterHandle};
use crate::tally::{Checked, FileTally, Seen};

/// Leads handed to the senders at once, and without a store also the queue length
/// at which the feed pushes the next batch.
const BATCH: usize = 256;

/// With a store each batch is first marked in flight (one commit), and what a
/// crash leaves uncertain is what was marked but not answered: the batch, the
/// queue (down to its low-water mark), `--concurrency`, and answers not yet committed
/// (they go with the next batch's commit). So a batch is sized to about
/// `MARK_WINDOW` of sending: from `MIN_MARK` leads (slow or rate-limited runs) up
/// to `MAX_MARK` (unlimited runs against a fast server, where batches of 32 meant
/// a commit every 300 µs and cost a fifth of the throughput; 1024 was a little
/// faster again but held 10 MiB more of leads in memory).
const MARK_WINDOW: Duration = Duration::from_millis(10);
const MIN_MARK: usize = 32;
const MAX_MARK: usize = 512;

/// The queue's low-water mark at the start of a file.
pub fn low_water(with_store: bool) -> usize {
    if with_store { MIN_MARK / 2 } else { BATCH }
}

/// The size of the next batch after `n` leads took `elapsed` to go through. The
/// queue's low-water mark is half of it: what the senders have to work on while
/// the next batch's mark is committed.
fn mark_size(n: usize, elapsed: Duration) -> usize {
    let per_window = n as f64 * MARK_WINDOW.as_secs_f64() / elapsed.as_secs_f64().max(1e-6);
    (per_window as usize).clamp(MIN_MARK, MAX_MARK)
}

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
            key: None,
        });
    }
}

pub(super) struct Feed {
    books: Arc<Mutex<Books>>,
    pub queue: Arc<LeadQueue>,
    name: String,
    state: Option<FileState>,
    /// Leads to send, with their fingerprints, not yet checked against the ledger.
    batch: Vec<(u128, Lead)>,
    /// The batch size now.
    batch_size: usize,
    /// When the batch size was last set, and how many leads the senders had taken.
    measured: Option<(Instant, u64)>,
}

impl Feed {
    pub fn new(
        books: Arc<Mutex<Books>>,
        queue: Arc<LeadQueue>,
        name: String,
        state: Option<FileState>,
    ) -> Feed {
        Feed {
            books,
            queue,
            name,
            batch_size: if state.is_some() { MIN_MARK } else { BATCH },
            state,
            batch: Vec::new(),
            measured: None,
        }
    }

    /// Size the batches to the senders' pace, measured over at least a window.
    fn resize(&mut self) {
        let (now, taken) = (Instant::now(), self.queue.taken());
        match self.measured {
            Some((then, _)) if now - then < MARK_WINDOW => {}
            Some((then, before)) => {
                self.batch_size = mark_size((taken - before) as usize, now - then);
                self.queue.set_low_water(self.batch_size / 2);
                self.measured = Some((now, taken));
            }
            None => self.measured = Some((now, taken)),
        }
    }
}

impl Feed {
    /// Queue the batch; with a store, have it marked in flight (durably) first.
    /// Back-pressure: this waits while the senders are busy. A closed queue means
    /// the run stopped.
    fn flush(&mut self) -> ControlFlow<()> {
        let candidates = std::mem::take(&mut self.batch);
        if candidates.is_empty() {
            return ControlFlow::Continue(());
        }
        let batch = match self.unsent(candidates) {
            Ok(b) => b,
            Err(e) => {
                books(&self.books).store_error.get_or_insert(e);
                return ControlFlow::Break(());
            }
        };
        if batch.is_empty() {
            return ControlFlow::Continue(());
        }
        let Some(st) = &self.state else {
            return match self.queue.push(batch) {
                Ok(()) => ControlFlow::Continue(()),
                Err(unsent) => {
                    books(&self.books).tally.report.counts.pending += unsent.len() as u64;
                    ControlFlow::Break(())
                }
            };
        };
        // Room is reserved only once the queue has room, so that what is marked
        // and not yet taken by a sender is at most this batch and the queue's
        // low-water mark. The writer queues the batch as soon as its mark is
        // committed, while this thread goes on to the next one.
        if self.queue.mark_failed() || !self.queue.reserve(batch.len()) {
            books(&self.books).tally.report.counts.pending += batch.len() as u64;
            return ControlFlow::Break(());
        }
        let (queue, file_id, n) = (Arc::clone(&self.queue), st.file_id, batch.len());
        let rows = batch.iter().map(|l| l.row).collect();
        st.writer.mark_inflight_then(
            file_id,
            rows,
            MarkDone::new(move |ok| {
                if !ok {
                    queue.cancel(n);
                    return Vec::new();
                }
                match queue.deliver(batch) {
                    Ok(()) => Vec::new(),
                    // The run stopped meanwhile: known not sent.
                    Err(unsent) => unsent
                        .iter()
                        .map(|l| RowOutcome::unsent(file_id, l.row))
                        .collect(),
                }
            }),
        );
        self.resize();
        ControlFlow::Continue(())
    }

    /// Wait until the batches being marked have reached the senders or failed;
    /// count those that did not as pending. Call once the pipeline is done.
    pub fn settle(&mut self) {
        if self.state.is_none() {
            return;
        }
        let lost = self.queue.settle();
        let mut b = books(&self.books);
        b.tally.report.counts.pending += lost;
        if self.queue.mark_failed() {
            b.store_error
                .get_or_insert_with(|| "the state store could not record leads in flight".into());
        }
    }

    /// Drop the leads the ledger has seen sent before (one read for the batch).
    fn unsent(&self, candidates: Vec<(u128, Lead)>) -> Result<Vec<Lead>, String> {
        let Some((st, ledger)) = self
            .state
            .as_ref()
            .and_then(|st| st.ledger.as_ref().map(|l| (st, l)))
        else {
            return Ok(candidates.into_iter().map(|(_, l)| l).collect());
        };
        let keys: Vec<LedgerKey> = candidates
            .iter()
            .map(|(fp, lead)| LedgerKey::new(lead.click_time, *fp))
            .collect();
        let seen = ledger.contains_many(&keys).map_err(|e| e.to_string())?;
        let mut send = Vec::with_capacity(candidates.len());
        let mut skipped = 0;
        for ((_, lead), before) in candidates.into_iter().zip(seen) {
            if before {
                skipped += 1;
                st.record(
                    lead.row,
                    RowState::Skipped,
                    Some("sent before (ledger)".into()),
                );
            } else {
                send.push(lead);
            }
        }
        books(&self.books).tally.report.counts.skipped += skipped;
        Ok(send)
    }

    /// What to do with a valid lead; `true`: send it (unless the ledger knows it).
    fn decide(&self, b: &mut Books, row: u64, fingerprint: u128) -> bool {
        let Books { tally, seen, .. } = b;
        let c = &mut tally.report.counts;
        if let Some(st) = &self.state {
            if st.prior.done.get(row) {
                c.skipped += 1;
                return false;
            }
            if st.prior.uncertain.contains(&row) {
                c.uncertain += 1;
                tally.report.uncertain_rows.push(row);
                if st.uncertain_skip {
                    return false;
                }
            }
        }
        if !seen.first(fingerprint) {
            c.duplicates += 1;
            if let Some(st) = &self.state {
                st.record(row, RowState::Duplicate, None);
            }
            return false;
        }
        true
    }

    /// One row, in file order.
    fn outcome(&mut self, checked: Checked<Lead>) -> ControlFlow<()> {
        match checked {
            Checked::Valid(v) => {
                let send = {
                    let mut b = books(&self.books);
                    b.tally.count_valid(v.dst);
                    self.decide(&mut b, v.payload.row, v.fingerprint)
                };
                if send {
                    self.batch.push((v.fingerprint, v.payload));
                    if self.batch.len() >= self.batch_size {
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
}

impl Consumer<Checked<Lead>> for Feed {
    fn batch(&mut self, items: Vec<Checked<Lead>>, _text: &str) -> ControlFlow<()> {
        books(&self.books).seen.warm(&items);
        for checked in items {
            self.outcome(checked)?;
        }
        ControlFlow::Continue(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_batches_cover_about_ten_milliseconds_of_sending() {
        // The batch size, and the low-water mark the feed sets from it.
        let sizes = |n, elapsed| {
            let batch = mark_size(n, elapsed);
            (batch, batch / 2)
        };
        // 32 leads in 1 s (a rate-limited run): the smallest batch and low-water mark.
        assert_eq!(sizes(32, Duration::from_secs(1)), (MIN_MARK, MIN_MARK / 2));
        // 200 leads/ms: 2000 in the window, capped; the queue refills at half a batch.
        assert_eq!(
            sizes(512, Duration::from_micros(2560)),
            (MAX_MARK, MAX_MARK / 2)
        );
        // 10 leads/ms: 100, refilled at 50 (5 ms of sending).
        assert_eq!(sizes(100, Duration::from_millis(10)), (100, 50));
        // 2 leads/ms: the smallest batch, 32; refilled at 16.
        assert_eq!(sizes(20, Duration::from_millis(10)), (MIN_MARK, 16));
        assert_eq!(sizes(100, Duration::ZERO), (MAX_MARK, MAX_MARK / 2));
    }
}
