//! Bandwidth limits: a token bucket per direction. The arithmetic is a pure
//! function of time so it is tested without a clock; `RateLimit` applies it
//! with real sleeps.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long to wait before sending `n` bytes, given the bucket's state.
/// `tokens` may go negative: a chunk larger than one second's allowance is
/// allowed through and paid for afterwards.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub bytes_per_sec: f64,
    pub tokens: f64,
    pub at: Instant,
}

impl Bucket {
    pub fn new(bytes_per_sec: u64, now: Instant) -> Self {
        Bucket {
            bytes_per_sec: bytes_per_sec as f64,
            tokens: bytes_per_sec as f64,
            at: now,
        }
    }

    /// Takes `n` bytes at `now`; returns how long the caller must wait.
    pub fn take(&mut self, n: u64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        // At most one second of burst is saved up.
        self.tokens = (self.tokens + elapsed * self.bytes_per_sec).min(self.bytes_per_sec);
        self.at = now;
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.bytes_per_sec)
        }
    }
}

/// A limit shared by every transfer in one direction; `None` is unlimited.
#[derive(Debug, Default)]
pub struct RateLimit {
    bucket: Option<Mutex<Bucket>>,
}

impl RateLimit {
    /// `kb_per_sec` of 0 means no limit.
    pub fn new(kb_per_sec: u64) -> Self {
        RateLimit {
            bucket: (kb_per_sec > 0)
                .then(|| Mutex::new(Bucket::new(kb_per_sec * 1000, Instant::now()))),
        }
    }

    pub async fn acquire(&self, n: u64) {
        let wait = match &self.bucket {
            Some(b) => b
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(n, Instant::now()),
            None => return,
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The limits of one engine: what a user sets in the settings.
#[derive(Debug, Default)]
pub struct Limits {
    pub up: RateLimit,
    pub down: RateLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_at_the_set_rate_with_one_second_of_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, t0);
        assert_eq!(
            b.take(1000, t0),
            Duration::ZERO,
            "one second's worth goes at once"
        );
        assert_eq!(b.take(500, t0), Duration::from_millis(500), "then it waits");
        // Half a second later the debt is paid: the next 500 bytes wait 0.5 s.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(b.take(500, t1), Duration::from_millis(500));
        // A long pause saves up at most one second.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(b.take(1000, t2), Duration::ZERO);
        assert_eq!(b.take(1000, t2), Duration::from_secs(1));
    }

    #[test]
    fn ten_megabytes_at_one_megabyte_per_second_take_about_nine_seconds() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1_000_000, t0);
        let mut now = t0;
        for _ in 0..10 {
            now += b.take(1_000_000, now);
        }
        assert_eq!(now - t0, Duration::from_secs(9));
    }
}
