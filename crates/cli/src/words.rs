//! The CLI's words for what the engine reports as data: pauses, problems,
//! failures, recorded changes and notices, in English. Its sentences may
//! name the commands that resolve them (the app's catalogs never do).

use nubo_engine::account::DatabaseProblem;
use nubo_engine::problem::{IgnoreFileProblem, LocalError, NameRule, OpFailure, Problem};
use nubo_engine::report::{
    Failure, NetCause, Notice, PassOutcome, Pause, RecordedChange, RootProblem,
};
use nubo_engine::tree::{Blocked, ReadError, Unsynced};
use time::OffsetDateTime;

use crate::progress::Phase;

/// Bytes for people: the CLI's one byte formatter.
pub fn bytes(n: u64) -> String {
    bytesize::ByteSize(n).display().si().to_string()
}

/// How far a sync is, as one line: "reading 1000/2048 files (4.1 kB/8.4 kB)".
pub fn progress(
    p: Phase,
    (files_done, files): (u64, u64),
    (bytes_done, all): (u64, u64),
) -> String {
    format!(
        "{} {files_done}/{files} files ({}/{})",
        phase(p),
        bytes(bytes_done),
        bytes(all)
    )
}

/// A phase of a sync, as the progress bar's label and its line's start.
pub fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Reading => "reading",
        Phase::Syncing => "syncing",
        Phase::Synced => "synced",
    }
}

/// A moment in the local time zone, to the minute.
pub fn moment(t: OffsetDateTime) -> String {
    let t = time::UtcOffset::current_local_offset().map_or(t, |o| t.to_offset(o));
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(fmt).unwrap_or_default()
}

