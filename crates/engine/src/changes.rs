//! What changed on disk since a folder was last scanned: the paths the
//! watcher named, or the whole folder where that is not known (the engine's
//! start, events lost, the safety timer). A round reads from disk only what
//! this says; the engine keeps what a round could not get to for the next.

use std::collections::BTreeMap;

use crate::db::FolderId;
use crate::tree::RelPath;

/// More paths than this waiting for one folder, and the folder is scanned
/// whole instead: the set stays small, and a walk is cheaper than as many
/// single looks.
pub const MAX_PATHS: usize = 10_000;

/// What to look at again in one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// The whole folder.
    All,
    /// These paths; `true`: everything inside too, where it is a folder.
    Paths(BTreeMap<RelPath, bool>),
}

impl Look {
    fn add(&mut self, path: RelPath, deep: bool) {
        if let Look::Paths(paths) = self {
            *paths.entry(path).or_insert(false) |= deep;
            if paths.len() > MAX_PATHS {
                *self = Look::All;
            }
        }
    }

    fn merge(&mut self, other: Look) {
        match other {
            Look::All => *self = Look::All,
            Look::Paths(paths) => {
                for (path, deep) in paths {
                    self.add(path, deep);
                }
            }
        }
    }
}

/// What to look at again, per folder. A folder not named has nothing to
/// look at; `everything` covers every folder, named or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    everything: bool,
    folders: BTreeMap<FolderId, Look>,
}

impl Changes {
    /// Every folder, whole.
    pub fn everything() -> Self {
        Changes {
            everything: true,
            folders: BTreeMap::new(),
        }
    }

    /// `path` in `folder` changed; `deep`: what is inside it may have too
    /// (a folder made, or moved in).
    pub fn path(&mut self, folder: FolderId, path: RelPath, deep: bool) {
        if !self.everything {
            self.look(folder).add(path, deep);
        }
    }

    /// All of `folder` may have changed.
    pub fn folder(&mut self, folder: FolderId) {
        if !self.everything {
            *self.look(folder) = Look::All;
        }
    }

    fn look(&mut self, folder: FolderId) -> &mut Look {
        self.folders
            .entry(folder)
            .or_insert_with(|| Look::Paths(BTreeMap::new()))
    }

    pub fn merge(&mut self, other: Changes) {
        if other.everything {
            *self = other;
            return;
        }
        for (folder, look) in other.folders {
            if !self.everything {
                self.look(folder).merge(look);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.everything
            && self
                .folders
                .values()
                .all(|l| matches!(l, Look::Paths(p) if p.is_empty()))
    }

    /// `everything` as each of `folders` whole, so that what is taken for
    /// one folder is not taken from the others.
    pub fn expand(&mut self, folders: impl IntoIterator<Item = FolderId>) {
        if std::mem::take(&mut self.everything) {
            for folder in folders {
                self.folders.insert(folder, Look::All);
            }
        }
    }

    /// What there is to look at in `folder`, left in place.
    pub fn peek(&self, folder: FolderId) -> Look {
        match self.folders.get(&folder) {
            _ if self.everything => Look::All,
            Some(look) => look.clone(),
            None => Look::Paths(BTreeMap::new()),
        }
    }

    /// Takes what there is to look at in `folder`, leaving nothing for it
    /// (`everything` counts only once expanded).
    pub fn take(&mut self, folder: FolderId) -> Look {
        self.folders
            .remove(&folder)
            .unwrap_or(Look::Paths(BTreeMap::new()))
    }

    /// Takes everything, leaving nothing.
    pub fn take_all(&mut self) -> Changes {
        std::mem::take(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_gather_per_folder_and_too_many_make_the_whole_folder() {
        let mut c = Changes::default();
        assert!(c.is_empty());
        c.path(1, "a/b.txt".into(), false);
        c.path(1, "a".into(), true);
        c.path(1, "a".into(), false);
        c.path(2, "x".into(), false);
        assert!(!c.is_empty());
        assert_eq!(
            c.take(1),
            Look::Paths(BTreeMap::from([
                ("a".to_string(), true),
                ("a/b.txt".to_string(), false)
            ]))
        );
        assert_eq!(c.take(1), Look::Paths(BTreeMap::new()));
        for i in 0..=MAX_PATHS {
            c.path(2, format!("f{i}"), false);
        }
        assert_eq!(c.take(2), Look::All);
        c.folder(3);
        c.path(3, "y".into(), false);
        assert_eq!(c.take(3), Look::All);
    }

    #[test]
    fn everything_covers_each_folder_once() {
        let mut c = Changes::default();
        c.path(1, "a".into(), false);
        c.merge(Changes::everything());
        c.path(1, "b".into(), false);
        assert!(!c.is_empty());
        let mut all = c.take_all();
        assert!(c.is_empty());
        all.expand([1, 2]);
        assert_eq!(all.take(1), Look::All);
        assert_eq!(all.take(2), Look::All);
        assert!(all.is_empty());
    }
}
