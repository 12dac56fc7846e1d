//! A folder's first sync, planned and run a slice of paths at a time
//! (issue 18: at a million files, the round that held the whole trees and
//! a million operations was the initial sync's peak).
//!
//! Before a folder's first sync there is no merge base: nothing moved,
//! nothing is to be deleted, and most paths decide alone
//! (`planner::plan_first_slice`). So a large first sync takes the paths
//! in order, a slice at a time: the slice's local entries read from the
//! state database (`db::local_page`), its remote ones read from the node
//! table in the same order (`remote_tree::InOrder`), a folder's children
//! at a time; planned, run, and dropped before the next. Neither side's
//! tree is held whole (of the service's, what is held is the children of
//! the folders on the way: one folder of a million files is still held
//! whole while it is read). The service's new folders too large to come
//! down unasked are found as the walk reaches them, by the bytes of what
//! is inside (`Engine::too_large`). What
//! a path decides against others (a conflict, another kind on each side)
//! is left, with what is inside it, to the next round, which is planned
//! over it and what surrounds it (`focused.rs`), as any round after a
//! plan starts from what its plan left. Only a pass's first round of a
//! folder is taken in slices: the rounds after it are planned as any
//! other, even where the slices recorded no merge base (a folder whose
//! only file differs on each side would be deferred again and again).

use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

use super::Scanned;
use super::{failure_kind, large_folder, written_by, Engine, FailureKind, FolderRound, Place};
use crate::db::{DbError, FolderId, Under};
use crate::executor::FolderCtx;
use crate::planner::{self, Op, PlanOptions};
use crate::remote_tree::{self, InOrder};
use crate::report::Pause;
use crate::tree::{ancestors, Blocked, Kind, LocalEntry, RelPath, RemoteEntry, Tree, Trees};

/// How many entries of each side a slice holds, unless set otherwise.
pub const SLICE_ENTRIES: usize = 50_000;

/// A range of paths, as each side holds them.
struct Slice {
    local: Tree<LocalEntry>,
    remote: Tree<RemoteEntry>,
}

/// The service's side of a first sync: its tree read in path order, a
/// slice at a time.
struct RemoteSide<'r> {
    order: InOrder<'r>,
    /// Read, and not yet in a slice.
    pending: Tree<RemoteEntry>,
    /// Whether the whole tree was read.
    ended: bool,
    /// Every folder read: the service's folders an operation goes into
    /// (`with_folders`), which an earlier slice may have held. (Folders
    /// only: a million files in 20,000 folders, 20,000 entries.)
    dirs: Tree<RemoteEntry>,
    /// The service's new folders whose bytes were counted, and found
    /// small enough: what is inside them is smaller still.
    counted: HashSet<RelPath>,
    /// Whether a folder can be too large to come down unasked: the bytes
    /// of all the service's files this home knows are more than the limit.
    may_hold_back: bool,
}

impl Engine {
    /// How many entries of each side a slice of a first sync holds (the
    /// simulator slices its small folders).
    pub fn set_slice_entries(&mut self, entries: usize) {
        self.slice_entries = entries.max(1);
    }

