//! What keeps part of a folder from syncing, as data: the CLI puts it into
//! words with `Display`; other front ends may put it into their own.

use crate::tree::{Blocked, ReadError, RelPath, Unsynced};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A local path left as it was (with everything inside it).
    Blocked { path: RelPath, why: Blocked },
    /// An operation that failed twice, tried again at `retry_at` (Unix seconds).
    Failing {
        path: RelPath,
        error: String,
        retry_at: i64,
    },
    /// The system's limit on watches is reached: so many folders have none,
    /// and their changes are only seen by a scan every `every_secs`.
    Unwatched { folders: usize, every_secs: u64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Blocked { path, why } => match why {
                Blocked::Unreadable { error } => write!(
                    f,
                    "{path:?} cannot be read ({}); it and what it holds are left as they were, here and on the service, until it can be",
                    read_error(*error)
                ),
                Blocked::InTheWay { what } => write!(
                    f,
                    "{path:?} is {}, which is not synced; nothing from the service is written there, and what the service holds there stays on it",
                    match what {
                        Unsynced::Symlink => "a symbolic link",
                        Unsynced::Special => "a device, pipe or socket",
                    }
                ),
                Blocked::MountChanged => write!(
                    f,
                    "{path:?} was another disk's mount point and is empty now; nothing in it was changed"
                ),
                Blocked::NestedRoot => write!(
                    f,
                    "{path:?} is another synced folder; it is left out of this one"
                ),
                Blocked::Failing => write!(f, "{path:?} waits for its next try"),
            },
            Problem::Failing {
                path,
                error,
                retry_at,
            } => {
                let at = time::OffsetDateTime::from_unix_timestamp(*retry_at)
                    .ok()
                    .and_then(|t| {
                        t.format(time::macros::format_description!(
                            "[hour]:[minute]:[second] UTC"
                        ))
                        .ok()
                    })
                    .unwrap_or_default();
                write!(f, "{path:?} could not be synced: {error}; trying again at {at}")
            }
            Problem::Unwatched {
                folders,
                every_secs,
            } => write!(
                f,
                "{folders} folders are not watched (the system's limit on file watches is reached), \
                 so their changes are seen by a scan every {every_secs} s; to watch them all, raise the limit: \
                 echo fs.inotify.max_user_watches=1048576 | sudo tee /etc/sysctl.d/90-nubo.conf && sudo sysctl --system"
            ),
        }
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
