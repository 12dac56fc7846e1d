//! Bearer tokens: who is calling, and whether they may touch files yet.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use nubo_protocol::{ApiError, ErrorCode, TokenResponse};
use rand::RngCore;

use super::{AppError, AppState};
use crate::lifecycle;
use crate::store::{AccountKey, DeviceId, NewTokens, TokenKind, TokenOwner};

/// Tokens are stored only as digests: a copy of the database signs no one in.
pub fn hash_token(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A device's two tokens as the client gets them: (access, refresh).
pub type GivenTokens = (String, String);

/// A fresh pair of tokens: what the client gets, and the digests the store
/// keeps.
pub fn fresh_tokens(state: &AppState) -> (GivenTokens, NewTokens) {
    let (access, refresh) = (new_token(), new_token());
    let now = state.now();
    let kept = NewTokens {
        access_hash: hash_token(&access),
        access_expires_at: now + state.access_ttl_secs as i64,
        refresh_hash: hash_token(&refresh),
        refresh_expires_at: now + state.refresh_ttl_secs as i64,
    };
    ((access, refresh), kept)
}

pub fn token_response(
    state: &AppState,
    (access, refresh): GivenTokens,
    account_id: String,
    device: DeviceId,
) -> TokenResponse {
    TokenResponse {
        access_token: access,
        refresh_token: refresh,
        expires_in_secs: state.access_ttl_secs,
        account_id,
        device_id: device,
    }
}

/// Tokens for a device that just signed in.
pub async fn issue_tokens(
    state: &AppState,
    device: DeviceId,
    account_id: String,
) -> Result<TokenResponse, AppError> {
    let (given, kept) = fresh_tokens(state);
    state.store(move |s| s.put_tokens(device, &kept)).await?;
    Ok(token_response(state, given, account_id, device))
}

/// The owner of a live token of an active account. A frozen or deleted
/// account is refused with its own error (even when the token itself has
/// expired since), so its clients can tell the user what happened.
pub async fn live_token(
    state: &AppState,
    hash: String,
    kind: TokenKind,
    unauthorized: &'static str,
) -> Result<TokenOwner, AppError> {
    let now = state.now();
    let h = hash.clone();
    let Some(owner) = state.store(move |s| s.find_token(&h, kind, now)).await? else {
        refuse_by_standing(state, hash).await?;
        return Err(AppError::new(ErrorCode::Unauthorized, unauthorized));
    };
    let standing = lifecycle::standing(owner.last_used_at, owner.account_deleted, now);
    if let Some(e) = lifecycle::refusal(standing) {
        return Err(AppError(e));
    }
    Ok(owner)
}

/// Refuses a token of any age (expired, spent, revoked) whose account is
/// frozen or deleted, with that account's own error.
pub async fn refuse_by_standing(state: &AppState, hash: String) -> Result<(), AppError> {
    let now = state.now();
    let standing = match state.store(move |s| s.token_account(&hash)).await? {
        Some((last_used, deleted)) => lifecycle::standing(last_used, deleted, now),
        None => lifecycle::Standing::Active,
    };
    match lifecycle::refusal(standing) {
        Some(e) => Err(AppError(e)),
        None => Ok(()),
    }
}

/// A signed-in device, from a valid access token.
pub struct Session {
    pub account: AccountKey,
    pub device: DeviceId,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::Unauthorized,
                    "sign in first: no access token was sent",
                )
            })?;
        let h = hash_token(token);
        let owner = live_token(
            state,
            h,
            TokenKind::Access,
            "the access token is expired or was revoked; refresh it or sign in again",
        )
        .await?;
        Ok(Session {
            account: owner.account,
            device: owner.device,
        })
    }
}

/// A session whose account has accepted every required agreement: the only
/// way into the file endpoints.
pub struct FileSession(pub Session);

impl FromRequestParts<AppState> for FileSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state).await?;
        let account = session.account;
        let accepted = state.store(move |s| s.acceptances(account)).await?;
        let pending = state
            .published()
            .await?
            .required_pending(&accepted, &state.today());
        if !pending.is_empty() {
            let names: Vec<String> = pending
                .iter()
                .map(|p| format!("{} (version {})", p.title, p.version))
                .collect();
            let mut err = ApiError::new(
                ErrorCode::AgreementsRequired,
                format!(
                    "accept the service's agreements before syncing: {}",
                    names.join(", ")
                ),
            );
            err.pending = pending;
            return Err(AppError(err));
        }
        Ok(FileSession(session))
    }
}
