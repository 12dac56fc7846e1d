//! The engine's side of `focus`: which rounds are planned over what
//! changed (a folder whose last round left nothing paused, read again
//! only in part, with the feed's news known), what they start from (the
//! paths read again, the nodes the feed told of, the paths whose hold
//! after failing ended), and in the simulator the check that such a plan
//! is the one the whole trees give.

use std::collections::HashSet;

use nubo_protocol::NodeId;

use super::{Engine, FolderTrees, Place};
use crate::db::{DbError, FolderId};
use crate::focus::{self, Focused, Seeds};
use crate::planner::{self, Plan, PlanOptions};
use crate::scanner::Replaced;

/// What a folder's settled round was planned with: a round with another
/// root node or other ignore rules (a `.nuboignore` whose event was lost)
/// reads the whole trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Settled {
    pub root: NodeId,
    pub rules: u64,
}

/// Beyond this many nodes from the feed between two rounds, the next
/// rounds read the whole trees.
pub(super) const MAX_NEWS: usize = 10_000;

/// The nodes the feed told of since the last round took them; `None`
/// once that is not known (too many, the service's history rewound).
#[derive(Debug)]
pub(super) struct News(Option<HashSet<NodeId>>);

impl Default for News {
    fn default() -> Self {
        News(Some(HashSet::new()))
    }
}

impl Engine {
    /// The simulator's check: every round planned over what changed is
    /// planned over the whole trees too, and the two plans must agree.
    pub fn check_focus(&mut self, on: bool) {
        self.check_focus = on;
    }

    /// The first plan over what changed that the whole trees' plan
    /// differed from (with `check_focus` on).
    pub fn focus_mismatch(&self) -> Option<String> {
        self.focus_mismatch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn note_mismatch(&self, differs: Option<String>) {
        let mut first = self
            .focus_mismatch
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = differs;
        }
    }

    fn news(&self) -> std::sync::MutexGuard<'_, News> {
        self.news.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn note_news(&self, nodes: &[NodeId]) {
        let mut news = self.news();
        if let Some(ids) = &mut news.0 {
            ids.extend(nodes);
            if ids.len() > MAX_NEWS {
                news.0 = None;
            }
        }
    }

    pub(super) fn lose_news(&self) {
        self.news().0 = None;
    }

    /// What the feed told of since the last call.
    pub(super) fn take_news(&self) -> Option<HashSet<NodeId>> {
        std::mem::take(&mut *self.news()).0
    }

