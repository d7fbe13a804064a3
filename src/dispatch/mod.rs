//! Dispatch: N concurrent senders take leads from a bounded queue, wait for the
//! pacer (and out an outage), send, and act on each answer by the policy in
//! [`retry`]. A sender keeps its lead (its concurrency slot) through backoff, so
//! retries never pile up beyond `--concurrency`.

pub mod fault;
pub mod health;
pub mod pacing;
pub mod queue;
pub mod retry;
mod sender;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;

use crate::api::client::ApiClient;
use crate::lead::Lead;
use fault::RunFault;
use health::{Health, OutageNotice};
use pacing::Pacer;
use queue::LeadQueue;
use retry::Backoff;

#[derive(Debug, Clone, Copy)]
pub struct DispatchConfig {
    pub concurrency: usize,
    /// Threads the senders are spread over.
    pub threads: usize,
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// `--uncertain resend`: a lead whose request got no answer is sent once more
    /// (listed uncertain either way); with `skip` it is left uncertain.
    pub resend_uncertain: bool,
    /// `--max-outage`: the longest the run waits for an unreachable API, or for a
    /// wait the API asks for.
    pub max_outage: Duration,
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

/// What the senders tell the recorder.
#[derive(Debug)]
pub enum Event {
    /// A sender is done with a lead.
    Lead(LeadDone),
    /// Something the operator must hear about (all senders are affected).
    Notice(Notice),
}

/// What became of one lead.
#[derive(Debug)]
pub struct LeadDone {
    pub lead: Lead,
    /// Every HTTP answer it got, in order (`None`: no answer).
    pub answers: Vec<Option<u16>>,
    pub fate: Fate,
    /// One of its requests was written and never answered: the API may have it
    /// twice, or (with [`Fate::Uncertain`]) not at all.
    pub uncertain: bool,
}

impl LeadDone {
    /// The last HTTP status, if any.
    pub fn status(&self) -> Option<u16> {
        self.answers.last().copied().flatten()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    Sent,
    /// The API refused the lead (400/422 about it): rejected with its message.
    Refused(String),
    /// Retryable answers about it ran out, or an answer not worth retrying.
    Failed(String),
    /// Its request got no answer and it was not sent again: the API may have it.
    Uncertain(String),
    /// Not sent (known): the run stopped first.
    Unsent,
}

/// Waits and changes that hold every sender.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Every sender waits until `until` because the API said so.
    Wait { until: Timestamp, cause: String },
    /// The API has been unreachable for a while; one sender probes.
    Outage(OutageNotice),
    /// The API answers again after an outage of this long.
    Recovered(Duration),
    /// The endpoint redirected (307/308) to this URL, followed.
    Redirected(reqwest::Url),
}

/// Where each lead's fate and each notice go (the engine's recorder), called on
/// the sending threads.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// What every sender shares: the leads to send, the client, the pacing, the
/// endpoint's health, the settings, the stop signal, and where fates go.
#[derive(Clone)]
pub struct Senders {
    pub queue: Arc<LeadQueue>,
    pub client: Arc<ApiClient>,
    pub pacer: Arc<Pacer>,
    pub health: Arc<Health>,
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
        senders.spawn(sender::sender(shared.clone()));
    }
    while senders.join_next().await.is_some() {}
    for h in helpers {
        let _ = tokio::task::spawn_blocking(move || h.join()).await;
    }
    // Whatever is still queued was never sent.
    for lead in shared.queue.stop() {
        (shared.sink)(Event::Lead(LeadDone {
            lead,
            answers: Vec::new(),
            fate: Fate::Unsent,
            uncertain: false,
        }));
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
    let senders: Vec<_> = (0..count).map(|_| sender::sender(shared.clone())).collect();
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
