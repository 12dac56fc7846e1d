//! The planner: a pure function of the three trees to a batch of operations.
//! No I/O and no clock (the conflict stamp comes in as data), so it can be
//! tested exhaustively and driven by a simulator.
//!
//! The sync loop calls it repeatedly: plan, execute, refresh the trees, plan
//! again, until it returns nothing. Each batch is one of two phases:
//! 1. moves, detected by node id (remote) and inode plus content (local);
//! 2. everything else, decided path by path against the merge base.
//!
//! Every decision keeps user data: a local change never loses to a remote one
//! without a conflict copy, and deletions only remove what is unchanged.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::tree::{
    file_name, inside, is_inside, join, parent, Kind, LocalEntry, NodeId, RelPath, RemoteEntry,
    SyncedEntry, Trees,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    TwoWay,
    /// Backup: local changes go up; remote changes and deletions never touch the folder.
    UploadOnly,
    /// Mirror: remote changes come down; local changes stay local.
    DownloadOnly,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "two-way" => Ok(Mode::TwoWay),
            "upload-only" => Ok(Mode::UploadOnly),
            "download-only" => Ok(Mode::DownloadOnly),
            _ => Err(format!(
                "unknown mode {s:?}: use two-way, upload-only or download-only"
            )),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::TwoWay => "two-way",
            Mode::UploadOnly => "upload-only",
            Mode::DownloadOnly => "download-only",
        })
    }
}

/// What the local file must still be for a local write to go ahead.
/// Boxed, as a plan holds one per download and most expect nothing there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Absent,
    Present(Box<crate::tree::FileStat>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create the folder on the service (and any missing parents).
    RemoteMkdir {
        path: RelPath,
    },
    /// Send the local file. `base` is the node and revision it replaces.
    Upload {
        path: RelPath,
        base: Option<(NodeId, i64)>,
    },
    RemoteMove {
        node: NodeId,
        from: RelPath,
        to: RelPath,
    },
    /// To the service's trash; refused there if it changed meanwhile.
    RemoteDelete {
        path: RelPath,
        node: NodeId,
        kind: Kind,
        base_rev: i64,
    },
    LocalMkdir {
        path: RelPath,
        remote: RemoteEntry,
    },
    Download {
        path: RelPath,
        remote: RemoteEntry,
        expect: Expect,
    },
    LocalMove {
        from: RelPath,
        to: RelPath,
    },
    /// To the OS trash, only if still as synced.
    LocalDelete {
        path: RelPath,
        kind: Kind,
    },
    /// Both sides changed: the local version steps aside under a conflict
    /// name (and is uploaded as a new file next round); the remote one comes down.
    KeepConflictCopy {
        path: RelPath,
        copy: RelPath,
    },
    /// Both sides already agree; only the merge base moves on. Boxed: the
    /// largest of the operations' fields, and the rarest in a large plan.
    RecordSynced {
        path: RelPath,
        entry: Box<SyncedEntry>,
    },
    /// Gone on both sides.
    ForgetSynced {
        path: RelPath,
    },
}

// A plan holds an operation per changed entry: a million at an initial
// sync. Larger fields go in a box, not inline in every one.
const _: () = assert!(std::mem::size_of::<Op>() <= 104);

impl Op {
    pub fn path(&self) -> &str {
        match self {
            Op::RemoteMkdir { path }
            | Op::Upload { path, .. }
            | Op::RemoteDelete { path, .. }
            | Op::LocalMkdir { path, .. }
            | Op::Download { path, .. }
            | Op::LocalDelete { path, .. }
            | Op::KeepConflictCopy { path, .. }
            | Op::RecordSynced { path, .. }
            | Op::ForgetSynced { path } => path,
            Op::RemoteMove { to, .. } | Op::LocalMove { to, .. } => to,
        }
    }

    /// Whether an operation that went through may leave more to decide at
    /// its paths next round: a move (what is inside the folder moved, the
    /// place it left), a conflict copy (the copy, uploaded next round), a
    /// delete (a folder replaced by a file on the other side: the file
    /// comes next round; found by the simulator, seed 1302). A transfer, a
    /// folder made and the merge base's bookkeeping leave the three sides
    /// alike.
    pub fn leaves_more(&self) -> bool {
        !matches!(
            self,
            Op::Upload { .. }
                | Op::Download { .. }
                | Op::LocalMkdir { .. }
                | Op::RemoteMkdir { .. }
                | Op::RecordSynced { .. }
                | Op::ForgetSynced { .. }
        )
    }

