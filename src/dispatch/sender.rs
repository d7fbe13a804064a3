//! One sender: takes a lead, waits for the pacer and out any outage, sends it, and
//! acts on each answer (retry, stop the run, give up) until the lead's fate is
//! known. A run fault records nothing against the lead: it goes back unsent.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::fault::{FaultKind, RunFault};
use super::health::{Gate, Probe, hms, human};
use super::retry::{Context, Failure, Verdict, classify};
use super::{Event, Fate, LeadDone, Notice, Senders};
use crate::api::answer::{Answer, RateHeaders};
use crate::api::conn::Conn;
use crate::lead::Lead;

/// Waits shorter than this are not announced.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(5);

pub(super) async fn sender(s: Senders) {
    let mut conn = Conn::default();
    loop {
        let next = tokio::select! {
            biased;
            _ = s.stop.stopped() => None,
            l = s.queue.pop() => l,
        };
        let Some(lead) = next else { return };
        let done = Attempts::new(&s, lead).run(&mut conn).await;
        (s.sink)(Event::Lead(done));
    }
}

/// One lead's attempts.
struct Attempts<'a> {
    s: &'a Senders,
    lead: Lead,
    answers: Vec<Option<u16>>,
    /// Failed attempts that count against the lead (not those during an outage).
    counted: u32,
    /// Requests written without an answer, and those of them that timed out.
    no_answers: u32,
    timeouts: u32,
    /// The outage this sender probes for, if it does.
    probing: Option<u64>,
    /// When the last request left.
    sent_at: tokio::time::Instant,
}

/// After an attempt.
enum Next {
    Done(Fate),
    /// Try again after this wait.
    Again(Duration),
}

impl<'a> Attempts<'a> {
    fn new(s: &'a Senders, lead: Lead) -> Attempts<'a> {
        Attempts {
            s,
            lead,
            answers: Vec::with_capacity(1),
            counted: 0,
            no_answers: 0,
            timeouts: 0,
            probing: None,
            sent_at: tokio::time::Instant::now(),
        }
    }

    async fn run(mut self, conn: &mut Conn) -> LeadDone {
        let fate = loop {
            let wait = match self.attempt(conn).await {
                Next::Done(fate) => break fate,
                Next::Again(wait) => wait,
            };
            tokio::select! {
                biased;
                _ = self.s.stop.stopped() => break self.stopped(),
                _ = tokio::time::sleep(wait) => {}
            }
        };
        self.s.health.release(&mut self.probing);
        // A lead one of whose requests may have been applied is not "failed" (the
        // next run would send it again unlisted): its fate is unknown.
        let fate = match fate {
            Fate::Failed(m) if self.no_answers > 0 => Fate::Uncertain(m),
            other => other,
        };
        LeadDone {
            uncertain: self.no_answers > 0,
            lead: self.lead,
            answers: self.answers,
            fate,
        }
    }

    /// The fate of a lead the run stopped with: unsent, unless one of its requests
    /// may have been applied.
    fn stopped(&self) -> Fate {
        match self.no_answers {
            0 => Fate::Unsent,
            _ => Fate::Uncertain("a request got no answer, and the run stopped".into()),
        }
    }

    async fn attempt(&mut self, conn: &mut Conn) -> Next {
        let s = self.s;
        if s.health.gate(&s.stop, &mut self.probing).await == Gate::Stopped {
            return Next::Done(self.stopped());
        }
        tokio::select! {
            biased;
            _ = s.stop.stopped() => return Next::Done(self.stopped()),
            _ = s.pacer.ready() => {}
        }
        if s.stop.is_stopped() {
            return Next::Done(self.stopped());
        }
        self.sent_at = tokio::time::Instant::now();
        let sent = s.client.send(conn, &self.lead).await;
        if let Some(url) = sent.redirected {
            (s.sink)(Event::Notice(Notice::Redirected(url)));
        }
        self.answers.push(match &sent.answer {
            Answer::Status(st) => Some(st.status),
            Answer::Transport(_) => None,
        });
        if let Answer::Status(st) = &sent.answer
            && let Err(fault) = self.observe(&st.limit)
        {
            s.stop.fault(fault);
            return Next::Done(self.stopped());
        }
        let body = match &self.lead.body {
            Some(b) => b.clone(),
            None => s.client.form(&self.lead).into(),
        };
        let verdict = classify(
            &sent.answer,
            &Context {
                endpoint: s.client.endpoint().as_str(),
                any_success: s.health.any_success(),
                body: &body,
            },
        );
        self.act(verdict)
    }

    /// Pace below `X-RateLimit-*`; a window that resets after `--max-outage` stops
    /// the run.
    fn observe(&self, limit: &RateHeaders) -> Result<(), RunFault> {
        let s = self.s;
        let Some(wait) = s.pacer.observe(limit, s.cfg.concurrency) else {
            return Ok(());
        };
        self.announce_wait(
            wait,
            "the API's rate limit window is used up (X-RateLimit-Reset)",
            true,
        )
    }

    /// Say that every sender waits `wait` when `news` (this sender's answer moved
    /// the shared pause: each wait is told once, not once per sender); past
    /// `--max-outage`, a run fault.
    fn announce_wait(&self, wait: Duration, cause: &str, news: bool) -> Result<(), RunFault> {
        let until =
            Timestamp::now() + SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX);
        if wait > self.s.cfg.max_outage {
            return Err(RunFault::new(
                FaultKind::Unreachable,
                format!(
                    "{cause}: the API asks to wait {} (until {}), longer than --max-outage ({}); \
                     the leads not sent stay pending: run the same command again after {}",
                    human(wait),
                    hms(until),
                    human(self.s.cfg.max_outage),
                    hms(until)
                ),
            ));
        }
        if news && wait >= ANNOUNCE_WAIT {
            (self.s.sink)(Event::Notice(Notice::Wait {
                until,
                cause: cause.to_string(),
            }));
        }
        Ok(())
    }

