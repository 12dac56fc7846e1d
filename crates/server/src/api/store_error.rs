//! What a failure of the metadata store means to a client: its error code
//! (and so its HTTP status) and the data the code carries. The one place
//! where `store::StoreError` becomes an `ApiError`.

use nubo_protocol::{ApiError, ErrorCode};

use super::AppError;
use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let mut err = ApiError::new(code(&e), e.to_string());
        match e {
            StoreError::Db(db) if db.full => return super::service_full(&db.message),
            StoreError::Db(db) => err.message = format!("metadata store failed: {}", db.message),
            StoreError::TooManyWaiting { retry_at } => {
                return crate::throttle::too_many(retry_at, "sign-ins by code waiting at once").0;
            }
            StoreError::MissingChunks(missing) => err.missing = missing,
            _ => {}
        }
        err
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError(e.into())
    }
}

/// The error code, and so the HTTP status, of each kind of failure.
fn code(e: &StoreError) -> ErrorCode {
    match e {
        StoreError::NotFound(_) => ErrorCode::NotFound,
        StoreError::Conflict(_) => ErrorCode::Conflict,
        StoreError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
        StoreError::MissingChunks(_) => ErrorCode::MissingChunks,
        StoreError::Invalid(_) => ErrorCode::BadRequest,
        StoreError::InvalidName { .. } => ErrorCode::InvalidName,
        StoreError::HistoryRewound => ErrorCode::HistoryRewound,
        StoreError::AccountGone => ErrorCode::Unauthorized,
        StoreError::TooManyWaiting { .. } => ErrorCode::TooManyAttempts,
        StoreError::Db(_) => ErrorCode::Internal,
    }
}

#[cfg(test)]
mod tests {
    use nubo_protocol::names::NameProblem;
    use nubo_protocol::{ApiError, ErrorCode};

    use crate::store::db::DbError;
    use crate::store::{Conflict, Invalid, NotFound, QuotaExceeded, StoreError};

    fn answer(e: impl Into<StoreError>) -> ApiError {
        ApiError::from(e.into())
    }

    /// Each kind of store failure reaches a client with the code (and so
    /// the status) and the words it had when the store answered in
    /// `ApiError` itself.
    #[test]
    fn each_failure_keeps_its_code_and_words() {
        let cases: Vec<(StoreError, ErrorCode, &str)> = vec![
            (
                NotFound::Node.into(),
                ErrorCode::NotFound,
                "no such file or folder in this account",
            ),
            (
                NotFound::Path("a/b".into()).into(),
                ErrorCode::NotFound,
                "nothing was ever at \"a/b\" in this account",
            ),
            (
                NotFound::Revision {
                    name: "f".into(),
                    rev: 3,
                }
                .into(),
                ErrorCode::NotFound,
                "the service keeps no revision 3 of \"f\"; list its versions to see which it keeps",
            ),
            (
                Conflict::StaleRevision {
                    name: "f".into(),
                    current: 4,
                    base: 2,
                }
                .into(),
                ErrorCode::Conflict,
                "\"f\" changed on the service (revision 4 is current, not 2)",
            ),
            (
                QuotaExceeded::Files { used: 7, quota: 9 }.into(),
                ErrorCode::QuotaExceeded,
                "storage is full: 7 of 9 bytes used; free some space or upgrade the plan",
            ),
            (
                Invalid::MoveRoot.into(),
                ErrorCode::BadRequest,
                "the root cannot be moved",
            ),
            (
                StoreError::InvalidName {
                    name: "..".into(),
                    problem: NameProblem::DotOrDotDot,
                },
                ErrorCode::InvalidName,
                "\"..\" cannot be a file name: ",
            ),
            (
                StoreError::HistoryRewound,
                ErrorCode::HistoryRewound,
                "the service was restored from an older copy and no longer has changes this \
                 device has seen; the device rebuilds its view of the service, deleting nothing",
            ),
            (
                StoreError::AccountGone,
                ErrorCode::Unauthorized,
                "the account no longer exists",
            ),
            (
                DbError::new("disk I/O error").into(),
                ErrorCode::Internal,
                "metadata store failed: disk I/O error",
            ),
        ];
        for (e, code, words) in cases {
            let api = answer(e);
            assert_eq!(api.code, code, "{}", api.message);
            assert!(api.message.starts_with(words), "{:?}", api.message);
        }
    }

    #[test]
    fn failures_with_data_carry_it() {
        let missing = vec!["a".to_string(), "b".to_string()];
        let api = answer(StoreError::MissingChunks(missing.clone()));
        assert_eq!(
            (api.code, api.missing, api.message.as_str()),
            (
                ErrorCode::MissingChunks,
                missing,
                "2 chunks of this file were never uploaded"
            )
        );

        let api = answer(StoreError::TooManyWaiting { retry_at: 1_000 });
        assert_eq!(
            (api.code, api.retry_at),
            (ErrorCode::TooManyAttempts, Some(1_000))
        );

        let mut full = DbError::new("database or disk is full");
        full.full = true;
        assert_eq!(answer(full).code, ErrorCode::ServiceFull);
    }
}
