//! The simulation's one clock: every client and the service read it, and
//! only the simulation moves it (clients may see it skewed).

use std::sync::atomic::{AtomicI64, Ordering};

pub struct SimClock {
    ns: AtomicI64,
}

impl SimClock {
    pub fn new(start_secs: i64) -> Self {
        SimClock {
            ns: AtomicI64::new(start_secs * 1_000_000_000),
        }
    }

    pub fn now_ns(&self) -> i64 {
        self.ns.load(Ordering::SeqCst)
    }

    pub fn advance_ms(&self, ms: i64) {
        self.ns.fetch_add(ms * 1_000_000, Ordering::SeqCst);
    }
}

/// One client's view: the shared clock plus a skew.
pub struct SkewedClock {
    pub clock: std::sync::Arc<SimClock>,
    pub skew_secs: i64,
}

impl nubo_engine::clock::Clock for SkewedClock {
    fn now(&self) -> time::OffsetDateTime {
        let ns = self.clock.now_ns() as i128 + self.skew_secs as i128 * 1_000_000_000;
        time::OffsetDateTime::from_unix_timestamp_nanos(ns)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

impl nubo_server::clock::Clock for SimClock {
    fn now(&self) -> i64 {
        self.now_ns() / 1_000_000_000
    }
}
