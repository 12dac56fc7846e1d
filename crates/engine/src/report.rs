//! What the engine reports, as data: why a pass paused, why it failed, what
//! it recorded, what the user should know. Stored typed in the state
//! database (JSON), shown by each front end in its own words: the CLI in
//! English (`nubo status`), the desktop app through its message catalogs.
//! Nothing here is a sentence for a person.

use nubo_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tree::RelPath;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// Why syncing stopped (all of it, or a part) and waits for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pause {
    /// Syncing `folder` would delete many files: it waits for a yes.
    MassDelete {
        folder: String,
        local_files: usize,
        remote_files: usize,
        synced_files: usize,
    },
    /// A required agreement (a new version) waits to be accepted.
    AgreementsRequired { documents: Vec<PendingDocument> },
    /// The account's storage plan is full: uploads wait.
    StorageFull {
        waiting: usize,
        storage: Option<Storage>,
    },
    /// The service's own disk is full (not the plan): uploads wait.
    ServiceFull { waiting: usize },
    /// This computer's disk has too little room for what waits to be
    /// downloaded; everything else synced.
    DiskFull {
        waiting: usize,
        /// The first file that did not fit.
        first: Option<RelPath>,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        keep_free_bytes: u64,
    },
    /// A synced folder's root is not there as it was.
    FolderUnavailable { folder: String, why: RootProblem },
    /// The account is frozen (sign in to reactivate); every local file stays.
    AccountFrozen {
        /// When the service deletes the account's files unless someone signs in.
        #[serde(with = "time::serde::rfc3339::option")]
        #[cfg_attr(feature = "ts", ts(type = "string | null"))]
        deletes_at: Option<OffsetDateTime>,
    },
    /// The account was deleted on the service; every local file stays.
    AccountDeleted,
    /// A new folder on the service is larger than the threshold.
    LargeFolder {
        remote_path: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        bytes: u64,
    },
    /// A subfolder that was another disk's mount point is empty now: the
    /// disk went away (or an empty one was mounted over it). Nothing in it
    /// is read as deleted; the rest of the folder syncs.
    MountGone { folder: String, path: RelPath },
}

/// A document the service requires before syncing goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PendingDocument {
    pub id: String,
    pub title: String,
    pub version: String,
    /// `YYYY-MM-DD`.
    pub effective: String,
}

/// What is wrong with a synced folder's root (DESIGN.md rule 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum RootProblem {
    /// Missing, or not a folder (an unmounted drive).
    Missing,
    /// Its marker belongs to another Nubo folder.
    OtherFolder,
    /// Its marker is gone: perhaps an empty mount point.
    MarkerLost,
}

/// Storage on the service, as of the last pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Storage {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub used_bytes: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub quota_bytes: u64,
}

/// Why a whole pass failed (it is tried again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// The home has no folder to sync.
    NoFolders,
    /// The service cannot be reached.
    Offline { cause: NetCause },
    /// The service no longer accepts this device's sign-in.
    SignedOut,
    /// The state database on this computer cannot be read or written.
    LocalDatabase { disk_full: bool },
    /// A file or folder of this computer's own (not a synced one) failed.
    Local,
    /// The service answered with an error it should not have.
    Service {
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        code: ErrorCode,
    },
    /// Rounds kept finding work without end.
    DidNotSettle,
    /// Another sync loop (`nubo sync`, or another app) holds this home.
    HomeBusy,
}

/// Why the service could not be reached, as the network stack said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum NetCause {
    /// No connection could be made.
    Connect,
    TimedOut,
    /// The service's certificate was not valid.
    Certificate,
    /// The connection broke, or an answer made no sense.
    Broken,
}

/// How a pass ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PassOutcome {
    InSync,
    Paused { pauses: Vec<Pause> },
    Failed { failure: Failure },
}

/// The last pass, as stored for `status` and the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct LastPass {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub at: OffsetDateTime,
    pub outcome: PassOutcome,
}

/// One change a pass made, as the recent-changes list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordedChange {
    Uploaded {
        path: RelPath,
    },
    Downloaded {
        path: RelPath,
    },
    MovedOnService {
        from: RelPath,
        to: RelPath,
    },
    MovedHere {
        from: RelPath,
        to: RelPath,
    },
    /// This computer's version of `path` was kept as `copy`.
    ConflictKept {
        path: RelPath,
        copy: RelPath,
    },
    /// Deleted here, so moved to the service's trash.
    TrashedOnService {
        path: RelPath,
    },
    /// Deleted on the service, so moved to this computer's trash.
    TrashedHere {
        path: RelPath,
    },
    /// A file the folder's ignore rules kept out of the sync went to the
    /// trash with the folder it was in.
    TrashedWithFolder {
        path: RelPath,
    },
}

impl RecordedChange {
    /// The path the change leaves something at (for "show" and versions).
    pub fn path(&self) -> &str {
        match self {
            RecordedChange::Uploaded { path }
            | RecordedChange::Downloaded { path }
            | RecordedChange::TrashedOnService { path }
            | RecordedChange::TrashedHere { path }
            | RecordedChange::TrashedWithFolder { path } => path,
            RecordedChange::MovedOnService { to, .. } | RecordedChange::MovedHere { to, .. } => to,
            RecordedChange::ConflictKept { copy, .. } => copy,
        }
    }
}

/// Something that happened once and that the user should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The state database was damaged and rebuilt; the old one was kept.
    DatabaseRebuilt { set_aside: Option<String> },
    /// The service went back in time (restored from an older copy); this
    /// computer was compared with it again, and nothing was deleted.
    ServiceRewound,
}

/// A revised agreement announced for a later date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Upcoming {
    pub title: String,
    pub version: String,
    /// `YYYY-MM-DD`.
    pub effective: String,
}
