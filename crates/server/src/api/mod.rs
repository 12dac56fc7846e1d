//! The HTTP surface: `/v1`, JSON, bearer tokens. Routes and the OpenAPI
//! document are registered together (utoipa-axum), so they cannot drift.

mod account;
mod auth;
mod content;
mod device;
mod device_page;
mod files;
mod input;
mod legal;
mod push;
mod restore;
mod session;
mod signin;
mod store_error;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use nubo_protocol::{ApiError, ErrorCode};
use tokio::sync::broadcast;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::agreements::Published;
use crate::chunks::ChunkStore;
use crate::clock::Clock;
use crate::store::{AccountKey, MetaStore, StoreResult};

pub use account::check_new_password;
pub use session::{hash_token, issue_tokens};

/// Largest request body: one chunk, or a batch of them (the client's chunker
/// and batches stay below it); also the most one fetch answers with.
pub const MAX_CHUNK_BYTES: usize = 16 << 20;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn MetaStore>,
    pub chunks: ChunkStore,
    pub agreements: Arc<Published>,
    pub clock: Arc<dyn Clock>,
    /// (account, new cursor) after every change, for the push channel.
    pub changes: broadcast::Sender<(AccountKey, i64)>,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// Days the trash and replaced versions are kept.
    pub retention_days: u32,
    /// Served over HTTPS (for the addresses the service gives out).
    pub https: bool,
    pub throttle: Arc<crate::throttle::Throttle>,
    /// The agreement set whose texts are in the store's archive already.
    pub archived: Arc<std::sync::Mutex<Option<Arc<crate::agreements::AgreementSet>>>>,
}

impl AppState {
    /// Runs a store call on a blocking thread: SQLite must not stall the runtime.
    pub async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn MetaStore) -> StoreResult<T> + Send + 'static,
    ) -> Result<T, AppError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| AppError(ApiError::new(ErrorCode::Internal, e.to_string())))?
            .map_err(AppError::from)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Today on the service's clock, `YYYY-MM-DD` (UTC): which version of
    /// each agreement is in force.
    pub fn today(&self) -> String {
        crate::clock::date(self.now())
    }

    /// The agreements published now. The first time a set is seen, its
    /// texts go into the store's archive, so that every version ever
    /// published can be shown again.
    pub async fn published(&self) -> Result<Arc<crate::agreements::AgreementSet>, AppError> {
        let set = self.agreements.get();
        let known = self
            .archived
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|k| Arc::ptr_eq(k, &set));
        if !known {
            let docs: Vec<(nubo_protocol::AgreementDoc, String)> = set
                .texts()
                .map(|(d, body)| (d.clone(), body.to_string()))
                .collect();
            let now = self.now();
            self.store(move |s| s.archive_agreements(&docs, now))
                .await?;
            *self.archived.lock().unwrap_or_else(|p| p.into_inner()) = Some(set.clone());
        }
        Ok(set)
    }

    /// Cancels the account (`Privacy::delete_account`), then removes its
    /// chunk objects, and the shared ones no account needs any more.
    pub async fn cancel_account(&self, account: AccountKey) -> Result<(), AppError> {
        let now = self.now();
        let shared = self.store(move |s| s.delete_account(account, now)).await?;
        self.chunks.remove_account(account).await;
        self.chunks.remove_unused(&shared).await;
        Ok(())
    }

    /// Deletes the account's content (`Privacy::delete_content`), then
    /// the chunk objects its rows named.
    pub async fn empty_account(&self, account: AccountKey) -> Result<(), AppError> {
        let now = self.now();
        let objects = self.store(move |s| s.delete_content(account, now)).await?;
        self.chunks.remove_unused(&objects).await;
        Ok(())
    }

    /// Wakes the account's push listeners. Nobody listening is fine. With a
    /// store that several instances share, through the store, so that the
    /// listeners of every instance (this one's too) wake.
    pub fn notify_change(&self, account: AccountKey, cursor: i64) {
        if !self.store.shared() {
            let _ = self.changes.send((account, cursor));
            return;
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.announce(account, cursor) {
                let e = anyhow::Error::from(e);
                tracing::warn!("cannot announce a change to the other instances: {e:#}");
            }
        });
    }
}

