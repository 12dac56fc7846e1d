use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use nubo_protocol::{
    AcceptRequest, AgreementList, AgreementStatus, ApiError, ErrorCode, Requirement,
    WithdrawRequest,
};

use super::input::Valid;
use super::session::Session;
use super::{ApiResult, AppError, AppState};

#[utoipa::path(get, path = "/v1/agreements", tag = "agreements",
    responses((status = 200, body = AgreementList)))]
pub async fn list(State(state): State<AppState>) -> Json<AgreementList> {
    Json(AgreementList {
        documents: state.agreements.get().list(),
    })
}

/// The document's Markdown, byte for byte as published.
#[utoipa::path(get, path = "/v1/agreements/{id}/{locale}", tag = "agreements",
    params(("id" = String, Path), ("locale" = String, Path)),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = ApiError)))]
pub async fn document(
    State(state): State<AppState>,
    Path((id, locale)): Path<(String, String)>,
) -> Result<impl IntoResponse, AppError> {
    let published = state.agreements.get();
    let body = published.body(&id, &locale).ok_or_else(|| {
        AppError::new(
            ErrorCode::NotFound,
            format!("no agreement {id:?} in {locale:?}"),
        )
    })?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        body.to_string(),
    ))
}

#[utoipa::path(get, path = "/v1/agreements/status", tag = "agreements", security(("bearer" = [])),
    responses((status = 200, body = AgreementStatus), (status = 401, body = ApiError)))]
pub async fn status(State(state): State<AppState>, session: Session) -> ApiResult<AgreementStatus> {
    let account = session.account;
    let accepted = state.store(move |s| s.acceptances(account)).await?;
    Ok(Json(AgreementStatus {
        pending: state.agreements.get().pending(&accepted),
        accepted,
    }))
}

#[utoipa::path(post, path = "/v1/agreements/accept", tag = "agreements", security(("bearer" = [])),
    request_body = AcceptRequest,
    responses((status = 200, body = AgreementStatus), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    Valid(req): Valid<AcceptRequest>,
) -> ApiResult<AgreementStatus> {
    let age = req.age.ok_or_else(|| {
        AppError::new(
            ErrorCode::AgeConfirmationRequired,
            "confirm that you are of the age of majority, or that your guardian has read and agrees",
        )
    })?;
    if req.acceptances.is_empty() {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            "name at least one agreement to accept",
        ));
    }
    for item in &req.acceptances {
        state
            .agreements
            .get()
            .check_acceptance(item)
            .map_err(|m| AppError(ApiError::new(ErrorCode::BadRequest, m)))?;
    }
    let (account, device, now) = (session.account, session.device, state.now());
    let accepted = state
        .store(move |s| {
            s.record_acceptances(account, device, &req.acceptances, age, now)?;
            s.acceptances(account)
        })
        .await?;
    Ok(Json(AgreementStatus {
        pending: state.agreements.get().pending(&accepted),
        accepted,
    }))
}

/// Withdraws consent to an optional document (the push terms): the client
/// stops using what it allowed. Required documents cannot be withdrawn here;
/// declining them means signing out or cancelling the account.
#[utoipa::path(post, path = "/v1/agreements/withdraw", tag = "agreements", security(("bearer" = [])),
    request_body = WithdrawRequest,
    responses((status = 200, body = AgreementStatus), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn withdraw(
    State(state): State<AppState>,
    session: Session,
    Valid(req): Valid<WithdrawRequest>,
) -> ApiResult<AgreementStatus> {
    let published = state.agreements.get();
    let doc = published
        .list()
        .into_iter()
        .find(|d| d.id == req.id)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::NotFound,
                format!("there is no agreement {:?}", req.id),
            )
        })?;
    if doc.required != Requirement::Optional {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            format!(
                "{:?} is required to use the service; to decline it, sign out or cancel the account",
                doc.title
            ),
        ));
    }
    let (account, device, now) = (session.account, session.device, state.now());
    let accepted = state
        .store(move |s| {
            s.record_withdrawal(account, device, &doc.id, &doc.version, now)?;
            s.acceptances(account)
        })
        .await?;
    Ok(Json(AgreementStatus {
        pending: published.pending(&accepted),
        accepted,
    }))
}