    /// Where a move starts (its `path` is where it ends).
    pub fn from_path(&self) -> Option<&str> {
        match self {
            Op::RemoteMove { from, .. } | Op::LocalMove { from, .. } => Some(from),
            _ => None,
        }
    }
}

/// Stop and ask before deleting more than this on either side.
#[derive(Debug, Clone, Copy)]
pub struct MassDeleteGuard {
    /// Fewer deletions than this never ask.
    pub min_files: usize,
    /// Ask when deletions exceed this share of the synced files.
    pub max_share: f64,
}

impl Default for MassDeleteGuard {
    fn default() -> Self {
        MassDeleteGuard {
            min_files: 10,
            max_share: 0.5,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub mode: Mode,
    /// `from HOST YYYY-MM-DD HHMMSS`, put into conflict copy names.
    pub conflict_stamp: String,
    pub guard: MassDeleteGuard,
    pub allow_mass_delete: bool,
    /// Beyond this many conflict copies of one file, the local version is
    /// uploaded over the remote one instead (which stays in version history).
    pub max_conflict_copies: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            mode: Mode::TwoWay,
            conflict_stamp: "from this computer".into(),
            guard: MassDeleteGuard::default(),
            allow_mass_delete: false,
            max_conflict_copies: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MassDelete {
    pub local_files: usize,
    pub remote_files: usize,
    pub synced_files: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// Set when the batch would delete too much: the ops are withheld.
    pub mass_delete: Option<MassDelete>,
}

pub fn plan(trees: &Trees, opts: &PlanOptions) -> Plan {
    let moves = plan_moves(trees, opts.mode);
    if !moves.is_empty() {
        return Plan {
            ops: moves,
            mass_delete: None,
        };
    }
    let ops = plan_changes(trees, opts);
    if !opts.allow_mass_delete {
        if let Some(m) = mass_delete(trees, &ops, opts.guard) {
            return Plan {
                ops: Vec::new(),
                mass_delete: Some(m),
            };
        }
    }
    Plan {
        ops,
        mass_delete: None,
    }
}

const CONFLICT_MARK: &str = " (conflicted copy ";

pub fn is_conflict_copy(name: &str) -> bool {
    name.contains(CONFLICT_MARK)
}

// ------------------------------------------------------------------ moves

/// A file on this side where `path` needs a folder: the move cannot happen
/// until the per-path decisions sort out that clash (as a conflict copy).
/// Found by the simulator: otherwise the move is planned, refused, and
/// planned again every round.
fn file_above<T: HasKind>(tree: &crate::tree::Tree<T>, path: &str) -> bool {
    let mut p = parent(path);
    while !p.is_empty() {
        if tree.get(p).is_some_and(|e| e.kind() == Kind::File) {
            return true;
        }
        p = parent(p);
    }
    false
}

trait HasKind {
    fn kind(&self) -> Kind;
}
impl HasKind for LocalEntry {
    fn kind(&self) -> Kind {
        self.kind
    }
}
impl HasKind for RemoteEntry {
    fn kind(&self) -> Kind {
        self.kind
    }
}

fn plan_moves(t: &Trees, mode: Mode) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut moved_from: Vec<&str> = Vec::new();
    let covered = |p: &str, moved: &[&str]| moved.iter().any(|m| p == *m || is_inside(p, m));

    // The indexes by node and by inode are built only once some entry is
    // not where it was: most rounds move nothing.
    if mode != Mode::UploadOnly {
        let mut remote_by_node: Option<HashMap<NodeId, &RelPath>> = None;
        let mut taken: HashSet<&str> = HashSet::new();
        for (sp, s, l, r) in aligned(t) {
            let Some(s) = s else { continue };
            if r.is_some_and(|r| r.node == s.node)
                || covered(sp, &moved_from)
                || t.blocked_at(sp).is_some()
            {
                continue;
            }
            let by_node = remote_by_node
                .get_or_insert_with(|| t.remote.iter().map(|(p, r)| (r.node, p)).collect());
            let Some(rp) = by_node.get(&s.node) else {
                continue;
            };
            if *rp == sp || is_inside(rp, sp) {
                continue;
            }
            // A destination left alone here (something unsynced in the
            // way, unreadable) is no destination: the entry stays where it
            // is (see `Planner::held`).
            let movable = l.is_some_and(|l| l.kind == s.kind)
                && !t.local.contains_key(*rp)
                && t.blocked_at(rp).is_none()
                && !file_above(&t.local, rp)
                && !taken.contains(rp.as_str())
                && !covered(rp, &moved_from);
            if movable {
                ops.push(Op::LocalMove {
                    from: sp.clone(),
                    to: (*rp).clone(),
                });
                taken.insert(rp);
                moved_from.push(sp);
            }
        }
    }

    if mode != Mode::DownloadOnly {
        let mut local_by_inode: Option<HashMap<u64, (&RelPath, &LocalEntry)>> = None;
        let mut taken: HashSet<&str> = HashSet::new();
        for (sp, s, l, r) in aligned(t) {
            let Some(s) = s else { continue };
            if s.stat.inode == 0
                || l.is_some_and(|l| l.stat.inode == s.stat.inode)
                || covered(sp, &moved_from)
                || t.blocked_at(sp).is_some()
            {
                continue;
            }
            let by_inode = local_by_inode.get_or_insert_with(|| {
                t.local
                    .iter()
                    .filter(|(_, l)| l.stat.inode != 0)
                    .map(|(p, l)| (l.stat.inode, (p, l)))
                    .collect()
            });
            let Some((lp, l)) = by_inode.get(&s.stat.inode) else {
                continue;
            };
            // Inodes are reused: a file only counts as moved if its content
            // is what was synced; anything else is a delete plus a create.
            let same = l.kind == s.kind && (s.kind == Kind::Dir || l.hash == s.hash);
            let remote_here = r.is_some_and(|r| r.node == s.node);
            if same
                && remote_here
                && t.blocked_at(lp).is_none()
                && !t.synced.contains_key(*lp)
                && !t.remote.contains_key(*lp)
                && !file_above(&t.remote, lp)
                && !is_inside(lp, sp)
                && !taken.contains(lp.as_str())
                && !covered(lp, &moved_from)
            {
                ops.push(Op::RemoteMove {
                    node: s.node,
                    from: sp.clone(),
                    to: (*lp).clone(),
                });
                taken.insert(lp);
                moved_from.push(sp);
            }
        }
    }
    ops
}

// ------------------------------------------------------------------ changes

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Absent,
    Unchanged,
    Created,
    Modified,
    /// A file became a folder or the other way round.
    Replaced,
    Deleted,
}

fn local_change(s: Option<&SyncedEntry>, l: Option<&LocalEntry>) -> Change {
    match (s, l) {
        (None, None) => Change::Absent,
        (None, Some(_)) => Change::Created,
        (Some(_), None) => Change::Deleted,
        (Some(s), Some(l)) if s.kind != l.kind => Change::Replaced,
        (Some(s), Some(l))
            if l.kind == Kind::File && (l.hash != s.hash || l.stat.exec != s.stat.exec) =>
        {
            Change::Modified
        }
        _ => Change::Unchanged,
    }
}

fn remote_change(s: Option<&SyncedEntry>, r: Option<&RemoteEntry>) -> Change {
    match (s, r) {
        (None, None) => Change::Absent,
        (None, Some(_)) => Change::Created,
        (Some(_), None) => Change::Deleted,
        (Some(s), Some(r)) if s.kind != r.kind => Change::Replaced,
        (Some(s), Some(r))
            if r.node != s.node
                || r.kind == Kind::File && (r.hash != s.hash || r.exec != s.stat.exec) =>
        {
            Change::Modified
        }
        _ => Change::Unchanged,
    }
}

fn synced_from(r: &RemoteEntry, l: &LocalEntry) -> SyncedEntry {
    SyncedEntry {
        kind: r.kind,
        node: r.node,
        rev: r.rev,
        hash: r.hash,
        stat: l.stat,
    }
}

fn push_op(path: &RelPath, l: &LocalEntry, r: Option<&RemoteEntry>) -> Op {
    match (l.kind, r) {
        (Kind::Dir, _) => Op::RemoteMkdir { path: path.clone() },
        (Kind::File, Some(r)) if r.kind == Kind::File => Op::Upload {
            path: path.clone(),
            base: Some((r.node, r.rev)),
        },
        (Kind::File, _) => Op::Upload {
            path: path.clone(),
            base: None,
        },
    }
}

fn pull_op(path: &RelPath, r: &RemoteEntry, l: Option<&LocalEntry>) -> Op {
    match r.kind {
        Kind::Dir => Op::LocalMkdir {
            path: path.clone(),
            remote: r.clone(),
        },
        Kind::File => Op::Download {
            path: path.clone(),
            remote: r.clone(),
            expect: l.map_or(Expect::Absent, |l| Expect::Present(Box::new(l.stat))),
        },
    }
}

/// Every path of the three trees once, in order, with what each tree holds
/// there: one merge of three sorted maps. (Sorting every path and looking
/// each up in each tree was most of the planner's time on 100,000 files.)
type Aligned<'t> = (
    &'t RelPath,
    Option<&'t SyncedEntry>,
    Option<&'t LocalEntry>,
    Option<&'t RemoteEntry>,
);
fn aligned(t: &Trees) -> impl Iterator<Item = Aligned<'_>> {
    let (mut s, mut l, mut r) = (
        t.synced.iter().peekable(),
        t.local.iter().peekable(),
        t.remote.iter().peekable(),
    );
    std::iter::from_fn(move || {
        let path = [
            s.peek().map(|e| e.0),
            l.peek().map(|e| e.0),
            r.peek().map(|e| e.0),
        ]
        .into_iter()
        .flatten()
        .min()?;
        Some((
            path,
            s.next_if(|e| e.0 == path).map(|e| e.1),
            l.next_if(|e| e.0 == path).map(|e| e.1),
            r.next_if(|e| e.0 == path).map(|e| e.1),
        ))
    })
}

