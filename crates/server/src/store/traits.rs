//! The metadata store's interface, one trait per kind of thing it stores
//! (each implemented in `sql/<file>.rs`), and `MetaStore`, all of them
//! together: what the service's state holds, and what a handler calls.
//!
//! Every call is blocking and atomic: one transaction each (`find_token`
//! notes the use apart from the check). Handlers call it from a blocking
//! thread (`AppState::store`). `now` is passed in so tests can move time.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use nubo_protocol::{
    AcceptItem, Acceptance, AccountSummary, AgeConfirmation, AgreementDoc, ChangesResponse,
    ChunkRef, CommitRequest, DeleteRequest, Manifest, Node, NodeId, PendingSignIn, RestoreRequest,
    RestoreResponse, TrashItem, Version,
};

use super::{
    AccountKey, AccountRow, ChunkPlace, Deliver, DeviceId, DeviceRow, Garbage, GrantPoll, NewGrant,
    NewTokens, PlacedChunk, Rotation, SignOut, StoreResult, StoredObject, TokenKind, TokenOwner,
    Usage,
};
use crate::throttle::Failures;

/// Accounts, their devices and the devices' tokens (as digests).
pub trait Accounts: Send + Sync + 'static {
    fn create_account(
        &self,
        account_id: &str,
        phone: Option<&str>,
        password_hash: &str,
        quota_bytes: u64,
        now: i64,
    ) -> StoreResult<AccountRow>;
    /// By account ID or phone number.
    fn find_account(&self, login: &str) -> StoreResult<Option<AccountRow>>;
    fn account(&self, account: AccountKey) -> StoreResult<AccountRow>;
    fn create_device(
        &self,
        account: AccountKey,
        name: &str,
        os: &str,
        now: i64,
    ) -> StoreResult<DeviceId>;
    fn revoke_device(&self, device: DeviceId) -> StoreResult<()>;
    /// The account's devices that are still signed in.
    fn devices(&self, account: AccountKey) -> StoreResult<Vec<DeviceRow>>;
    /// The account that owns a device, if any.
    fn device_owner(&self, device: DeviceId) -> StoreResult<Option<AccountKey>>;
    /// A device's new pair of tokens, as digests: the service never keeps
    /// a usable token.
    fn put_tokens(&self, device: DeviceId, tokens: &NewTokens) -> StoreResult<()>;
    /// Spends a refresh token and stores its successors, in one
    /// transaction: of any number of uses of one token at once, one
    /// rotates it. A use of a spent token revokes the device and all its
    /// tokens (refresh token rotation, OAuth 2.0 Security BCP).
    fn rotate_refresh(&self, token_hash: &str, next: &NewTokens, now: i64)
        -> StoreResult<Rotation>;
    /// Finds a live (unexpired, unspent) token of a device that was not
    /// revoked, and notes the use.
    fn find_token(
        &self,
        token_hash: &str,
        kind: TokenKind,
        now: i64,
    ) -> StoreResult<Option<TokenOwner>>;
    /// The standing of the account behind any token ever issued (expired or
    /// revoked too): (last use, deleted). Lets a refused client learn that
    /// its account is frozen or deleted rather than just "sign in again".
    fn token_account(&self, token_hash: &str) -> StoreResult<Option<(i64, bool)>>;
    /// A new password hash; the devices `sign_out` names are signed out.
    fn set_password(
        &self,
        account: AccountKey,
        password_hash: &str,
        sign_out: SignOut,
    ) -> StoreResult<()>;
}

