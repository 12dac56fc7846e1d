use axum::extract::{Query, State};
use axum::Json;
use nubo_protocol::limits;
use nubo_protocol::{ApiError, Node, RestoreRequest, RestoreResponse, TrashList};
use serde::Deserialize;
use utoipa::IntoParams;

use super::input::{over_bound, Valid};
use super::session::FileSession;
use super::{ApiResult, AppState};

#[derive(Debug, Deserialize, IntoParams)]
pub struct TrashQuery {
    /// Only entries whose name, or the name of anything inside, contains this
    /// (case-insensitive).
    #[serde(default)]
    #[param(max_length = 255)]
    q: String,
    #[serde(default)]
    offset: u32,
    /// At most this many entries (1-500, default 100).
    limit: Option<u32>,
}

/// Deleted files and folders, newest first; one entry per delete.
#[utoipa::path(get, path = "/v1/trash", tag = "restore", security(("bearer" = [])), params(TrashQuery),
    responses((status = 200, body = TrashList), (status = 403, body = ApiError)))]
pub async fn trash(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Query(q): Query<TrashQuery>,
) -> ApiResult<TrashList> {
    limits::text("q", &q.q, limits::QUERY_BYTES).map_err(over_bound)?;
    let account = s.account;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let (items, total) = state
        .store(move |st| st.trash(account, &q.q, q.offset, limit))
        .await?;
    Ok(Json(TrashList {
        items,
        total,
        retention_days: state.retention_days,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LookupQuery {
    /// From the top folder, e.g. `/Docs/report.txt`.
    #[param(max_length = 16384)]
    path: String,
}

/// The node at a path: the live one, or else the one deleted last.
#[utoipa::path(get, path = "/v1/lookup", tag = "restore", security(("bearer" = [])), params(LookupQuery),
    responses((status = 200, body = Node), (status = 404, body = ApiError)))]
pub async fn lookup(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Query(q): Query<LookupQuery>,
) -> ApiResult<Node> {
    limits::text("path", &q.path, limits::PATH_BYTES).map_err(over_bound)?;
    let account = s.account;
    Ok(Json(
        state.store(move |st| st.lookup(account, &q.path)).await?,
    ))
}

/// Bring back a deleted item (with everything deleted with it) or an earlier
/// version of a file. Never overwrites: a taken name gets " (restored DATE)".
#[utoipa::path(post, path = "/v1/restore", tag = "restore", security(("bearer" = [])), request_body = RestoreRequest,
    responses((status = 200, body = RestoreResponse), (status = 404, body = ApiError),
        (status = 409, body = ApiError), (status = 507, body = ApiError)))]
pub async fn restore(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Valid(req): Valid<RestoreRequest>,
) -> ApiResult<RestoreResponse> {
    let (account, device, now) = (s.account, s.device, state.now());
    let out = state
        .store(move |st| st.restore(account, device, &req, now))
        .await?;
    let cursor = state.store(move |st| st.current_cursor(account)).await?;
    state.notify_change(account, cursor);
    Ok(Json(out))
}