    /// The round of a folder's first sync, in slices, where it is one
    /// large enough; `None`: a round like any other.
    pub(super) async fn round_in_slices(
        &self,
        place: &Place<'_>,
        scanned: &mut Scanned,
        opts: &PlanOptions,
    ) -> Result<Option<FolderRound>, DbError> {
        let folder = place.folder.id;
        if !self.first_sync_to_slice(folder)? {
            return Ok(None);
        }
        self.whole_this_pass
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let whole = match self.check_focus {
            true => Some(self.whole_plan(place, scanned, opts)?),
            false => None,
        };
        // What the scan read is stored: each slice reads its part.
        scanned.scan.tree = Default::default();
        let mut trees = Trees {
            synced: self.whole_base(place)?,
            blocked: scanned.scan.blocked.clone(),
            ..Trees::default()
        };
        for held in self.failing().held(folder, place.now) {
            trees.blocked.entry(held.path).or_insert(Blocked::Failing);
        }
        let mut out = FolderRound::default();
        let may_hold_back = self.db.remote_bytes()? > self.config.large_folder_bytes;
        let mut side = RemoteSide::new(place, may_hold_back);
        let mut ctx = self.folder_ctx(
            place.folder,
            place.root,
            Default::default(),
            place.rules.clone(),
        )?;
        let mut deferred = BTreeSet::new();
        let mut sliced = Vec::new();
        let mut after = RelPath::new();
        let mut stopped = false;
        loop {
            self.read_remote(place, &mut side, &mut trees, &mut out.pauses)?;
            let Some(slice) = self.next_slice(folder, &mut after, &mut side.pending)? else {
                break;
            };
            (trees.local, trees.remote) = (slice.local, slice.remote);
            let entries = trees.local.len() + trees.remote.len();
            self.rounds_planned_over().push(entries);
            let ops = planner::plan_first_slice(&trees, opts, &mut deferred);
            tracing::debug!(folder, entries, ops = ops.len(), "planned a slice");
            if whole.is_some() {
                sliced.extend(ops.iter().cloned());
            }
            // (What failed before stays counted as failing until a round
            // that sees its path settles it: `settle_failing` needs the
            // whole plan. Nor are the plans counted, `drop_endless`: the
            // slices are taken once a pass and plan each path once, so
            // no plan of theirs is endless; at a million files the count
            // took 52 MB.)
            ctx.local = std::mem::take(&mut trees.local);
            ctx.remote_tree = with_folders(std::mem::take(&mut trees.remote), &ops, &side.dirs);
            stopped = self.run_slice(&ctx, ops, &mut out, &mut deferred).await;
            if stopped {
                break;
            }
        }
        // (A pass stopped midway planned only some of the slices.)
        if let (Some(whole), false) = (whole, stopped) {
            self.note_mismatch(slices_differ(&sliced, &whole, &deferred));
        }
        drop((ctx, trees));
        self.tell_first_sync(place, &scanned.scan, side, stopped, &mut out)?;
        // What the slices held goes back to the system: the round after
        // reads the folder whole again (the paths written are many).
        super::give_back_memory();
        // The next round starts from what was left.
        tracing::debug!(folder, deferred = deferred.len(), "a first sync in slices");
        out.planned += deferred.len();
        let at = super::focused::Settled {
            root: place.root,
            rules: place.rules.made_of(),
        };
        match out.pauses.is_empty() {
            true => {
                let seeds = deferred.into_iter().map(|p| (p, true)).collect();
                self.defer_or_unsettle(folder, at, seeds);
            }
            false => self.unsettle(folder),
        }
        Ok(Some(out))
    }

    /// Reads the service's tree on until a slice's worth is pending (or
    /// it ends), holding back the new folders too large to come down
    /// unasked as it reaches them.
    fn read_remote(
        &self,
        place: &Place<'_>,
        side: &mut RemoteSide<'_>,
        trees: &mut Trees,
        pauses: &mut Vec<Pause>,
    ) -> Result<(), DbError> {
        while !side.ended && side.pending.len() < self.slice_entries {
            let children = |id| self.db.remote_children(id, Under::Inside(""));
            let Some((path, e)) = side.order.next(children)? else {
                side.ended = true;
                break;
            };
            if e.kind == Kind::Dir {
                if let Some(pause) = self.too_large(place, side, &path, &e)? {
                    side.order.leave_out(e.node);
                    pauses.push(pause);
                    trees.remote_unseen.insert(path);
                    continue;
                }
                side.dirs.insert(path.clone(), e.clone());
            }
            side.pending.insert(path, e);
        }
        // What the walk left out so far (each path before what it read).
        trees.remote_unseen.append(&mut side.order.walk.out.unseen);
        Ok(())
    }

