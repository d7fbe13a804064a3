//! The in-flight protocol: how leads go from the reading side to the senders and
//! how their outcomes come back, so that a crash leaves uncertain only leads whose
//! requests may have left, and never more than a known number of them.
//!
//! **Mark → deliver → record.**
//! 1. *Mark* ([`Handoff::mark`], the reading thread): wait until the queue is down
//!    to its low-water mark and at most `concurrency + 2 × low water` leads taken
//!    by senders are unrecorded; reserve room for the batch; ask the store's
//!    writer to mark its rows in flight. The reading thread goes on.
//! 2. *Deliver* (the writer thread, once that mark is committed): tell the
//!    recorder the rows are in flight, then queue the leads, both under the queue's
//!    lock. No sender can take a lead before its row's mark is durable, and the
//!    recorder hears of the delivery before any answer about it.
//! 3. *Record* ([`Handoff::record`], the recorder): hand the outcomes to the
//!    writer, which commits them with the next mark (or within 100 ms), and free
//!    their room.
//!
//! **Invariant.** The rows a crash leaves uncertain (marked in flight in the store,
//! with no committed outcome) include every lead a sender has taken and whose
//! outcome is not committed, and number at most
//! `batch + 3 × low water + concurrency` (the sizes at the last mark): a mark is
//! reserved only while `queued + reserved ≤ low water` and
//! `taken and unrecorded ≤ concurrency + 2 × low water`, and each mark's commit
//! also commits every outcome recorded before it. The feed sizes batches to about
//! 10 ms of sending (32 to 512 leads) with the low-water mark at half a batch, so
//! this is `2.5 × batch + concurrency`: 84 rows on a slow run with
//! `--concurrency 4`. Without a store nothing is marked: batches are queued at once.

use std::sync::Arc;

use crate::dispatch::queue::LeadQueue;
use crate::lead::Lead;
use crate::state::{MarkDone, RowOutcome, WriterHandle};

/// Told of leads about to be handed to the senders (the recorder moves their rows
/// from pending to in flight).
pub type Delivered = Arc<dyn Fn(&[Lead]) + Send + Sync>;

/// The store's side of the protocol for one file.
#[derive(Clone)]
pub struct Marks {
    pub writer: WriterHandle,
    pub file_id: i64,
}

/// One file's hand-off between the reading thread, the store's writer, the
/// senders and the recorder (see the module's documentation).
pub struct Handoff {
    queue: Arc<LeadQueue>,
    marks: Option<Marks>,
    delivered: Delivered,
}

/// How the marks went, once every batch has reached the senders or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Leads of marked batches that never reached the senders (the run stopped,
    /// or their mark failed): still pending.
    pub lost: u64,
    /// The store could not mark a batch: the run must stop.
    pub mark_failed: bool,
}

impl Handoff {
    pub fn new(queue: Arc<LeadQueue>, marks: Option<Marks>, delivered: Delivered) -> Handoff {
        Handoff {
            queue,
            marks,
            delivered,
        }
    }

    pub fn queue(&self) -> &Arc<LeadQueue> {
        &self.queue
    }

    /// Hand a batch towards the senders (blocking while they are busy). With a
    /// store, its rows are marked in flight first and the writer delivers it.
    /// `Err` gives the batch back: the run stopped, or a mark failed.
    pub fn mark(&self, batch: Vec<Lead>) -> Result<(), Vec<Lead>> {
        let delivered = Arc::clone(&self.delivered);
        let Some(marks) = &self.marks else {
            return self.queue.push(batch, |leads| delivered(leads));
        };
        if self.queue.mark_failed() || !self.queue.reserve(batch.len()) {
            return Err(batch);
        }
        let (queue, file_id, n) = (Arc::clone(&self.queue), marks.file_id, batch.len());
        let rows = batch.iter().map(|l| l.row).collect();
        marks.writer.mark_inflight_then(
            file_id,
            rows,
            MarkDone::new(move |ok| {
                if !ok {
                    queue.cancel(n);
                    return Vec::new();
                }
                match queue.deliver(batch, |leads| delivered(leads)) {
                    Ok(()) => Vec::new(),
                    // The run stopped meanwhile: known not sent.
                    Err(unsent) => unsent
                        .iter()
                        .map(|l| RowOutcome::unsent(file_id, l.row))
                        .collect(),
                }
            }),
        );
        Ok(())
    }

    /// The outcomes of `answered` leads taken by senders: to the store, and their
    /// room freed.
    pub fn record(&self, outcomes: Vec<RowOutcome>, answered: usize) {
        if let Some(m) = &self.marks {
            m.writer.outcomes(outcomes);
        }
        self.queue.recorded(answered);
    }

    /// A row's outcome decided without sending (rejected, duplicate, skipped).
    pub fn record_unsent(&self, outcomes: Vec<RowOutcome>) {
        if let Some(m) = &self.marks {
            m.writer.outcomes(outcomes);
        }
    }

    /// After the last mark: wait until every marked batch has reached the senders
    /// or failed, then tell the senders no more will come.
    pub fn settle(&self) -> Settled {
        let lost = match self.marks {
            Some(_) => self.queue.settle(),
            None => 0,
        };
        let settled = Settled {
            lost,
            mark_failed: self.queue.mark_failed(),
        };
        self.queue.close();
        settled
    }

    pub fn file_id(&self) -> Option<i64> {
        self.marks.as_ref().map(|m| m.file_id)
    }
}

#[cfg(test)]
mod tests;
