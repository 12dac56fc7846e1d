//! Sign-in by device code (RFC 8628): a client without the password shows a
//! short code; a person already signed in elsewhere approves it (from
//! `nubo approve CODE`, or on the service's `/device` page with the
//! password); the waiting client then receives its own tokens.

use std::net::IpAddr;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use nubo_protocol::limits;
use nubo_protocol::{
    ApiError, ApproveRequest, DeviceCodeRequest, DeviceCodeResponse, DeviceTokenRequest, ErrorCode,
    PendingSignIn, TokenResponse,
};
use rand::Rng;
use serde::Deserialize;
use utoipa::IntoParams;

use super::input::over_bound;
use super::input::Valid;
use super::session::{hash_token, issue_tokens, Session};
use super::signin::{failed, may_try, succeeded};
use super::{ApiResult, AppError, AppState};
use crate::store::{AccountKey, GrantPoll, NewGrant};
use crate::throttle::{approver_key, Client, Public};

pub const CODE_TTL_SECS: u64 = 600;
pub const POLL_INTERVAL_SECS: u64 = 5;

/// Consonants only: no vowels (no words), no look-alikes.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

fn user_code() -> String {
    let mut rng = rand::thread_rng();
    let mut s: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    s.insert(4, '-');
    s
}

/// What a person typed, as the service stores it: `abcd efgh` -> `ABCD-EFGH`.
pub fn normalize_code(typed: &str) -> String {
    let mut s: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_uppercase())
        .take(8)
        .collect();
    if s.len() > 4 {
        s.insert(4, '-');
    }
    s
}

/// The address people reach this service at, as this request came in.
pub(super) fn base_url(headers: &HeaderMap, https: bool) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(axum::http::header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(if https { "https" } else { "http" });
    format!("{scheme}://{host}")
}

/// Starts a sign-in by code. Needs no token: rate-limited per address, and
/// at most so many wait at once.
#[utoipa::path(post, path = "/v1/auth/device", tag = "auth", request_body = DeviceCodeRequest,
    responses((status = 200, body = DeviceCodeResponse), (status = 429, body = ApiError)))]
pub async fn start(
    State(state): State<AppState>,
    _: Public,
    headers: HeaderMap,
    Valid(req): Valid<DeviceCodeRequest>,
) -> ApiResult<DeviceCodeResponse> {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill(&mut secret);
    let device_code = hex::encode(secret);
    let code = user_code();
    let now = state.now();
    let (h, c) = (hash_token(&device_code), code.clone());
    let max_waiting = state.throttle.settings().waiting_sign_ins;
    state
        .store(move |s| {
            let grant = NewGrant {
                code_hash: &h,
                user_code: &c,
                device_name: &req.device_name,
                os: &req.os,
                expires_at: now + CODE_TTL_SECS as i64,
            };
            s.create_grant(&grant, now, max_waiting)
        })
        .await?;
    let base = base_url(&headers, state.https);
    Ok(Json(DeviceCodeResponse {
        device_code,
        verification_uri: format!("{base}/device"),
        verification_uri_complete: format!("{base}/device?code={code}"),
        user_code: code,
        expires_in: CODE_TTL_SECS,
        interval: POLL_INTERVAL_SECS,
    }))
}

#[utoipa::path(post, path = "/v1/auth/device/token", tag = "auth", request_body = DeviceTokenRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn token(
    State(state): State<AppState>,
    _: Public,
    Valid(req): Valid<DeviceTokenRequest>,
) -> ApiResult<TokenResponse> {
    let (h, now) = (hash_token(&req.device_code), state.now());
    let interval = POLL_INTERVAL_SECS as i64;
    let poll = state
        .store(move |s| s.poll_grant(&h, now, interval))
        .await?;
    let (account, device_name, os) = match poll {
        GrantPoll::Approved {
            account,
            device_name,
            os,
        } => (account, device_name, os),
        GrantPoll::Pending => {
            return Err(AppError::new(
                ErrorCode::AuthorizationPending,
                "waiting for approval from a signed-in device",
            ))
        }
        GrantPoll::SlowDown => {
            return Err(AppError::new(
                ErrorCode::SlowDown,
                format!("poll at most every {POLL_INTERVAL_SECS} seconds"),
            ))
        }
        GrantPoll::Expired | GrantPoll::Unknown => {
            return Err(AppError::new(
                ErrorCode::ExpiredToken,
                "the sign-in code expired or is unknown; start again for a new code",
            ))
        }
    };
    let device = state
        .store(move |s| s.create_device(account, &device_name, &os, now))
        .await?;
    let row = state.store(move |s| s.account(account)).await?;
    Ok(Json(issue_tokens(&state, device, row.account_id).await?))
}

