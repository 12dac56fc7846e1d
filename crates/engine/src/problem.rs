//! What keeps part of a folder from syncing, as data: each front end puts
//! it into its own words (the CLI in English, the app through its catalogs).

use nubo_protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tree::{Blocked, RelPath};

#[cfg(feature = "ts")]
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A local path left as it was (with everything inside it).
    Blocked { path: RelPath, why: Blocked },
    /// An operation that failed twice, tried again at `retry_at`.
    Failing {
        path: RelPath,
        error: OpFailure,
        #[serde(with = "time::serde::rfc3339")]
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        retry_at: OffsetDateTime,
    },
    /// A name from the service that could address something outside the
    /// folder, refused with everything inside it.
    RefusedName {
        /// The folder it is in (`""`: the top).
        dir: RelPath,
        name: String,
        why: NameRule,
    },
    /// A name this system cannot hold (on Windows `CON`, trailing dots).
    NotHere { path: RelPath, why: String },
    /// The service lists a folder inside itself; it is left out.
    FolderLoop { path: RelPath },
    /// The service lists a file with a content hash that is not one; it is
    /// left out (neither fetched nor read as deleted).
    BadHash { path: RelPath },
    /// An entry the walk found outside the folder is not synced.
    OutsideFolder { path: String },
    /// Part of the folder could not be read (the walk's own start).
    UnreadablePart,
    /// The folder's `.nuboignore` has a line that was skipped, or cannot be used.
    IgnoreFile { broken: IgnoreFileProblem },
    /// The system's limit on watches is reached: so many folders have none,
    /// and their changes are only seen by a scan every `every_secs`.
    Unwatched {
        folders: usize,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        every_secs: u64,
    },
}

/// Adds to `list` each of `more` it does not hold yet, in order.
pub fn add_new(list: &mut Vec<Problem>, more: impl IntoIterator<Item = Problem>) {
    for p in more {
        if !list.contains(&p) {
            list.push(p);
        }
    }
}

/// Which rule a refused name breaks (`nubo_protocol::names::check_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum NameRule {
    Empty,
    DotOrDotDot,
    Separator,
    Nul,
    TooLong,
    /// Not how this computer spells a name on disk for the service
    /// (`os_names`): another computer's spelling, left there.
    NotASpelling,
}

impl From<nubo_protocol::names::NameProblem> for NameRule {
    fn from(p: nubo_protocol::names::NameProblem) -> Self {
        use nubo_protocol::names::NameProblem as P;
        match p {
            P::Empty => NameRule::Empty,
            P::DotOrDotDot => NameRule::DotOrDotDot,
            P::Separator => NameRule::Separator,
            P::Nul => NameRule::Nul,
            P::TooLong => NameRule::TooLong,
            P::NotASpelling => NameRule::NotASpelling,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum IgnoreFileProblem {
    /// A line is not a valid pattern; the others apply.
    LineSkipped,
    /// The file cannot be used at all; only the built-in rules apply.
    Unusable,
}

/// Why one operation failed, for the user (the error itself goes to the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpFailure {
    /// A local read or write failed.
    Local { error: LocalError },
    /// It changed while Nubo worked on it.
    Changed,
    /// Writing there would pass through a symbolic link.
    ThroughLink,
    /// What the service sent did not match its hash.
    Damaged,
    /// The service refused it.
    Service {
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        code: ErrorCode,
    },
    /// The service could not be reached.
    Offline,
    /// The state database could not record it.
    LocalDatabase,
    /// No room on this computer's disk.
    DiskFull,
    /// It went through, but did not take on this disk: planned again and
    /// again in one pass (the disk keeps something else than what was done).
    DidNotTake,
}

/// What kind of local failure, as the OS said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum LocalError {
    PermissionDenied,
    NotFound,
    AlreadyExists,
    Other,
}

impl From<&std::io::Error> for LocalError {
    fn from(e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => LocalError::PermissionDenied,
            std::io::ErrorKind::NotFound => LocalError::NotFound,
            std::io::ErrorKind::AlreadyExists => LocalError::AlreadyExists,
            _ => LocalError::Other,
        }
    }
}