    /// The API answered after an outage: say so.
    fn answered(&self, success: bool) {
        if let Some(down) = self.s.health.answered(success)
            && down >= ANNOUNCE_WAIT
        {
            (self.s.sink)(Event::Notice(Notice::Recovered(down)));
        }
    }

    fn act(&mut self, verdict: Verdict) -> Next {
        let s = self.s;
        match verdict {
            Verdict::Done => {
                self.answered(true);
                Next::Done(Fate::Sent)
            }
            Verdict::Refuse(m) => {
                self.answered(false);
                Next::Done(Fate::Refused(m))
            }
            Verdict::Fail(m) => {
                self.answered(false);
                Next::Done(Fate::Failed(m))
            }
            Verdict::Fault(f) => {
                s.stop.fault(f);
                Next::Done(self.stopped())
            }
            Verdict::Uncertain {
                reason,
                timed_out: true,
            } => {
                // Sent again at most once: a slow API would get a copy each time.
                self.no_answers += 1;
                self.timeouts += 1;
                if let Some(fault) = s.health.timed_out(self.lead.row, self.sent_at, &reason) {
                    s.stop.fault(fault);
                    return Next::Done(Fate::Uncertain(reason));
                }
                if !s.cfg.resend_uncertain || self.timeouts >= 2 {
                    return Next::Done(Fate::Uncertain(reason));
                }
                self.again(false, None)
            }
            Verdict::Uncertain {
                reason,
                timed_out: false,
            } => {
                // A connection cut: sent again like any retry, listed uncertain.
                self.no_answers += 1;
                let outage = s.health.failed(self.lead.row, false, &reason);
                if !s.cfg.resend_uncertain {
                    return Next::Done(Fate::Uncertain(reason));
                }
                if !outage {
                    self.counted += 1;
                    if self.counted >= s.cfg.max_attempts {
                        return Next::Done(Fate::Uncertain(format!(
                            "{reason} (gave up after {} attempts)",
                            self.counted
                        )));
                    }
                }
                self.again(outage, None)
            }
            Verdict::Retry {
                wait,
                pause_all,
                reason,
                failure,
            } => {
                let outage = match failure {
                    Failure::RateLimited => {
                        self.answered(false);
                        false
                    }
                    Failure::Connect => s.health.failed(self.lead.row, true, &reason),
                    Failure::Server | Failure::ErrorBody => {
                        s.health.failed(self.lead.row, false, &reason)
                    }
                };
                if !outage {
                    self.counted += 1;
                    if self.counted >= s.cfg.max_attempts {
                        return Next::Done(Fate::Failed(format!(
                            "{reason} (gave up after {} attempts)",
                            self.counted
                        )));
                    }
                }
                if let (Some(w), true) = (wait, pause_all) {
                    let news = s.pacer.pause_until(tokio::time::Instant::now() + w);
                    let cause = format!("the API said {reason}");
                    if let Err(fault) = self.announce_wait(w, &cause, news) {
                        s.stop.fault(fault);
                        return Next::Done(self.stopped());
                    }
                }
                self.again(outage, wait)
            }
        }
    }

    /// The wait before the next attempt: the prober's, none when an outage holds
    /// this sender at the gate, or the one asked for, or a backoff.
    fn again(&mut self, outage: bool, asked: Option<Duration>) -> Next {
        let s = self.s;
        if self.probing.is_some() {
            return match s.health.probe_wait() {
                Probe::Wait { wait, announce } => {
                    if let Some(a) = announce {
                        (s.sink)(Event::Notice(Notice::Outage(a)));
                    }
                    Next::Again(wait)
                }
                Probe::GiveUp(f) => {
                    s.stop.fault(f);
                    Next::Done(self.stopped())
                }
            };
        }
        if outage {
            return Next::Again(Duration::ZERO);
        }
        let backoff = s.cfg.backoff.delay(self.counted.max(1), &mut rand::rng());
        Next::Again(asked.unwrap_or(backoff))
    }
}