fn plan_changes(t: &Trees, opts: &PlanOptions) -> Vec<Op> {
    let mut p = Planner {
        t,
        opts,
        held: held_nodes(t),
        held_inodes: held_inodes(t),
        conflict_names: HashSet::new(),
    };
    // In path order, as the trees are.
    let mut decisions: Vec<(&RelPath, Op)> = Vec::new();
    for (path, s, l, r) in aligned(t) {
        // Left alone this round, with everything inside: its merge base stays.
        if t.blocked_at(path).is_some() {
            continue;
        }
        if let Some(op) = p.decide(path, s, l, r) {
            decisions.push((path, op));
        }
    }
    p.group_folder_deletes(decisions)
}

/// Whether this computer and the service hold the same thing at a path.
fn agree(l: &LocalEntry, r: &RemoteEntry) -> bool {
    l.kind == r.kind && (l.kind == Kind::Dir || l.hash == r.hash && l.stat.exec == r.exec)
}

/// One slice of paths of a folder's first sync: the trees hold no merge
/// base, and `t.local` and `t.remote` hold a range of paths (the engine
/// plans the range after it next, `engine/sliced.rs`). With no merge base
/// nothing moved and nothing is deleted, so most paths decide alone, as
/// `plan` decides them: a file or folder on one side goes to the other,
/// the same on both is recorded synced. A path where the two sides
/// differ decides against others (its conflict copy needs a name free
/// among its siblings, another kind may take a folder along): it is not
/// planned here but added to `deferred`, with everything inside it, for a
/// round over it and what surrounds it (`focus`). `deferred` carries over
/// from one slice to the next.
pub fn plan_first_slice(
    t: &Trees,
    opts: &PlanOptions,
    deferred: &mut BTreeSet<RelPath>,
) -> Vec<Op> {
    debug_assert!(t.synced.is_empty(), "a first sync has no merge base");
    let mut p = Planner {
        t,
        opts,
        held: HashSet::new(),
        held_inodes: HashSet::new(),
        conflict_names: HashSet::new(),
    };
    let mut ops = Vec::new();
    for (path, s, l, r) in aligned(t) {
        if t.blocked_at(path).is_some() {
            continue;
        }
        let differ = matches!((l, r), (Some(l), Some(r)) if !agree(l, r));
        if differ || crate::tree::ancestors(path).any(|a| deferred.contains(a)) {
            deferred.insert(path.clone());
            continue;
        }
        ops.extend(p.decide(path, s, l, r));
    }
    debug_assert!(ops.iter().all(|op| !op.leaves_more()));
    ops
}