/// A moment given in Unix seconds.
pub(crate) fn unix_moment(secs: i64) -> String {
    moment(OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

/// One sentence: what happened and what to do.
pub fn pause(p: &Pause) -> String {
    match p {
        Pause::MassDelete {
            folder,
            local_files,
            remote_files,
            synced_files,
        } => format!(
            "paused: syncing {folder} would delete {local_files} files here and {remote_files} on the service \
             (of {synced_files}); if that is intended run `nubo sync --allow-mass-delete`, otherwise restore the missing files"
        ),
        Pause::AgreementsRequired { documents } => {
            let docs: Vec<String> = documents
                .iter()
                .map(|d| format!("\"{}\" version {} (in force from {})", d.title, d.version, d.effective))
                .collect();
            format!(
                "paused: accept the service's agreements first: {}; read them with `nubo agreements` \
                 and accept with `nubo agreements --accept`",
                docs.join(", ")
            )
        }
        Pause::StorageFull { waiting, storage } => {
            let usage = storage
                .map(|s| format!(" ({} of {} used)", bytes(s.used_bytes), bytes(s.quota_bytes)))
                .unwrap_or_default();
            format!(
                "paused uploads: storage on the service is full{usage}; {waiting} files wait to be uploaded, \
                 everything else synced. Free some space or upgrade the plan; uploads resume by themselves"
            )
        }
        Pause::ServiceFull { waiting } => format!(
            "paused uploads: the service's disk is full (not your storage plan; its operator has to free space); \
             {waiting} changes wait to be uploaded, everything else synced. They go up by themselves once it has room"
        ),
        Pause::DiskFull {
            waiting,
            first,
            keep_free_bytes,
        } => format!(
            "paused downloads: this computer's disk is too full: {waiting} files wait to be downloaded{}, \
             everything else synced. Free some space (Nubo leaves {} free for your other programs); downloads \
             resume by themselves",
            first.as_ref().map(|f| format!(" ({f} first)")).unwrap_or_default(),
            bytes(*keep_free_bytes)
        ),
        Pause::FolderUnavailable { folder, why } => match why {
            RootProblem::Missing => format!(
                "paused: {folder} is missing or not mounted; nothing was changed. Reconnect the drive or remove the \
                 folder with `nubo folder remove`"
            ),
            RootProblem::OtherFolder => format!(
                "paused: {folder} belongs to another Nubo folder (its .nubo-root marker differs); nothing was changed"
            ),
            RootProblem::MarkerLost => format!(
                "paused: {folder} lost its .nubo-root marker, so it may be an empty mount point; nothing was changed. \
                 If the folder is right, add it again with `nubo folder add`"
            ),
        },
        Pause::AccountFrozen { deletes_at } => format!(
            "stopped: the account is frozen after a year unused{}. Reactivate it with `nubo login`",
            deletes_at
                .map(|t| format!(", and its files are deleted on the service on {} unless you sign in before {}", moment(t), moment(t)))
                .unwrap_or_default()
        ),
        Pause::AccountDeleted => {
            "stopped: the account was deleted on the service; nothing here was deleted".to_string()
        }
        Pause::LargeFolder { remote_path, bytes: size } => format!(
            "waiting: the new folder {remote_path} on the service holds {}; download it with \
             `nubo folder include {remote_path}` or keep it off this computer with `nubo folder exclude {remote_path}`",
            bytes(*size)
        ),
        Pause::MountGone { folder, path } => format!(
            "paused: {path} in {folder} was another disk's mount point and its disk is gone; nothing in it \
             was changed here or on the service. Mount the disk again, or, if \
             the change is meant, run `nubo folder forget-mount {folder}/{path}`"
        ),
    }
}

/// What keeps part of a folder from syncing.
pub fn problem(p: &Problem) -> String {
    match p {
        Problem::Blocked { path, why } => match why {
            Blocked::Unreadable { error } => format!(
                "{path:?} cannot be read ({}); it and what it holds are left as they were, here and on the service, \
                 until it can be",
                read_error(*error)
            ),
            Blocked::InTheWay { what } => format!(
                "{path:?} is {}, which is not synced; nothing from the service is written there, and what the \
                 service holds there stays on it",
                match what {
                    Unsynced::Symlink => "a symbolic link",
                    Unsynced::Special => "a device, pipe or socket",
                }
            ),
            Blocked::MountChanged => format!(
                "{path:?} was another disk's mount point and is empty now; nothing in it was changed"
            ),
            Blocked::NestedRoot => {
                format!("{path:?} is another synced folder; it is left out of this one")
            }
            Blocked::Failing => format!("{path:?} waits for its next try"),
        },
        Problem::Failing {
            path,
            error,
            retry_at,
        } => format!(
            "{path:?} could not be synced: {}; trying again at {}",
            op_failure(error),
            moment(*retry_at)
        ),
        Problem::RefusedName { dir, name, why } => format!(
            "refused a name from the service in {:?}: {name:?} ({})",
            if dir.is_empty() { "/" } else { dir },
            name_rule(*why)
        ),
        Problem::NotHere { path, why } => format!("{path:?} cannot be created here: {why}"),
        Problem::FolderLoop { path } => {
            format!("the service lists the folder {path:?} inside itself; it is left out")
        }
        Problem::BadHash { path } => {
            format!("the service lists the file {path:?} with a content hash that is not one; it is left out")
        }
        Problem::OutsideFolder { path } => {
            format!("{path} is outside the folder and is not synced")
        }
        Problem::UnreadablePart => "part of the folder could not be read".to_string(),
        Problem::IgnoreFile { broken } => match broken {
            IgnoreFileProblem::LineSkipped => ".nuboignore has a line that was skipped".to_string(),
            IgnoreFileProblem::Unusable => {
                ".nuboignore could not be used; only the built-in rules apply".to_string()
            }
        },
        Problem::Unwatched {
            folders,
            every_secs,
        } => format!(
            "{folders} folders are not watched (the system's limit on file watches is reached), \
             so their changes are seen by a scan every {every_secs} s; to watch them all, raise the limit: \
             echo fs.inotify.max_user_watches=1048576 | sudo tee /etc/sysctl.d/90-nubo.conf && sudo sysctl --system"
        ),
    }
}

fn read_error(e: ReadError) -> &'static str {
    match e {
        ReadError::PermissionDenied => "permission denied",
        ReadError::NameTooLong => "its path is too long for this system",
        ReadError::Vanished => "it went away while the folder was read",
        ReadError::Other => "an I/O error",
    }
}

fn name_rule(r: NameRule) -> &'static str {
    match r {
        NameRule::Empty => "the name is empty",
        NameRule::DotOrDotDot => "`.` and `..` are not names",
        NameRule::Separator => "the name contains `/`",
        NameRule::Nul => "the name contains a NUL character",
        NameRule::TooLong => "the name is longer than 255 bytes",
        NameRule::NotASpelling => "not a spelling of a name on disk this computer makes",
    }
}

