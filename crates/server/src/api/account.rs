//! What a signed-in person sees and changes about their account: a summary
//! of what it stores (before cancelling, what would be lost) and the
//! password.

use axum::extract::State;
use axum::Json;
use nubo_protocol::limits::PASSWORD_BYTES;
use nubo_protocol::{AccountSummary, ApiError, ErrorCode, PasswordChange};

use super::input::Valid;
use super::session::Session;
use super::signin::check_password;
use super::{ApiResult, AppError, AppState};
use crate::password::hash_password;
use crate::store::SignOut;
use crate::throttle::Client;

/// The account's files, trash and versions with their sizes, and its
/// top-level items: what cancelling would delete.
#[utoipa::path(get, path = "/v1/account/summary", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = AccountSummary), (status = 401, body = ApiError)))]
pub async fn summary(State(state): State<AppState>, session: Session) -> ApiResult<AccountSummary> {
    let key = session.account;
    Ok(Json(state.store(move |s| s.account_summary(key)).await?))
}

/// A new password, given the current one. The other devices stay signed in
/// unless `sign_out_others`; this one always does. Wrong current passwords
/// slow down further tries like wrong passwords at sign-in: 429 with
/// `retry_at` until then.
#[utoipa::path(post, path = "/v1/account/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange,
    responses((status = 204), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    session: Session,
    Valid(req): Valid<PasswordChange>,
) -> Result<axum::http::StatusCode, AppError> {
    check_new_password(&req.new)?;
    let key = session.account;
    let row = state.store(move |s| s.account(key)).await?;
    check_password(&state, client, row.account_id, req.current)
        .await
        .map_err(|e| match e.0.code {
            ErrorCode::InvalidCredentials => wrong_current(),
            _ => e,
        })?;
    let new = req.new;
    let hash = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(AppError::internal)?;
    let sign_out = if req.sign_out_others {
        SignOut::AllBut(session.device)
    } else {
        SignOut::Nobody
    };
    state
        .store(move |s| s.set_password(key, &hash, sign_out))
        .await?;
    tracing::info!(account = key, "password changed by its owner");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

fn wrong_current() -> AppError {
    AppError::new(
        ErrorCode::InvalidCredentials,
        "the current password is wrong; the password was not changed",
    )
}

/// A password the service takes: not empty, not too long.
pub fn check_new_password(password: &str) -> Result<(), AppError> {
    if password.is_empty() || password.len() > PASSWORD_BYTES {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            format!(
                "a password must have 1 to {PASSWORD_BYTES} bytes; the password was not changed"
            ),
        ));
    }
    Ok(())
}
