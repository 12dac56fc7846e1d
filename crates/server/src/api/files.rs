use axum::extract::{Path, Query, State};
use axum::Json;
use nubo_protocol::{
    ApiError, ChangesResponse, CommitBatchRequest, CommitBatchResponse, CommitRequest,
    CommitResult, DeleteRequest, Manifest, MkdirRequest, MoveRequest, Node, NodeId, VersionList,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::input::Valid;
use super::session::FileSession;
use super::{check_batch, ApiResult, AppState};

#[derive(Debug, Deserialize, IntoParams)]
pub struct ChangesQuery {
    /// The `cursor` of the previous answer; 0 for everything.
    #[serde(default)]
    cursor: i64,
    /// The newest change number the client knows of, its own writes
    /// included (0: none): with a cursor newer than the service's history,
    /// answered `history_rewound` (410).
    #[serde(default)]
    known: i64,
    /// At most this many nodes (1-5000, default 1000).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/changes", tag = "files", security(("bearer" = [])), params(ChangesQuery),
    responses((status = 200, body = ChangesResponse), (status = 403, body = ApiError),
        (status = 410, body = ApiError)))]
pub async fn changes(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Query(q): Query<ChangesQuery>,
) -> ApiResult<ChangesResponse> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let account = s.account;
    Ok(Json(
        state
            .store(move |st| st.changes(account, q.cursor, q.known, limit))
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/nodes/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Node), (status = 404, body = ApiError)))]
pub async fn node(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(id): Path<NodeId>,
) -> ApiResult<Node> {
    let account = s.account;
    Ok(Json(state.store(move |st| st.node(account, id)).await?))
}

#[utoipa::path(post, path = "/v1/nodes/mkdir", tag = "files", security(("bearer" = [])), request_body = MkdirRequest,
    responses((status = 200, body = Node), (status = 409, body = ApiError)))]
pub async fn mkdir(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Valid(req): Valid<MkdirRequest>,
) -> ApiResult<Node> {
    let (account, now) = (s.account, state.now());
    let node = state
        .store(move |st| st.mkdir(account, req.parent, &req.name, now))
        .await?;
    state.notify_change(account, node.seq);
    Ok(Json(node))
}

/// Create a file or give it new content; conditional on `base_rev` (409 when stale).
#[utoipa::path(post, path = "/v1/nodes/commit", tag = "files", security(("bearer" = [])), request_body = CommitRequest,
    responses((status = 200, body = Node), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 507, body = ApiError)))]
pub async fn commit(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Valid(req): Valid<CommitRequest>,
) -> ApiResult<Node> {
    let (account, device, now) = (s.account, s.device, state.now());
    let node = state
        .store(move |st| st.commit(account, device, &req, now))
        .await?;
    state.notify_change(account, node.seq);
    Ok(Json(node))
}

/// Several commits in one request and one transaction; each succeeds or
/// fails on its own, exactly as it would alone.
#[utoipa::path(post, path = "/v1/nodes/commit-batch", tag = "files", security(("bearer" = [])),
    request_body = CommitBatchRequest,
    responses((status = 200, body = CommitBatchResponse), (status = 400, body = ApiError), (status = 507, body = ApiError)))]
pub async fn commit_batch(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Valid(req): Valid<CommitBatchRequest>,
) -> ApiResult<CommitBatchResponse> {
    check_batch(req.commits.len(), "commits")?;
    let (account, device, now) = (s.account, s.device, state.now());
    let results = state
        .store(move |st| st.commit_many(account, device, &req.commits, now))
        .await?;
    if let Some(seq) = results.iter().flatten().map(|n| n.seq).max() {
        state.notify_change(account, seq);
    }
    let results = results
        .into_iter()
        .map(|r| match r {
            Ok(node) => CommitResult {
                node: Some(node),
                error: None,
            },
            Err(e) => CommitResult {
                node: None,
                error: Some(e.into()),
            },
        })
        .collect();
    Ok(Json(CommitBatchResponse { results }))
}

#[utoipa::path(post, path = "/v1/nodes/{id}/move", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = MoveRequest,
    responses((status = 200, body = Node), (status = 409, body = ApiError)))]
pub async fn move_node(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(id): Path<NodeId>,
    Valid(req): Valid<MoveRequest>,
) -> ApiResult<Node> {
    let (account, now) = (s.account, state.now());
    let node = state
        .store(move |st| st.move_node(account, id, req.parent, &req.name, now))
        .await?;
    state.notify_change(account, node.seq);
    Ok(Json(node))
}

/// Moves the node (and everything in it) to the trash.
#[utoipa::path(post, path = "/v1/nodes/{id}/delete", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DeleteRequest,
    responses((status = 200, body = Node), (status = 409, body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(id): Path<NodeId>,
    Valid(req): Valid<DeleteRequest>,
) -> ApiResult<Node> {
    let (account, device, now) = (s.account, s.device, state.now());
    let node = state
        .store(move |st| st.delete_node(account, device, id, &req, now))
        .await?;
    let cursor = state.store(move |st| st.current_cursor(account)).await?;
    state.notify_change(account, cursor);
    Ok(Json(node))
}

#[utoipa::path(get, path = "/v1/nodes/{id}/manifest", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Manifest), (status = 404, body = ApiError)))]
pub async fn manifest(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(id): Path<NodeId>,
) -> ApiResult<Manifest> {
    let account = s.account;
    Ok(Json(state.store(move |st| st.manifest(account, id)).await?))
}

#[utoipa::path(get, path = "/v1/nodes/{id}/versions", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = VersionList), (status = 404, body = ApiError)))]
pub async fn versions(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(id): Path<NodeId>,
) -> ApiResult<VersionList> {
    let account = s.account;
    let versions = state.store(move |st| st.versions(account, id)).await?;
    Ok(Json(VersionList { versions }))
}
