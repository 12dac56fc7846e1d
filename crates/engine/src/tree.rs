//! The three trees the planner reconciles, keyed by relative path
//! (`/`-separated, no leading slash, the sync root itself is not an entry).
//! Ordered maps: a folder sorts before everything inside it.

use std::collections::BTreeMap;

pub use nubo_protocol::NodeId;

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
}

/// What the folder holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    pub kind: Kind,
    pub stat: FileStat,
    /// BLAKE3 of the content, hex; empty for folders.
    pub hash: String,
}

/// What the service holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    pub node: NodeId,
    pub kind: Kind,
    pub rev: i64,
    pub size: u64,
    pub hash: String,
    /// The file's modification time as its writer had it (0: unknown).
    pub mtime_ms: i64,
}

/// The last state both sides agreed on: the merge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedEntry {
    pub kind: Kind,
    pub node: NodeId,
    pub rev: i64,
    pub hash: String,
    /// The local file's stat when it was last in step.
    pub stat: FileStat,
}

pub type Tree<T> = BTreeMap<RelPath, T>;

#[derive(Debug, Clone, Default)]
pub struct Trees {
    pub local: Tree<LocalEntry>,
    pub remote: Tree<RemoteEntry>,
    pub synced: Tree<SyncedEntry>,
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
    // '/' + 1 == '0': every "dir/..." key sorts in ["dir/", "dir0").
    let start = format!("{dir}/");
    let end = format!("{dir}0");
    tree.range(start..end)
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
