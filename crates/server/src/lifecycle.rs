//! The account's standing over time, as the service's agreements set it
//! (account agreement 2.5 and 5.1, cloud service agreement 1.5): an account
//! nobody used for 12 months is frozen (files kept, sync refused); a
//! sign-in within 30 days reactivates it; after that its content is
//! deleted, but the account itself stays until 24 months without use, when
//! it is cancelled. Computed from the last authenticated use, so it holds
//! at every request even before the background job has run.

use nubo_protocol::{ApiError, ErrorCode};

use crate::clock::date;

pub const FREEZE_AFTER_SECS: i64 = 365 * 86_400;
pub const DELETE_AFTER_FREEZE_SECS: i64 = 30 * 86_400;
/// An account unused this long is cancelled (24 months).
pub const CANCEL_AFTER_SECS: i64 = 2 * 365 * 86_400;
/// How long the record of consent of a cancelled account is kept: the
/// time within which a claim about its processing can still be brought.
pub const KEEP_CONSENT_SECS: i64 = 3 * 365 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    Frozen {
        deletes_at: i64,
    },
    /// Unused for 13 months: its content was deleted (or is, at the next
    /// job or sign-in); a sign-in with the password starts it over.
    Emptied {
        deleted_at: i64,
        cancels_at: i64,
    },
    /// Cancelled, by its owner or after 24 months unused.
    Deleted,
}

pub fn standing(last_used_at: i64, deleted: bool, now: i64) -> Standing {
    let frozen_at = last_used_at + FREEZE_AFTER_SECS;
    let deletes_at = frozen_at + DELETE_AFTER_FREEZE_SECS;
    let cancels_at = last_used_at + CANCEL_AFTER_SECS;
    if deleted || now >= cancels_at {
        Standing::Deleted
    } else if now >= deletes_at {
        Standing::Emptied {
            deleted_at: deletes_at,
            cancels_at,
        }
    } else if now >= frozen_at {
        Standing::Frozen { deletes_at }
    } else {
        Standing::Active
    }
}

/// Accounts last used before this, at `now`, are past their content's deletion date.
pub fn emptied_if_last_used_before(now: i64) -> i64 {
    now - FREEZE_AFTER_SECS - DELETE_AFTER_FREEZE_SECS
}

/// Accounts last used before this, at `now`, are to be cancelled.
pub fn cancelled_if_last_used_before(now: i64) -> i64 {
    now - CANCEL_AFTER_SECS
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
        Standing::Emptied { deleted_at, cancels_at } => Some(ApiError::new(
            ErrorCode::AccountDeleted,
            format!(
                "this account stayed frozen for 30 days, so its files were deleted on the service on {}: nothing of them is left there. \
                 The files on this computer were kept. Signing in with your password starts the account over, empty; \
                 unused, the account is cancelled on {}",
                date(deleted_at),
                date(cancels_at)
            ),
        )),
        Standing::Deleted => Some(ApiError::new(
            ErrorCode::AccountDeleted,
            "this account was cancelled and deleted on the service: nothing of it is left there. \
             The files on this computer were kept",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_after_a_year_emptied_thirty_days_later_cancelled_after_two_years() {
        let t0 = 1_800_000_000;
        assert_eq!(
            standing(t0, false, t0 + FREEZE_AFTER_SECS - 1),
            Standing::Active
        );
        let deletes_at = t0 + FREEZE_AFTER_SECS + DELETE_AFTER_FREEZE_SECS;
        assert_eq!(
            standing(t0, false, t0 + FREEZE_AFTER_SECS),
            Standing::Frozen { deletes_at }
        );
        let emptied = Standing::Emptied {
            deleted_at: deletes_at,
            cancels_at: t0 + CANCEL_AFTER_SECS,
        };
        assert_eq!(standing(t0, false, deletes_at), emptied);
        assert_eq!(standing(t0, false, t0 + CANCEL_AFTER_SECS - 1), emptied);
        assert_eq!(
            standing(t0, false, t0 + CANCEL_AFTER_SECS),
            Standing::Deleted
        );
        assert_eq!(standing(t0, true, t0), Standing::Deleted);
    }
}
