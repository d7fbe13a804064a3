//! Dispatch: N concurrent senders take leads from a bounded queue, wait for the
//! pacer, send, and retry by the policy. A sender keeps its lead (its concurrency
//! slot) through backoff, so retries never pile up beyond `--concurrency`.

pub mod fault;
pub mod pacing;
pub mod queue;
pub mod retry;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::api::answer::Answer;
use crate::api::client::ApiClient;
use crate::api::conn::Conn;
use crate::lead::Lead;
use fault::{FaultKind, RunFault};
use pacing::Pacer;
use queue::LeadQueue;
use retry::{Backoff, Verdict, classify};

#[derive(Debug, Clone, Copy)]
pub struct DispatchConfig {
    pub concurrency: usize,
    /// Threads the senders are spread over.
    pub threads: usize,
    pub max_attempts: u32,
    pub backoff: Backoff,
}

/// Why sending stops early: an interrupt (Ctrl-C, SIGTERM) or a run fault (the
/// first one wins).
#[derive(Clone, Default)]
pub struct Stop(Arc<StopInner>);

#[derive(Default)]
struct StopInner {
    stopped: AtomicBool,
    fault: Mutex<Option<RunFault>>,
    notify: Notify,
}

impl Stop {
    pub fn interrupt(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Stop every sender for a fault of the endpoint as a whole.
    pub fn fault(&self, fault: RunFault) {
        self.0
            .fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(fault);
        self.interrupt();
    }

    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// The fault that stopped the run, if one did.
    pub fn fault_seen(&self) -> Option<RunFault> {
        self.0
            .fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Resolves once stopped.
    pub async fn stopped(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// What became of one lead, for counting, the store and reports.
#[derive(Debug)]
pub struct Event {
    pub lead: Lead,
    /// Every HTTP answer it got, in order (`None`: no answer, a transport error).
    pub answers: Vec<Option<u16>>,
    pub fate: Fate,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    Sent,
    /// The server refused the lead (4xx): rejected with its message.
    Rejected(String),
    /// Gave up after retries, or an unretryable error.
    Failed(String),
    /// Not sent because the run stopped.
    Unsent,
}

impl Event {
    /// The last HTTP status, if any.
    pub fn status(&self) -> Option<u16> {
        self.answers.last().copied().flatten()
    }
}

/// Where each lead's fate goes (the engine's recorder), called on the sending
/// threads.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// What every sender shares: the leads to send, the client, the pacing, the
/// settings, the stop signal, and where each lead's fate goes.
#[derive(Clone)]
pub struct Senders {
    pub queue: Arc<LeadQueue>,
    pub client: Arc<ApiClient>,
    pub pacer: Arc<Pacer>,
    pub cfg: DispatchConfig,
    pub stop: Stop,
    pub sink: Sink,
}

/// Send every lead from the queue until it closes or `stop` fires.
///
/// The senders are spread over `cfg.threads` threads, each with its own
/// single-threaded runtime (this one included): a sender, its connection and its
/// timers stay on one thread, so no request crosses threads on its way.
pub async fn run(shared: Senders) {
    let cfg = shared.cfg;
    let n = cfg.concurrency.max(1);
    let threads = if shared.client.pooled() {
        1
    } else {
        cfg.threads.clamp(1, n)
    };
    // Sender i runs on thread i % threads; thread 0 is this one.
    let share = |t: usize| (n - t).div_ceil(threads);
    let mut helpers = Vec::new();
    let mut given = 0;
    for t in 1..threads {
        match sending_thread(t, share(t), &shared) {
            Ok(h) => {
                helpers.push(h);
                given += share(t);
            }
            Err(e) => {
                tracing::warn!("cannot start a sending thread ({e}): sending on fewer");
                break;
            }
        }
    }
    let mut senders = tokio::task::JoinSet::new();
    for _ in given..n {
        senders.spawn(sender(shared.clone()));
    }
    while senders.join_next().await.is_some() {}
    for h in helpers {
        let _ = tokio::task::spawn_blocking(move || h.join()).await;
    }
    // Whatever is still queued was never sent.
    for lead in shared.queue.stop() {
        (shared.sink)(Event {
            lead,
            answers: Vec::new(),
            fate: Fate::Unsent,
        });
    }
}

/// A thread with its own single-threaded runtime running `count` senders.
fn sending_thread(
    t: usize,
    count: usize,
    shared: &Senders,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let senders: Vec<_> = (0..count).map(|_| sender(shared.clone())).collect();
    std::thread::Builder::new()
        .name(format!("send-{t}"))
        .spawn(move || {
            runtime.block_on(async move {
                let mut set = tokio::task::JoinSet::new();
                for s in senders {
                    set.spawn(s);
                }
                while set.join_next().await.is_some() {}
            })
        })
}

async fn sender(s: Senders) {
    let mut conn = Conn::default();
    loop {
        let next = tokio::select! {
            biased;
            _ = s.stop.stopped() => None,
            l = s.queue.pop() => l,
        };
        let Some(lead) = next else { return };
        let event = send_one(lead, &s.client, &mut conn, &s.pacer, &s.cfg, &s.stop).await;
        (s.sink)(event);
    }
}

async fn send_one(
    lead: Lead,
    client: &ApiClient,
    conn: &mut Conn,
    pacer: &Pacer,
    cfg: &DispatchConfig,
    stop: &Stop,
) -> Event {
    let mut answers = Vec::with_capacity(1);
    let mut attempt = 0u32;
    let fate = loop {
        attempt += 1;
        tokio::select! {
            biased;
            _ = stop.stopped() => break Fate::Unsent,
            _ = pacer.ready() => {}
        }
        if stop.is_stopped() {
            break Fate::Unsent;
        }
        let answer = client.send(conn, &lead).await;
        answers.push(match &answer {
            Answer::Status { status, limit, .. } => {
                pacer.observe(limit, cfg.concurrency);
                Some(*status)
            }
            Answer::Transport(_) => None,
        });
        match classify(&answer) {
            Verdict::Done => break Fate::Sent,
            Verdict::Reject(message) => break Fate::Rejected(message),
            Verdict::Fail(message) => break Fate::Failed(message),
            Verdict::Fatal(message) => {
                stop.fault(RunFault::new(
                    FaultKind::Credentials,
                    format!("the API refused the credentials ({message})"),
                ));
                break Fate::Unsent;
            }
            Verdict::Retry {
                wait,
                pause_all,
                reason,
            } => {
                if attempt >= cfg.max_attempts {
                    break Fate::Failed(format!("{reason} (gave up after {attempt} attempts)"));
                }
                let wait = wait.unwrap_or_else(|| cfg.backoff.delay(attempt, &mut rand::rng()));
                if pause_all {
                    pacer.pause_until(Instant::now() + wait);
                }
                tracing::debug!(
                    "row {}: {reason}; retry {} in {:?}",
                    lead.row,
                    attempt + 1,
                    wait
                );
                tokio::select! {
                    biased;
                    _ = stop.stopped() => break Fate::Unsent,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    };
    Event {
        lead,
        answers,
        fate,
    }
}
