//! The answer policy: what an answer says about the lead, or about the endpoint as
//! a whole, and how long to wait before trying again.

use std::time::Duration;

use rand::Rng;

use super::fault::{FaultKind, RunFault};
use crate::api::answer::{Answer, Status, Transport};

/// Without `Retry-After`, a 429 pauses every sender this long (API-NOTES: the
/// documented window is a minute).
pub const DEFAULT_429_PAUSE: Duration = Duration::from_secs(60);

/// The fields every set-click request carries: a "Missing required parameter"
/// naming one of them says the body did not arrive whole, not that the lead lacks it.
const ALWAYS_SENT: [&str; 4] = ["account_id", "url_parameters", "click_time", "settings"];

/// What kind of retryable failure an attempt met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 5xx (but 501 and 505), 408, 425.
    Server,
    /// 429: the API answered, and asked to slow down.
    RateLimited,
    /// No connection: refused, DNS, TLS.
    Connect,
    /// A 2xx whose body is an error, once leads have gone in.
    ErrorBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// 2xx with an empty or non-error body: the lead is in.
    Done,
    /// The API refused this lead (400/422 about it): into the rejects file.
    Refuse(String),
    /// Try again after `wait` (or a backoff); `pause_all` holds every sender.
    Retry {
        wait: Option<Duration>,
        pause_all: bool,
        reason: String,
        failure: Failure,
    },
    /// The request was written and no answer came (the connection broke, or
    /// `--timeout` passed): the API may have applied it.
    Uncertain { reason: String, timed_out: bool },
    /// The answer is about the endpoint, not this lead: the run stops.
    Fault(RunFault),
    /// An error answer not worth retrying: the lead failed.
    Fail(String),
}

/// What the policy needs to know beyond the answer.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The set-click URL, for messages.
    pub endpoint: &'a str,
    /// Some lead went in during this run: a 2xx error body is then about the
    /// moment (retried), before that about the endpoint (a fault).
    pub any_success: bool,
    /// The request body, to tell a field the lead lacks from one that was lost.
    pub body: &'a [u8],
}

pub fn classify(answer: &Answer, cx: &Context<'_>) -> Verdict {
    match answer {
        Answer::Transport(Transport::Connect(m)) => Verdict::Retry {
            wait: None,
            pause_all: false,
            reason: m.clone(),
            failure: Failure::Connect,
        },
        Answer::Transport(Transport::Unusable(m)) => Verdict::Fault(RunFault::new(
            FaultKind::Endpoint,
            format!("cannot connect to {}: {m}", cx.endpoint),
        )),
        Answer::Transport(Transport::NoAnswer(m)) => Verdict::Uncertain {
            reason: m.clone(),
            timed_out: false,
        },
        Answer::Transport(Transport::TimedOut(m)) => Verdict::Uncertain {
            reason: m.clone(),
            timed_out: true,
        },
        Answer::Status(s) => classify_status(s, cx),
    }
}

fn classify_status(s: &Status, cx: &Context<'_>) -> Verdict {
    let msg = || {
        s.message
            .clone()
            .unwrap_or_else(|| format!("HTTP {}", s.status))
    };
    let fault = |kind, message: String| Verdict::Fault(RunFault::new(kind, message));
    match s.status {
        200..=299 => match &s.error_body {
            None => Verdict::Done,
            Some(text) if !cx.any_success => {
                let kind = if text.to_ascii_lowercase().contains("account") {
                    FaultKind::Account
                } else {
                    FaultKind::Endpoint
                };
                fault(
                    kind,
                    format!(
                        "{} answered HTTP {} with an error instead of an empty body: {text}",
                        cx.endpoint, s.status
                    ),
                )
            }
            Some(text) => Verdict::Retry {
                wait: s.retry_after,
                pause_all: false,
                reason: format!("HTTP {} with an error: {text}", s.status),
                failure: Failure::ErrorBody,
            },
        },
        301..=303 | 307 | 308 => fault(FaultKind::Redirected, redirect_message(s, cx)),
        300..=399 => fault(
            FaultKind::Endpoint,
            format!("{} answered {} to a POST", cx.endpoint, msg()),
        ),
        401 | 403 => fault(
            FaultKind::Credentials,
            format!("the API refused the credentials ({})", msg()),
        ),
        404 | 405 | 406 | 410 | 415 => fault(
            FaultKind::Endpoint,
            format!(
                "{} answered {}: it is not the set-click endpoint, or not one that takes \
                 setclick's requests{}",
                cx.endpoint,
                msg(),
                set_click_here(cx.endpoint)
            ),
        ),
        429 => Verdict::Retry {
            wait: Some(s.retry_after.unwrap_or(DEFAULT_429_PAUSE)),
            pause_all: true,
            reason: msg(),
            failure: Failure::RateLimited,
        },
        // 501 and 505 are the server's final word on any request: not retried.
        501 | 505 => Verdict::Fail(msg()),
        408 | 425 | 500..=599 => Verdict::Retry {
            wait: s.retry_after,
            // A server that says when to come back says it to everybody.
            pause_all: s.retry_after.is_some(),
            reason: msg(),
            failure: Failure::Server,
        },
        400..=499 => match missing_field(&msg(), cx.body) {
            Some(field) => fault(
                FaultKind::Field,
                format!(
                    "the API says '{field}' is missing, but setclick sent it ({})",
                    msg()
                ),
            ),
            None => Verdict::Refuse(msg()),
        },
        _ => Verdict::Fail(msg()),
    }
}

/// The set-click URL on the endpoint's host, when the endpoint is not it.
fn set_click_here(endpoint: &str) -> String {
    const PATH: &str = "/api/auth/v1.0/set-click";
    match reqwest::Url::parse(endpoint) {
        Ok(mut u) if !u.path().ends_with(PATH) => {
            u.set_path(PATH);
            u.set_query(None);
            format!(" (the set-click URL on this host would be {u})")
        }
        _ => String::new(),
    }
}

fn redirect_message(s: &Status, cx: &Context<'_>) -> String {
    let to = s
        .location
        .as_deref()
        .unwrap_or("nowhere (no Location header)");
    match s.status {
        307 | 308 => format!(
            "{} redirects (HTTP {}) to {to}, which setclick cannot follow (plain http away \
             from loopback, not a URL, or more than 3 hops)",
            cx.endpoint, s.status
        ),
        _ => format!(
            "{} redirects the POST to {to} (HTTP {}): following it would turn the POST into a \
             GET and send no lead",
            cx.endpoint, s.status
        ),
    }
}

/// The field of a "Missing required parameter: X" answer, when the request did
/// carry X (always sent, or present in the body).
fn missing_field(message: &str, body: &[u8]) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("missing required parameter")?;
    let field: String = message[at + "missing required parameter".len()..]
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let in_body = form_urlencoded::parse(body).any(|(k, v)| k == field && !v.is_empty());
    (ALWAYS_SENT.contains(&field.as_str()) || in_body).then_some(field)
}

/// Capped exponential backoff with full jitter: attempt n waits a random time in
/// `[0, min(cap, base * 2^(n-1))]`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        exp.min(self.cap)
    }

    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling.mul_f64(rng.random::<f64>())
    }
}

#[cfg(test)]
mod tests;
