//! Request and response bodies, grouped by endpoint family.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Stable identity of a file or folder on the service; survives moves and renames.
pub type NodeId = i64;

// ---------------------------------------------------------------- auth

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    /// An account ID or a phone number.
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub login: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub password: String,
    /// Shown in the account's device list, e.g. the host name.
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub device_name: String,
    /// The device's operating system, for the device list (`linux`, `windows`, `macos`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub os: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub refresh_token: String,
}

/// Tokens for one device. The refresh token rotates: each use returns a new one
/// and retires the old.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in_secs: u64,
    pub account_id: String,
    pub device_id: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountInfo {
    pub account_id: String,
    /// The node id of the account's top folder.
    pub root_id: NodeId,
    pub quota_bytes: u64,
    /// What counts against the quota: the live files (not the trash or
    /// earlier versions), and chunks uploaded that no commit has used yet.
    pub used_bytes: u64,
}

/// `POST /v1/auth/device`: start a sign-in that another, signed-in device
/// approves (RFC 8628, device authorization grant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceCodeRequest {
    /// Shown in the account's device list once approved.
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub device_name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub os: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceCodeResponse {
    /// Secret: only the waiting client holds it, to poll for its tokens.
    pub device_code: String,
    /// Short, for a person to type: `ABCD-EFGH`.
    pub user_code: String,
    /// The service's approval page.
    pub verification_uri: String,
    /// The page with the code filled in (for a QR code).
    pub verification_uri_complete: String,
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// `POST /v1/auth/device/token`: poll. Answers `authorization_pending` or
/// `slow_down` until approved, then the tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceTokenRequest {
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub device_code: String,
}

/// `POST /v1/auth/device/approve`, from a signed-in device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApproveRequest {
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub user_code: String,
}

/// A device waiting for its sign-in code to be approved, as whoever
/// approves should see it first: is this my own device?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PendingSignIn {
    pub user_code: String,
    /// The name the device gave, e.g. its host name.
    pub device_name: String,
    /// `linux`, `windows`, `macos`, or empty when it did not say.
    pub os: String,
    /// When it asked (Unix seconds).
    pub requested_at: i64,
}

/// `POST /v1/account/password`: a signed-in user changes the password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PasswordChange {
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub current: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub new: String,
    /// Also sign out every other device of the account (this one stays).
    #[serde(default)]
    pub sign_out_others: bool,
}

/// One top-level item of the account, with what it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TopItem {
    pub name: String,
    pub kind: NodeKind,
    pub files: u64,
    pub bytes: u64,
}

/// `GET /v1/account/summary`: what the account stores, so that a user
/// knows what a cancellation would delete.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountSummary {
    pub files: u64,
    pub bytes: u64,
    /// Files in the trash, and their bytes.
    pub trash_files: u64,
    pub trash_bytes: u64,
    /// Earlier versions kept, and their bytes.
    pub versions: u64,
    pub version_bytes: u64,
    /// Bytes uploaded that no file uses yet (an upload under way, or one
    /// left unfinished): deleted too.
    #[serde(default)]
    pub pending_bytes: u64,
    /// The items at the top of the account, largest first (at most 100).
    pub top: Vec<TopItem>,
}

/// `POST /v1/account/cancel`: deletes the account and everything it stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CancelRequest {
    /// The account ID, typed by the user as confirmation.
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub confirm: String,
}

/// A signed-in client of the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Device {
    pub id: i64,
    pub name: String,
    /// `linux`, `windows`, `macos`, or empty when the client did not say.
    #[serde(default)]
    pub os: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, to the minute.
    pub last_seen: i64,
    /// The device asking.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

// ---------------------------------------------------------------- agreements

/// When a document must have been accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Requirement {
    /// Before any use of the account.
    SignIn,
    /// Before the first file is synced.
    Sync,
    /// Never required; accepting it enables an optional feature (push).
    Optional,
}

/// One document in one language, as the service publishes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AgreementDoc {
    pub id: String,
    pub locale: String,
    pub title: String,
    pub version: String,
    /// ISO date, e.g. `2022-10-17`.
    pub effective: String,
    pub required: Requirement,
    /// The version that applies today (in `/v1/agreements`): not one
    /// announced for a later date, nor one a newer version replaced.
    #[serde(default)]
    pub in_force: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AgreementList {
    pub documents: Vec<AgreementDoc>,
}