/// Nodes of the merge base whose place on the service this computer leaves
/// alone (blocked here, or in a folder held back): such an entry stays
/// where it is here rather than follow the node, and is never deleted for
/// having gone from where it was.
fn held_nodes(t: &Trees) -> HashSet<NodeId> {
    let mut held = t.held_nodes.clone();
    for path in t.blocked.keys() {
        held.extend(t.remote.get(path).map(|r| r.node));
        held.extend(inside(&t.remote, path).map(|(_, r)| r.node));
    }
    held
}

/// Files and folders here that lie at or under a blocked path: one that the
/// merge base knows elsewhere was moved there by the user, and is not gone
/// (found in review: a synced file moved into a folder held back after
/// failing was deleted on the service).
fn held_inodes(t: &Trees) -> HashSet<u64> {
    let mut held = HashSet::new();
    for path in t.blocked.keys() {
        let here = t.local.get(path).into_iter();
        for l in here.chain(inside(&t.local, path).map(|(_, l)| l)) {
            if l.stat.inode != 0 {
                held.insert(l.stat.inode);
            }
        }
    }
    held
}

/// One `plan_changes`: the per-path decisions and what they share.
struct Planner<'t> {
    t: &'t Trees,
    opts: &'t PlanOptions,
    held: HashSet<NodeId>,
    held_inodes: HashSet<u64>,
    /// Conflict names given out in this batch.
    conflict_names: HashSet<RelPath>,
}