    /// The pause of the service's folder at `path`, where it is new here
    /// and holds more than the large-folder limit, as a whole round finds
    /// (`large_new_folders`): checked for the topmost new folders only.
    fn too_large(
        &self,
        place: &Place<'_>,
        side: &mut RemoteSide<'_>,
        path: &str,
        e: &RemoteEntry,
    ) -> Result<Option<Pause>, DbError> {
        let folder = place.folder;
        if !side.may_hold_back
            || ancestors(path).any(|a| side.counted.contains(a))
            || folder.confirmed.iter().any(|c| c == path)
            // (Nothing is synced yet: new is what is not here.)
            || !self.db.local_under(folder.id, Under::At(path))?.is_empty()
        {
            return Ok(None);
        }
        let children = |id| self.db.remote_children(id, Under::Inside(""));
        let node = (place.root, e.node);
        let bytes = remote_tree::bytes_under(place.rules, node, path.to_string(), children)?;
        if bytes <= self.config.large_folder_bytes {
            side.counted.insert(path.to_string());
            return Ok(None);
        }
        Ok(Some(large_folder(folder, path, bytes)))
    }

    /// What a first sync tells the user once its slices are done: what
    /// the service has that was refused here, what is in the way of what
    /// it has, and what any round tells (`told_of`).
    fn tell_first_sync(
        &self,
        place: &Place<'_>,
        scan: &crate::scanner::Scan,
        side: RemoteSide<'_>,
        stopped: bool,
        out: &mut FolderRound,
    ) -> Result<(), DbError> {
        let folder = place.folder.id;
        let refused = side.order.walk.out.refused;
        for refused in &refused {
            tracing::warn!(?refused, "left out");
        }
        // A pass stopped midway read only part of the tree: what was
        // refused beyond it is kept as it was known (a look that covered
        // no path).
        let covered = Default::default();
        self.carry_refused(folder, &refused, stopped.then_some(&covered));
        out.problems = self.told_of(folder, scan, place.rules);
        // What the service has where something here is in the way (news
        // there: `blocked_news`), looked up by path.
        let mut remote = Tree::new();
        for (path, why) in &scan.blocked {
            if matches!(why, Blocked::InTheWay { .. }) {
                let named = |id, name: &str| self.db.remote_children(id, Under::At(name));
                let at = remote_tree::entry_at(place.rules, place.root, path, named)?;
                remote.extend(at.map(|e| (path.clone(), e)));
            }
        }
        let news = Trees {
            remote,
            blocked: scan.blocked.clone(),
            ..Trees::default()
        };
        self.blocked_news(
            place.folder,
            &news,
            None,
            &mut out.pauses,
            &mut out.problems,
        );
        Ok(())
    }

    /// A folder with no merge base, not yet taken in slices this pass,
    /// with more entries here and on the service (of all folders: a count
    /// of one folder's would cost a walk of its tree) than a slice holds.
    fn first_sync_to_slice(&self, folder: FolderId) -> Result<bool, DbError> {
        if self.db.has_synced(folder)? || self.sliced_this_pass().contains(&folder) {
            return Ok(false);
        }
        let entries = self.db.local_count(folder)? + self.db.remote_count()?;
        let large = entries > self.slice_entries;
        if large {
            self.sliced_this_pass().insert(folder);
        }
        Ok(large)
    }