/// Every failure leaves the service as an `ApiError` body with its status.
#[derive(Debug)]
pub struct AppError(pub ApiError);

impl From<ApiError> for AppError {
    fn from(e: ApiError) -> Self {
        AppError(e)
    }
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError(ApiError::new(code, message))
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {e}");
        AppError::new(ErrorCode::Internal, format!("the service failed: {e}"))
    }
}

/// The service's disk is full: a write was refused whole, nothing half-done.
pub fn service_full(detail: &str) -> ApiError {
    tracing::error!("out of disk space: {detail}");
    ApiError::new(
        ErrorCode::ServiceFull,
        "the service's disk is full, so nothing was written; try again later (its operator has to free space)",
    )
}

/// A storage failure as the client should see it: `service_full` when the
/// cause is a full disk, an internal error otherwise.
pub fn storage_failure(e: anyhow::Error) -> AppError {
    let full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
    });
    if full {
        AppError(service_full(&format!("{e:#}")))
    } else {
        AppError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = axum::http::StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        // `retry_at` is on the service's clock; the header, for HTTP's own
        // clients, counts from the system's.
        let retry_after = self.0.retry_at.map(|at| {
            let wait = at - crate::clock::SystemClock.now();
            [(axum::http::header::RETRY_AFTER, wait.max(1).to_string())]
        });
        (status, retry_after, Json(self.0)).into_response()
    }
}

pub type ApiResult<T> = Result<Json<T>, AppError>;

/// Refuses a batch request of more than `MAX_BATCH` items (`what`: their name).
pub(crate) fn check_batch(n: usize, what: &str) -> Result<(), AppError> {
    if n > nubo_protocol::MAX_BATCH {
        return Err(AppError::new(
            ErrorCode::TooLarge,
            format!(
                "{n} {what} in one request; send at most {}",
                nubo_protocol::MAX_BATCH
            ),
        ));
    }
    Ok(())
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Nubo sync service", description = "The reference cloud service of the Nubo sync client."),
    modifiers(&BearerAuth),
    components(schemas(ApiError, ErrorCode))
)]
struct ApiDoc;

fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::account))
        .routes(routes!(auth::devices))
        .routes(routes!(auth::revoke_device))
        .routes(routes!(auth::cancel))
        .routes(routes!(account::summary))
        .routes(routes!(account::change_password))
        .routes(routes!(device::start))
        .routes(routes!(device::token))
        .routes(routes!(device::lookup))
        .routes(routes!(device::approve))
        .routes(routes!(legal::list))
        .routes(routes!(legal::document))
        .routes(routes!(legal::status))
        .routes(routes!(legal::accept))
        .routes(routes!(legal::withdraw))
        .routes(routes!(legal::decline))
        .routes(routes!(legal::versions))
        .routes(routes!(files::changes))
        .routes(routes!(files::node))
        .routes(routes!(files::mkdir))
        .routes(routes!(files::commit))
        .routes(routes!(files::commit_batch))
        .routes(routes!(files::move_node))
        .routes(routes!(files::delete))
        .routes(routes!(files::manifest))
        .routes(routes!(files::versions))
        .routes(routes!(restore::trash))
        .routes(routes!(restore::lookup))
        .routes(routes!(restore::restore))
        .routes(routes!(content::missing))
        .routes(routes!(content::upload))
        .routes(routes!(content::fetch))
        .routes(routes!(content::get_chunk, content::put_chunk))
        .routes(routes!(push::events))
        .split_for_parts()
}

/// The OpenAPI document of exactly the routes `router` serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

pub fn router(state: AppState) -> Router {
    let (router, doc) = routes();
    let doc = Arc::new(doc);
    router
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route(
            "/device",
            axum::routing::get(device_page::page_get).post(device_page::page_post),
        )
        .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES))
        .with_state(state)
}