fn op_failure(f: &OpFailure) -> String {
    match f {
        OpFailure::Local { error } => match error {
            LocalError::PermissionDenied => "permission denied".into(),
            LocalError::NotFound => "it was not found".into(),
            LocalError::AlreadyExists => "something else is in its place".into(),
            LocalError::Other => "a local read or write failed".into(),
        },
        OpFailure::Changed => "it changed while Nubo worked on it".into(),
        OpFailure::ThroughLink => "writing there would pass through a symbolic link".into(),
        OpFailure::Damaged => "what the service sent did not match its hash".into(),
        OpFailure::Service { code } => format!("the service refused it ({})", code_name(*code)),
        OpFailure::Offline => "the service could not be reached".into(),
        OpFailure::LocalDatabase => "the state database could not record it".into(),
        OpFailure::DiskFull => "the disk is full".into(),
        OpFailure::DidNotTake => {
            "what was done here did not take: it is planned again and again".into()
        }
    }
}

fn code_name(code: nubo_protocol::ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Why a pass failed.
pub fn failure(f: &Failure) -> String {
    match f {
        Failure::NoFolders => "no folder to sync: add one with `nubo folder add PATH`".into(),
        Failure::Offline { cause } => format!(
            "cannot reach the service ({}); check the network and the server address",
            match cause {
                NetCause::Connect => "no connection",
                NetCause::TimedOut => "it did not answer in time",
                NetCause::Certificate => "its certificate is not valid",
                NetCause::Broken => "the connection broke",
            }
        ),
        Failure::SignedOut => "signed out by the service; sign in again with `nubo login`".into(),
        Failure::LocalDatabase { disk_full: true } => {
            "the state database on this computer cannot be written: the disk is full".into()
        }
        Failure::LocalDatabase { disk_full: false } => {
            "the state database on this computer cannot be read or written; see the log".into()
        }
        Failure::Local => "a local file of Nubo's own could not be used; see the log".into(),
        Failure::Service { code } => {
            format!(
                "the service answered with an error ({}); see the log",
                code_name(*code)
            )
        }
        Failure::DidNotSettle => "sync did not settle; see the log".into(),
        Failure::HomeBusy => {
            "another `nubo sync` is already running for this home; stop it first".into()
        }
    }
}

/// The state line of `status`.
pub fn outcome(o: &PassOutcome) -> String {
    match o {
        PassOutcome::InSync => "up to date".into(),
        PassOutcome::Paused { pauses } => pauses.iter().map(pause).collect::<Vec<_>>().join("; "),
        PassOutcome::Failed { failure: f } => format!("error: {}", failure(f)),
    }
}

/// A line of recent changes.
pub fn change(c: &RecordedChange) -> String {
    match c {
        RecordedChange::Uploaded { path } => format!("uploaded {path}"),
        RecordedChange::Downloaded { path } => format!("downloaded {path}"),
        RecordedChange::MovedOnService { from, to } => {
            format!("moved on the service {from} → {to}")
        }
        RecordedChange::MovedHere { from, to } => format!("moved here {from} → {to}"),
        RecordedChange::ConflictKept { path, copy } => {
            format!("conflict: kept this computer's version of {path} as {copy}")
        }
        RecordedChange::TrashedOnService { path } => {
            format!("moved to the service's trash {path}")
        }
        RecordedChange::TrashedHere { path } => format!("moved to the trash {path}"),
        RecordedChange::TrashedWithFolder { path } => {
            format!("moved to the trash with its folder (not synced: .nuboignore) {path}")
        }
    }
}

pub fn notice(n: &Notice) -> String {
    match n {
        Notice::DatabaseRebuilt { set_aside } => format!(
            "the state database was damaged and was rebuilt{}; nothing is deleted while it is rebuilt, and any \
             differences become conflict copies",
            set_aside
                .as_ref()
                .map(|p| format!(" (the old one is kept as {p})"))
                .unwrap_or_default()
        ),
        Notice::ServiceRewound => "the service went back in time (it was restored from an older copy); Nubo \
             compared this computer with it again: nothing was deleted, what the service lacked was sent to it \
             again, and where the two differed both were kept (see the conflicts)"
            .into(),
    }
}

pub fn database(d: &DatabaseProblem) -> String {
    match d {
        DatabaseProblem::Damaged { path } => format!(
            "the state database {} cannot be read; it is left as it is, and the next sync sets it aside and \
             rebuilds it (nothing is deleted)",
            path.display()
        ),
        DatabaseProblem::Newer { schema } => format!(
            "the state database was written by a newer Nubo (schema {schema}); upgrade Nubo"
        ),
    }
}
