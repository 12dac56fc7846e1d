//! Wire types of the Nubo HTTP API (`/v1`), shared by the client and the service.
//!
//! Everything here is plain data: no I/O, no framework. The service derives its
//! OpenAPI document from these types (feature `openapi`), so the document and
//! the client cannot drift apart.

mod api;
mod error;
pub mod frames;
pub mod limits;
pub mod names;
pub mod spelling;

pub use api::*;
pub use error::{ApiError, ErrorCode};

/// The API generation both sides speak; part of every path (`/v1/...`).
pub const API_VERSION: &str = "v1";
