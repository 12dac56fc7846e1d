//! The account's standing over time, as the service's agreements set it: an
//! account nobody used for 12 months is frozen (files kept, sync refused); a
//! sign-in within 30 days reactivates it; after that its content is deleted.
//! Computed from the last authenticated use, so it holds at every request
//! even before the background job has run.

use nubo_protocol::{ApiError, ErrorCode};

use crate::clock::date;

pub const FREEZE_AFTER_SECS: i64 = 365 * 86_400;
pub const DELETE_AFTER_FREEZE_SECS: i64 = 30 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    Frozen { deletes_at: i64 },
    Deleted,
}

pub fn standing(last_used_at: i64, deleted: bool, now: i64) -> Standing {
    let frozen_at = last_used_at + FREEZE_AFTER_SECS;
    let deletes_at = frozen_at + DELETE_AFTER_FREEZE_SECS;
    if deleted || now >= deletes_at {
        Standing::Deleted
    } else if now >= frozen_at {
        Standing::Frozen { deletes_at }
    } else {
        Standing::Active
    }
}

/// Accounts last used before this, at `now`, are past their deletion date.
pub fn deleted_if_last_used_before(now: i64) -> i64 {
    now - FREEZE_AFTER_SECS - DELETE_AFTER_FREEZE_SECS
}

/// The answer to any use of an account that is not active.
pub fn refusal(s: Standing) -> Option<ApiError> {
    match s {
        Standing::Active => None,
        Standing::Frozen { deletes_at } => {
            let mut e = ApiError::new(
                ErrorCode::AccountFrozen,
                format!(
                    "this account was not used for 12 months and is frozen: its files are kept on the service but not synced. \
                     Sign in with your password before {} to reactivate it; after that day the service deletes its files \
                     (the files on your computers stay)",
                    date(deletes_at)
                ),
            );
            e.deletes_at = Some(deletes_at);
            Some(e)
        }
        Standing::Deleted => Some(ApiError::new(
            ErrorCode::AccountDeleted,
            "this account was deleted on the service (cancelled, or frozen too long): nothing of it is left there. \
             The files on this computer were kept",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_after_a_year_and_deleted_thirty_days_later() {
        let t0 = 1_800_000_000;
        assert_eq!(
            standing(t0, false, t0 + FREEZE_AFTER_SECS - 1),
            Standing::Active
        );
        assert_eq!(
            standing(t0, false, t0 + FREEZE_AFTER_SECS),
            Standing::Frozen {
                deletes_at: t0 + FREEZE_AFTER_SECS + DELETE_AFTER_FREEZE_SECS
            }
        );
        assert_eq!(
            standing(t0, false, t0 + FREEZE_AFTER_SECS + DELETE_AFTER_FREEZE_SECS),
            Standing::Deleted
        );
        assert_eq!(standing(t0, true, t0), Standing::Deleted);
    }
}
