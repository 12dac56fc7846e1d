//! Bearer tokens: who is calling, and whether they may touch files yet.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use nubo_protocol::{ApiError, ErrorCode, TokenResponse};
use rand::RngCore;

use super::{AppError, AppState};
use crate::lifecycle;
use crate::store::{AccountKey, DeviceId, TokenKind, TokenOwner};

/// Tokens are stored only as digests: a copy of the database signs no one in.
pub fn hash_token(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub async fn issue_tokens(
    state: &AppState,
    device: DeviceId,
    account_id: String,
) -> Result<TokenResponse, AppError> {
    let access = new_token();
    let refresh = new_token();
    let now = state.now();
    let (a, r) = (hash_token(&access), hash_token(&refresh));
    let (at, rt) = (
        now + state.access_ttl_secs as i64,
        now + state.refresh_ttl_secs as i64,
    );
    state
        .store(move |s| {
            s.put_token(&a, TokenKind::Access, device, at)?;
            s.put_token(&r, TokenKind::Refresh, device, rt)
        })
        .await?;
    Ok(TokenResponse {
        access_token: access,
        refresh_token: refresh,
        expires_in_secs: state.access_ttl_secs,
        account_id,
        device_id: device,
    })
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
    let owner = state.store(move |s| s.find_token(&h, kind, now)).await?;
    let standing = match &owner {
        Some(o) => lifecycle::standing(o.last_used_at, o.account_deleted, now),
        None => match state.store(move |s| s.token_account(&hash)).await? {
            Some((last_used, deleted)) => lifecycle::standing(last_used, deleted, now),
            None => lifecycle::Standing::Active,
        },
    };
    if let Some(e) = lifecycle::refusal(standing) {
        return Err(AppError(e));
    }
    owner.ok_or_else(|| AppError::new(ErrorCode::Unauthorized, unauthorized))
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
