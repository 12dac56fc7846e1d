//! Builds the local tree from the folder: a parallel walk (`ignore`), then
//! hashing only what changed. A file whose size, mtime and inode match the
//! last scan is not read again, unless its mtime was too recent to trust
//! (a write in the same clock tick would not have moved it).

use std::path::Path;
use std::sync::mpsc;

use ignore::{WalkBuilder, WalkState};

use crate::fs::{kind_of, stat_of, LocalFs};
use crate::ignore_rules::IgnoreRules;
use crate::tree::{FileStat, Kind, LocalEntry, RelPath, Tree};

/// Hashes of files modified this close to the scan are not reused.
const RACY_NS: i64 = 2_000_000_000;

#[derive(Debug, Default)]
pub struct Scan {
    pub tree: Tree<LocalEntry>,
    /// Entries left out, one sentence each (symlinks, names that are not UTF-8, unreadable files).
    pub skipped: Vec<String>,
    /// Temp files of downloads that never finished (a crash, a kill).
    pub leftovers: Vec<std::path::PathBuf>,
}

pub const TEMP_PREFIX: &str = ".nubo-tmp-";

pub(crate) enum Found {
    Entry(RelPath, Kind, FileStat),
    Skipped(String),
    Leftover(std::path::PathBuf),
}

/// What one walk of a folder found: entries not ignored (the root itself
/// left out), what could not be read, and temp files of unfinished downloads.
#[derive(Debug, Default)]
pub struct Walked {
    pub found: Vec<(RelPath, Kind, FileStat)>,
    pub skipped: Vec<String>,
    pub leftovers: Vec<std::path::PathBuf>,
}

/// The walk of a real folder: parallel, never following links.
pub fn walk_disk(root: &Path, rules: &IgnoreRules) -> Walked {
    let (tx, rx) = mpsc::channel::<Found>();
    let leftover_tx = tx.clone();
    let filter_rules = rules.clone();
    let filter_root = root.to_path_buf();
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .threads(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(8),
        )
        .filter_entry(move |e| {
            if e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX))
            {
                let _ = leftover_tx.send(Found::Leftover(e.path().to_path_buf()));
                return false;
            }
            match rel_path(&filter_root, e.path()) {
                Some(rel) => !filter_rules
                    .is_ignored_in_walk(&rel, e.file_type().is_some_and(|t| t.is_dir())),
                None => true,
            }
        });
    let walk_root = root.to_path_buf();
    builder.build_parallel().run(|| {
        let tx = tx.clone();
        let root = walk_root.clone();
        Box::new(move |entry| {
            let msg = match entry {
                Err(e) => Some(Found::Skipped(format!(
                    "could not read part of the folder: {e}"
                ))),
                Ok(e) if e.depth() == 0 => None,
                Ok(e) => match rel_path(&root, e.path()) {
                    None => Some(Found::Skipped(format!(
                        "{} has a name that is not valid UTF-8 and is not synced",
                        e.path().display()
                    ))),
                    Some(rel) => match e.metadata() {
                        Err(err) => Some(Found::Skipped(format!("cannot read {rel:?}: {err}"))),
                        Ok(m) => match kind_of(&m) {
                            Some(kind) => Some(Found::Entry(rel, kind, stat_of(&m))),
                            None if m.file_type().is_symlink() => Some(Found::Skipped(format!(
                                "{rel:?} is a symbolic link; links are not synced"
                            ))),
                            None => None,
                        },
                    },
                },
            };
            if let Some(m) = msg {
                let _ = tx.send(m);
            }
            WalkState::Continue
        })
    });
    drop(tx);
    drop(builder);
    let (mut found, mut skipped, mut leftovers) = (Vec::new(), Vec::new(), Vec::new());
    for m in rx {
        match m {
            Found::Entry(rel, kind, stat) => found.push((rel, kind, stat)),
            Found::Skipped(s) => skipped.push(s),
            Found::Leftover(p) => leftovers.push(p),
        }
    }
    Walked {
        found,
        skipped,
        leftovers,
    }
}