    pub(super) fn settled(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<FolderId, (Settled, Seeds)>> {
        self.settled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After a folder's plan: whether its next round may be planned over
    /// what changed. It may where nothing was left paused, so that every
    /// path not planned is settled. An operation that goes through leaves
    /// its paths settled too (the executor records what it did on every
    /// side), but for those that may leave more (`Op::leaves_more`): the next
    /// round starts from their paths, with what is inside them (a folder
    /// moved here is decided with what it holds, whatever the next scan
    /// reads), and from what fails (added after the run, `after_run`). A
    /// plan of moves only (the planner's first phase) decided nothing
    /// else, so the next round starts where this one did too (and after a
    /// whole round's moves, reads whole again).
    pub(super) fn after_plan(
        &self,
        folder: FolderId,
        at: Settled,
        plan: &Plan,
        seeds: Option<Seeds>,
        nothing_paused: bool,
    ) {
        let moves_only = !plan.ops.is_empty() && plan.ops.iter().all(|op| op.from_path().is_some());
        let follow = (plan.ops.iter())
            .filter(|op| op.leaves_more())
            .flat_map(super::paths_written);
        let deferred = match (moves_only, seeds) {
            _ if !nothing_paused => None,
            (false, _) => Some(Seeds::new()),
            (true, seeds) => seeds,
        };
        match deferred {
            Some(mut deferred) => {
                for path in follow {
                    deferred.insert(path.to_string(), true);
                }
                self.defer_or_unsettle(folder, at, deferred);
            }
            None => self.unsettle(folder),
        }
    }

    /// After a folder's plan ran: the paths of what failed start its next
    /// round (with what is inside them: a download that found no room is
    /// tried again from there).
    pub(super) fn after_run<'p>(&self, folder: FolderId, failed: impl Iterator<Item = &'p str>) {
        let mut settled = self.settled();
        let Some((_, deferred)) = settled.get_mut(&folder) else {
            return;
        };
        for path in failed {
            deferred.insert(path.to_string(), true);
        }
        if deferred.len() > MAX_NEWS {
            settled.remove(&folder);
        }
    }

    pub(super) fn defer_or_unsettle(&self, folder: FolderId, at: Settled, deferred: Seeds) {
        if deferred.len() > MAX_NEWS {
            self.unsettle(folder);
        } else {
            self.settled().insert(folder, (at, deferred));
        }
    }

    pub(super) fn unsettle(&self, folder: FolderId) {
        self.settled().remove(&folder);
    }

    pub(super) fn unsettle_all(&self) {
        self.settled().clear();
    }

    /// The folder's trees around what changed, where this round may be
    /// planned so: `None` reads them whole.
    pub(super) fn focused(
        &self,
        place: &Place<'_>,
        replaced: Option<&[Replaced]>,
        news: Option<&HashSet<NodeId>>,
        stamp: &str,
    ) -> Result<Option<(Focused, Seeds)>, DbError> {
        let Place {
            folder,
            root,
            rules,
            now,
        } = *place;
        let (Some(replaced), Some(news)) = (replaced, news) else {
            return Ok(None);
        };
        if self.folders_share_nodes() {
            return Ok(None);
        }
        let here = Settled {
            root,
            rules: rules.made_of(),
        };
        let deferred = match self.settled().get_mut(&folder.id) {
            Some((at, deferred)) if *at == here => std::mem::take(deferred),
            _ => return Ok(None),
        };
        let src = focus::Source {
            db: &self.db,
            folder: folder.id,
            root,
            rules,
            stamp,
        };
        let mut seeds = self.seeds(folder.id, &src, replaced, news, now)?;
        for (path, whole) in deferred {
            *seeds.entry(path).or_default() |= whole;
        }
        Ok(focus::gather(&src, &seeds)?.map(|f| (f, seeds)))
    }

    /// Whether two folders sync the same place on the service, or one
    /// inside the other: one's run then changes nodes of the other in the
    /// middle of a round, after that round's news were taken.
    fn folders_share_nodes(&self) -> bool {
        let places: Vec<Vec<&str>> = (self.config.folders.iter())
            .filter(|f| !f.paused)
            .map(|f| f.remote.split('/').filter(|p| !p.is_empty()).collect())
            .collect();
        places.iter().enumerate().any(|(i, a)| {
            places
                .iter()
                .skip(i + 1)
                .any(|b| a.starts_with(b) || b.starts_with(a))
        })
    }

    /// Where a round planned over what changed starts.
    fn seeds(
        &self,
        folder: FolderId,
        src: &focus::Source<'_>,
        replaced: &[Replaced],
        news: &HashSet<NodeId>,
        now: i64,
    ) -> Result<Seeds, DbError> {
        let mut seeds = Seeds::new();
        for r in replaced {
            *seeds.entry(r.path.clone()).or_default() |= r.whole;
        }
        for node in news {
            for path in self.db.synced_paths_of_node(folder, *node)? {
                seeds.entry(path).or_default();
            }
            if let Some(path) = focus::remote_path(&self.db, src.root, *node)? {
                if !path.is_empty() {
                    seeds.entry(path).or_default();
                }
            }
        }
        // A path that failed is tried again; one held back after failing
        // is left alone until its next try, and decided then with
        // everything inside it (what changed there meanwhile was skipped
        // as blocked). Other blocked paths are read again whole by the
        // scan when they change.
        for (path, was_held) in self.failing().due(folder, now) {
            *seeds.entry(path).or_default() |= was_held;
        }
        Ok(seeds)
    }
}

/// Whether a plan over part of the trees deletes enough to be weighed
/// against the whole folder (the mass-delete guard): such a round is
/// planned again over the whole trees.
pub(super) fn deletes_to_weigh(ft: &FolderTrees, plan: &Plan, opts: &PlanOptions) -> bool {
    let (here, there) = planner::deleted_files(&ft.trees, &plan.ops);
    plan.mass_delete.is_some() || here.max(there) >= opts.guard.min_files
}

/// The simulator's check of a plan made over what changed: the whole
/// trees give the same one. How they differ, where they do.
pub(super) fn differs_from_whole(
    focused: &Plan,
    whole: &Plan,
    seeds: &Seeds,
    points: &std::collections::BTreeMap<crate::tree::RelPath, bool>,
) -> Option<String> {
    let same = focused.ops == whole.ops && focused.mass_delete == whole.mass_delete;
    (!same).then(|| {
        format!(
            "the plan over what changed is not the whole trees' plan\n\
             seeds: {seeds:?}\npoints: {points:?}\nover what changed: {focused:?}\nwhole: {whole:?}"
        )
    })
}
