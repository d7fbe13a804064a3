//! Pacing: a governor limiter for `--rate`/`--burst`, plus a shared "not before"
//! instant that pauses every sender (Retry-After, X-RateLimit-* running out).

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::api::answer::RateHeaders;

/// `--rate`: N per second/minute/hour, or unlimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Unlimited,
    /// Time between requests.
    Every(Duration),
}

/// A rate that cannot be read; the caller names its flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("{0}: expected N/s, N/m, N/h or unlimited")]
    NotARate(String),
    #[error("{0}: unknown unit '{1}' (s, m, h)")]
    Unit(String, String),
    #[error("{0}: the number must be above 0")]
    NotPositive(String),
    #[error("{0}: give the unit: {0}/s, {0}/m or {0}/h")]
    NoUnit(String),
}

impl Rate {
    /// `N/s`, `N/m`, `N/h` (N may have a fraction) or `unlimited`. A number
    /// without a unit is refused: `5` could mean 5 a second or 5 a minute.
    pub fn parse(s: &str) -> Result<Rate, RateError> {
        let s = s.trim().to_ascii_lowercase();
        if s == "unlimited" || s == "none" {
            return Ok(Rate::Unlimited);
        }
        let Some((n, unit)) = s.split_once('/') else {
            return Err(RateError::NoUnit(s));
        };
        let n: f64 = n
            .trim()
            .parse()
            .map_err(|_| RateError::NotARate(s.clone()))?;
        let secs = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            other => return Err(RateError::Unit(s.clone(), other.to_string())),
        };
        if !(n.is_finite() && n > 0.0) {
            return Err(RateError::NotPositive(s));
        }
        Ok(Rate::Every(Duration::from_secs_f64(secs / n)))
    }

    pub fn per_second(&self) -> Option<f64> {
        match self {
            Rate::Unlimited => None,
            Rate::Every(d) => Some(1.0 / d.as_secs_f64()),
        }
    }
}

/// Pauses that end within this of one already announced are the same wait (every
/// sender meets the same 429 and sets its own pause).
const NEWS: Duration = Duration::from_secs(1);

pub struct Pacer {
    limiter: Option<DefaultDirectRateLimiter>,
    not_before: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(rate: Rate, burst: NonZeroU32) -> Pacer {
        let limiter = match rate {
            Rate::Unlimited => None,
            Rate::Every(period) => {
                Quota::with_period(period).map(|q| RateLimiter::direct(q.allow_burst(burst)))
            }
        };
        Pacer {
            limiter,
            not_before: Mutex::new(None),
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        let nb = *self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        nb.filter(|t| *t > Instant::now())
    }

    /// Wait until a request may leave.
    pub async fn ready(&self) {
        loop {
            if let Some(t) = self.paused_until() {
                tokio::time::sleep_until(t).await;
                continue;
            }
            if let Some(l) = &self.limiter {
                l.until_ready().await;
            }
            // A pause may have started while waiting for the limiter.
            if self.paused_until().is_none() {
                return;
            }
        }
    }

    /// Pause every sender until `t` (a later pause wins). True when this moves
    /// the end of the pause by more than [`NEWS`]: a wait to announce, if long.
    pub fn pause_until(&self, t: Instant) -> bool {
        let mut nb = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        let news = nb.is_none_or(|cur| t > cur + NEWS);
        if nb.is_none_or(|cur| t > cur) {
            *nb = Some(t);
        }
        news
    }

    /// Slow down before the server refuses: when `X-RateLimit-Remaining` is used up,
    /// wait for the reset; when it runs low, spread what is left over the window.
    /// The wait it started, when it started one worth announcing.
    pub fn observe(&self, h: &RateHeaders, concurrency: usize) -> Option<Duration> {
        let (Some(remaining), Some(reset)) = (h.remaining, h.reset) else {
            return None;
        };
        let wait = if remaining == 0 {
            reset
        } else if (remaining as usize) < concurrency {
            reset.div_f64(remaining as f64 + 1.0)
        } else {
            return None;
        };
        self.pause_until(Instant::now() + wait).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(Rate::parse("1/s"), Ok(Rate::Every(Duration::from_secs(1))));
        assert_eq!(Rate::parse("60/m"), Ok(Rate::Every(Duration::from_secs(1))));
        assert_eq!(
            Rate::parse("10"),
            Err(RateError::NoUnit("10".into())),
            "a number without a unit is refused"
        );
        assert_eq!(
            Rate::parse("10/s"),
            Ok(Rate::Every(Duration::from_millis(100)))
        );
        assert_eq!(
            Rate::parse("0.5/s"),
            Ok(Rate::Every(Duration::from_secs(2)))
        );
        assert_eq!(Rate::parse("unlimited"), Ok(Rate::Unlimited));
        assert!(Rate::parse("fast").is_err());
        assert!(Rate::parse("5/day").is_err());
        assert!(Rate::parse("-1/s").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_hold_every_sender() {
        let p = Pacer::new(Rate::Unlimited, NonZeroU32::MIN);
        let start = Instant::now();
        p.pause_until(start + Duration::from_millis(150));
        p.pause_until(start + Duration::from_millis(50)); // earlier: ignored
        p.ready().await;
        // On tokio's paused clock: the wait is exactly the pause, not a sleep.
        assert_eq!(start.elapsed(), Duration::from_millis(150));
    }

    #[tokio::test(start_paused = true)]
    async fn observe_pauses_when_the_window_is_used_up() {
        let p = Pacer::new(Rate::Unlimited, NonZeroU32::MIN);
        let h = RateHeaders {
            limit: Some(10),
            remaining: Some(0),
            reset: Some(Duration::from_millis(120)),
        };
        let start = Instant::now();
        p.observe(&h, 4);
        p.ready().await;
        assert_eq!(start.elapsed(), Duration::from_millis(120));
        let plenty = RateHeaders {
            limit: Some(10),
            remaining: Some(9),
            reset: Some(Duration::from_secs(60)),
        };
        p.observe(&plenty, 4);
        assert!(p.paused_until().is_none());
    }
}