/// A document (all its languages) the account has not accepted in its current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PendingAgreement {
    pub id: String,
    pub version: String,
    pub title: String,
    pub locales: Vec<String>,
    pub required: Requirement,
    /// ISO date from which this version applies.
    #[serde(default)]
    pub effective: String,
}

/// Who confirms the acceptance: the documents require a minor's guardian to agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgeConfirmation {
    /// "I am of the age of majority."
    Adult,
    /// "My guardian has read and agrees."
    Guardian,
}

/// One document as the user was shown it: its exact version and language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AcceptItem {
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub version: String,
    /// The language the user read it in.
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub locale: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AcceptRequest {
    #[cfg_attr(feature = "openapi", schema(max_items = 32))]
    pub acceptances: Vec<AcceptItem>,
    /// Required: the service refuses an acceptance without it.
    pub age: Option<AgeConfirmation>,
}

/// One recorded acceptance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Acceptance {
    pub id: String,
    pub version: String,
    pub locale: String,
    /// Unix seconds.
    pub accepted_at: i64,
    pub age: AgeConfirmation,
    pub device_id: i64,
    /// A withdrawal of an earlier consent (optional documents only); the
    /// latest record for a document and version decides.
    #[serde(default)]
    pub withdrawn: bool,
    /// The user declined this version (and signed out): a record, not a consent.
    #[serde(default)]
    pub declined: bool,
}

/// `POST /v1/agreements/decline`: the documents the user was shown and
/// declined. Recorded; the client then signs out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeclineRequest {
    #[cfg_attr(feature = "openapi", schema(max_items = 32))]
    pub documents: Vec<AcceptItem>,
}

/// `POST /v1/agreements/withdraw`: take back consent to an optional document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WithdrawRequest {
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AgreementStatus {
    /// Versions in force not yet accepted (required and optional alike).
    pub pending: Vec<PendingAgreement>,
    pub accepted: Vec<Acceptance>,
    /// Revised versions published with a future `effective` date, not yet
    /// accepted: announced now, required from that date.
    #[serde(default)]
    pub upcoming: Vec<PendingAgreement>,
}

// ---------------------------------------------------------------- nodes

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    File,
    Dir,
}

/// A file or folder as the service holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Node {
    pub id: NodeId,
    /// `None` only for the account's root.
    pub parent: Option<NodeId>,
    pub name: String,
    pub kind: NodeKind,
    /// Content revision: changes when the content changes, not on move or rename.
    pub rev: i64,
    pub size: u64,
    /// BLAKE3 of the whole content, hex; empty for folders.
    pub hash: String,
    /// Position in the account's change feed of this node's last change.
    pub seq: i64,
    /// In the trash.
    pub deleted: bool,
    /// Modification time the uploader reported, Unix milliseconds. Informational:
    /// clocks of different machines are never compared.
    pub mtime_ms: i64,
    /// A file its owner may run (the uploader's exec bit).
    #[serde(default)]
    pub exec: bool,
}

/// `GET /v1/changes?cursor=N`: the current state of every node changed after `cursor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangesResponse {
    pub nodes: Vec<Node>,
    /// Pass this back as `cursor` for the next page.
    pub cursor: i64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MkdirRequest {
    pub parent: NodeId,
    #[cfg_attr(feature = "openapi", schema(max_length = 1020))]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChunkRef {
    /// BLAKE3 of the chunk, hex.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 64, max_length = 64, pattern = "^[0-9a-f]{64}$")
    )]
    pub hash: String,
    pub size: u64,
}

/// Create a file (`node` absent) or give an existing file new content,
/// conditional on `base_rev`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitRequest {
    pub parent: NodeId,
    #[cfg_attr(feature = "openapi", schema(max_length = 1020))]
    pub name: String,
    pub node: Option<NodeId>,
    /// Required with `node`: the revision this content was based on.
    pub base_rev: Option<i64>,
    pub size: u64,
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub hash: String,
    #[cfg_attr(feature = "openapi", schema(max_items = 150000))]
    pub chunks: Vec<ChunkRef>,
    pub mtime_ms: i64,
    /// A file its owner may run; the node keeps it with this revision.
    #[serde(default)]
    pub exec: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MoveRequest {
    pub parent: NodeId,
    #[cfg_attr(feature = "openapi", schema(max_length = 1020))]
    pub name: String,
}