impl Planner<'_> {
    fn decide(
        &mut self,
        path: &RelPath,
        s: Option<&SyncedEntry>,
        l: Option<&LocalEntry>,
        r: Option<&RemoteEntry>,
    ) -> Option<Op> {
        // Both sides hold the same thing: never a conflict, at most a new base.
        if let (Some(l), Some(r)) = (l, r) {
            if agree(l, r) {
                let entry = synced_from(r, l);
                let same = s.is_some_and(|s| {
                    s.kind == entry.kind
                        && s.node == entry.node
                        && s.rev == entry.rev
                        && s.hash == entry.hash
                        && s.stat.exec == entry.stat.exec
                });
                return (!same).then(|| Op::RecordSynced {
                    path: path.clone(),
                    entry: Box::new(entry),
                });
            }
        }
        let (lc, mut rc) = (local_change(s, l), remote_change(s, r));
        if lc == Change::Deleted
            && s.is_some_and(|s| s.stat.inode != 0 && self.held_inodes.contains(&s.stat.inode))
        {
            // Moved here into something left alone this round: not gone;
            // what the service did to it waits with it.
            return None;
        }
        if rc == Change::Deleted && s.is_some_and(|s| self.held.contains(&s.node)) {
            // Not gone: it went where this computer does not follow yet.
            rc = Change::Unchanged;
            if r.is_none() && lc != Change::Unchanged {
                return None;
            }
        }
        use Change::*;
        match self.opts.mode {
            Mode::TwoWay => match (lc, rc) {
                (Absent | Unchanged, Absent | Unchanged) => None,
                (Created | Modified | Replaced, Absent | Unchanged) => {
                    let l = l?;
                    match r {
                        // The kind changed locally: the old remote item goes first.
                        Some(r) if r.kind != l.kind => Some(remote_delete(path, r)),
                        _ => Some(push_op(path, l, r)),
                    }
                }
                (Absent | Unchanged, Created | Modified | Replaced) => {
                    let r = r?;
                    match l {
                        Some(l) if l.kind != r.kind => Some(Op::LocalDelete {
                            path: path.clone(),
                            kind: l.kind,
                        }),
                        _ => Some(pull_op(path, r, l)),
                    }
                }
                (Deleted, Unchanged) => r.map(|r| remote_delete(path, r)),
                (Unchanged, Deleted) => l.map(|l| Op::LocalDelete {
                    path: path.clone(),
                    kind: l.kind,
                }),
                (Deleted, Deleted) => Some(Op::ForgetSynced { path: path.clone() }),
                // Edit against delete: the edit wins.
                (Deleted, _) => r.map(|r| pull_op(path, r, None)),
                (_, Deleted) => l.map(|l| push_op(path, l, None)),
                _ => self.conflict(path, l?, r?),
            },
            Mode::UploadOnly => {
                let l_present = l.is_some();
                match (lc, rc) {
                    (Deleted, Unchanged) => r.map(|r| remote_delete(path, r)),
                    (Deleted, _) => None,
                    // The folder is the truth: whatever differs goes up, over
                    // whatever the service holds (kept there as a version).
                    _ if l_present => {
                        let l = l?;
                        match r {
                            Some(r) if r.kind != l.kind => Some(remote_delete(path, r)),
                            _ => Some(push_op(path, l, r)),
                        }
                    }
                    _ => None,
                }
            }
            Mode::DownloadOnly => match (lc, rc) {
                (_, Absent | Unchanged) => None,
                (Absent | Unchanged, Created | Modified | Replaced) => {
                    let r = r?;
                    match l {
                        Some(l) if l.kind != r.kind => Some(Op::LocalDelete {
                            path: path.clone(),
                            kind: l.kind,
                        }),
                        _ => Some(pull_op(path, r, l)),
                    }
                }
                (Unchanged, Deleted) => l.map(|l| Op::LocalDelete {
                    path: path.clone(),
                    kind: l.kind,
                }),
                (Deleted, Deleted) => Some(Op::ForgetSynced { path: path.clone() }),
                (Deleted, _) => None,
                (_, Deleted) => None,
                _ => self.conflict(path, l?, r?),
            },
        }
    }

    fn conflict(&mut self, path: &RelPath, l: &LocalEntry, r: &RemoteEntry) -> Option<Op> {
        let name = file_name(path);
        let dir = parent(path);
        let prefix = conflict_prefix(name, &self.opts.conflict_stamp, l.kind);
        let copies = self
            .t
            .local
            .keys()
            .filter(|p| parent(p) == dir && file_name(p).starts_with(&prefix))
            .count();
        // A conflict on a conflict copy, or one copy too many: no new copy. The
        // local version goes up over the remote one, which stays in version history.
        if l.kind == Kind::File
            && r.kind == Kind::File
            && self.opts.mode != Mode::DownloadOnly
            && (is_conflict_copy(name) || copies >= self.opts.max_conflict_copies)
        {
            return Some(Op::Upload {
                path: path.clone(),
                base: Some((r.node, r.rev)),
            });
        }
        Some(self.keep_conflict_copy(path, l.kind))
    }

    /// The local entry at `path` steps aside under a free conflict name.
    fn keep_conflict_copy(&mut self, path: &RelPath, kind: Kind) -> Op {
        let (name, dir) = (file_name(path), parent(path));
        let t = self.t;
        let mut n = 1;
        let copy = loop {
            let candidate = join(
                dir,
                &conflict_name(name, &self.opts.conflict_stamp, n, kind),
            );
            let free = !t.local.contains_key(&candidate)
                && !t.remote.contains_key(&candidate)
                && !t.synced.contains_key(&candidate)
                && t.blocked_at(&candidate).is_none()
                && !self.conflict_names.contains(&candidate);
            if free {
                break candidate;
            }
            n += 1;
        };
        self.conflict_names.insert(copy.clone());
        Op::KeepConflictCopy {
            path: path.clone(),
            copy,
        }
    }

    /// A folder deleted on one side goes as one operation when nothing inside
    /// it needs anything else; otherwise it is recreated and its contents
    /// decided one by one (so a changed file inside is kept, never deleted
    /// with it). Where the other side put a file in the folder's place, the
    /// two cannot both have the name: the one here steps aside as a
    /// conflict copy, and both are kept.
    ///
    /// `decisions` are in path order; what is looked up is always inside
    /// the path at hand, so after it, and the plan is made in their place
    /// (a million decisions are held once, not twice).
    fn group_folder_deletes(&mut self, mut decisions: Vec<(&RelPath, Op)>) -> Vec<Op> {
        let mut kept = 0;
        let mut skip_inside: Option<RelPath> = None;
        for at in 0..decisions.len() {
            let path = decisions[at].0;
            if skip_inside.as_deref().is_some_and(|d| is_inside(path, d)) {
                continue;
            }
            let later = &decisions[at + 1..];
            let grouped = match &decisions[at].1 {
                Op::LocalDelete {
                    kind: Kind::Dir, ..
                } => self.local_folder_delete(path, inner_decisions(later, path)),
                Op::RemoteDelete {
                    kind: Kind::Dir, ..
                } => self.remote_folder_delete(path, inner_decisions(later, path)),
                _ => Grouped::AsDecided,
            };
            match grouped {
                Grouped::AsDecided => decisions.swap(kept, at),
                Grouped::Whole => {
                    decisions.swap(kept, at);
                    skip_inside = Some(path.clone());
                }
                Grouped::Instead(op, skip) => {
                    decisions[kept] = (path, op);
                    if skip {
                        skip_inside = Some(path.clone());
                    }
                }
                Grouped::Nothing => continue,
            }
            kept += 1;
        }
        decisions.truncate(kept);
        decisions.into_iter().map(|(_, op)| op).collect()
    }

    /// A folder deleted here (`inner`: the decisions strictly inside it).
    fn local_folder_delete(&mut self, path: &RelPath, inner: &[(&RelPath, Op)]) -> Grouped {
        let t = self.t;
        let whole = (inner.iter())
            .all(|(_, o)| matches!(o, Op::LocalDelete { .. } | Op::ForgetSynced { .. }))
            && inside(&t.local, path).all(|(p, _)| decided(inner, p))
            && !t.blocked_inside(path);
        if whole {
            Grouped::Whole
        } else if self.opts.mode == Mode::TwoWay
            && t.remote.get(path).is_some_and(|r| r.kind == Kind::File)
        {
            // The folder, with what changed in it, is renamed
            // whole; its contents are decided there next round.
            Grouped::Instead(self.keep_conflict_copy(path, Kind::Dir), true)
        } else {
            // Something inside stays: the folder must exist on the service again.
            Grouped::Instead(Op::RemoteMkdir { path: path.clone() }, false)
        }
    }

    /// A folder deleted on the service (`inner`: the decisions strictly
    /// inside it).
    fn remote_folder_delete(&mut self, path: &RelPath, inner: &[(&RelPath, Op)]) -> Grouped {
        let t = self.t;
        // What this computer never saw inside (ignored, excluded,
        // held back, unreadable here) is not its to delete.
        let whole = (inner.iter())
            .all(|(_, o)| matches!(o, Op::RemoteDelete { .. } | Op::ForgetSynced { .. }))
            && inside(&t.remote, path).all(|(p, _)| decided(inner, p))
            && !t.unseen_inside(path)
            && !t.blocked_inside(path);
        if whole {
            Grouped::Whole
        } else if self.opts.mode == Mode::TwoWay
            && t.local.get(path).is_some_and(|l| l.kind == Kind::File)
        {
            Grouped::Instead(self.keep_conflict_copy(path, Kind::File), false)
        } else if let Some(r) = t.remote.get(path) {
            let remote = r.clone();
            Grouped::Instead(
                Op::LocalMkdir {
                    path: path.clone(),
                    remote,
                },
                false,
            )
        } else {
            Grouped::Nothing
        }
    }
}

