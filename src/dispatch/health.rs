//! The endpoint's health, shared by every sender. When every sender meets
//! transport errors or 5xx (or a connection is refused), the run is in an *outage*:
//! all sending pauses, one sender (the prober) tries its lead under a capped
//! backoff, and sending resumes when the API answers. Failures during an outage
//! are about the endpoint, not the leads: they use up no lead's attempts. An
//! outage longer than `--max-outage` stops the run (exit 3, leads pending).

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::Stop;
use super::fault::{FaultKind, RunFault};

/// The prober's first wait, doubled after each failed probe up to [`PROBE_CAP`].
const PROBE_FIRST: Duration = Duration::from_secs(1);
pub const PROBE_CAP: Duration = Duration::from_secs(30);
/// An outage is announced once it has lasted this long, then every
/// [`ANNOUNCE_EVERY`].
pub const ANNOUNCE_AFTER: Duration = Duration::from_secs(5);
const ANNOUNCE_EVERY: Duration = Duration::from_secs(300);

pub struct Health {
    state: Mutex<State>,
    changed: Notify,
    concurrency: usize,
    max_outage: Duration,
}

#[derive(Default)]
struct State {
    any_success: bool,
    /// Failed attempts since the last answer that showed the API works.
    streak: usize,
    /// The first row of the streak, and whether another row failed in it too.
    streak_first: Option<u64>,
    streak_spread: bool,
    /// Requests timed out since the last answer, the first row, and whether
    /// another row timed out too.
    timeouts: usize,
    timeout_first: Option<u64>,
    timeout_spread: bool,
    /// When the last answer came.
    last_answer: Option<Instant>,
    outage: Option<Outage>,
    /// Outages so far: a sender's probing role belongs to one of them.
    outages: u64,
}

/// An outage in progress.
#[derive(Debug, Clone)]
pub struct Outage {
    pub since: Instant,
    pub since_wall: Timestamp,
    pub cause: String,
    number: u64,
    prober: bool,
    probes: u32,
    announced: Option<Instant>,
}

/// What a sender may do before an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Go,
    Stopped,
}

/// What the prober does after a failed probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Wait this long, and say so when `announce` (the outage has lasted).
    Wait {
        wait: Duration,
        announce: Option<OutageNotice>,
    },
    /// The outage has lasted past `--max-outage`.
    GiveUp(RunFault),
}

/// What the operator is told of an outage.
#[derive(Debug, Clone, PartialEq)]
pub struct OutageNotice {
    pub since: Timestamp,
    pub cause: String,
    /// Between probes now.
    pub retry_every: Duration,
}