/// Move a node to the trash, only if nothing changed that the client has not seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeleteRequest {
    /// Files: the content revision the client last saw.
    pub base_rev: Option<i64>,
    /// Folders: refuse when anything inside changed after this change-feed cursor.
    pub unchanged_since: Option<i64>,
}

/// How to reassemble one revision of a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Manifest {
    pub node: NodeId,
    pub rev: i64,
    pub size: u64,
    pub hash: String,
    pub chunks: Vec<ChunkRef>,
}

/// At most this many commits, or chunks, in one batch request.
pub const MAX_BATCH: usize = 1000;

/// Several commits in one request and one transaction on the service; each
/// succeeds or fails on its own, as if sent alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitBatchRequest {
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub commits: Vec<CommitRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitBatchResponse {
    /// One per commit, in the order asked.
    pub results: Vec<CommitResult>,
}

/// The node the commit made, or why it was refused (as a lone commit's error).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Node>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ApiError>,
}

/// Chunks to download in one answer (see `frames`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FetchChunksRequest {
    #[cfg_attr(feature = "openapi", schema(max_items = 1000, value_type = Vec<ChunkHash>))]
    pub hashes: Vec<String>,
}

/// A chunk's name: its BLAKE3 hash in lower-case hex. Only for the
/// OpenAPI document (requests carry plain strings).
#[cfg(feature = "openapi")]
pub struct ChunkHash;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ChunkHash {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(crate::limits::HASH_BYTES))
            .max_length(Some(crate::limits::HASH_BYTES))
            .pattern(Some("^[0-9a-f]{64}$"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl ToSchema for ChunkHash {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MissingChunksRequest {
    #[cfg_attr(feature = "openapi", schema(max_items = 1000, value_type = Vec<ChunkHash>))]
    pub hashes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MissingChunksResponse {
    /// The subset of the request this account has not uploaded.
    pub missing: Vec<String>,
}

/// One earlier revision of a file, kept when it was overwritten.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Version {
    pub rev: i64,
    pub size: u64,
    pub hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The device that wrote this revision, and its name.
    pub device_id: i64,
    #[serde(default)]
    pub device_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VersionList {
    pub versions: Vec<Version>,
}

// ---------------------------------------------------------------- restore

/// One entry of the trash: what one delete removed. A deleted folder is one
/// entry; the files that went with it are restored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TrashItem {
    pub id: NodeId,
    pub name: String,
    /// Where it was, from the account's top folder: `/Docs/report.txt`.
    pub path: String,
    pub kind: NodeKind,
    /// A file's size, or the total of the files a folder held.
    pub size: u64,
    /// 1 for a file; the files a folder held.
    pub files: u64,
    /// Unix seconds.
    pub deleted_at: i64,
    /// The device that deleted it, and its name.
    pub deleted_by: i64,
    pub device_name: String,
}

/// `GET /v1/trash`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TrashList {
    pub items: Vec<TrashItem>,
    /// Entries matching the query, over all pages.
    pub total: u64,
    /// Deleted items stay this many days before the service removes them.
    pub retention_days: u32,
}

/// Bring back a deleted file or folder, or an earlier version of a file.
/// Nothing is ever overwritten: a taken name becomes
/// `name (restored YYYY-MM-DD).ext`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RestoreRequest {
    pub node: NodeId,
    /// A file's earlier revision (from its versions). Absent: the node as it
    /// was deleted, with everything deleted with it.
    pub rev: Option<i64>,
    /// Restore into this folder instead of the old place.
    pub to_parent: Option<NodeId>,
    /// Under this name instead of the old one.
    #[cfg_attr(feature = "openapi", schema(max_length = 1020))]
    pub to_name: Option<String>,
    /// With `rev` on a file that exists: add the old content as a new file
    /// beside it instead of making it the current version.
    #[serde(default)]
    pub as_copy: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RestoreResponse {
    /// The restored node as it is now.
    pub node: Node,
    /// Where it is now, from the account's top folder.
    pub path: String,
    /// Files brought back (a folder counts what it holds).
    pub files: u64,
}

/// Data of a push (server-sent) event: the account's change feed moved on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushEvent {
    pub cursor: i64,
}
