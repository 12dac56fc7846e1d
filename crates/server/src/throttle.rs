//! Who may ask how often: requests that need no token are rate-limited per
//! client address (`Public`); wrong passwords and sign-in codes slow down
//! their address (here, per instance) and their login (in the store, shared
//! by every instance: `SignIns::note_failure`), and at most a few
//! password hashes run at once (`Throttle::hashing`), so that guessing can
//! neither go fast nor exhaust the CPU.
//!
//! A client's address is the connection's peer, unless the peer is a
//! reverse proxy the operator named (`--trusted-proxy`): then the address
//! that proxy put last into `X-Forwarded-For`. Nobody else can choose the
//! address they are counted under.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use nubo_protocol::{ApiError, ErrorCode};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::api::{AppError, AppState};

/// How the service meets clients it does not know yet.
#[derive(Debug, Clone)]
pub struct Throttling {
    /// Requests that need no token (sign-in, refresh, sign-in by code, the
    /// approval page), per client address: this many a minute...
    pub public_per_minute: u32,
    /// ...and this many at once after a quiet while.
    pub public_burst: u32,
    /// Reverse proxies in front of the service: a request from one of them
    /// counts for the address it names in `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpAddr>,
    /// Password hashes computed at once.
    pub hashing_at_once: usize,
    /// Sign-ins by code waiting at once, at most: each is a row anyone may
    /// create without an account.
    pub waiting_sign_ins: u64,
}

impl Default for Throttling {
    fn default() -> Self {
        Throttling {
            public_per_minute: 600,
            public_burst: 120,
            trusted_proxies: Vec::new(),
            hashing_at_once: std::thread::available_parallelism().map_or(2, |n| n.get()),
            waiting_sign_ins: 10_000,
        }
    }
}

/// Failures in a row, free before any wait: per login, and per address
/// (more, for the many people behind one address).
pub const FREE_FAILURES_PER_LOGIN: u32 = 5;
pub const FREE_FAILURES_PER_ADDRESS: u32 = 20;
/// The longest wait between attempts, however many failed.
pub const LONGEST_WAIT_SECS: i64 = 900;
/// Failures older than this are forgotten: counting starts again.
pub const FAILURES_KEPT_SECS: i64 = 86_400;
/// Addresses whose failures are remembered at once, at most.
const ADDRESSES_KEPT: usize = 100_000;
/// How long a password check waits for its turn before the service says
/// it is busy.
const HASHING_WAIT: Duration = Duration::from_secs(10);

/// Failed attempts in a row under one key, and when the last one was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub last: i64,
}

impl Failures {
    /// When the next attempt may come, with `free` failures free: None
    /// while it may come now. The wait doubles with each failure past the
    /// free ones, up to `LONGEST_WAIT_SECS`; a quiet day forgets them all.
    pub fn next_attempt_at(&self, free: u32, now: i64) -> Option<i64> {
        if self.count < free || now - self.last > FAILURES_KEPT_SECS {
            return None;
        }
        let wait = (1i64 << (self.count - free).min(20)).min(LONGEST_WAIT_SECS);
        Some(self.last + wait).filter(|&at| at > now)
    }

    /// One more failure at `now`.
    pub fn and_one(self, now: i64) -> Failures {
        if now - self.last > FAILURES_KEPT_SECS {
            return Failures {
                count: 1,
                last: now,
            };
        }
        Failures {
            count: self.count + 1,
            last: now,
        }
    }
}

/// The store's key of a login's failed sign-ins: the login as typed.
pub fn login_key(login: &str) -> String {
    format!("login:{login}")
}

/// The store's key of an account's wrong sign-in codes.
pub fn approver_key(account: crate::store::AccountKey) -> String {
    format!("approver:{account}")
}

/// "Too many attempts; try again at `at`."
pub fn too_many(at: i64, what: &str) -> AppError {
    let mut e = ApiError::new(
        ErrorCode::TooManyAttempts,
        format!(
            "too many {what}; try again at {} UTC",
            crate::clock::date_time(at)
        ),
    );
    e.retry_at = Some(at);
    AppError(e)
}

/// The key an address is counted under: IPv6 by its /64, as one machine
/// (or one home) usually holds a whole /64.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

pub struct Throttle {
    settings: Throttling,
    public: DefaultKeyedRateLimiter<IpAddr>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    hashing: Semaphore,
}

impl Throttle {
    pub fn new(settings: Throttling) -> Self {
        let per_minute = NonZeroU32::new(settings.public_per_minute.max(1)).expect("at least 1");
        let burst = NonZeroU32::new(settings.public_burst.max(1)).expect("at least 1");
        Throttle {
            public: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            failures: Mutex::default(),
            hashing: Semaphore::new(settings.hashing_at_once.max(1)),
            settings,
        }
    }