impl Health {
    pub fn new(concurrency: usize, max_outage: Duration) -> Health {
        Health {
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            concurrency: concurrency.max(1),
            max_outage,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Some lead went in during this run.
    pub fn any_success(&self) -> bool {
        self.lock().any_success
    }

    /// An answer showing the API works (a success, or any answer but 5xx and error
    /// bodies). Ends an outage: how long it lasted.
    pub fn answered(&self, success: bool) -> Option<Duration> {
        let mut s = self.lock();
        s.any_success |= success;
        s.streak = 0;
        s.streak_first = None;
        s.streak_spread = false;
        s.timeouts = 0;
        s.timeout_first = None;
        s.timeout_spread = false;
        s.last_answer = Some(Instant::now());
        let ended = s.outage.take().map(|o| o.since.elapsed());
        drop(s);
        if ended.is_some() {
            self.changed.notify_waiters();
        }
        ended
    }

    /// A failed attempt of `row` (`connect`: no connection at all). True when the
    /// run is in an outage now: the attempt is not the lead's fault.
    pub fn failed(&self, row: u64, connect: bool, cause: &str) -> bool {
        let mut s = self.lock();
        if s.outage.is_some() {
            return true;
        }
        s.streak += 1;
        match s.streak_first {
            None => s.streak_first = Some(row),
            Some(first) if first != row => s.streak_spread = true,
            Some(_) => {}
        }
        // Every sender failing on different leads, or no connection at all.
        let trip = connect || (s.streak >= self.concurrency && s.streak_spread);
        if trip {
            s.outages += 1;
            s.outage = Some(Outage {
                since: Instant::now(),
                since_wall: Timestamp::now(),
                cause: cause.to_string(),
                number: s.outages,
                prober: false,
                probes: 0,
                announced: None,
            });
        }
        trip
    }

    /// A request of `row`, sent at `sent`, got no answer within `--timeout`. A
    /// fault when every sender's requests time out, on different leads, and no
    /// answer came while they waited (a slow request that other answers overtook is
    /// the request's, not the API's).
    pub fn timed_out(&self, row: u64, sent: Instant, timeout: &str) -> Option<RunFault> {
        let mut s = self.lock();
        if s.last_answer.is_some_and(|t| t > sent) {
            return None;
        }
        s.timeouts += 1;
        match s.timeout_first {
            None => s.timeout_first = Some(row),
            Some(first) if first != row => s.timeout_spread = true,
            Some(_) => {}
        }
        (s.timeouts >= self.concurrency && s.timeout_spread).then(|| {
            RunFault::new(
                FaultKind::TimedOut,
                format!(
                    "{} requests in a row got no answer ({timeout}): the API is slower than \
                     --timeout, and may have applied them",
                    s.timeouts
                ),
            )
        })
    }

    /// Wait while an outage holds, unless this sender is (or becomes) its prober.
    /// `probing` keeps the number of the outage this sender probes for.
    pub async fn gate(&self, stop: &Stop, probing: &mut Option<u64>) -> Gate {
        loop {
            let changed = self.changed.notified();
            {
                let mut s = self.lock();
                let Some(o) = s.outage.as_mut() else {
                    *probing = None;
                    return Gate::Go;
                };
                if *probing == Some(o.number) {
                    return Gate::Go;
                }
                if !o.prober {
                    o.prober = true;
                    *probing = Some(o.number);
                    return Gate::Go;
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = stop.stopped() => return Gate::Stopped,
            }
        }
    }

    /// The prober is done with its lead: another sender takes the role.
    pub fn release(&self, probing: &mut Option<u64>) {
        let Some(number) = probing.take() else {
            return;
        };
        let mut s = self.lock();
        if let Some(o) = s.outage.as_mut()
            && o.number == number
        {
            o.prober = false;
            drop(s);
            self.changed.notify_waiters();
        }
    }

    /// After a failed probe: how long to wait before the next one, or give up.
    pub fn probe_wait(&self) -> Probe {
        let max = self.max_outage;
        let mut s = self.lock();
        let Some(o) = s.outage.as_mut() else {
            return Probe::Wait {
                wait: Duration::ZERO,
                announce: None,
            };
        };
        let lasted = o.since.elapsed();
        if lasted >= max {
            return Probe::GiveUp(RunFault::new(
                FaultKind::Unreachable,
                format!(
                    "the API stayed unreachable for {} (since {}: {}), past --max-outage",
                    human(lasted),
                    hms(o.since_wall),
                    o.cause
                ),
            ));
        }
        o.probes += 1;
        let every = PROBE_FIRST
            .saturating_mul(1 << o.probes.saturating_sub(1).min(16))
            .min(PROBE_CAP);
        let wait = every.min(max - lasted);
        let due = match o.announced {
            None => lasted + wait >= ANNOUNCE_AFTER,
            Some(t) => t.elapsed() >= ANNOUNCE_EVERY,
        };
        let announce = due.then(|| {
            o.announced = Some(Instant::now());
            OutageNotice {
                since: o.since_wall,
                cause: o.cause.clone(),
                retry_every: every,
            }
        });
        Probe::Wait { wait, announce }
    }

    /// The outage in progress, if any.
    pub fn outage(&self) -> Option<Outage> {
        self.lock().outage.clone()
    }
}

/// `02:31:05Z`: the time of day, UTC, for messages.
pub fn hms(t: Timestamp) -> String {
    t.strftime("%H:%M:%SZ").to_string()
}

/// `75 s`, `12 min`, `2.5 h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests;
