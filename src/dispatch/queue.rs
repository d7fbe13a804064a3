//! The queue between the pipeline thread (which pushes leads in batches and may
//! block) and the async senders (which pop one lead at a time). Pushing waits until
//! the queue is down to its low-water mark, so the two sides wake each other once a
//! batch, not once a lead. It also waits while too many leads taken by senders have
//! not had their outcome recorded yet, so that a busy event loop cannot fall
//! behind without bound (with a store, those leads are what a crash leaves
//! uncertain).
//!
//! With a store, a batch is first marked in flight by the store's writer thread:
//! the pipeline thread [`reserve`](LeadQueue::reserve)s its room and goes on, and
//! the writer [`deliver`](LeadQueue::deliver)s the batch once the mark is
//! committed, so the senders do not wait for the pipeline thread to wake up in
//! between.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::lead::Lead;

pub struct LeadQueue {
    state: Mutex<State>,
    /// Senders wait here for leads.
    filled: Notify,
    /// The pushing thread waits here for room.
    drained: Condvar,
    low_water: AtomicUsize,
    /// Leads that may be taken and not yet recorded, beyond twice the low-water mark.
    in_flight: usize,
}

struct State {
    items: VecDeque<Lead>,
    /// No more pushes (the file is done).
    closed: bool,
    /// No more pops (the run stopped): pushes fail.
    stopped: bool,
    /// Taken by senders, outcome not yet recorded.
    unrecorded: usize,
    /// Taken by senders since the start.
    taken: u64,
    /// Reserved for batches being marked in flight, not delivered yet.
    reserved: usize,
    /// Leads of reserved batches that never reached the queue, and whether a mark
    /// failed.
    lost: u64,
    mark_failed: bool,
}

