//! The sandbox's fault machinery: a token bucket for rate limiting (with the headers
//! a client can pace by, `X-RateLimit-Reset` in the unit asked for) and seeded dice
//! for the faults given as shares of requests.

use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, HeaderValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::config::ResetFormat;

/// Token bucket: `rate` tokens a second, holding at most one second's worth.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

/// Rate-limit headers for one answer.
#[derive(Debug, Clone, Copy)]
pub struct LimitHeaders {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the bucket is full again (rounded up).
    pub reset: u64,
    /// The same, unrounded.
    pub reset_in: Duration,
    /// Seconds until a request would pass (for `Retry-After`).
    pub retry_after: u64,
}

impl LimitHeaders {
    /// Set the headers; `X-RateLimit-Reset` as `format` says, from the clock now.
    pub fn apply(&self, headers: &mut HeaderMap, format: ResetFormat) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from(self.reset_value(format, SystemTime::now())),
        );
        if self.retry_after > 0 {
            headers.insert("retry-after", HeaderValue::from(self.retry_after));
        }
    }

    /// `X-RateLimit-Reset`: the delta, or the reset instant's Unix time (rounded up).
    pub fn reset_value(&self, format: ResetFormat, now: SystemTime) -> u64 {
        let at = || {
            (now + self.reset_in)
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
        };
        match format {
            ResetFormat::Delta => self.reset,
            ResetFormat::EpochS => at().as_nanos().div_ceil(1_000_000_000) as u64,
            ResetFormat::EpochMs => at().as_nanos().div_ceil(1_000_000) as u64,
        }
    }
}

impl Bucket {
    pub fn new(rate: f64) -> Bucket {
        let capacity = rate.max(1.0);
        Bucket {
            rate,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.last = now;
    }

    fn headers(&self, retry_after: u64) -> LimitHeaders {
        let reset_in = ((self.capacity - self.tokens) / self.rate).max(0.0);
        LimitHeaders {
            limit: self.capacity as u64,
            remaining: self.tokens.max(0.0) as u64,
            reset: reset_in.ceil() as u64,
            reset_in: Duration::from_secs_f64(reset_in),
            retry_after,
        }
    }

    /// Take a token: `Ok` with headers, or `Err` with the wait in `Retry-After`.
    pub fn take(&mut self) -> Result<LimitHeaders, LimitHeaders> {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(self.headers(0))
        } else {
            let wait = ((1.0 - self.tokens) / self.rate).ceil().max(1.0) as u64;
            Err(self.headers(wait))
        }
    }
}

/// Seeded randomness, so that a fault run can be repeated.
pub struct Dice(StdRng);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(StdRng::seed_from_u64(seed))
    }

    /// True with probability `p`.
    pub fn roll(&mut self, p: f64) -> bool {
        p > 0.0 && self.0.random::<f64>() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_beyond_its_capacity_and_says_when_to_retry() {
        let mut b = Bucket::new(3.0);
        for left in [2, 1, 0] {
            assert_eq!(b.take().unwrap().remaining, left);
        }
        let refused = b.take().unwrap_err();
        assert_eq!(refused.remaining, 0);
        assert!(refused.retry_after >= 1);
        assert_eq!(refused.limit, 3);
    }

    #[test]
    fn the_reset_header_counts_in_the_unit_asked_for() {
        let h = LimitHeaders {
            limit: 1,
            remaining: 0,
            reset: 2,
            reset_in: Duration::from_millis(1_500),
            retry_after: 2,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(h.reset_value(ResetFormat::Delta, now), 2);
        assert_eq!(h.reset_value(ResetFormat::EpochS, now), 1_700_000_002);
        assert_eq!(h.reset_value(ResetFormat::EpochMs, now), 1_700_000_001_750);
    }

    #[test]
    fn dice_are_repeatable() {
        let a: Vec<bool> = {
            let mut d = Dice::new(7);
            (0..100).map(|_| d.roll(0.3)).collect()
        };
        let b: Vec<bool> = {
            let mut d = Dice::new(7);
            (0..100).map(|_| d.roll(0.3)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
        let mut d = Dice::new(1);
        assert!(!(0..1000).any(|_| d.roll(0.0)));
    }
}