/// The sign-in waiting with the code a person typed, counted as a guess:
/// a wrong code counts against the account approving and its address, so
/// that codes cannot be tried one after another.
pub(super) async fn waiting(
    state: &AppState,
    client: IpAddr,
    typed: &str,
    account: AccountKey,
) -> Result<PendingSignIn, AppError> {
    let subject = approver_key(account);
    let before = may_try(state, client, &subject, "wrong sign-in codes").await?;
    let (code, now) = (normalize_code(typed), state.now());
    let c = code.clone();
    let Some(found) = state.store(move |s| s.waiting_grant(&c, now)).await? else {
        failed(state, client, &subject).await?;
        return Err(AppError::new(
            ErrorCode::NotFound,
            format!("no sign-in is waiting with the code {code}; it may have expired (codes last {} minutes)", CODE_TTL_SECS / 60),
        ));
    };
    succeeded(state, &subject, before).await?;
    Ok(found)
}

/// Approves the sign-in waiting with `typed` into `account`: the device
/// it was.
pub(super) async fn approve_code(
    state: &AppState,
    client: IpAddr,
    typed: &str,
    account: AccountKey,
) -> Result<PendingSignIn, AppError> {
    let found = waiting(state, client, typed, account).await?;
    let (c, now) = (found.user_code.clone(), state.now());
    if !state
        .store(move |s| s.approve_grant(&c, account, now))
        .await?
    {
        // Approved by someone else, or expired, since it was found.
        return Err(AppError::new(
            ErrorCode::NotFound,
            format!(
                "no sign-in is waiting with the code {} any more",
                found.user_code
            ),
        ));
    }
    Ok(found)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WaitingQuery {
    /// The code the waiting device shows, as typed.
    #[param(max_length = 32)]
    code: String,
}

/// Which device waits with a code, before approving it: its name, system
/// and when it asked, so that a person can tell their own device from a
/// request someone else sent them. A wrong code counts as a guess.
#[utoipa::path(get, path = "/v1/auth/device/waiting", tag = "auth", security(("bearer" = [])),
    params(WaitingQuery),
    responses((status = 200, body = PendingSignIn), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 429, body = ApiError)))]
pub async fn lookup(
    State(state): State<AppState>,
    session: Session,
    client: Client,
    Query(q): Query<WaitingQuery>,
) -> ApiResult<PendingSignIn> {
    limits::text("code", &q.code, limits::USER_CODE_BYTES).map_err(over_bound)?;
    Ok(Json(
        waiting(&state, client.0, &q.code, session.account).await?,
    ))
}

/// A signed-in device approves a waiting sign-in into its own account.
/// Wrong codes count as guesses (429 with `retry_at` past a few).
#[utoipa::path(post, path = "/v1/auth/device/approve", tag = "auth", security(("bearer" = [])),
    request_body = ApproveRequest,
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn approve(
    State(state): State<AppState>,
    session: Session,
    client: Client,
    Valid(req): Valid<ApproveRequest>,
) -> Result<axum::http::StatusCode, AppError> {
    approve_code(&state, client.0, &req.user_code, session.account).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_back_in_any_case_and_spacing() {
        let c = user_code();
        assert_eq!(c.len(), 9);
        assert_eq!(normalize_code(&c.to_lowercase().replace('-', " ")), c);
        assert_eq!(normalize_code("<script>bcdf"), "SCRI-PTBC");
    }
}
