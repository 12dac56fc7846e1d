//! What a sign-in leaves behind for a while: the failed attempts counted
//! under a login or an approving account (`throttle`), and device sign-ins
//! by code (RFC 8628) waiting for their approval.

use nubo_protocol::PendingSignIn;

use super::SqlStore;
use crate::store::db::{args, Backend, DbError};
use crate::store::{AccountKey, GrantPoll, NewGrant, SignIns, StoreError, StoreResult};
use crate::throttle::Failures;

impl<B: Backend> SignIns for SqlStore<B> {
    fn failures(&self, key: &str) -> StoreResult<Option<Failures>> {
        self.read(|db| {
            let row = db.query_opt(
                "SELECT failures, last_at FROM failed_attempts WHERE subject = ?1",
                args![key],
            )?;
            Ok(row
                .map(|r| {
                    Ok::<_, DbError>(Failures {
                        count: r.int(0)?.clamp(0, i64::from(u32::MAX)) as u32,
                        last: r.int(1)?,
                    })
                })
                .transpose()?)
        })
    }

    fn note_failure(&self, key: &str, now: i64) -> StoreResult<()> {
        self.write(|db| {
            let before = db.query_opt(
                "SELECT failures, last_at FROM failed_attempts WHERE subject = ?1",
                args![key],
            )?;
            let next = match before {
                Some(r) => Failures {
                    count: r.int(0)?.clamp(0, i64::from(u32::MAX)) as u32,
                    last: r.int(1)?,
                }
                .and_one(now),
                None => Failures {
                    count: 1,
                    last: now,
                },
            };
            db.exec(
                "INSERT INTO failed_attempts (subject, failures, last_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject) DO UPDATE SET failures = ?2, last_at = ?3",
                args![key, next.count, next.last],
            )?;
            Ok(())
        })
    }

    fn clear_failures(&self, key: &str) -> StoreResult<()> {
        self.write(|db| {
            db.exec("DELETE FROM failed_attempts WHERE subject = ?1", args![key])?;
            Ok(())
        })
    }

    fn create_grant(&self, grant: &NewGrant<'_>, now: i64, max_waiting: u64) -> StoreResult<()> {
        self.write(|db| {
            db.exec(
                "DELETE FROM device_grants WHERE expires_at <= ?1",
                args![now],
            )?;
            let waiting = db
                .query_one("SELECT COUNT(*) FROM device_grants", &[])?
                .size(0)?;
            if waiting >= max_waiting {
                return Err(StoreError::TooManyWaiting { retry_at: now + 60 });
            }
            db.exec(
                "INSERT INTO device_grants (code_hash, user_code, device_name, os, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![grant.code_hash, grant.user_code, grant.device_name, grant.os, grant.expires_at, now],
            )?;
            Ok(())
        })
    }

    fn waiting_grant(&self, user_code: &str, now: i64) -> StoreResult<Option<PendingSignIn>> {
        self.read(|db| {
            let row = db.query_opt(
                "SELECT user_code, device_name, os, created_at FROM device_grants
                 WHERE user_code = ?1 AND expires_at > ?2 AND account IS NULL",
                args![user_code, now],
            )?;
            Ok(row
                .map(|r| {
                    Ok::<_, DbError>(PendingSignIn {
                        user_code: r.text(0)?,
                        device_name: r.text(1)?,
                        os: r.text(2)?,
                        requested_at: r.int(3)?,
                    })
                })
                .transpose()?)
        })
    }

    fn approve_grant(&self, user_code: &str, account: AccountKey, now: i64) -> StoreResult<bool> {
        self.write(|db| {
            let n = db.exec(
                "UPDATE device_grants SET account = ?2
                 WHERE user_code = ?1 AND expires_at > ?3 AND account IS NULL",
                args![user_code, account, now],
            )?;
            Ok(n == 1)
        })
    }

    fn poll_grant(&self, code_hash: &str, now: i64, interval: i64) -> StoreResult<GrantPoll> {
        self.write(|db| {
            let row = db.query_opt(
                "SELECT device_name, expires_at, last_poll, account, os FROM device_grants
                 WHERE code_hash = ?1",
                args![code_hash],
            )?;
            let Some(r) = row else {
                return Ok(GrantPoll::Unknown);
            };
            let (expires_at, last_poll) = (r.int(1)?, r.int(2)?);
            if now >= expires_at {
                return Ok(GrantPoll::Expired);
            }
            if let Some(account) = r.opt_int(3)? {
                db.exec(
                    "DELETE FROM device_grants WHERE code_hash = ?1",
                    args![code_hash],
                )?;
                return Ok(GrantPoll::Approved {
                    account,
                    device_name: r.text(0)?,
                    os: r.text(4)?,
                });
            }
            db.exec(
                "UPDATE device_grants SET last_poll = ?2 WHERE code_hash = ?1",
                args![code_hash, now],
            )?;
            Ok(if now - last_poll < interval {
                GrantPoll::SlowDown
            } else {
                GrantPoll::Pending
            })
        })
    }

    fn purge_stale(&self, now: i64) -> StoreResult<u64> {
        self.write(|db| {
            let grants = db.exec(
                "DELETE FROM device_grants WHERE expires_at <= ?1",
                args![now],
            )?;
            let tokens = db.exec(
                "DELETE FROM tokens WHERE expires_at < ?1 AND EXISTS (
                    SELECT 1 FROM tokens newer WHERE newer.device = tokens.device
                    AND newer.kind = tokens.kind AND newer.expires_at > tokens.expires_at)",
                args![now],
            )?;
            let failures = db.exec(
                "DELETE FROM failed_attempts WHERE last_at < ?1",
                args![now - crate::throttle::FAILURES_KEPT_SECS],
            )?;
            Ok(grants + tokens + failures)
        })
    }
}
