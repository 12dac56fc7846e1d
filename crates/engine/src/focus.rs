//! A round planned over what changed: of a folder's three trees, only the
//! entries whose decisions can differ from the last round's, and those
//! that those decisions look at, read from the state database by index.
//!
//! After a round that planned everything it found (nothing paused), every
//! path not changed since is settled: its three entries agree, or it is
//! blocked (a blocked path that changes is read again whole by the scan),
//! or it waits in `Failing`. So the paths a round must decide are the
//! seeds: what the scan read again, the nodes the feed told of, the paths
//! whose hold after failing ended (with everything inside). `gather` adds
//! what the planner looks at around each (the rules are the planner's
//! own):
//! - the folders above it (a download's way, a file where a folder goes);
//! - everything inside it where it is or was a folder that is not the same
//!   folder on all three sides (a folder deleted, made, moved, replaced);
//! - the other end of a move: the merge base's entry of a local inode or a
//!   remote node found elsewhere, and the other way round;
//! - the conflict copies of its name beside it (their count, a free name).
//!
//! What is gathered is then planned as the whole tree would be; the
//! simulator checks that both plans agree (`Engine::check_focus`). More
//! than `MAX_ENTRIES` entries, and the round reads the whole tree instead.

use std::collections::{BTreeMap, BTreeSet};

use crate::db::{DbResult, FolderId, StateDb, Under};
use crate::ignore_rules::IgnoreRules;
use crate::remote_tree::{RemoteTree, Walk};
use crate::tree::{ancestors, file_name, join, parent, Kind, LocalEntry, NodeId, RelPath};
use crate::tree::{SyncedEntry, Tree};

/// Beyond this many entries, a round reads the whole trees: a change this
/// large costs as much either way, and a whole read is simpler.
pub const MAX_ENTRIES: usize = 100_000;

/// The paths to decide, each with whether everything inside it is too.
pub type Seeds = BTreeMap<RelPath, bool>;

/// Every path a round looked at, with whether it looked inside.
pub type Points = BTreeMap<RelPath, bool>;

/// Whether `path` is one of `points`, or inside one looked into.
pub fn covers(points: &Points, path: &str) -> bool {
    if points.contains_key(path) {
        return true;
    }
    ancestors(path)
        .chain((!path.is_empty()).then_some(""))
        .any(|dir| points.get(dir) == Some(&true))
}

/// A folder's three trees as far as a round needs them.
#[derive(Debug, Default)]
pub struct Focused {
    pub local: Tree<LocalEntry>,
    pub synced: Tree<SyncedEntry>,
    pub remote: RemoteTree,
    pub points: Points,
}

/// Where to look and what with.
pub struct Source<'a> {
    pub db: &'a StateDb,
    pub folder: FolderId,
    pub root: NodeId,
    pub rules: &'a IgnoreRules,
    /// The conflict stamp of this round's plan (the copies' names).
    pub stamp: &'a str,
}

/// The trees around `seeds`, or `None` where that is more than
/// `MAX_ENTRIES` (or the seeds name the whole folder).
pub fn gather(src: &Source<'_>, seeds: &Seeds) -> DbResult<Option<Focused>> {
    if seeds.contains_key("") {
        return Ok(None);
    }
    let mut g = Gatherer {
        src,
        walk: Walk::new(src.rules),
        local: Tree::new(),
        synced: Tree::new(),
        points: BTreeMap::new(),
        todo: seeds.iter().map(|(p, w)| (p.clone(), *w)).collect(),
        loaded: 0,
    };
    while let Some((path, whole)) = g.todo.pop() {
        if g.loaded > MAX_ENTRIES {
            return Ok(None);
        }
        g.look(path, whole)?;
    }
    if g.loaded > MAX_ENTRIES {
        return Ok(None);
    }
    let mut remote = g.walk.out;
    let mut refused = Vec::new();
    crate::problem::add_new(&mut refused, std::mem::take(&mut remote.refused));
    remote.refused = refused;
    let mut ignored = src.rules.cached();
    g.synced
        .retain(|p, s| !ignored.is_ignored(p, s.kind == Kind::Dir));
    Ok(Some(Focused {
        local: g.local,
        synced: g.synced,
        remote,
        points: g.points,
    }))
}