    pub(super) fn sliced_this_pass(&self) -> std::sync::MutexGuard<'_, HashSet<FolderId>> {
        (self.sliced_this_pass.lock()).unwrap_or_else(|p| p.into_inner())
    }

    /// The simulator's check: the plan of the whole trees, before any
    /// slice runs.
    fn whole_plan(
        &self,
        place: &Place<'_>,
        scanned: &mut Scanned,
        opts: &PlanOptions,
    ) -> Result<Vec<Op>, DbError> {
        let trees = self.whole_trees(place, scanned)?;
        Ok(planner::plan(&trees.trees, opts).ops)
    }

    /// The slice after `after`: up to `slice_entries` local entries from
    /// the state database and as many of `remote`'s (the service's tree
    /// read so far, split off its front), over the same range of paths.
    /// `None` once both sides are done.
    fn next_slice(
        &self,
        folder: FolderId,
        after: &mut RelPath,
        remote: &mut Tree<RemoteEntry>,
    ) -> Result<Option<Slice>, DbError> {
        let most = self.slice_entries;
        let mut local = self.db.local_page(folder, after, most)?;
        if local.is_empty() && remote.is_empty() {
            return Ok(None);
        }
        // The slice ends where the first side to fill it ends.
        let mut last = (local.len() == most).then(|| local[most - 1].0.clone());
        if let Some(nth) = remote.keys().nth(most - 1) {
            if last.as_ref().is_none_or(|l| nth < l) {
                last = Some(nth.clone());
            }
        }
        let rest = match &last {
            Some(last) => {
                local.truncate(local.partition_point(|(p, _)| p <= last));
                split_after(remote, last)
            }
            None => Tree::new(),
        };
        let remote = std::mem::replace(remote, rest);
        let ends = [local.last().map(|(p, _)| p), remote.keys().next_back()];
        if let Some(end) = last.as_ref().or(ends.into_iter().flatten().max()) {
            after.clone_from(end);
        }
        Ok(Some(Slice {
            local: local.into_iter().collect(),
            remote,
        }))
    }

    /// Runs a slice's plan. What failed joins what the next round starts
    /// from; the answer is whether a failure stops the pass.
    async fn run_slice(
        &self,
        ctx: &FolderCtx,
        ops: Vec<Op>,
        out: &mut FolderRound,
        deferred: &mut BTreeSet<RelPath>,
    ) -> bool {
        if ops.is_empty() {
            return false;
        }
        out.planned += ops.len();
        self.note_changes(written_by(ctx.folder, &ops));
        tracing::debug!(folder = ctx.folder, "plan: {ops:?}");
        let report = self.run_plan(ctx, ops).await;
        let damage = report.failed.iter().any(|(_, e)| e.is_database_damage());
        if damage {
            self.db.distrust();
        }
        out.done += report.done;
        deferred.extend(report.failed.iter().map(|(path, _)| path.clone()));
        // A damaged state database is written no more (a whole round
        // ends after its one run too).
        let stops = damage
            || (report.failed.iter()).any(|(_, e)| failure_kind(e) == FailureKind::StopsThePass);
        out.failed.extend(report.failed);
        stops
    }
}

impl<'r> RemoteSide<'r> {
    fn new(place: &Place<'r>, may_hold_back: bool) -> Self {
        RemoteSide {
            order: InOrder::new(place.rules, place.root),
            pending: Tree::new(),
            ended: false,
            dirs: Tree::new(),
            counted: HashSet::new(),
            may_hold_back,
        }
    }
}

/// The entries of `tree` after `last`, split off it.
fn split_after(tree: &mut Tree<RemoteEntry>, last: &str) -> Tree<RemoteEntry> {
    let next = tree
        .range::<str, _>((Bound::Excluded(last), Bound::Unbounded))
        .next()
        .map(|(p, _)| p.clone());
    match next {
        Some(next) => tree.split_off(&next),
        None => Tree::new(),
    }
}

/// A slice's remote tree as the executor runs its plan with it: with the
/// service's folders its operations go into, which an earlier slice may
/// have held (an upload goes into the folder the service has, not a new
/// one of the same name).
fn with_folders(
    mut tree: Tree<RemoteEntry>,
    ops: &[Op],
    folders: &Tree<RemoteEntry>,
) -> Tree<RemoteEntry> {
    for op in ops {
        for dir in ancestors(op.path()) {
            if tree.contains_key(dir) {
                break;
            }
            if let Some(r) = folders.get(dir) {
                tree.insert(dir.to_string(), r.clone());
            }
        }
    }
    tree
}

/// Where a first sync's slices planned otherwise than the whole trees
/// (the simulator's check): each operation a slice planned is the whole
/// plan's, and each of the whole plan's was planned by a slice or left to
/// the next round (at or inside a path deferred).
fn slices_differ(sliced: &[Op], whole: &[Op], deferred: &BTreeSet<RelPath>) -> Option<String> {
    let left = |p: &str| deferred.contains(p) || ancestors(p).any(|a| deferred.contains(a));
    let extra: Vec<&Op> = sliced.iter().filter(|op| !whole.contains(op)).collect();
    let missing: Vec<&Op> = (whole.iter())
        .filter(|op| !sliced.contains(op) && !left(op.path()) && !op.from_path().is_some_and(left))
        .collect();
    (!extra.is_empty() || !missing.is_empty()).then(|| {
        format!(
            "a first sync's slices planned otherwise than the whole trees\n\
             not in the whole plan: {extra:?}\nnot planned by a slice: {missing:?}\n\
             deferred: {deferred:?}"
        )
    })
}
