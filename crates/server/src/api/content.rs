use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nubo_protocol::{
    frames, ApiError, ChunkRef, ErrorCode, FetchChunksRequest, MissingChunksRequest,
    MissingChunksResponse,
};

use super::session::FileSession;
use super::{check_batch, storage_failure, ApiResult, AppError, AppState, MAX_CHUNK_BYTES};
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
        .store(move |st| st.add_chunks(account, &[ChunkRef { hash, size }], &[]))
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
    let h = [hash.clone()];
    let packed = state.store(move |st| st.packed_chunks(&h)).await?;
    let bytes = state
        .chunks
        .get(&hash, packed.get(&hash))
        .await
        .map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

/// Upload several chunks in one request (see `frames` in the protocol); each
/// must hash to its name, and none is recorded unless all are good.
#[utoipa::path(post, path = "/v1/chunks/upload", tag = "content", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 400, body = ApiError), (status = 507, body = ApiError)))]
pub async fn upload(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let parts = frames::decode(&body).map_err(|e| AppError::new(ErrorCode::BadRequest, e))?;
    check_batch(parts.len(), "chunks")?;
    let mut refs = Vec::with_capacity(parts.len());
    for (hash, range) in &parts {
        check_name(hash)?;
        let data = &body[range.clone()];
        if blake3::hash(data).to_hex().as_str() != hash {
            return Err(AppError::new(
                ErrorCode::HashMismatch,
                format!("the bytes sent as chunk {hash} hash to something else; upload it again"),
            ));
        }
        refs.push(ChunkRef {
            hash: hash.clone(),
            size: data.len() as u64,
        });
    }
    // What is not in a pack yet goes into one (a chunk that is an object of
    // its own, sent alone before, is packed too: a copy, read from the pack).
    let hashes: Vec<String> = refs.iter().map(|r| r.hash.clone()).collect();
    let stored = state.store(move |st| st.packed_chunks(&hashes)).await?;
    let mut new: Vec<(String, Bytes)> = Vec::new();
    for (hash, range) in parts {
        if !stored.contains_key(&hash) && !new.iter().any(|(h, _)| *h == hash) {
            new.push((hash, body.slice(range)));
        }
    }
    let packed = if new.is_empty() {
        Vec::new()
    } else {
        state.chunks.put_pack(&new).await.map_err(storage_failure)?
    };
    let account = s.account;
    state
        .store(move |st| st.add_chunks(account, &refs, &packed))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download several chunks of this account in one answer (see `frames`), in
/// the order asked; 404 when any is not this account's.
#[utoipa::path(post, path = "/v1/chunks/fetch", tag = "content", security(("bearer" = [])),
    request_body = FetchChunksRequest,
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn fetch(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Json(req): Json<FetchChunksRequest>,
) -> Result<impl IntoResponse, AppError> {
    check_batch(req.hashes.len(), "chunks")?;
    for h in &req.hashes {
        check_name(h)?;
    }
    let account = s.account;
    let hashes = req.hashes.clone();
    let missing = state
        .store(move |st| st.missing_chunks(account, &hashes))
        .await?;
    if !missing.is_empty() {
        let mut err = ApiError::new(
            ErrorCode::NotFound,
            format!("{} of these chunks are not in this account", missing.len()),
        );
        err.missing = missing;
        return Err(AppError(err));
    }
    let hashes = req.hashes.clone();
    let packed = state.store(move |st| st.packed_chunks(&hashes)).await?;
    let Some(got) = state
        .chunks
        .get_many(&req.hashes, &packed, MAX_CHUNK_BYTES as u64)
        .await
        .map_err(AppError::internal)?
    else {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            format!(
                "these chunks hold more than {} MiB; ask for fewer at once",
                MAX_CHUNK_BYTES >> 20
            ),
        ));
    };
    let body = frames::encode(
        req.hashes
            .iter()
            .zip(&got)
            .map(|(h, b)| (h.as_str(), b.as_ref())),
    );
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body))
}
