use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use nubo_protocol::{
    frames, ApiError, ChunkRef, ErrorCode, FetchChunksRequest, MissingChunksRequest,
    MissingChunksResponse,
};

use super::input::{Body, Valid};
use super::session::FileSession;
use super::{check_batch, storage_failure, ApiResult, AppError, AppState, MAX_CHUNK_BYTES};
use crate::chunks::is_chunk_name;
use crate::store::{AccountKey, ChunkPlace, PlacedChunk, StoreError};

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
    Valid(req): Valid<MissingChunksRequest>,
) -> ApiResult<MissingChunksResponse> {
    check_batch(req.hashes.len(), "chunks")?;
    for h in &req.hashes {
        check_name(h)?;
    }
    let account = s.account;
    let missing = state
        .store(move |st| st.missing_chunks(account, &req.hashes))
        .await?;
    Ok(Json(MissingChunksResponse { missing }))
}

/// Refuses `adding` bytes of new chunks the quota has no room for, before
/// they are written (the store checks again when it records them).
async fn check_room(state: &AppState, account: AccountKey, adding: u64) -> Result<(), AppError> {
    let usage = state.store(move |st| st.usage(account)).await?;
    Ok(usage.check_upload(adding).map_err(StoreError::from)?)
}

/// Records chunks just written into `object`; the object goes again when
/// none of them was recorded (refused, or an upload of the same ones by
/// the same account came first).
async fn record(
    state: &AppState,
    account: AccountKey,
    refs: Vec<ChunkRef>,
    placed: Vec<PlacedChunk>,
    object: String,
) -> Result<(), AppError> {
    let now = state.now();
    let recorded = state
        .store(move |st| st.store_chunks(account, &refs, &placed, now))
        .await;
    if !matches!(&recorded, Ok(hashes) if !hashes.is_empty()) {
        state.chunks.remove(&object).await;
    }
    recorded.map(drop)
}

/// Upload one chunk; its bytes must hash to its name. A chunk this account
/// already uploaded is not written again; any other is, whoever else
/// stored the same bytes.
#[utoipa::path(put, path = "/v1/chunks/{hash}", tag = "content", security(("bearer" = [])),
    params(("hash" = String, Path)), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 400, body = ApiError), (status = 507, body = ApiError)))]
pub async fn put_chunk(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Path(hash): Path<String>,
    Body(body): Body,
) -> Result<StatusCode, AppError> {
    check_name(&hash)?;
    let actual = blake3::hash(&body).to_hex().to_string();
    if actual != hash {
        return Err(AppError::new(
            ErrorCode::HashMismatch,
            format!("the chunk's bytes hash to {actual}, not to its name {hash}; upload it again"),
        ));
    }
    let account = s.account;
    let h = [hash.clone()];
    if state.store(move |st| st.chunk_places(account, &h)).await?[0].is_some() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let size = body.len() as u64;
    check_room(&state, account, size).await?;
    let at = state
        .chunks
        .put(account, &hash, body)
        .await
        .map_err(storage_failure)?;
    let object = at.object.clone();
    let placed = vec![PlacedChunk {
        hash: hash.clone(),
        at,
    }];
    record(
        &state,
        account,
        vec![ChunkRef { hash, size }],
        placed,
        object,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The places of these chunks of the account, in the order asked; 404 with
/// the missing ones listed when any is not the account's.
async fn places_of(
    state: &AppState,
    account: AccountKey,
    hashes: Vec<String>,
) -> Result<Vec<ChunkPlace>, AppError> {
    let places = state
        .store({
            let hashes = hashes.clone();
            move |st| st.chunk_places(account, &hashes)
        })
        .await?;
    let missing: Vec<String> = hashes
        .into_iter()
        .zip(&places)
        .filter(|(_, p)| p.is_none())
        .map(|(h, _)| h)
        .collect();
    if !missing.is_empty() {
        let mut err = ApiError::new(
            ErrorCode::NotFound,
            format!("{} of these chunks are not in this account", missing.len()),
        );
        err.missing = missing;
        return Err(AppError(err));
    }
    Ok(places.into_iter().flatten().collect())
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
    let place = places_of(&state, s.account, vec![hash])
        .await
        .map_err(|_| AppError::new(ErrorCode::NotFound, "no such chunk in this account"))?;
    let bytes = state
        .chunks
        .get(&place[0])
        .await
        .map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

/// Upload several chunks in one request (see `frames` in the protocol); each
/// must hash to its name, and none is recorded unless all are good. Those
/// this account does not have yet go into one pack object of its own.
#[utoipa::path(post, path = "/v1/chunks/upload", tag = "content", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 400, body = ApiError), (status = 507, body = ApiError)))]
pub async fn upload(
    State(state): State<AppState>,
    FileSession(s): FileSession,
    Body(body): Body,
) -> Result<StatusCode, AppError> {
    let parts = frames::decode(&body).map_err(|e| AppError::new(ErrorCode::BadRequest, e))?;
    check_batch(parts.len(), "chunks")?;
    let mut unique: Vec<(String, std::ops::Range<usize>)> = Vec::with_capacity(parts.len());
    let mut seen = std::collections::HashSet::with_capacity(parts.len());
    for (hash, range) in parts {
        check_name(&hash)?;
        if blake3::hash(&body[range.clone()]).to_hex().as_str() != hash {
            return Err(AppError::new(
                ErrorCode::HashMismatch,
                format!("the bytes sent as chunk {hash} hash to something else; upload it again"),
            ));
        }
        if seen.insert(hash.clone()) {
            unique.push((hash, range));
        }
    }
    let account = s.account;
    let hashes: Vec<String> = unique.iter().map(|(h, _)| h.clone()).collect();
    let have = state
        .store(move |st| st.chunk_places(account, &hashes))
        .await?;
    let new: Vec<(String, Bytes)> = unique
        .into_iter()
        .zip(have)
        .filter(|(_, place)| place.is_none())
        .map(|((hash, range), _)| (hash, body.slice(range)))
        .collect();
    if new.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let refs: Vec<ChunkRef> = new
        .iter()
        .map(|(hash, b)| ChunkRef {
            hash: hash.clone(),
            size: b.len() as u64,
        })
        .collect();
    check_room(&state, account, refs.iter().map(|r| r.size).sum()).await?;
    let placed = state
        .chunks
        .put_pack(account, &new)
        .await
        .map_err(storage_failure)?;
    let object = placed[0].at.object.clone();
    record(&state, account, refs, placed, object).await?;
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
    Valid(req): Valid<FetchChunksRequest>,
) -> Result<impl IntoResponse, AppError> {
    check_batch(req.hashes.len(), "chunks")?;
    for h in &req.hashes {
        check_name(h)?;
    }
    let places = places_of(&state, s.account, req.hashes.clone()).await?;
    let Some(got) = state
        .chunks
        .get_many(&places, MAX_CHUNK_BYTES as u64)
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