/// What a sign-in leaves behind for a while: failed attempts (the
/// backoff of wrong passwords and codes) and device sign-ins by code
/// (RFC 8628) waiting for approval.
pub trait SignIns: Send + Sync + 'static {
    /// Failed attempts in a row under `key` (a login as typed, whether or
    /// not an account has it, so the answer does not tell; or an account
    /// approving sign-in codes: `throttle::login_key`, `approver_key`), and
    /// when the last was.
    fn failures(&self, key: &str) -> StoreResult<Option<Failures>>;
    /// Notes a failed attempt under `key` at `now`; a success forgets them
    /// (`clear_failures`). Rows a day old go with `purge_stale`.
    fn note_failure(&self, key: &str, now: i64) -> StoreResult<()>;
    fn clear_failures(&self, key: &str) -> StoreResult<()>;
    /// Device sign-in (RFC 8628): a pending grant, found by the digest of
    /// its device code or by its user code. Expired grants go first; with
    /// `max_waiting` waiting already, refused (`StoreError::TooManyWaiting`).
    fn create_grant(&self, grant: &NewGrant<'_>, now: i64, max_waiting: u64) -> StoreResult<()>;
    /// The device waiting with this user code, while it waits.
    fn waiting_grant(&self, user_code: &str, now: i64) -> StoreResult<Option<PendingSignIn>>;
    /// False when no live grant has that user code.
    fn approve_grant(&self, user_code: &str, account: AccountKey, now: i64) -> StoreResult<bool>;
    fn poll_grant(&self, code_hash: &str, now: i64, interval: i64) -> StoreResult<GrantPoll>;
    /// Forgets what only served a while: expired device sign-in grants,
    /// wrong passwords of a day ago, and expired tokens, except each
    /// device's newest of each kind (kept, so that a client coming back
    /// after months still learns that its account was frozen or deleted).
    /// How many rows.
    fn purge_stale(&self, now: i64) -> StoreResult<u64>;
}

/// Each account's tree of files and folders, the conditional writes to
/// it, and its change feed.
pub trait Nodes: Send + Sync + 'static {
    /// The feed after `cursor`. `known` is the newest change the client
    /// knows of (its own writes included): a cursor or a change newer than
    /// this service's history is refused as `HistoryRewound`.
    fn changes(
        &self,
        account: AccountKey,
        cursor: i64,
        known: i64,
        limit: u32,
    ) -> StoreResult<ChangesResponse>;
    /// Called once as the service starts, before it serves: remembers the
    /// newest change the database holds and the time, so that a cursor from
    /// a history this database does not have (restored from a backup) is
    /// told apart from one it issued (`changes`).
    fn begin_history(&self, now: i64) -> StoreResult<()>;
    fn current_cursor(&self, account: AccountKey) -> StoreResult<i64>;
    fn node(&self, account: AccountKey, id: NodeId) -> StoreResult<Node>;
    /// Idempotent: an existing folder of that name is returned as it is.
    fn mkdir(&self, account: AccountKey, parent: NodeId, name: &str, now: i64)
        -> StoreResult<Node>;
    fn commit(
        &self,
        account: AccountKey,
        device: DeviceId,
        req: &CommitRequest,
        now: i64,
    ) -> StoreResult<Node>;
    /// Several commits in one transaction, each as `commit` alone would
    /// decide it; `Err` only when the store itself fails.
    fn commit_many(
        &self,
        account: AccountKey,
        device: DeviceId,
        reqs: &[CommitRequest],
        now: i64,
    ) -> StoreResult<Vec<StoreResult<Node>>>;
    fn move_node(
        &self,
        account: AccountKey,
        id: NodeId,
        parent: NodeId,
        name: &str,
        now: i64,
    ) -> StoreResult<Node>;
    fn delete_node(
        &self,
        account: AccountKey,
        device: DeviceId,
        id: NodeId,
        req: &DeleteRequest,
        now: i64,
    ) -> StoreResult<Node>;
    fn manifest(&self, account: AccountKey, id: NodeId) -> StoreResult<Manifest>;
}

/// What can be brought back: the trash (one entry per delete) and each
/// file's kept versions; restores, and retention.
pub trait Trash: Send + Sync + 'static {
    /// The file's kept earlier revisions, newest first.
    fn versions(&self, account: AccountKey, id: NodeId) -> StoreResult<Vec<Version>>;
    /// One page of the trash's entries matching `query`, and how many match.
    fn trash(
        &self,
        account: AccountKey,
        query: &str,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<TrashItem>, u64)>;
    /// The node at a path from the top folder: the live one, else the one
    /// deleted last.
    fn lookup(&self, account: AccountKey, path: &str) -> StoreResult<Node>;
    fn restore(
        &self,
        account: AccountKey,
        device: DeviceId,
        req: &RestoreRequest,
        now: i64,
    ) -> StoreResult<RestoreResponse>;
    /// Retention, for every account: empties trash entries deleted before
    /// `before` and drops versions replaced before it. Returns how many of each.
    fn purge_expired(&self, before: i64) -> StoreResult<(u64, u64)>;
}