struct Gatherer<'a, 's> {
    src: &'a Source<'s>,
    walk: Walk<'a>,
    local: Tree<LocalEntry>,
    synced: Tree<SyncedEntry>,
    points: BTreeMap<RelPath, bool>,
    todo: Vec<(RelPath, bool)>,
    loaded: usize,
}

impl Gatherer<'_, '_> {
    /// Reads the entries at `path` (and inside it, where `whole` or where
    /// it is a folder not the same on every side), and notes what the
    /// planner will look at around them.
    fn look(&mut self, path: RelPath, whole: bool) -> DbResult<()> {
        match self.points.get(&path) {
            Some(true) => return Ok(()),
            Some(false) if !whole => return Ok(()),
            _ => {}
        }
        let first = !self.points.contains_key(&path);
        self.points.insert(path.clone(), whole);
        if first {
            self.load_at(&path)?;
            for dir in ancestors(&path) {
                self.todo.push((dir.to_string(), false));
            }
            self.conflict_copies(&path)?;
            self.partners(&path)?;
        }
        if whole || self.unlike_folders(&path) {
            self.points.insert(path.clone(), true);
            self.load_inside(&path)?;
        }
        Ok(())
    }

    fn load_at(&mut self, path: &str) -> DbResult<()> {
        let (db, folder) = (self.src.db, self.src.folder);
        let local = db.local_under(folder, Under::At(path))?;
        let synced = db.synced_under(folder, Under::At(path))?;
        self.loaded += local.len() + synced.len() + 1;
        self.local.extend(local);
        self.synced.extend(synced);
        self.resolve_remote(path)
    }

    /// The remote entries on the way to `path`, each name checked as a
    /// whole walk checks it.
    fn resolve_remote(&mut self, path: &str) -> DbResult<()> {
        let mut id = self.src.root;
        let mut dir = String::new();
        for name in path.split('/') {
            let here = join(&dir, name);
            let known = self.walk.out.tree.get(&here).map(|e| (e.node, e.kind));
            let next = match known {
                Some(found) => Some(found),
                None if self.walk.out.unseen.contains(&here) => None,
                None => {
                    let mut next = None;
                    for row in self.src.db.remote_children(id, Under::At(name))? {
                        if let Some(e) = self.walk.child(&dir, &row) {
                            next = Some((e.node, e.kind));
                        }
                    }
                    next
                }
            };
            match next {
                Some((node, Kind::Dir)) => id = node,
                _ => return Ok(()),
            }
            dir = here;
        }
        Ok(())
    }

    fn load_inside(&mut self, path: &str) -> DbResult<()> {
        let (db, folder) = (self.src.db, self.src.folder);
        let local = db.local_under(folder, Under::Inside(path))?;
        let synced = db.synced_under(folder, Under::Inside(path))?;
        let before = self.walk.out.tree.len();
        if let Some(r) = self.walk.out.tree.get(path).filter(|r| r.kind == Kind::Dir) {
            let node = r.node;
            // Entered afresh: a folder looked into before, from a path
            // above or below this one, is no loop.
            self.walk.forget_entered();
            self.walk.subtree(node, path.to_string(), |id| {
                db.remote_children(id, Under::Inside(""))
            })?;
        }
        let remote_inside: Vec<RelPath> = crate::tree::inside(&self.walk.out.tree, path)
            .map(|(p, _)| p.clone())
            .collect();
        self.loaded += local.len() + synced.len() + self.walk.out.tree.len() - before;
        let mut inner: BTreeSet<RelPath> = remote_inside.into_iter().collect();
        inner.extend(local.iter().map(|(p, _)| p.clone()));
        inner.extend(synced.iter().map(|(p, _)| p.clone()));
        self.local.extend(local);
        self.synced.extend(synced);
        for p in &inner {
            if self.loaded > MAX_ENTRIES {
                break;
            }
            self.partners(p)?;
        }
        Ok(())
    }

