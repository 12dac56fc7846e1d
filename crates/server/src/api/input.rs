//! What a request may carry: a JSON body within every documented bound
//! (`Valid`), raw bytes within the body limit (`Body`); anything past them
//! is refused with an `ApiError` before a handler sees it.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::Json;
use nubo_protocol::limits::{Bounded, OverBound};
use nubo_protocol::ErrorCode;
use serde::de::DeserializeOwned;

use super::{AppError, MAX_CHUNK_BYTES};

/// A JSON body whose strings and lists are all within their bounds.
pub struct Valid<T>(pub T);

/// A body of bytes within the body limit.
pub struct Body(pub Bytes);

fn too_large() -> AppError {
    AppError::new(
        ErrorCode::TooLarge,
        format!(
            "the request body is larger than {} MiB; nothing was done",
            MAX_CHUNK_BYTES >> 20
        ),
    )
}

/// A string past its bound is a bad request; a list past its bound, too
/// large (413), like a body.
pub fn over_bound(over: OverBound) -> AppError {
    let code = if over.items {
        ErrorCode::TooLarge
    } else {
        ErrorCode::BadRequest
    };
    AppError::new(code, format!("{over}; nothing was done"))
}

impl<S: Send + Sync, T: DeserializeOwned + Bounded> FromRequest<S> for Valid<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let Json(value) =
            Json::<T>::from_request(req, state)
                .await
                .map_err(|r: JsonRejection| match r.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                    _ => AppError::new(ErrorCode::BadRequest, r.body_text()),
                })?;
        value.check_bounds().map_err(over_bound)?;
        Ok(Valid(value))
    }
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r: BytesRejection| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                _ => AppError::new(ErrorCode::BadRequest, r.body_text()),
            })?;
        Ok(Body(bytes))
    }
}
