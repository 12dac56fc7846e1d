//! Metadata storage: accounts, devices, tokens, acceptances, the node tree and
//! its change feed, chunks, the trash. One trait per kind of thing stored
//! (`traits.rs`; `MetaStore` is all of them, what the handlers hold), its
//! own error type (`error.rs`; what it means over HTTP is `api/`'s
//! business), and one set of rules (`sql`, a file per trait) over two
//! databases: embedded SQLite (`sqlite`) and PostgreSQL (`postgres`), which
//! several instances can share.

pub mod db;
mod error;
mod postgres;
mod sql;
mod sqlite;
mod traits;

pub use error::{Conflict, Invalid, NotFound, QuotaExceeded, StoreError, StoreResult};
pub use postgres::{Postgres, PostgresStore};
pub use sql::SqlStore;
pub use sqlite::{Sqlite, SqliteStore};
pub use traits::{
    Accounts, ChunkGc, ChunkRecords, Instances, Legal, MetaStore, Nodes, Privacy, SignIns, Trash,
};

use nubo_protocol::NodeId;

/// `size` bytes from `start` of one object of the chunk store, as the
/// chunk store named it when it wrote them (a pack, or one chunk alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRange {
    pub object: String,
    pub start: u64,
    pub size: u64,
}

/// A chunk just written for an account, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedChunk {
    pub hash: String,
    pub at: ObjectRange,
}

/// Where an account's copy of a chunk lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkPlace {
    /// In an object of the account's own.
    Own(ObjectRange),
    /// Uploaded before chunks were kept per account, when one copy served
    /// every account that uploaded it: `size` bytes in a shared pack (its
    /// name and the start), or alone in an object named by the hash.
    Shared {
        hash: String,
        pack: Option<(String, u64)>,
        size: u64,
    },
}

impl ChunkPlace {
    pub fn size(&self) -> u64 {
        match self {
            ChunkPlace::Own(at) => at.size,
            ChunkPlace::Shared { size, .. } => *size,
        }
    }
}

/// An object of the chunk store that no chunk row needs any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredObject {
    /// An object of one account's own (a chunk alone, or a pack), by name.
    Own(String),
    /// A chunk stored alone before chunks were kept per account, named by
    /// its hash.
    SharedChunk(String),
    /// A pack of chunks stored before chunks were kept per account.
    SharedPack(String),
}

/// What a garbage collection of one account's chunks did in the metadata
/// store (`ChunkGc::collect_garbage`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Garbage {
    /// Chunk rows deleted: no file, trash entry or kept version named them.
    pub chunks: u64,
    /// Objects no row needs any more, for the caller to remove.
    pub objects: Vec<StoredObject>,
    /// Bytes of deleted chunks that lie in packs which stay, because other
    /// chunks of them are still in use (no compaction).
    pub kept_bytes: u64,
}

/// What an account holds against its quota: its live files (what commits
/// and restores are measured by), and the chunks it uploaded that no
/// commit has named yet, which may take at most the quota again (so that
/// a new version of a large file can be uploaded before the old one is
/// replaced, and no more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub quota: u64,
    pub files: u64,
    pub pending: u64,
}

impl Usage {
    /// All the account holds, as it is shown.
    pub fn used(&self) -> u64 {
        self.files + self.pending
    }

    /// Refuses live files of `adding` bytes while `freeing` go.
    pub fn check_files(&self, adding: u64, freeing: u64) -> Result<(), QuotaExceeded> {
        if self.files.saturating_sub(freeing) + adding <= self.quota {
            return Ok(());
        }
        Err(QuotaExceeded::Files {
            used: self.files,
            quota: self.quota,
        })
    }

    /// Refuses uploading `adding` bytes of new chunks.
    pub fn check_upload(&self, adding: u64) -> Result<(), QuotaExceeded> {
        if self.pending + adding <= self.quota {
            return Ok(());
        }
        Err(QuotaExceeded::Uploads {
            pending: self.pending,
            quota: self.quota,
        })
    }
}

/// The service's internal key of an account (not the user-facing account ID).
pub type AccountKey = i64;
pub type DeviceId = i64;

#[derive(Debug, Clone)]
pub struct AccountRow {
    pub key: AccountKey,
    pub account_id: String,
    pub phone: Option<String>,
    pub password_hash: String,
    pub root_id: NodeId,
    pub quota_bytes: u64,
    /// Last authenticated use (Unix seconds): what freezes an account.
    pub last_used_at: i64,
    /// Cancelled, or deleted after staying frozen.
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: DeviceId,
    pub name: String,
    pub os: String,
    pub created_at: i64,
    pub last_seen: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone, Copy)]
pub struct TokenOwner {
    pub account: AccountKey,
    pub device: DeviceId,
    pub expires_at: i64,
    /// The account's last use before this one, and whether it was deleted:
    /// its standing (`lifecycle`).
    pub last_used_at: i64,
    pub account_deleted: bool,
}

/// The digests of a new access and refresh token and when each expires.
#[derive(Debug, Clone)]
pub struct NewTokens {
    pub access_hash: String,
    pub access_expires_at: i64,
    pub refresh_hash: String,
    pub refresh_expires_at: i64,
}

/// What spending a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Spent now, and its successors stored.
    Rotated {
        account: AccountKey,
        device: DeviceId,
    },
    /// It was spent before: someone else holds a copy. The device was
    /// signed out with every token it had (the whole family).
    Reused {
        account: AccountKey,
        device: DeviceId,
    },
    /// Unknown, expired, or of a device that was signed out.
    Invalid,
}

/// A device sign-in that starts waiting.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub code_hash: &'a str,
    pub user_code: &'a str,
    pub device_name: &'a str,
    pub os: &'a str,
    pub expires_at: i64,
}

/// Which devices a password change signs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOut {
    Nobody,
    /// Every device but this one (the one that changed it).
    AllBut(DeviceId),
    Everyone,
}

/// What polling a device sign-in finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantPoll {
    Unknown,
    Expired,
    Pending,
    /// Polled again before the interval passed.
    SlowDown,
    /// Approved by a signed-in device of `account`; the grant is spent.
    Approved {
        account: AccountKey,
        device_name: String,
        os: String,
    },
}

/// Where announced changes go: (account, new cursor).
pub type Deliver = Box<dyn Fn(AccountKey, i64) + Send + 'static>;
