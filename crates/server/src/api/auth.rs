use axum::extract::State;
use axum::Json;
use nubo_protocol::{
    AccountInfo, ApiError, CancelRequest, Device, DeviceList, ErrorCode, LoginRequest,
    RefreshRequest, TokenResponse,
};

use super::input::Valid;
use super::session::{
    fresh_tokens, hash_token, issue_tokens, refuse_by_standing, token_response, Session,
};
use super::signin::check_password;
use super::{ApiResult, AppError, AppState};
use crate::store::Rotation;
use crate::throttle::Public;

/// Signs a new device in with the account's password. Wrong passwords in
/// a row slow down further tries for that login and from that address:
/// 429 with `retry_at` until then.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn login(
    State(state): State<AppState>,
    Public(client): Public,
    Valid(req): Valid<LoginRequest>,
) -> ApiResult<TokenResponse> {
    let account = check_password(&state, client, req.login, req.password).await?;
    let now = state.now();
    let (key, name, os) = (account.key, req.device_name, req.os);
    let device = state
        .store(move |s| s.create_device(key, &name, &os, now))
        .await?;
    Ok(Json(
        issue_tokens(&state, device, account.account_id).await?,
    ))
}

/// Trades a refresh token for a new pair. Each refresh token works once: a
/// second use (a copy in other hands) signs the device out.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn refresh(
    State(state): State<AppState>,
    _: Public,
    Valid(req): Valid<RefreshRequest>,
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
    Valid(req): Valid<CancelRequest>,
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
    state.cancel_account(key).await?;
    tracing::info!(account = key, "cancelled by its owner");
    Ok(axum::http::StatusCode::NO_CONTENT)
}
