use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use axum::extract::State;
use axum::Json;
use nubo_protocol::{
    AccountInfo, ApiError, CancelRequest, Device, DeviceList, ErrorCode, LoginRequest,
    RefreshRequest, TokenResponse,
};

use super::session::{
    fresh_tokens, hash_token, issue_tokens, refuse_by_standing, token_response, Session,
};
use super::{ApiResult, AppError, AppState};
use crate::lifecycle;
use crate::password::hash_password;
use crate::store::{AccountRow, Rotation};

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

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ApiError)))]
pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<TokenResponse> {
    let account = check_password(&state, req.login, req.password).await?;
    let now = state.now();
    let (key, name, os) = (account.key, req.device_name, req.os);
    let device = state
        .store(move |s| s.create_device(key, &name, &os, now))
        .await?;
    Ok(Json(
        issue_tokens(&state, device, account.account_id).await?,
    ))
}

/// The account a login and password name, in the same time whether or not
/// it exists. A frozen account passes (signing in reactivates it); a deleted
/// one is refused (and one past its date is emptied now).
pub async fn check_password(
    state: &AppState,
    login: String,
    password: String,
) -> Result<AccountRow, AppError> {
    let login = login.trim().to_string();
    let account = state.store(move |s| s.find_account(&login)).await?;
    let stored = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| DECOY_HASH.clone());
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(AppError::internal)?;
    let account = match (ok, account) {
        (true, Some(a)) => a,
        _ => return Err(invalid_credentials()),
    };
    let now = state.now();
    match lifecycle::standing(account.last_used_at, account.deleted, now) {
        lifecycle::Standing::Deleted => {
            let key = account.key;
            state.store(move |s| s.delete_account(key, now)).await?;
            Err(AppError(
                lifecycle::refusal(lifecycle::Standing::Deleted).expect("deleted is refused"),
            ))
        }
        lifecycle::Standing::Frozen { .. } => {
            tracing::info!(account = account.account_id, "reactivated by a sign-in");
            Ok(account)
        }
        lifecycle::Standing::Active => Ok(account),
    }
}

/// Trades a refresh token for a new pair. Each refresh token works once: a
/// second use (a copy in other hands) signs the device out.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ApiError)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<TokenResponse> {
    let h = hash_token(&req.refresh_token);
    refuse_by_standing(&state, h.clone()).await?;
    let (given, kept) = fresh_tokens(&state);
    let now = state.now();
    let rotation = state
        .store(move |s| s.rotate_refresh(&h, &kept, now))
        .await?;
    let (account, device) = match rotation {
        Rotation::Rotated { account, device } => (account, device),
        Rotation::Reused { account, device } => {
            tracing::warn!(
                account,
                device,
                "a spent refresh token was used again; the device is signed out"
            );
            return Err(AppError::new(
                ErrorCode::Unauthorized,
                "this sign-in was used from two places at once, so this device was signed out; sign in again",
            ));
        }
        Rotation::Invalid => {
            return Err(AppError::new(
                ErrorCode::Unauthorized,
                "this device was signed out or its sign-in expired; sign in again",
            ))
        }
    };
    let account_id = state.store(move |s| s.account(account)).await?.account_id;
    Ok(Json(token_response(&state, given, account_id, device)))
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError)))]
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
) -> Result<axum::http::StatusCode, AppError> {
    let device = session.device;
    state.store(move |s| s.revoke_device(device)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The account's signed-in devices.
#[utoipa::path(get, path = "/v1/devices", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = DeviceList), (status = 401, body = ApiError)))]
pub async fn devices(State(state): State<AppState>, session: Session) -> ApiResult<DeviceList> {
    let (account, me) = (session.account, session.device);
    let rows = state.store(move |s| s.devices(account)).await?;
    Ok(Json(DeviceList {
        devices: rows
            .into_iter()
            .map(|d| Device {
                current: d.id == me,
                id: d.id,
                name: d.name,
                os: d.os,
                created_at: d.created_at,
                last_seen: d.last_seen,
            })
            .collect(),
    }))
}

/// Signs one of the account's devices out, at once: its tokens stop working.
#[utoipa::path(post, path = "/v1/devices/{id}/revoke", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ApiError)))]
pub async fn revoke_device(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<axum::http::StatusCode, AppError> {
    let account = session.account;
    // Another account's device answers exactly as a device that does not exist.
    if state.store(move |s| s.device_owner(id)).await? != Some(account) {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "no such device in this account",
        ));
    }
    state.store(move |s| s.revoke_device(id)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/account", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = AccountInfo), (status = 401, body = ApiError)))]
pub async fn account(State(state): State<AppState>, session: Session) -> ApiResult<AccountInfo> {
    let key = session.account;
    let (row, usage) = state
        .store(move |s| Ok((s.account(key)?, s.usage(key)?)))
        .await?;
    Ok(Json(AccountInfo {
        account_id: row.account_id,
        root_id: row.root_id,
        quota_bytes: usage.quota,
        used_bytes: usage.used(),
    }))
}

/// Cancels the account: everything it stores on the service is deleted and
/// every device signed out. The body must repeat the account ID.
#[utoipa::path(post, path = "/v1/account/cancel", tag = "auth", security(("bearer" = [])),
    request_body = CancelRequest,
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Json(req): Json<CancelRequest>,
) -> Result<axum::http::StatusCode, AppError> {
    let key = session.account;
    let row = state.store(move |s| s.account(key)).await?;
    if req.confirm.trim() != row.account_id {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            format!(
                "to cancel, confirm with the account ID {:?}; nothing was deleted",
                row.account_id
            ),
        ));
    }
    let now = state.now();
    state.store(move |s| s.delete_account(key, now)).await?;
    tracing::info!(account = row.account_id, "cancelled by its owner");
    Ok(axum::http::StatusCode::NO_CONTENT)
}
