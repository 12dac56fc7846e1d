//! Why a store call failed, as types with their data: what the handlers
//! must tell apart (not found, a conflict, the quota, input only the store
//! can judge, …) and the database failing. What each means to a client
//! over HTTP (status, error code) is decided in `api/` alone
//! (`api::store_error`); the sentences here are the failures' own words.

use nubo_protocol::names::NameProblem;

use super::db::DbError;

/// The result of every store call.
pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    NotFound(#[from] NotFound),
    /// A conditional write lost a race, or the tree is not as the request
    /// assumed (a name taken, a parent deleted).
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
    /// A commit names chunks the account never uploaded: these.
    #[error("{} chunks of this file were never uploaded", .0.len())]
    MissingChunks(Vec<String>),
    /// A request the store refuses for what it holds (a size that does not
    /// add up, the top folder moved).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{name:?} cannot be a file name: {problem}")]
    InvalidName { name: String, problem: NameProblem },
    /// A cursor or change newer than this database's history: the service
    /// was restored from an older copy.
    #[error(
        "the service was restored from an older copy and no longer has changes this device \
         has seen; the device rebuilds its view of the service, deleting nothing"
    )]
    HistoryRewound,
    /// The account a signed-in request names is not in the store.
    #[error("the account no longer exists")]
    AccountGone,
    /// As many device sign-ins wait as the store takes; try again at `retry_at`.
    #[error("too many sign-ins by code waiting at once")]
    TooManyWaiting { retry_at: i64 },
    /// The database failed (its disk full, a connection lost, a row damaged).
    #[error("metadata store failed")]
    Db(#[from] DbError),
}

impl StoreError {
    /// A refusal of this one request by a rule of the store, as opposed to
    /// the database failing (which fails a whole batch).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, StoreError::Db(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFound {
    #[error("no such file or folder in this account")]
    Node,
    #[error("nothing was ever at {0:?} in this account")]
    Path(String),
    /// Deleted for good after the retention period.
    #[error(
        "{0:?} was removed from the trash for good (the service keeps deleted items only for its \
         retention period)"
    )]
    Purged(String),
    #[error(
        "the service keeps no revision {rev} of {name:?}; list its versions to see which it keeps"
    )]
    Revision { name: String, rev: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("an account with the ID or phone number {0:?} already exists")]
    AccountTaken(String),
    #[error("the folder was deleted on the service")]
    ParentDeleted,
    #[error("the parent is a file, not a folder")]
    ParentIsFile,
    #[error("the file was deleted on the service")]
    FileDeleted,
    #[error("the item was deleted on the service")]
    ItemDeleted,
    #[error("that node is a folder")]
    NotAFile,
    /// A new file where one of that name with other content is.
    #[error("{0:?} already exists on the service with other content")]
    FileExists(String),
    /// The file's revision is `current`, not the `base` the commit built on.
    #[error("{name:?} changed on the service (revision {current} is current, not {base})")]
    StaleRevision {
        name: String,
        current: i64,
        base: i64,
    },
    #[error("a file named {0:?} is in the way")]
    FileInTheWay(String),
    /// A move onto a name taken in the target folder.
    #[error("{0:?} already exists there")]
    NameTaken(String),
    /// A delete of a file changed since the client's base revision.
    #[error("{0:?} changed on the service since it was last synced")]
    ChangedSince(String),
    /// A delete of a folder with something in it changed since the client's cursor.
    #[error("something inside {0:?} changed on the service since it was last synced")]
    ChangedInside(String),
    #[error("{0:?} is not deleted; to bring back older content, restore one of its versions")]
    NotDeleted(String),
    /// `nubo admin migrate` into a database that holds accounts already.
    #[error("the PostgreSQL database already holds accounts; copy into an empty one")]
    NotEmpty,
}

/// What the quota refused, with the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    /// Live files would pass the quota: `used` of `quota` bytes now.
    #[error("storage is full: {used} of {quota} bytes used; free some space or upgrade the plan")]
    Files { used: u64, quota: u64 },
    /// Uploads waiting for a commit would pass the quota: `pending` now.
    #[error(
        "{pending} bytes are uploaded and wait for a commit; uploads waiting may hold at most \
         the quota of {quota} bytes: commit them, or free some space"
    )]
    Uploads { pending: u64, quota: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("the chunks add up to {total} bytes, not {size}")]
    ChunksSum { total: u64, size: u64 },
    #[error("chunk {hash} holds {stored} bytes on the service, not {claimed}")]
    ChunkSize {
        hash: String,
        stored: u64,
        claimed: u64,
    },
    #[error("the root cannot be moved")]
    MoveRoot,
    #[error("a folder cannot be moved into itself")]
    MoveIntoItself,
    #[error("the root cannot be deleted")]
    DeleteRoot,
    #[error("a folder has no content")]
    FolderContent,
    #[error("the top folder cannot be restored")]
    RestoreRoot,
    #[error("folders have no versions; restore the folder itself")]
    FolderVersions,
}
