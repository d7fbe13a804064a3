//! The retry policy: what an answer means, and how long to wait before trying again.

use std::time::Duration;

use rand::Rng;

use crate::api::answer::Answer;

/// Without `Retry-After`, a 429 pauses every sender this long (API-NOTES: the
/// documented window is a minute).
pub const DEFAULT_429_PAUSE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// 2xx: the lead is in.
    Done,
    /// Try again after `wait` (or a backoff); `pause_all` stops every sender meanwhile.
    Retry {
        wait: Option<Duration>,
        pause_all: bool,
        reason: String,
    },
    /// The server refused this lead (400 and other 4xx): into the rejects file.
    Reject(String),
    /// An error answer not worth retrying (501, 505...): the lead failed.
    Fail(String),
    /// Credentials or scope refused (401/403): stop the run.
    Fatal(String),
}

pub fn classify(answer: &Answer) -> Verdict {
    match answer {
        Answer::Transport(msg) => Verdict::Retry {
            wait: None,
            pause_all: false,
            reason: msg.clone(),
        },
        Answer::Status {
            status,
            retry_after,
            message,
            ..
        } => {
            let msg = || message.clone().unwrap_or_else(|| format!("HTTP {status}"));
            match *status {
                200..=299 => Verdict::Done,
                401 | 403 => Verdict::Fatal(msg()),
                429 => Verdict::Retry {
                    wait: Some(retry_after.unwrap_or(DEFAULT_429_PAUSE)),
                    pause_all: true,
                    reason: msg(),
                },
                408 | 425 | 500 | 502 | 503 | 504 => Verdict::Retry {
                    wait: *retry_after,
                    // A server that says when to come back says it to everybody.
                    pause_all: retry_after.is_some(),
                    reason: msg(),
                },
                400..=499 => Verdict::Reject(msg()),
                _ => Verdict::Fail(msg()),
            }
        }
    }
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
mod tests {
    use super::*;
    use crate::api::answer::RateHeaders;

    fn status(code: u16, retry_after: Option<u64>) -> Answer {
        Answer::Status {
            status: code,
            retry_after: retry_after.map(Duration::from_secs),
            limit: RateHeaders::default(),
            message: Some(format!("HTTP {code}: x")),
        }
    }

    #[test]
    fn classification_follows_the_design() {
        assert_eq!(classify(&status(200, None)), Verdict::Done);
        assert_eq!(classify(&status(204, None)), Verdict::Done);
        for code in [408, 425, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify(&status(code, None)),
                    Verdict::Retry {
                        pause_all: false,
                        wait: None,
                        ..
                    }
                ),
                "{code}"
            );
        }
        assert!(matches!(
            classify(&status(503, Some(5))),
            Verdict::Retry { pause_all: true, wait: Some(w), .. } if w == Duration::from_secs(5)
        ));
        assert!(matches!(
            classify(&status(429, None)),
            Verdict::Retry { pause_all: true, wait: Some(w), .. } if w == DEFAULT_429_PAUSE
        ));
        assert!(matches!(classify(&status(401, None)), Verdict::Fatal(_)));
        assert!(matches!(classify(&status(403, None)), Verdict::Fatal(_)));
        assert!(matches!(classify(&status(400, None)), Verdict::Reject(m) if m.contains("400")));
        assert!(matches!(classify(&status(422, None)), Verdict::Reject(_)));
        assert!(matches!(classify(&status(501, None)), Verdict::Fail(_)));
        assert!(matches!(
            classify(&Answer::Transport("reset".into())),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(1), Duration::from_millis(500));
        assert_eq!(b.ceiling(2), Duration::from_secs(1));
        assert_eq!(b.ceiling(4), Duration::from_secs(4));
        assert_eq!(b.ceiling(10), Duration::from_secs(30));
        assert_eq!(b.ceiling(200), Duration::from_secs(30));
        let mut rng = rand::rng();
        let waits: Vec<Duration> = (0..200).map(|_| b.delay(3, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(2)));
        assert!(
            waits.iter().any(|w| *w < Duration::from_millis(500)),
            "full jitter reaches low values"
        );
    }
}