/// What becomes of one decision when folder deletes are grouped.
enum Grouped {
    /// Planned as decided.
    AsDecided,
    /// A folder's delete that takes everything inside it along.
    Whole,
    /// Another operation in its place (and whether what is inside it is
    /// decided with it).
    Instead(Op, bool),
    /// Nothing planned there.
    Nothing,
}

/// The decisions strictly inside `dir`, of `later` ones in path order:
/// "d/..." sorts in ["d/", "d0"); a sibling such as "d (conflicted copy
/// ...)" sorts between "d" and "d/" (found by the simulator, seed 49).
fn inner_decisions<'d, 'p>(later: &'d [(&'p RelPath, Op)], dir: &str) -> &'d [(&'p RelPath, Op)] {
    let (start, end) = (format!("{dir}/"), format!("{dir}0"));
    let from = later.partition_point(|(p, _)| p.as_str() < start.as_str());
    let to = later.partition_point(|(p, _)| p.as_str() < end.as_str());
    &later[from..to]
}

/// Whether `path` is one of the `decisions` (in path order).
fn decided(decisions: &[(&RelPath, Op)], path: &str) -> bool {
    decisions
        .binary_search_by(|(p, _)| p.as_str().cmp(path))
        .is_ok()
}

fn remote_delete(path: &RelPath, r: &RemoteEntry) -> Op {
    Op::RemoteDelete {
        path: path.clone(),
        node: r.node,
        kind: r.kind,
        base_rev: r.rev,
    }
}

