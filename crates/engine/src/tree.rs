//! The three trees the planner reconciles, keyed by relative path
//! (`/`-separated, no leading slash, the sync root itself is not an entry).
//! Ordered maps: a folder sorts before everything inside it.

use std::collections::{BTreeMap, BTreeSet, HashSet};

pub use nubo_protocol::NodeId;

pub use crate::content_hash::ContentHash;

pub type RelPath = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Dir,
}

/// What the file system says of an entry; enough to notice a change without
/// reading the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    /// Inode (or file id): how a local rename is told from delete + create.
    pub inode: u64,
    /// Status change time, which no program can set back: an edit that
    /// keeps size and modification time (a tool restoring the mtime, two
    /// writes within the clock's tick) still moves it.
    pub ctime_ns: i64,
    /// The device holding it: a folder whose device changed is a mount
    /// that came or went.
    pub dev: u64,
    /// A file its owner may run (the owner's exec bit); false for folders.
    pub exec: bool,
}

impl FileStat {
    /// Whether a file last seen as `self` is as it was now: every field
    /// alike. A stat stored before change time and device were kept (both
    /// 0) is compared on what it has, so that an upgrade does not read
    /// every file again.
    pub fn unchanged_as(&self, now: &FileStat) -> bool {
        if self.ctime_ns == 0 && self.dev == 0 {
            self.size == now.size && self.mtime_ns == now.mtime_ns && self.inode == now.inode
        } else {
            self == now
        }
    }
}

/// What the folder holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    pub kind: Kind,
    pub stat: FileStat,
    /// BLAKE3 of the content; none for folders.
    pub hash: Option<ContentHash>,
}

/// What the service holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    pub node: NodeId,
    pub kind: Kind,
    pub rev: i64,
    pub size: u64,
    /// None for folders.
    pub hash: Option<ContentHash>,
    /// The file's modification time as its writer had it (0: unknown).
    pub mtime_ms: i64,
    /// The writer's exec bit.
    pub exec: bool,
}

/// The last state both sides agreed on: the merge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedEntry {
    pub kind: Kind,
    pub node: NodeId,
    pub rev: i64,
    /// None for folders.
    pub hash: Option<ContentHash>,
    /// The local file's stat when it was last in step.
    pub stat: FileStat,
}

pub type Tree<T> = BTreeMap<RelPath, T>;

/// Why a local path (and everything inside it) is left exactly as it is
/// this round: the planner neither reads it as deleted nor writes there,
/// and its merge base stays.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocked {
    /// It could not be read: permission, a path too long, an I/O error, or
    /// it vanished while the folder was walked.
    Unreadable { error: ReadError },
    /// Something that is not synced is there (a symbolic link, a device, a
    /// socket): nothing from the service is written through or over it.
    InTheWay { what: Unsynced },
    /// A folder that was the mount point of another disk, or is one now,
    /// and lost everything it held: the disk went away.
    MountChanged,
    /// The root of another synced folder (it holds its own `.nubo-root`).
    NestedRoot,
    /// An operation on it failed and waits for its next try.
    Failing,
}

/// What kind of read failed, as the OS said it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadError {
    PermissionDenied,
    NameTooLong,
    Vanished,
    Other,
}

impl From<&std::io::Error> for ReadError {
    fn from(e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => ReadError::PermissionDenied,
            std::io::ErrorKind::NotFound => ReadError::Vanished,
            _ if e.raw_os_error() == Some(36) => ReadError::NameTooLong,
            _ => ReadError::Other,
        }
    }
}

/// An entry the sync leaves alone because it cannot be synced.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unsynced {
    Symlink,
    Special,
}

#[derive(Debug, Clone, Default)]
pub struct Trees {
    pub local: Tree<LocalEntry>,
    pub remote: Tree<RemoteEntry>,
    pub synced: Tree<SyncedEntry>,
    /// Local paths left alone this round, with everything inside them.
    pub blocked: Tree<Blocked>,
    /// Remote entries this computer does not sync where they are (ignored,
    /// excluded, refused names, folders held back): absent from `remote`,
    /// and never deleted with a folder around them.
    pub remote_unseen: BTreeSet<RelPath>,
    /// Nodes of the merge base that now lie in a folder held back: they
    /// stay where they are here until that folder comes down.
    pub held_nodes: HashSet<NodeId>,
}

impl Trees {
    /// The blocked path `path` is at or inside, if any.
    pub fn blocked_at(&self, path: &str) -> Option<&Blocked> {
        if self.blocked.is_empty() {
            return None;
        }
        let mut p = path;
        loop {
            if let Some(b) = self.blocked.get(p) {
                return Some(b);
            }
            if p.is_empty() {
                return None;
            }
            p = parent(p);
        }
    }

    /// Whether the service or the merge base has anything at `path` or
    /// inside it.
    pub fn synced_or_remote_at(&self, path: &str) -> bool {
        self.remote.contains_key(path)
            || self.synced.contains_key(path)
            || inside(&self.remote, path).next().is_some()
            || inside(&self.synced, path).next().is_some()
    }

    /// Whether anything blocked lies strictly inside `dir`.
    pub fn blocked_inside(&self, dir: &str) -> bool {
        inside(&self.blocked, dir).next().is_some()
    }

    /// Whether an unseen remote entry lies strictly inside `dir`.
    pub fn unseen_inside(&self, dir: &str) -> bool {
        let (start, end) = inside_bounds(dir);
        self.remote_unseen.range(start..end).next().is_some()
    }
}

pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

pub fn file_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

pub fn join(dir: &str, name: &str) -> RelPath {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The folders above `path`, nearest first (the root, `""`, left out).
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(parent(path)), |p| Some(parent(p))).take_while(|p| !p.is_empty())
}

/// Strictly inside `dir`.
pub fn is_inside(path: &str, dir: &str) -> bool {
    dir.is_empty() && !path.is_empty()
        || path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// `path` with its prefix `from` replaced by `to` (`path` is `from` or inside it).
pub fn rebase(path: &str, from: &str, to: &str) -> RelPath {
    if path == from {
        to.to_string()
    } else {
        format!("{to}{}", &path[from.len()..])
    }
}

/// Everything strictly inside `dir`, in order.
pub fn inside<'a, T>(tree: &'a Tree<T>, dir: &str) -> impl Iterator<Item = (&'a RelPath, &'a T)> {
    let (start, end) = inside_bounds(dir);
    tree.range(start..end)
}

/// The key range of everything strictly inside `dir`.
fn inside_bounds(dir: &str) -> (String, String) {
    if dir.is_empty() {
        // Every key but "" itself.
        return ("\0".to_string(), char::MAX.to_string());
    }
    // '/' + 1 == '0': every "dir/..." key sorts in ["dir/", "dir0").
    (format!("{dir}/"), format!("{dir}0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers() {
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
        assert_eq!(file_name("a/b/c.txt"), "c.txt");
        assert!(is_inside("a/b", "a"));
        assert!(!is_inside("ab", "a"));
        assert!(!is_inside("a", "a"));
        assert_eq!(rebase("a/b/c", "a/b", "x"), "x/c");
        let mut t: Tree<()> = Tree::new();
        for p in ["a", "a b", "a/x", "a/y/z", "a0", "b"] {
            t.insert(p.into(), ());
        }
        let keys: Vec<_> = inside(&t, "a").map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a/x", "a/y/z"]);
    }
}
