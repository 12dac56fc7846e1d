//! The one schedule of waits that double after each failure, up to a cap:
//! the sync loop after a failed pass, the push channel's reconnects, and an
//! operation held back after failing (`failing.rs`).

use std::time::Duration;

/// The wait after `failures` failures in a row (at least one): `first`,
/// then twice as long after each further one, never more than `max`.
pub fn wait(first: Duration, failures: u32, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    first.saturating_mul(1 << doublings).min(max)
}

/// Failures in a row, counted for `wait`; a success resets them.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            failures: 0,
        }
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// One more failure: how long to wait before the next try.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        wait(self.first, self.failures, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_start_again_after_a_success() {
        let s = Duration::from_secs;
        let mut b = Backoff::new(s(2), s(60));
        let waits: Vec<u64> = (0..7).map(|_| b.failed().as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
        b.reset();
        assert_eq!(b.failed(), s(2));
        // However many failures, no overflow: the cap.
        assert_eq!(wait(s(5), u32::MAX, s(900)), s(900));
    }
}
