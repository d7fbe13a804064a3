//! The import's in-order consumer, on the pipeline's thread: decides what each row
//! needs (rows done before, uncertain rows, duplicates, the ledger of sent leads),
//! tells the recorder, and hands new leads to the senders a batch at a time through
//! the in-flight protocol.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::{Entry, Intake, Message};
use crate::dispatch::Stop;
use crate::engine::checked::{Checked, Seen};
use crate::engine::fate::RowFate;
use crate::engine::inflight::Handoff;
use crate::engine::pipeline::{Consumer, FileInfo};
use crate::lead::Lead;
use crate::profile::Profiler;
use crate::state::{Ledger, LedgerKey, Prior};

/// Leads handed to the senders at once without a store.
const BATCH: usize = 256;

/// With a store each batch is first marked in flight (one commit), and what a
/// crash leaves uncertain grows with the batch (see [`crate::engine::inflight`]).
/// So a batch is sized to about `MARK_WINDOW` of sending: from `MIN_MARK` leads
/// (slow or rate-limited runs) up to `MAX_MARK` (unlimited runs against a fast
/// server, where batches of 32 meant a commit every 300 µs and cost a fifth of the
/// throughput; 1024 was a little faster again but held 10 MiB more of leads).
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

/// What the store knew of this file before the run.
pub struct Known {
    pub prior: Prior,
    /// `None` with `--no-dedupe`.
    pub ledger: Option<Ledger>,
    /// `--uncertain skip`: list uncertain rows instead of sending them again.
    pub uncertain_skip: bool,
}

pub struct Feed {
    /// The file's name, in warnings.
    name: String,
    handoff: Arc<Handoff>,
    to_recorder: UnboundedSender<Message>,
    seen: Seen,
    known: Option<Known>,
    stop: Stop,
    /// Rows decided and not yet told to the recorder.
    intake: Intake,
    /// Leads to send, with their fingerprints and whether an earlier run left
    /// them uncertain, not yet checked against the ledger.
    batch: Vec<(u128, Lead, bool)>,
    batch_size: usize,
    /// When the batch size was last set, and how many leads the senders had taken.
    measured: Option<(Instant, u64)>,
}

impl Feed {
    pub fn new(
        name: String,
        handoff: Arc<Handoff>,
        to_recorder: UnboundedSender<Message>,
        seen: Seen,
        known: Option<Known>,
        stop: Stop,
    ) -> Feed {
        Feed {
            name,
            handoff,
            to_recorder,
            seen,
            batch_size: if known.is_some() { MIN_MARK } else { BATCH },
            known,
            stop,
            intake: Intake::default(),
            batch: Vec::new(),
            measured: None,
        }
    }

    /// After the pipeline: wait until every marked batch has reached the senders
    /// (or failed), and give back the duplicate check for the next file.
    pub fn finish_file(self) -> Seen {
        let settled = self.handoff.settle();
        if settled.mark_failed {
            self.tell(Message::StoreFailed(
                "the state store could not record leads in flight".into(),
            ));
        }
        self.seen
    }

    fn tell(&self, m: Message) {
        // The recorder outlives the pipeline; a send fails only if it panicked.
        let _ = self.to_recorder.send(m);
    }

    /// Tell the recorder what was decided since last time.
    fn report(&mut self) {
        if !self.intake.is_empty() {
            let intake = std::mem::take(&mut self.intake);
            self.tell(Message::Intake(intake));
        }
    }

    /// Size the batches to the senders' pace, measured over at least a window.
    fn resize(&mut self) {
        let queue = self.handoff.queue();
        let (now, taken) = (Instant::now(), queue.taken());
        match self.measured {
            Some((then, _)) if now - then < MARK_WINDOW => {}
            Some((then, before)) => {
                self.batch_size = mark_size((taken - before) as usize, now - then);
                queue.set_low_water(self.batch_size / 2);
                self.measured = Some((now, taken));
            }
            None => self.measured = Some((now, taken)),
        }
    }

    /// Check the batch against the ledger, tell the recorder, and hand what is new
    /// to the senders (waiting while they are busy). `Break`: the run stopped.
    fn flush(&mut self) -> ControlFlow<()> {
        let candidates = std::mem::take(&mut self.batch);
        let send = match self.unsent(candidates) {
            Ok(b) => b,
            Err(e) => {
                self.report();
                self.tell(Message::StoreFailed(e));
                return ControlFlow::Break(());
            }
        };
        self.report();
        if send.is_empty() {
            return ControlFlow::Continue(());
        }
        if self.handoff.mark(send).is_err() {
            // Stopped: those leads stay pending.
            return ControlFlow::Break(());
        }
        if self.known.is_some() {
            self.resize();
        }
        ControlFlow::Continue(())
    }

