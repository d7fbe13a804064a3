//! The queue between the pipeline thread (which pushes leads in batches and may
//! block) and the async senders (which pop one lead at a time). Pushing waits until
//! the queue is down to its low-water mark, so the two sides wake each other once a
//! batch, not once a lead.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::lead::Lead;

pub struct LeadQueue {
    state: Mutex<State>,
    /// Senders wait here for leads.
    filled: Notify,
    /// The pushing thread waits here for room.
    drained: Condvar,
    low_water: usize,
}

struct State {
    items: VecDeque<Lead>,
    /// No more pushes (the file is done).
    closed: bool,
    /// No more pops (the run stopped): pushes fail.
    stopped: bool,
}

impl LeadQueue {
    /// Pushes wait until at most `low_water` leads are queued.
    pub fn new(low_water: usize) -> LeadQueue {
        LeadQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                stopped: false,
            }),
            filled: Notify::new(),
            drained: Condvar::new(),
            low_water,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait (blocking) until the queue is down to its low-water mark; false when
    /// the run stopped.
    pub fn wait_room(&self) -> bool {
        let mut s = self.lock();
        while !s.stopped && s.items.len() > self.low_water {
            s = self.drained.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        !s.stopped
    }

    /// Queue a batch, waiting for room (blocking; call from the pipeline thread).
    /// Gives the batch back when the run stopped.
    pub fn push(&self, batch: Vec<Lead>) -> Result<(), Vec<Lead>> {
        let mut s = self.lock();
        while !s.stopped && s.items.len() > self.low_water {
            s = self.drained.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if s.stopped {
            return Err(batch);
        }
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

    /// The next lead; `None` once closed and empty, or stopped.
    pub async fn pop(&self) -> Option<Lead> {
        loop {
            let notified = self.filled.notified();
            {
                let mut s = self.lock();
                if s.stopped {
                    return None;
                }
                if let Some(lead) = s.items.pop_front() {
                    if s.items.len() == self.low_water {
                        self.drained.notify_all();
                    }
                    return Some(lead);
                }
                if s.closed {
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
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_lead_comes_out_once_in_order() {
        let q = Arc::new(LeadQueue::new(4));
        let producer = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                for b in 0..50u64 {
                    q.push((0..10).map(|i| lead(b * 10 + i)).collect()).unwrap();
                }
                q.close();
            })
        };
        let mut got = Vec::new();
        while let Some(l) = q.pop().await {
            got.push(l.row);
        }
        producer.join().unwrap();
        assert_eq!(got, (0..500).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stopping_fails_pushes_and_returns_what_was_left() {
        let q = Arc::new(LeadQueue::new(2));
        q.push(vec![lead(1), lead(2), lead(3)]).unwrap();
        let blocked = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || q.push(vec![lead(4)]))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        let left: Vec<u64> = q.stop().into_iter().map(|l| l.row).collect();
        assert_eq!(left, [1, 2, 3]);
        assert_eq!(blocked.join().unwrap().unwrap_err().len(), 1);
        assert!(q.pop().await.is_none());
    }
}