pub fn rel_path(root: &Path, path: &Path) -> Option<RelPath> {
    // The walk's paths are the root joined with names: most need no parsing
    // into components (which was a tenth of a no-change scan).
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let root = root.as_os_str().as_bytes();
        let rest = path
            .as_os_str()
            .as_bytes()
            .strip_prefix(root)
            .and_then(|r| match root.ends_with(b"/") {
                true => Some(r),
                // "/a/bc" is not inside "/a/b".
                false => r.strip_prefix(b"/"),
            })
            .and_then(|r| std::str::from_utf8(r).ok());
        if let Some(rest) = rest {
            let plain = |part: &str| !part.is_empty() && part != "." && part != "..";
            if !rest.is_empty() && rest.split('/').all(plain) {
                return Some(rest.to_string());
            }
        }
    }
    let rel = path.strip_prefix(root).ok()?;
    let mut out = String::new();
    for part in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part.as_os_str().to_str()?);
    }
    Some(out)
}

/// `now_ns`: the wall clock when the scan began, for the racy-mtime rule.
pub fn scan(
    fs: &dyn LocalFs,
    root: &Path,
    rules: &IgnoreRules,
    previous: &Tree<LocalEntry>,
    now_ns: i64,
) -> Scan {
    let Walked {
        found,
        mut skipped,
        leftovers,
    } = fs.walk(root, rules);
    let mut tree = Tree::new();
    let mut to_hash: Vec<(RelPath, FileStat)> = Vec::new();
    for (rel, kind, stat) in found {
        match kind {
            Kind::Dir => {
                tree.insert(
                    rel,
                    LocalEntry {
                        kind,
                        stat,
                        hash: String::new(),
                    },
                );
            }
            Kind::File => match previous.get(&rel) {
                Some(p)
                    if p.kind == Kind::File
                        && p.stat == stat
                        && stat.mtime_ns < now_ns - RACY_NS =>
                {
                    tree.insert(rel, p.clone());
                }
                _ => to_hash.push((rel, stat)),
            },
        }
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let per = to_hash.len().div_ceil(workers).max(1);
    type Hashed = Result<(RelPath, LocalEntry), (RelPath, String)>;
    let hashed: Vec<Hashed> = std::thread::scope(|s| {
        let handles: Vec<_> = to_hash
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(rel, stat)| {
                            let path = root.join(rel);
                            let hash = fs
                                .hash(&path)
                                .map_err(|e| (rel.clone(), format!("cannot read {rel:?}: {e}")))?;
                            // Re-stat: a file written while it was hashed is
                            // hashed again next scan, never trusted half-read.
                            let after = fs.stat(&path).ok().flatten().map(|(_, s)| s);
                            let stat = if after == Some(*stat) {
                                *stat
                            } else {
                                FileStat {
                                    mtime_ns: 0,
                                    ..*stat
                                }
                            };
                            Ok((
                                rel.clone(),
                                LocalEntry {
                                    kind: Kind::File,
                                    stat,
                                    hash,
                                },
                            ))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for h in hashed {
        match h {
            Ok((rel, e)) => {
                tree.insert(rel, e);
            }
            // A file that could not be read must never read as deleted:
            // it keeps its last known entry.
            Err((rel, msg)) => {
                if let Some(p) = previous.get(&rel) {
                    tree.insert(rel, p.clone());
                }
                skipped.push(msg);
            }
        }
    }
    Scan {
        tree,
        skipped,
        leftovers,
    }
}

#[cfg(test)]
mod tests {
    use super::rel_path;
    use std::path::Path;

    #[test]
    fn rel_paths_of_walked_entries() {
        let cases = [
            ("/home/u/Nubo", "/home/u/Nubo/a/b.txt", Some("a/b.txt")),
            ("/home/u/Nubo/", "/home/u/Nubo/a", Some("a")),
            ("/home/u/Nubo", "/home/u/Nubo", Some("")),
            ("/home/u/Nubo", "/home/u/Nubo2/a", None),
            ("/home/u/Nubo", "/home/u/Nubo/./a", Some("a")),
            ("/home/u/./Nubo", "/home/u/Nubo/a", Some("a")),
            ("/home/u/Nubo", "/elsewhere/a", None),
        ];
        for (root, path, want) in cases {
            assert_eq!(
                rel_path(Path::new(root), Path::new(path)).as_deref(),
                want,
                "{path} under {root}"
            );
        }
    }
}