    /// A folder on some side that is not the same folder on all three:
    /// made, deleted, moved, or replaced on the service; what is inside it
    /// is decided too. (A folder replaced here is read again whole by the
    /// scan, which makes it a seed with everything inside; its inode is
    /// not compared, as the merge base keeps a folder's first one.)
    fn unlike_folders(&self, path: &str) -> bool {
        let l = self.local.get(path);
        let s = self.synced.get(path);
        let r = self.walk.out.tree.get(path);
        let dir_somewhere =
            [l.map(|e| e.kind), s.map(|e| e.kind), r.map(|e| e.kind)].contains(&Some(Kind::Dir));
        let same = match (l, s, r) {
            (Some(l), Some(s), Some(r)) => {
                l.kind == Kind::Dir
                    && s.kind == Kind::Dir
                    && r.kind == Kind::Dir
                    && s.node == r.node
            }
            _ => false,
        };
        dir_somewhere && !same
    }

    /// The other ends of moves: the merge base's entry of an inode or a
    /// node found at `path` that it knew elsewhere, and where the entry the
    /// merge base has at `path` is now.
    fn partners(&mut self, path: &str) -> DbResult<()> {
        let (db, folder) = (self.src.db, self.src.folder);
        let l = self.local.get(path).map(|l| l.stat.inode);
        let s = self.synced.get(path).map(|s| (s.stat.inode, s.node));
        let r = self.walk.out.tree.get(path).map(|r| r.node);
        let mut found = Vec::new();
        if let Some(inode) = l.filter(|i| *i != 0 && s.map(|s| s.0) != Some(*i)) {
            found.extend(db.synced_paths_of_inode(folder, inode)?);
        }
        if let Some((inode, node)) = s {
            if inode != 0 && l != Some(inode) {
                found.extend(db.local_paths_of_inode(folder, inode)?);
            }
            if r != Some(node) {
                found.extend(remote_path(db, self.src.root, node)?.filter(|p| !p.is_empty()));
            }
        }
        if let Some(node) = r.filter(|n| s.map(|s| s.1) != Some(*n)) {
            found.extend(db.synced_paths_of_node(folder, node)?);
        }
        self.loaded += found.len();
        self.todo.extend(found.into_iter().map(|p| (p, false)));
        Ok(())
    }

    /// The conflict copies of `path`'s name beside it, as a file and as a
    /// folder: how many there are, and which names are taken.
    fn conflict_copies(&mut self, path: &str) -> DbResult<()> {
        let (db, folder) = (self.src.db, self.src.folder);
        let (dir, name) = (parent(path), file_name(path));
        let dir_node = match dir {
            "" => Some(self.src.root),
            d => self
                .walk
                .out
                .tree
                .get(d)
                .filter(|r| r.kind == Kind::Dir)
                .map(|r| r.node),
        };
        let mut found = BTreeSet::new();
        for kind in [Kind::File, Kind::Dir] {
            let prefix = crate::planner::conflict_prefix(name, self.src.stamp, kind);
            let full = join(dir, &prefix);
            found.extend(
                db.local_under(folder, Under::Prefixed(&full))?
                    .into_iter()
                    .map(|e| e.0),
            );
            found.extend(
                db.synced_under(folder, Under::Prefixed(&full))?
                    .into_iter()
                    .map(|e| e.0),
            );
            if let Some(node) = dir_node {
                let rows = db.remote_children(node, Under::Prefixed(&prefix))?;
                found.extend(rows.into_iter().map(|r| join(dir, &r.name)));
            }
        }
        // The copies are the folder's own entries: what is inside a copy
        // that is a folder is not one.
        found.retain(|p| parent(p) == dir);
        self.loaded += found.len();
        self.todo.extend(found.into_iter().map(|p| (p, false)));
        Ok(())
    }
}

/// Where node `id` is under the folder node `root` now, as the node table
/// says (`None`: elsewhere, or gone); its names are checked when the path
/// is looked at.
pub fn remote_path(db: &StateDb, root: NodeId, mut id: NodeId) -> DbResult<Option<RelPath>> {
    let mut names = Vec::new();
    // A path deeper than this is a loop in the table.
    for _ in 0..4096 {
        if id == root {
            names.reverse();
            return Ok(Some(names.join("/")));
        }
        let Some(row) = db.remote_node(id)? else {
            return Ok(None);
        };
        let Some(up) = row.parent else {
            return Ok(None);
        };
        names.push(row.name);
        id = up;
    }
    Ok(None)
}
