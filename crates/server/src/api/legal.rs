use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use nubo_protocol::limits::{self, ACCEPTANCES};
use nubo_protocol::{
    AcceptItem, AcceptRequest, AgreementList, AgreementStatus, ApiError, DeclineRequest, ErrorCode,
    Requirement, WithdrawRequest,
};
use serde::Deserialize;

use super::input::{over_bound, Valid};
use super::session::Session;
use super::{ApiResult, AppError, AppState};
use crate::agreements::{AcceptanceProblem, AgreementSet};

/// The documents published now: every version (one in force, and any
/// announced for a later `effective` date) in every language.
#[utoipa::path(get, path = "/v1/agreements", tag = "agreements",
    responses((status = 200, body = AgreementList)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<AgreementList> {
    Ok(Json(AgreementList {
        documents: state.published().await?.list(&state.today()),
    }))
}

/// Every version of every document the service ever published (the texts
/// are kept), so that a user can read again the version they accepted.
#[utoipa::path(get, path = "/v1/agreements/versions", tag = "agreements",
    responses((status = 200, body = AgreementList)))]
pub async fn versions(State(state): State<AppState>) -> ApiResult<AgreementList> {
    state.published().await?;
    let documents = state.store(|s| s.archived_agreements()).await?;
    Ok(Json(AgreementList { documents }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct VersionQuery {
    /// A version ever published; without it, the version in force.
    #[param(max_length = 64)]
    version: Option<String>,
}

/// The document's Markdown, byte for byte as published.
#[utoipa::path(get, path = "/v1/agreements/{id}/{locale}", tag = "agreements",
    params(("id" = String, Path), ("locale" = String, Path), VersionQuery),
    responses((status = 200, content_type = "text/markdown", body = String), (status = 404, body = ApiError)))]
pub async fn document(
    State(state): State<AppState>,
    Path((id, locale)): Path<(String, String)>,
    Query(q): Query<VersionQuery>,
) -> Result<impl IntoResponse, AppError> {
    let version = q.version.as_deref().unwrap_or("");
    limits::text("version", version, limits::AGREEMENT_FIELD_BYTES).map_err(over_bound)?;
    let published = state.published().await?;
    let body = match published.body(&id, &locale, q.version.as_deref(), &state.today()) {
        Some(b) => Some(b.to_string()),
        None => match q.version.clone() {
            Some(v) => {
                let (i, l) = (id.clone(), locale.clone());
                state
                    .store(move |s| s.archived_agreement(&i, &v, &l))
                    .await?
            }
            None => None,
        },
    };
    let body = body.ok_or_else(|| {
        AppError::new(
            ErrorCode::NotFound,
            format!(
                "no agreement {id:?} in {locale:?}{}",
                q.version
                    .map(|v| format!(" of version {v:?}"))
                    .unwrap_or_default()
            ),
        )
    })?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        body,
    ))
}

/// The account's standing with the agreements now.
async fn standing(
    state: &AppState,
    published: &AgreementSet,
    account: crate::store::AccountKey,
) -> ApiResult<AgreementStatus> {
    let accepted = state.store(move |s| s.acceptances(account)).await?;
    let today = state.today();
    Ok(Json(AgreementStatus {
        pending: published.pending(&accepted, &today),
        upcoming: published.upcoming(&accepted, &today),
        accepted,
    }))
}

#[utoipa::path(get, path = "/v1/agreements/status", tag = "agreements", security(("bearer" = [])),
    responses((status = 200, body = AgreementStatus), (status = 401, body = ApiError)))]
pub async fn status(State(state): State<AppState>, session: Session) -> ApiResult<AgreementStatus> {
    let published = state.published().await?;
    standing(&state, &published, session.account).await
}