impl LeadQueue {
    /// Pushes wait until at most `low_water` leads are queued, and at most
    /// `in_flight` (the senders' concurrency) plus twice `low_water` are taken and
    /// not yet [`recorded`](Self::recorded).
    pub fn new(low_water: usize, in_flight: usize) -> LeadQueue {
        LeadQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                stopped: false,
                unrecorded: 0,
                taken: 0,
                reserved: 0,
                lost: 0,
                mark_failed: false,
            }),
            filled: Notify::new(),
            drained: Condvar::new(),
            low_water: AtomicUsize::new(low_water),
            in_flight,
        }
    }

    /// No room for another batch yet.
    fn full(&self, s: &State) -> bool {
        let low = self.low_water();
        s.items.len() + s.reserved > low || s.unrecorded > self.in_flight + 2 * low
    }

    /// Leads taken by senders so far.
    pub fn taken(&self) -> u64 {
        self.lock().taken
    }

    /// The outcomes of `n` taken leads were recorded.
    pub fn recorded(&self, n: usize) {
        let mut s = self.lock();
        s.unrecorded = s.unrecorded.saturating_sub(n);
        let room = !self.full(&s);
        drop(s);
        if room {
            self.drained.notify_all();
        }
    }

    /// Change the low-water mark (from the pushing thread, between pushes).
    pub fn set_low_water(&self, low_water: usize) {
        self.low_water.store(low_water, Ordering::Relaxed);
    }

    fn low_water(&self) -> usize {
        self.low_water.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state once the queue is down to its low-water mark or the run stopped
    /// (waits, blocking).
    fn room(&self) -> MutexGuard<'_, State> {
        let mut s = self.lock();
        while !s.stopped && self.full(&s) {
            s = self.drained.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s
    }

    /// Wait (blocking) until the queue is down to its low-water mark, then reserve
    /// room for a batch of `n` that [`deliver`](Self::deliver) or
    /// [`cancel`](Self::cancel) will settle; false when the run stopped.
    pub fn reserve(&self, n: usize) -> bool {
        let mut s = self.room();
        if !s.stopped {
            s.reserved += n;
        }
        !s.stopped
    }

    /// Queue a reserved batch (never waits), calling `before` with it first, under
    /// the queue's lock: no sender can take one of its leads until `before` is
    /// done. Gives the batch back when the run stopped, counted as lost.
    pub fn deliver(&self, batch: Vec<Lead>, before: impl FnOnce(&[Lead])) -> Result<(), Vec<Lead>> {
        self.unreserve(batch.len(), |s| {
            if s.stopped {
                s.lost += batch.len() as u64;
                Err(batch)
            } else {
                before(&batch);
                s.items.extend(batch);
                Ok(())
            }
        })
    }

    /// A reserved batch of `n` will not come: its mark failed.
    pub fn cancel(&self, n: usize) {
        self.unreserve(n, |s| {
            s.lost += n as u64;
            s.mark_failed = true;
        });
    }

    /// Settle a reserved batch of `n` with `f`, then wake the senders (a batch may
    /// have come, or a closed queue may now be done) and the pipeline thread (room
    /// was freed; `settle` may be waiting).
    fn unreserve<R>(&self, n: usize, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.lock();
        s.reserved = s.reserved.saturating_sub(n);
        let result = f(&mut s);
        drop(s);
        self.filled.notify_waiters();
        self.drained.notify_all();
        result
    }

    /// Whether a mark failed so far.
    pub fn mark_failed(&self) -> bool {
        self.lock().mark_failed
    }

    /// Wait (blocking) until every reserved batch is delivered or cancelled;
    /// returns how many of their leads never reached the queue.
    pub fn settle(&self) -> u64 {
        let mut s = self.lock();
        while s.reserved > 0 {
            s = self.drained.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.lost
    }

    /// Queue a batch, waiting for room (blocking; call from the pipeline thread),
    /// calling `before` with it first, under the queue's lock (see
    /// [`deliver`](Self::deliver)). Gives the batch back when the run stopped.
    pub fn push(&self, batch: Vec<Lead>, before: impl FnOnce(&[Lead])) -> Result<(), Vec<Lead>> {
        let mut s = self.room();
        if s.stopped {
            return Err(batch);
        }
        before(&batch);
        s.items.extend(batch);
        drop(s);
        self.filled.notify_waiters();
        Ok(())
    }

    /// No more leads will come.
    pub fn close(&self) {
        self.lock().closed = true;
        self.filled.notify_waiters();
    }

    /// Stop: pushes fail from now on; returns the leads never taken.
    pub fn stop(&self) -> Vec<Lead> {
        let mut s = self.lock();
        s.stopped = true;
        let left = s.items.drain(..).collect();
        drop(s);
        self.drained.notify_all();
        self.filled.notify_waiters();
        left
    }

    /// The next lead; `None` once closed, empty and with nothing reserved, or
    /// stopped.
    pub async fn pop(&self) -> Option<Lead> {
        loop {
            let notified = self.filled.notified();
            {
                let mut s = self.lock();
                if s.stopped {
                    return None;
                }
                if let Some(lead) = s.items.pop_front() {
                    s.unrecorded += 1;
                    s.taken += 1;
                    if s.items.len() + s.reserved == self.low_water() {
                        self.drained.notify_all();
                    }
                    return Some(lead);
                }
                if s.closed && s.reserved == 0 {
                    return None;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn lead(row: u64) -> Lead {
        Lead {
            row,
            pos: row,
            click_time: 0,
            url_parameters: String::new(),
            settings: String::new(),
            referrer: None,
            current_url: None,
            dst: Default::default(),
            cells: vec![],
            body: None,
            known_fingerprint: None,
            marks: Default::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_lead_comes_out_once_in_order() {
        let q = Arc::new(LeadQueue::new(4, 1));
        let producer = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                for b in 0..50u64 {
                    q.push((0..10).map(|i| lead(b * 10 + i)).collect(), |_| {})
                        .unwrap();
                }
                q.close();
            })
        };
        let mut got = Vec::new();
        while let Some(l) = q.pop().await {
            got.push(l.row);
            q.recorded(1);
        }
        producer.join().unwrap();
        assert_eq!(got, (0..500).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stopping_fails_pushes_and_returns_what_was_left() {
        let q = Arc::new(LeadQueue::new(2, 1));
        q.push(vec![lead(1), lead(2), lead(3)], |_| {}).unwrap();
        let blocked = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || q.push(vec![lead(4)], |_| {}))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        let left: Vec<u64> = q.stop().into_iter().map(|l| l.row).collect();
        assert_eq!(left, [1, 2, 3]);
        assert_eq!(blocked.join().unwrap().unwrap_err().len(), 1);
        assert!(q.pop().await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pushes_wait_while_too_many_taken_leads_are_unrecorded() {
        // Low water 2, one in flight: at most 1 + 2 * 2 = 5 taken and unrecorded.
        let q = Arc::new(LeadQueue::new(2, 1));
        q.push((0..6).map(lead).collect(), |_| {}).unwrap();
        for _ in 0..6 {
            q.pop().await.unwrap();
        }
        let blocked = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || q.push(vec![lead(6)], |_| {}))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!blocked.is_finished(), "six taken, none recorded: no room");
        q.recorded(1);
        blocked.join().unwrap().unwrap();
        assert_eq!(q.pop().await.map(|l| l.row), Some(6));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closed_queue_waits_for_batches_still_being_marked() {
        let q = Arc::new(LeadQueue::new(2, 4));
        assert!(q.reserve(2));
        q.close();
        let popper = {
            let q = Arc::clone(&q);
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(l) = q.pop().await {
                    got.push(l.row);
                }
                got
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!popper.is_finished(), "a reserved batch is still coming");
        q.deliver(vec![lead(1), lead(2)], |_| {}).unwrap();
        assert_eq!(popper.await.unwrap(), [1, 2]);
        assert_eq!(q.settle(), 0);
        assert!(!q.mark_failed());
    }

    #[test]
    fn reserved_room_counts_until_delivered_and_failures_are_counted_lost() {
        // Low water 2: a reserved batch of 3 fills the queue until it is delivered.
        let q = Arc::new(LeadQueue::new(2, 8));
        assert!(q.reserve(3));
        let blocked = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || q.reserve(1))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!blocked.is_finished(), "three reserved: no room");
        q.cancel(3);
        assert!(blocked.join().unwrap());
        assert!(q.mark_failed());
        // The run stops before the second batch is delivered: it comes back.
        assert!(q.stop().is_empty());
        assert_eq!(q.deliver(vec![lead(9)], |_| {}).unwrap_err().len(), 1);
        assert!(!q.reserve(1), "stopped");
        assert_eq!(q.settle(), 4);
    }
}
