use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nubo_protocol::{ApiError, ChunkRef, ErrorCode, MissingChunksRequest, MissingChunksResponse};

use super::session::FileSession;
use super::{storage_failure, ApiResult, AppError, AppState};
use crate::chunks::is_chunk_name;

fn check_name(hash: &str) -> Result<(), AppError> {
    if is_chunk_name(hash) {
        Ok(())
    } else {
        Err(AppError::new(
            ErrorCode::BadRequest,
            "a chunk is named by its BLAKE3 hash in lower-case hex",
        ))
    }
}

/// Which of these chunks this account has not uploaded yet.
#[utoipa::path(post, path = "/v1/chunks/missing", tag = "content", security(("bearer" = [])),
    request_body = MissingChunksRequest, responses((status = 200, body = MissingChunksResponse)))]
pub async fn missing(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Json(req): Json<MissingChunksRequest>,
) -> ApiResult<MissingChunksResponse> {
    for h in &req.hashes {
        check_name(h)?;
    }
    let account = s.account;
    let missing = state
        .store(move |st| st.missing_chunks(account, &req.hashes))
        .await?;
    Ok(Json(MissingChunksResponse { missing }))
}

/// Upload one chunk; its bytes must hash to its name.
#[utoipa::path(put, path = "/v1/chunks/{hash}", tag = "content", security(("bearer" = [])),
    params(("hash" = String, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 400, body = ApiError)))]
pub async fn put_chunk(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(hash): Path<String>,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    check_name(&hash)?;
    let actual = blake3::hash(&body).to_hex().to_string();
    if actual != hash {
        return Err(AppError::new(
            ErrorCode::HashMismatch,
            format!("the chunk's bytes hash to {actual}, not to its name {hash}; upload it again"),
        ));
    }
    let size = body.len() as u64;
    state
        .chunks
        .put(&hash, body)
        .await
        .map_err(storage_failure)?;
    let account = s.account;
    state
        .store(move |st| st.add_chunk(account, &ChunkRef { hash, size }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download one chunk this account uploaded; any other answers 404, exactly as
/// a chunk that exists nowhere.
#[utoipa::path(get, path = "/v1/chunks/{hash}", tag = "content", security(("bearer" = [])),
    params(("hash" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = ApiError)))]
pub async fn get_chunk(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(hash): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    check_name(&hash)?;
    let account = s.account;
    let h = hash.clone();
    if !state.store(move |st| st.has_chunk(account, &h)).await? {
        return Err(AppError(ApiError::new(
            ErrorCode::NotFound,
            "no such chunk in this account",
        )));
    }
    let bytes = state.chunks.get(&hash).await.map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}