/// Each account's chunks (rows: their sizes and where their bytes lie;
/// the bytes are the chunk store's) and what its quota counts.
pub trait ChunkRecords: Send + Sync + 'static {
    /// What counts against the account's quota now.
    fn usage(&self, account: AccountKey) -> StoreResult<Usage>;
    /// The bytes of the account's live files (kept by the database as
    /// files change): what the quota measures commits and restores by.
    fn used_bytes(&self, account: AccountKey) -> StoreResult<u64>;
    /// Chunks are kept per account: a chunk is present for an account only
    /// once that account uploaded it (its own copy), so no account can
    /// probe what another stores, not even by timing. Records `chunks` as
    /// uploaded by the account at `now`, each where `placed` says its
    /// bytes were written; a chunk the account had already keeps its
    /// place. Refused whole (`QuotaExceeded::Uploads`) when the new ones do
    /// not fit (`Usage::check_upload`). Returns the hashes recorded now.
    fn store_chunks(
        &self,
        account: AccountKey,
        chunks: &[ChunkRef],
        placed: &[PlacedChunk],
        now: i64,
    ) -> StoreResult<Vec<String>>;
    /// `store_chunks` at time 0, for callers that keep chunk bytes
    /// elsewhere (the simulator).
    fn add_chunks(
        &self,
        account: AccountKey,
        chunks: &[ChunkRef],
        placed: &[PlacedChunk],
    ) -> StoreResult<()> {
        self.store_chunks(account, chunks, placed, 0).map(drop)
    }
    /// Where the account's copies of these chunks lie, in the order asked;
    /// None for one it never uploaded.
    fn chunk_places(
        &self,
        account: AccountKey,
        hashes: &[String],
    ) -> StoreResult<Vec<Option<ChunkPlace>>>;
    /// Which of these chunks the account never uploaded, each once.
    fn missing_chunks(&self, account: AccountKey, hashes: &[String]) -> StoreResult<Vec<String>>;
}

/// Garbage collection of the chunk rows no file, trash entry or kept
/// version names, account by account.
pub trait ChunkGc: Send + Sync + 'static {
    /// Up to `limit` accounts holding chunk rows, by key, after `after`:
    /// a page of the accounts a garbage collection visits.
    fn accounts_with_chunks(&self, after: AccountKey, limit: u32) -> StoreResult<Vec<AccountKey>>;
    /// Garbage collection of one account's chunks, in one transaction:
    /// deletes its chunk rows that no node (live or in the trash) or kept
    /// version names, committed ones, and pending ones uploaded before
    /// `pending_before` (a chunk uploaded for a commit still to come
    /// stays). The objects no row of any account needs any more are the
    /// caller's to remove, after the transaction (`ChunkStore`).
    fn collect_garbage(&self, account: AccountKey, pending_before: i64) -> StoreResult<Garbage>;
    /// Which of these objects of accounts no chunk row names.
    fn unnamed_objects(&self, objects: &[String]) -> StoreResult<Vec<String>>;
}

/// The record of consent: acceptances, declines and withdrawals of the
/// agreements, and the archive of every published version's text.
pub trait Legal: Send + Sync + 'static {
    fn acceptances(&self, account: AccountKey) -> StoreResult<Vec<Acceptance>>;
    fn record_acceptances(
        &self,
        account: AccountKey,
        device: DeviceId,
        items: &[AcceptItem],
        age: AgeConfirmation,
        now: i64,
    ) -> StoreResult<()>;
    /// Records that the user was shown these documents and declined them.
    fn record_declines(
        &self,
        account: AccountKey,
        device: DeviceId,
        items: &[AcceptItem],
        now: i64,
    ) -> StoreResult<()>;
    /// Records the withdrawal of consent to `version` of document `id`.
    fn record_withdrawal(
        &self,
        account: AccountKey,
        device: DeviceId,
        id: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Keeps each published document version's text (once; never changed).
    fn archive_agreements(&self, docs: &[(AgreementDoc, String)], now: i64) -> StoreResult<()>;
    fn archived_agreement(
        &self,
        id: &str,
        version: &str,
        locale: &str,
    ) -> StoreResult<Option<String>>;
    /// Every version of every document ever published.
    fn archived_agreements(&self) -> StoreResult<Vec<AgreementDoc>>;
}