/// Each item must be a published document version, in force or announced:
/// one that a newer version replaced (still listed, or only in the archive)
/// is refused with `agreement_outdated` and the versions to read now, and
/// nothing is recorded.
async fn check_items(
    state: &AppState,
    published: &AgreementSet,
    items: &[AcceptItem],
    accepted: &[nubo_protocol::Acceptance],
) -> Result<(), AppError> {
    if items.is_empty() || items.len() > ACCEPTANCES {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            format!("name 1 to {ACCEPTANCES} agreements"),
        ));
    }
    let today = state.today();
    for item in items {
        let outdated = match published.check_acceptance(item, &today) {
            Ok(()) => continue,
            Err(AcceptanceProblem::Outdated(i)) => i,
            Err(AcceptanceProblem::Unknown(i)) => {
                let (id, v, l) = (i.id.clone(), i.version.clone(), i.locale.clone());
                let archived = state
                    .store(move |s| s.archived_agreement(&id, &v, &l))
                    .await?;
                if archived.is_none() {
                    return Err(AppError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "there is no agreement {:?} version {} in {:?}",
                            i.id, i.version, i.locale
                        ),
                    ));
                }
                i
            }
        };
        let mut e = ApiError::new(
            ErrorCode::AgreementOutdated,
            format!(
                "version {} of {:?} was replaced by a newer one while it was read; nothing was recorded: read the new version and accept that",
                outdated.version, outdated.id
            ),
        );
        e.pending = published.pending(accepted, &today);
        return Err(AppError(e));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/agreements/accept", tag = "agreements", security(("bearer" = [])),
    request_body = AcceptRequest,
    responses((status = 200, body = AgreementStatus), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 409, body = ApiError)))]
pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    Valid(req): Valid<AcceptRequest>,
) -> ApiResult<AgreementStatus> {
    let age = req.age.ok_or_else(|| {
        AppError::new(
            ErrorCode::AgeConfirmationRequired,
            "confirm that you are 18 or older, or that your guardian has read and agrees",
        )
    })?;
    let account = session.account;
    let published = state.published().await?;
    let accepted = state.store(move |s| s.acceptances(account)).await?;
    check_items(&state, &published, &req.acceptances, &accepted).await?;
    let (device, now) = (session.device, state.now());
    state
        .store(move |s| s.record_acceptances(account, device, &req.acceptances, age, now))
        .await?;
    standing(&state, &published, account).await
}

/// Records that the user was shown these documents and declined them
/// (the client signs out after). Nothing else changes.
#[utoipa::path(post, path = "/v1/agreements/decline", tag = "agreements", security(("bearer" = [])),
    request_body = DeclineRequest,
    responses((status = 200, body = AgreementStatus), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn decline(
    State(state): State<AppState>,
    session: Session,
    Valid(req): Valid<DeclineRequest>,
) -> ApiResult<AgreementStatus> {
    let account = session.account;
    let published = state.published().await?;
    let accepted = state.store(move |s| s.acceptances(account)).await?;
    // A decline of a version replaced meanwhile is still a true record.
    match check_items(&state, &published, &req.documents, &accepted).await {
        Err(AppError(e)) if e.code == ErrorCode::AgreementOutdated => {}
        other => other?,
    }
    let (device, now) = (session.device, state.now());
    state
        .store(move |s| s.record_declines(account, device, &req.documents, now))
        .await?;
    standing(&state, &published, account).await
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
    let published = state.published().await?;
    let today = state.today();
    let doc = published
        .list(&today)
        .into_iter()
        .find(|d| d.id == req.id && d.in_force)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::NotFound,
                format!("there is no agreement {:?} in force", req.id),
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
    state
        .store(move |s| s.record_withdrawal(account, device, &doc.id, &doc.version, now))
        .await?;
    standing(&state, &published, account).await
}

/// Whether the account consents to every optional document in force (the
/// push terms): what the push channel requires.
pub async fn push_consent(
    state: &AppState,
    account: crate::store::AccountKey,
) -> Result<bool, AppError> {
    let published = state.published().await?;
    let accepted = state.store(move |s| s.acceptances(account)).await?;
    Ok(!published
        .pending(&accepted, &state.today())
        .iter()
        .any(|p| p.required == Requirement::Optional))
}