    /// Leave out the leads the ledger has seen sent before (one read for the
    /// batch); every candidate is told to the recorder as in the ledger or pending.
    fn unsent(&mut self, candidates: Vec<(u128, Lead, bool)>) -> Result<Vec<Lead>, String> {
        let ledger = self.known.as_ref().and_then(|k| k.ledger.as_ref());
        let seen = match ledger {
            Some(ledger) => {
                let keys: Vec<LedgerKey> = candidates
                    .iter()
                    .map(|(fp, lead, _)| LedgerKey::new(lead.click_time, *fp))
                    .collect();
                ledger.contains_many(&keys).map_err(|e| e.to_string())?
            }
            None => vec![false; candidates.len()],
        };
        let mut send = Vec::with_capacity(candidates.len());
        for ((_, lead, uncertain_before), before) in candidates.into_iter().zip(seen) {
            let fate = if before {
                RowFate::InLedger
            } else {
                RowFate::Pending
            };
            self.enter(lead.row, fate, uncertain_before);
            if !before {
                send.push(lead);
            }
        }
        Ok(send)
    }

    /// What a valid lead needs: `Some(uncertain before)` to send it (unless the
    /// ledger knows it), `None` when it is decided here.
    fn decide(&mut self, row: u64, fingerprint: u128) -> Option<bool> {
        let mut uncertain_before = false;
        if let Some(k) = &self.known {
            if k.prior.done.get(row) {
                self.intake.entries.push(Entry::new(row, RowFate::Resumed));
                return None;
            }
            if k.prior.uncertain.contains(&row) {
                if k.uncertain_skip {
                    self.intake.entries.push(Entry {
                        uncertain_before: true,
                        ..Entry::new(row, RowFate::Uncertain)
                    });
                    return None;
                }
                uncertain_before = true;
            }
        }
        if !self.seen.first(fingerprint) {
            self.intake.entries.push(Entry {
                uncertain_before,
                ..Entry::new(row, RowFate::Duplicate)
            });
            return None;
        }
        Some(uncertain_before)
    }

    /// The run stopped: the leads gathered for the next mark and the rest of the
    /// batch are decided (resumed, duplicate...) and the ones to send left
    /// pending, not sent; rejected rows are told as rejected. The next run sends
    /// the pending ones.
    fn set_aside(&mut self, rest: impl Iterator<Item = Checked<Lead>>) {
        for (_, lead, uncertain_before) in std::mem::take(&mut self.batch) {
            self.enter(lead.row, RowFate::Pending, uncertain_before);
        }
        for checked in rest {
            match checked {
                Checked::Valid(v) => {
                    if let Some(u) = self.decide(v.payload.row, v.fingerprint) {
                        self.enter(v.payload.row, RowFate::Pending, u);
                    }
                }
                Checked::Rejected(r) => self.intake.rejected.push(r),
            }
        }
    }

    /// A valid row's first fate, told to the recorder with what it knew before.
    fn enter(&mut self, row: u64, fate: RowFate, uncertain_before: bool) {
        let recorded_before = self
            .known
            .as_ref()
            .is_some_and(|k| k.prior.recorded.get(row));
        self.intake.entries.push(Entry {
            row,
            fate,
            uncertain_before,
            recorded_before,
        });
    }

    /// One row, in file order.
    fn row(&mut self, checked: Checked<Lead>) -> ControlFlow<()> {
        match checked {
            Checked::Valid(v) => {
                if let Some(uncertain_before) = self.decide(v.payload.row, v.fingerprint) {
                    self.batch
                        .push((v.fingerprint, v.payload, uncertain_before));
                    if self.batch.len() >= self.batch_size {
                        return self.flush();
                    }
                }
            }
            Checked::Rejected(r) => self.intake.rejected.push(r),
        }
        ControlFlow::Continue(())
    }
}

impl Consumer<Checked<Lead>> for Feed {
    fn start(&mut self, info: &FileInfo) {
        self.tell(Message::Started(Box::new(info.clone())));
    }

    /// The first batch's warnings, said before any lead is handed to the senders
    /// (the whole file's come with the summary).
    fn sampled(&mut self, profile: &Profiler) {
        for w in profile.warnings() {
            tracing::warn!(
                "{}: in the first {} leads read, before sending: {}; sending them anyway \
                 (Ctrl-C stops the import)",
                self.name,
                profile.leads(),
                w.message
            );
        }
    }

    /// The whole batch is always taken: when the run stops part way, the rest is
    /// decided and left pending ([`Feed::set_aside`]), so that the file's counts
    /// cover the same rows as its profile (which the pipeline adds per batch).
    fn batch(&mut self, items: Vec<Checked<Lead>>, _text: &str) -> ControlFlow<()> {
        let mut items = items.into_iter();
        if !self.stop.is_stopped() {
            self.seen.warm(items.as_slice());
            for checked in items.by_ref() {
                if self.row(checked).is_break() {
                    break;
                }
            }
        }
        if self.stop.is_stopped() || items.len() > 0 {
            self.set_aside(items);
            self.report();
            return ControlFlow::Break(());
        }
        self.report();
        ControlFlow::Continue(())
    }

    fn finish(&mut self) -> ControlFlow<()> {
        self.flush()
    }
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