/// The account lifecycle's erasures (content of a frozen account, a
/// cancelled account), the end of old consent records, and the summary
/// of what an account stores.
pub trait Privacy: Send + Sync + 'static {
    /// Cancels the account: deletes what it stores (nodes, trash, versions,
    /// its chunks' rows) and the personal rows about it (device names,
    /// phone number, password hash, failed sign-ins; see `sql/privacy.rs`),
    /// signs every device out, and makes the database drop the deleted
    /// bytes. The row stays with the account ID (reserved), marked deleted.
    /// The account's own chunk objects (everything under `accounts/<key>/`)
    /// are the caller's to remove (`ChunkStore::remove_account`), and so
    /// are the shared ones returned, which no account needs any more
    /// (`ChunkStore::remove_unused`).
    fn delete_account(&self, account: AccountKey, now: i64) -> StoreResult<Vec<StoredObject>>;
    /// 30 days after freezing: deletes the account's content and signs its
    /// devices out; the account stays (a sign-in starts it over, empty).
    /// The objects the deleted chunk rows named and no row needs any more,
    /// for the caller to remove (`ChunkStore::remove_unused`): each write
    /// has an object name of its own, so removing them never takes an
    /// upload made since.
    fn delete_content(&self, account: AccountKey, now: i64) -> StoreResult<Vec<StoredObject>>;
    /// Accounts not cancelled, last used before `before`, whose content
    /// was not deleted since that last use.
    fn accounts_to_empty(&self, before: i64) -> StoreResult<Vec<AccountKey>>;
    /// Accounts not cancelled whose last use was before `before`.
    fn accounts_to_cancel(&self, before: i64) -> StoreResult<Vec<AccountKey>>;
    /// Deletes the records of consent of accounts cancelled before
    /// `before`, and their devices' token digests.
    fn expire_records(&self, before: i64) -> StoreResult<u64>;
    /// What the account stores: files, trash, versions, top-level items.
    fn account_summary(&self, account: AccountKey) -> StoreResult<AccountSummary>;
}

/// What several service instances sharing one store coordinate through
/// it: whose turn a background job is, and announcements of changes for
/// the push channels.
pub trait Instances: Send + Sync + 'static {
    /// Takes the turn to run background job `name` when nobody ran it in
    /// the last `gap` seconds: with several instances on one database, one
    /// of them runs it.
    fn claim_job(&self, name: &str, now: i64, gap: i64) -> StoreResult<bool>;
    /// Whether several service instances may share this store: then a
    /// change is announced through it (`announce`) rather than only to
    /// this instance's push clients.
    fn shared(&self) -> bool;
    fn announce(&self, account: AccountKey, cursor: i64) -> StoreResult<()>;
    /// Hands the announcements of every instance sharing the store (this
    /// one too) to `deliver`, until `stop` is set; listening already when it
    /// returns. Nothing for a store that only this instance uses.
    fn listen(&self, deliver: Deliver, stop: Arc<AtomicBool>) -> StoreResult<()>;
}

/// The whole store: every kind of thing it keeps, as `AppState` and the
/// background jobs hold it. A new kind gets a trait of its own, added
/// here and to the `impl` below.
pub trait MetaStore:
    Accounts + SignIns + Nodes + Trash + ChunkRecords + ChunkGc + Legal + Privacy + Instances
{
}

impl<
        S: Accounts + SignIns + Nodes + Trash + ChunkRecords + ChunkGc + Legal + Privacy + Instances,
    > MetaStore for S
{
}
