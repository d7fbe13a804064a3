//! Outages: spans of time in which the sandbox is down. The accept loop
//! (`server.rs`) closes the listening socket for each (new connections get
//! ECONNREFUSED) and closes the connections open when it begins; a request that
//! reaches a handler during one is cut without being applied. This module owns the
//! schedule and the signals between the two.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::config::Outage;
use super::lock;

pub(super) struct Outages {
    /// Whether any outage was ever scheduled (so that most requests look no further).
    any: AtomicBool,
    /// `[start, end)` of each outage not yet over.
    spans: Mutex<Vec<(Instant, Instant)>>,
    /// The schedule changed: the accept loop looks at it again.
    pub(super) changed: Notify,
    /// An outage began: the connections open close.
    pub(super) begun: Notify,
    /// The listening socket is closed.
    pub(super) refusing: AtomicBool,
}

impl Outages {
    /// The outages planned from `started`.
    pub(super) fn new(started: Instant, planned: &[Outage]) -> Outages {
        Outages {
            any: AtomicBool::new(!planned.is_empty()),
            spans: Mutex::new(
                planned
                    .iter()
                    .map(|o| {
                        let start = later(started, o.start);
                        (start, later(start, o.len))
                    })
                    .collect(),
            ),
            changed: Notify::new(),
            begun: Notify::new(),
            refusing: AtomicBool::new(false),
        }
    }

    /// One more outage, from `start` for `len`; the accept loop hears of it.
    pub(super) fn add(&self, start: Instant, len: Duration) {
        {
            let mut spans = lock(&self.spans);
            spans.retain(|&(_, end)| end > start);
            spans.push((start, later(start, len)));
        }
        self.any.store(true, Ordering::Release);
        self.changed.notify_one();
    }

    /// Whether `now` is within an outage.
    pub(super) fn active(&self, now: Instant) -> bool {
        self.any.load(Ordering::Acquire) && self.until(now).is_some()
    }

    /// When the outage `now` is in ends (through any that follow on without a gap).
    pub(super) fn until(&self, now: Instant) -> Option<Instant> {
        let spans = lock(&self.spans);
        let mut end: Option<Instant> = None;
        loop {
            let at = end.unwrap_or(now);
            let further = spans
                .iter()
                .filter(|&&(s, e)| s <= at && at < e)
                .map(|&(_, e)| e)
                .max();
            match further {
                Some(e) => end = Some(e),
                None => return end,
            }
        }
    }

    /// When the next outage after `now` begins.
    pub(super) fn next_start(&self, now: Instant) -> Option<Instant> {
        lock(&self.spans)
            .iter()
            .map(|&(s, _)| s)
            .filter(|&s| s > now)
            .min()
    }
}

/// `t + d`, or a century on if that is beyond the clock.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .unwrap_or_else(|| t + Duration::from_secs(100 * 365 * 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn outages_that_follow_on_end_together_and_gaps_separate_them() {
        let t0 = Instant::now();
        let planned = [(2, 3), (5, 2), (10, 1)].map(|(start, len)| Outage {
            start: secs(start),
            len: secs(len),
        });
        let o = Outages::new(t0, &planned);
        assert!(!o.active(t0 + Duration::from_millis(1_999)));
        assert_eq!(o.next_start(t0), Some(t0 + secs(2)));
        assert_eq!(o.until(t0 + secs(2)), Some(t0 + secs(7)));
        assert!(o.active(t0 + secs(6)));
        assert_eq!(o.until(t0 + secs(7)), None, "the end is not in the outage");
        assert_eq!(o.next_start(t0 + secs(7)), Some(t0 + secs(10)));
        assert_eq!(o.until(t0 + secs(10)), Some(t0 + secs(11)));
        assert_eq!(o.next_start(t0 + secs(10)), None);
    }

    #[test]
    fn an_outage_added_now_is_active_at_once() {
        let t0 = Instant::now();
        let o = Outages::new(t0, &[]);
        assert!(!o.active(t0));
        o.add(t0, secs(3));
        assert!(o.active(t0));
        assert_eq!(o.until(t0 + secs(1)), Some(t0 + secs(3)));
    }
}