fn stem_and_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        // A long "extension" is part of the name, not a type to keep.
        Some(i) if i > 0 && name.len() - i <= MAX_EXT => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// The longest name most file systems take, in bytes.
pub const NAME_MAX: usize = 255;
const MAX_EXT: usize = 32;
/// Room kept for the counter of a conflict name (" 999").
const COUNTER_ROOM: usize = 4;

/// The part of `name` a conflict name keeps before its mark: the stem,
/// shortened (at a character boundary) so that the whole name fits in
/// `NAME_MAX` bytes, extension, stamp and counter included.
fn fitted_stem<'n>(name: &'n str, stamp: &str, kind: Kind) -> &'n str {
    let (stem, ext) = match kind {
        Kind::File => stem_and_ext(name),
        Kind::Dir => (name, ""),
    };
    let room =
        NAME_MAX.saturating_sub(CONFLICT_MARK.len() + stamp.len() + COUNTER_ROOM + 1 + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    &stem[..cut]
}

/// What every conflict copy of `name` made with `stamp` starts with: the
/// copies of a path are the entries of its folder named so.
pub fn conflict_prefix(name: &str, stamp: &str, kind: Kind) -> String {
    format!("{}{CONFLICT_MARK}", fitted_stem(name, stamp, kind))
}