    pub fn settings(&self) -> &Throttling {
        &self.settings
    }

    /// The client's address: the peer's, or the one a trusted proxy names.
    pub fn client_of(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let trusted = |ip: &IpAddr| self.settings.trusted_proxies.contains(ip);
        if !trusted(&peer) {
            return peer;
        }
        // The hops, nearest last: the first one from the right that is not
        // one of ours is the client (what is left of it, anyone could write).
        forwarded_for
            .into_iter()
            .flat_map(|h| h.rsplit(','))
            .map_while(|hop| hop.trim().parse::<IpAddr>().ok())
            .find(|ip| !trusted(ip))
            .unwrap_or(peer)
    }

    /// Counts a request that needs no token; refused past the address's rate.
    pub fn public_request(&self, client: IpAddr, now: i64) -> Result<(), AppError> {
        if self.public.len() > ADDRESSES_KEPT {
            self.public.retain_recent();
        }
        match self.public.check_key(&key_of(client)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(too_many(
                    now + wait.as_secs() as i64 + 1,
                    "requests from this address",
                ))
            }
        }
    }

    /// When the address may try a password or code again (None: now).
    pub fn address_waits_until(&self, client: IpAddr, now: i64) -> Option<i64> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .get(&key_of(client))
            .and_then(|f| f.next_attempt_at(FREE_FAILURES_PER_ADDRESS, now))
    }

    /// Notes a wrong password or code from the address.
    pub fn address_failed(&self, client: IpAddr, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= ADDRESSES_KEPT {
            failures.retain(|_, f| now - f.last <= LONGEST_WAIT_SECS);
            if failures.len() >= ADDRESSES_KEPT {
                // Too many addresses at once to remember: the store still
                // slows down each login.
                failures.clear();
            }
        }
        let key = key_of(client);
        let next = match failures.get(&key) {
            Some(f) => f.and_one(now),
            None => Failures {
                count: 1,
                last: now,
            },
        };
        failures.insert(key, next);
    }

    /// A turn to compute a password hash; refused when none comes soon.
    pub async fn hashing(&self, now: i64) -> Result<SemaphorePermit<'_>, AppError> {
        match tokio::time::timeout(HASHING_WAIT, self.hashing.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(too_many(now + 1, "sign-ins at once")),
        }
    }
}

/// The client's address (`Throttle::client_of`).
pub struct Client(pub IpAddr);

impl FromRequestParts<AppState> for Client {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(Client(state.throttle.client_of(peer, forwarded)))
    }
}

/// A request that needs no token, counted against its client address's
/// rate: the address.
pub struct Public(pub IpAddr);

impl FromRequestParts<AppState> for Public {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Client(client) = Client::from_request_parts(parts, state).await?;
        state.throttle.public_request(client, state.now())?;
        Ok(Public(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_past_the_free_failures_and_a_quiet_day_forgets() {
        let at = |count, last| Failures { count, last }.next_attempt_at(5, 1000);
        assert_eq!(at(4, 1000), None);
        assert_eq!(at(5, 1000), Some(1001));
        assert_eq!(at(7, 1000), Some(1004));
        assert_eq!(at(40, 1000), Some(1000 + LONGEST_WAIT_SECS));
        assert_eq!(at(7, 990), None, "the wait is over");
        let old = Failures { count: 40, last: 0 };
        assert_eq!(old.and_one(FAILURES_KEPT_SECS + 1).count, 1);
    }

    /// Guessing cannot take every core: past the turns, a check waits, and
    /// a wait too long is refused (on tokio's paused clock: no real wait).
    #[tokio::test(start_paused = true)]
    async fn only_so_many_password_hashes_run_at_once() {
        let t = Throttle::new(Throttling {
            hashing_at_once: 2,
            ..Throttling::default()
        });
        let (first, second) = (t.hashing(0).await, t.hashing(0).await);
        assert!(first.is_ok() && second.is_ok());
        let third = t.hashing(100).await.expect_err("no third turn at once");
        assert_eq!(third.0.code, ErrorCode::TooManyAttempts);
        assert_eq!(third.0.retry_at, Some(101));
        drop(first);
        assert!(
            t.hashing(0).await.is_ok(),
            "a turn comes back when one ends"
        );
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Throttle::new(Throttling {
            trusted_proxies: vec![proxy],
            ..Throttling::default()
        });
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(t.client_of(other, Some("198.51.100.1")), other);
        let client: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            t.client_of(proxy, Some("203.0.113.9, 198.51.100.1")),
            client
        );
        assert_eq!(t.client_of(proxy, Some("198.51.100.1, 10.0.0.1")), client);
        assert_eq!(t.client_of(proxy, None), proxy);
        assert_eq!(t.client_of(proxy, Some("garbage")), proxy);
    }
}
