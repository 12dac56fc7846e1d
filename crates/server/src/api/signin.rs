//! Checking a password, and slowing down whoever guesses: each wrong
//! password or sign-in code counts against its login (or approving
//! account) in the store, shared by every instance, and against its client
//! address; past a few, the next attempt waits, longer each time
//! (`throttle::Failures`). A wait is answered before any hashing, and the
//! same for an account that exists and one that does not.

use std::net::IpAddr;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use nubo_protocol::ErrorCode;

use super::{AppError, AppState};
use crate::lifecycle;
use crate::password::hash_password;
use crate::store::AccountRow;
use crate::throttle::{login_key, too_many, Failures, FREE_FAILURES_PER_LOGIN};

/// The hash of a password nobody has: checked when the account does not
/// exist, so the answer takes as long either way (no account oracle).
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("no account has this password"));

fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorCode::InvalidCredentials,
        "the account ID, phone number or password is wrong",
    )
}

/// Refuses an attempt under `subject` from `client` while either must
/// wait (`what`: the attempts, for the message). The subject's failures
/// so far.
pub async fn may_try(
    state: &AppState,
    client: IpAddr,
    subject: &str,
    what: &str,
) -> Result<Option<Failures>, AppError> {
    let now = state.now();
    let key = subject.to_string();
    let failures = state.store(move |s| s.failures(&key)).await?;
    let waits = [
        failures.and_then(|f| f.next_attempt_at(FREE_FAILURES_PER_LOGIN, now)),
        state.throttle.address_waits_until(client, now),
    ];
    match waits.into_iter().flatten().max() {
        Some(at) => Err(too_many(at, what)),
        None => Ok(failures),
    }
}

/// Notes a failed attempt under `subject` from `client`.
pub async fn failed(state: &AppState, client: IpAddr, subject: &str) -> Result<(), AppError> {
    let now = state.now();
    state.throttle.address_failed(client, now);
    let key = subject.to_string();
    state.store(move |s| s.note_failure(&key, now)).await
}

/// Forgets the subject's failures after a success (when it had any).
pub async fn succeeded(
    state: &AppState,
    subject: &str,
    before: Option<Failures>,
) -> Result<(), AppError> {
    if before.is_none() {
        return Ok(());
    }
    let key = subject.to_string();
    state.store(move |s| s.clear_failures(&key)).await
}

/// Whether `password` matches the PHC string `stored`, computed on a
/// blocking thread when a turn comes (only a few hashes run at once).
async fn verify(state: &AppState, stored: String, password: String) -> Result<bool, AppError> {
    let _turn = state.throttle.hashing(state.now()).await?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(AppError::internal)
}

/// The account a login and password name, in the same time whether or not
/// it exists, unless the login or the address must wait. A frozen account
/// passes (signing in reactivates it); a deleted one is refused (and one
/// past its date is emptied now).
pub async fn check_password(
    state: &AppState,
    client: IpAddr,
    login: String,
    password: String,
) -> Result<AccountRow, AppError> {
    let login = login.trim().to_string();
    let subject = login_key(&login);
    let before = may_try(state, client, &subject, "wrong passwords").await?;
    let account = state.store(move |s| s.find_account(&login)).await?;
    let stored = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| DECOY_HASH.clone());
    let account = match (verify(state, stored, password).await?, account) {
        (true, Some(a)) => a,
        _ => {
            failed(state, client, &subject).await?;
            return Err(invalid_credentials());
        }
    };
    succeeded(state, &subject, before).await?;
    let now = state.now();
    // Logs name the account by its internal key only: nothing a person
    // chose stays in them after the account is gone.
    let key = account.key;
    match lifecycle::standing(account.last_used_at, account.deleted, now) {
        lifecycle::Standing::Deleted => {
            state.cancel_account(key).await?;
            Err(AppError(
                lifecycle::refusal(lifecycle::Standing::Deleted).expect("deleted is refused"),
            ))
        }
        lifecycle::Standing::Emptied { .. } => {
            // The job may not have run yet: the content goes first, then
            // the account starts over.
            state.empty_account(key).await?;
            tracing::info!(account = key, "started over, empty, by a sign-in");
            state.store(move |s| s.account(key)).await
        }
        lifecycle::Standing::Frozen { .. } => {
            tracing::info!(account = key, "reactivated by a sign-in");
            Ok(account)
        }
        lifecycle::Standing::Active => Ok(account),
    }
}
