//! Dispatch: N concurrent senders take leads from a bounded queue, wait for the
//! pacer, send, and retry by the policy. A sender keeps its lead (its concurrency
//! slot) through backoff, so retries never pile up beyond `--concurrency`.

pub mod pacing;
pub mod retry;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::api::client::{Answer, ApiClient};
use crate::lead::Lead;
use pacing::Pacer;
use retry::{Backoff, Verdict, classify};

#[derive(Debug, Clone, Copy)]
pub struct DispatchConfig {
    pub concurrency: usize,
    pub max_attempts: u32,
    pub backoff: Backoff,
}

/// Why sending stops early: an interrupt (Ctrl-C, SIGTERM) or refused credentials.
#[derive(Clone, Default)]
pub struct Stop(Arc<StopInner>);

#[derive(Default)]
struct StopInner {
    stopped: AtomicBool,
    fatal: Mutex<Option<String>>,
    notify: Notify,
}

impl Stop {
    pub fn interrupt(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn fatal(&self, message: String) {
        self.0
            .fatal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(message);
        self.interrupt();
    }

    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    pub fn fatal_message(&self) -> Option<String> {
        self.0
            .fatal
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

/// What happened, for counting and reports.
#[derive(Debug)]
pub enum Event {
    /// An HTTP answer (`None`: no answer, a transport error); `retrying` when another
    /// attempt follows.
    Answer {
        status: Option<u16>,
        retrying: bool,
    },
    Sent {
        lead: Lead,
        status: u16,
    },
    /// The server refused the lead (4xx): rejected with its message.
    Rejected {
        lead: Lead,
        status: u16,
        message: String,
    },
    /// Gave up after retries, or an unretryable error.
    Failed {
        lead: Lead,
        status: Option<u16>,
        message: String,
    },
    /// Not sent because the run stopped.
    Unsent {
        lead: Lead,
    },
}

/// Send every lead from `leads` until it closes or `stop` fires.
pub async fn run(
    leads: mpsc::Receiver<Lead>,
    client: Arc<ApiClient>,
    pacer: Arc<Pacer>,
    cfg: DispatchConfig,
    stop: Stop,
    events: mpsc::UnboundedSender<Event>,
) {
    let leads = Arc::new(tokio::sync::Mutex::new(leads));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..cfg.concurrency.max(1) {
        let (leads, client, pacer, stop, events) = (
            Arc::clone(&leads),
            Arc::clone(&client),
            Arc::clone(&pacer),
            stop.clone(),
            events.clone(),
        );
        senders.spawn(async move {
            loop {
                let next = {
                    let mut rx = leads.lock().await;
                    tokio::select! {
                        biased;
                        _ = stop.stopped() => None,
                        l = rx.recv() => l,
                    }
                };
                let Some(lead) = next else { return };
                let event = send_one(lead, &client, &pacer, &cfg, &stop, &events).await;
                let _ = events.send(event);
            }
        });
    }
    while senders.join_next().await.is_some() {}
    // Whatever is still queued was never sent.
    let mut rx = leads.lock().await;
    rx.close();
    while let Ok(lead) = rx.try_recv() {
        let _ = events.send(Event::Unsent { lead });
    }
}

async fn send_one(
    lead: Lead,
    client: &ApiClient,
    pacer: &Pacer,
    cfg: &DispatchConfig,
    stop: &Stop,
    events: &mpsc::UnboundedSender<Event>,
) -> Event {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        tokio::select! {
            biased;
            _ = stop.stopped() => return Event::Unsent { lead },
            _ = pacer.ready() => {}
        }
        if stop.is_stopped() {
            return Event::Unsent { lead };
        }
        let answer = client.send(&lead).await;
        let status = match &answer {
            Answer::Status { status, limit, .. } => {
                pacer.observe(limit, cfg.concurrency);
                Some(*status)
            }
            Answer::Transport(_) => None,
        };
        let verdict = classify(&answer);
        let retrying = matches!(verdict, Verdict::Retry { .. }) && attempt < cfg.max_attempts;
        let _ = events.send(Event::Answer { status, retrying });
        match verdict {
            Verdict::Done => {
                return Event::Sent {
                    lead,
                    status: status.unwrap_or(200),
                };
            }
            Verdict::Reject(message) => {
                return Event::Rejected {
                    lead,
                    status: status.unwrap_or(400),
                    message,
                };
            }
            Verdict::Fail(message) => {
                return Event::Failed {
                    lead,
                    status,
                    message,
                };
            }
            Verdict::Fatal(message) => {
                stop.fatal(message);
                return Event::Unsent { lead };
            }
            Verdict::Retry {
                wait,
                pause_all,
                reason,
            } => {
                if !retrying {
                    return Event::Failed {
                        lead,
                        status,
                        message: format!("{reason} (gave up after {attempt} attempts)"),
                    };
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
                    _ = stop.stopped() => return Event::Unsent { lead },
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}