/// `report (conflicted copy from HOST 2026-11-23 180102).txt`, shortened
/// to fit a file name's limit.
pub fn conflict_name(name: &str, stamp: &str, n: usize, kind: Kind) -> String {
    let ext = match kind {
        Kind::File => stem_and_ext(name).1,
        Kind::Dir => "",
    };
    let stem = fitted_stem(name, stamp, kind);
    let counter = if n > 1 {
        format!(" {n}")
    } else {
        String::new()
    };
    format!("{stem}{CONFLICT_MARK}{stamp}{counter}){ext}")
}

/// How many synced files `ops` delete here and on the service.
pub fn deleted_files(t: &Trees, ops: &[Op]) -> (usize, usize) {
    let files_at = |path: &str| {
        let own = usize::from(t.synced.get(path).is_some_and(|s| s.kind == Kind::File));
        own + inside(&t.synced, path)
            .filter(|(_, s)| s.kind == Kind::File)
            .count()
    };
    let (mut local_files, mut remote_files) = (0, 0);
    for op in ops {
        match op {
            Op::LocalDelete { path, .. } => local_files += files_at(path),
            Op::RemoteDelete { path, .. } => remote_files += files_at(path),
            _ => {}
        }
    }
    (local_files, remote_files)
}

fn mass_delete(t: &Trees, ops: &[Op], guard: MassDeleteGuard) -> Option<MassDelete> {
    let synced_files = t.synced.values().filter(|s| s.kind == Kind::File).count();
    let (local_files, remote_files) = deleted_files(t, ops);
    let too_many =
        |n: usize| n >= guard.min_files && n as f64 > guard.max_share * synced_files as f64;
    (too_many(local_files) || too_many(remote_files)).then_some(MassDelete {
        local_files,
        remote_files,
        synced_files,
    })
}

#[cfg(test)]
mod tests;
