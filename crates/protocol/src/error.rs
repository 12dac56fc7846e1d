use serde::{Deserialize, Serialize};

use crate::PendingAgreement;

/// Machine-readable error codes. The client branches on these, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    /// Wrong password or unknown account (never says which: no account oracle).
    InvalidCredentials,
    /// The signed-in account must accept the listed agreements before file access.
    AgreementsRequired,
    /// The acceptance lacked the age-of-majority or guardian confirmation.
    AgeConfirmationRequired,
    /// An accepted version is no longer the one to accept (a newer one was
    /// published meanwhile): nothing was recorded; `pending` lists what to
    /// read and accept now.
    AgreementOutdated,
    /// The push channel needs consent to the push terms (the optional
    /// documents), in their current version.
    ConsentRequired,
    NotFound,
    /// A conditional write lost a race: the base revision is not current,
    /// or the name is taken.
    Conflict,
    QuotaExceeded,
    /// An uploaded chunk's bytes do not hash to its name.
    HashMismatch,
    /// A commit names chunks the account has not uploaded.
    MissingChunks,
    InvalidName,
    /// No one used the account for 12 months: its files are kept but sync is
    /// refused; signing in with the password before `deletes_at` reactivates it.
    AccountFrozen,
    /// The account was cancelled, or deleted after staying frozen: nothing of
    /// it is left on the service. Clients keep their local files and stop.
    AccountDeleted,
    /// Device sign-in: not approved yet; poll again after the interval.
    AuthorizationPending,
    /// Device sign-in: polling too fast; add 5 seconds to the interval.
    SlowDown,
    /// Device sign-in: the code expired; start again.
    ExpiredToken,
    /// The service's own disk is full (not the account's quota): the write
    /// was not applied; try again once its operator has freed space.
    ServiceFull,
    /// The request is larger than the service takes: its body, or a list
    /// in it (`limits`). Nothing was done.
    TooLarge,
    /// Too many attempts (sign-ins with a wrong password, sign-in codes,
    /// requests without a token) from this address or for this account:
    /// `retry_at` says when to try again.
    TooManyAttempts,
    /// The service went back in time (restored from a backup): the client's
    /// cursor, or a change it made, is newer than the service's history.
    /// Nothing the client knows of the service can be trusted: it rebuilds
    /// its view as after a lost state database (nothing deleted, both kept
    /// where they differ) and reads the feed from 0.
    HistoryRewound,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::HashMismatch
            | ErrorCode::InvalidName
            | ErrorCode::MissingChunks
            | ErrorCode::AgeConfirmationRequired
            | ErrorCode::AuthorizationPending
            | ErrorCode::SlowDown
            | ErrorCode::ExpiredToken => 400,
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => 401,
            ErrorCode::AgreementsRequired | ErrorCode::ConsentRequired => 403,
            ErrorCode::AgreementOutdated => 409,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::QuotaExceeded | ErrorCode::ServiceFull => 507,
            ErrorCode::AccountFrozen => 423,
            ErrorCode::AccountDeleted | ErrorCode::HistoryRewound => 410,
            ErrorCode::TooLarge => 413,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// The body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    /// One sentence for a person: what happened and what to do.
    pub message: String,
    /// With `agreements_required`: the documents to accept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingAgreement>,
    /// With `missing_chunks`: the chunk hashes the service lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// With `account_frozen`: when the service deletes the account's files
    /// unless someone signs in (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletes_at: Option<i64>,
    /// With `too_many_attempts`: when to try again (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            pending: Vec::new(),
            missing: Vec::new(),
            deletes_at: None,
            retry_at: None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}
