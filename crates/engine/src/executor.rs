//! Runs one batch of the planner's operations against the file system and the
//! service, and records each finished operation in the state database.
//!
//! Order within a batch: moves and conflict renames, then folders (parents
//! first), then transfers (concurrently), then deletions (children first).
//! Every local write checks first that the disk is still as the planner saw
//! it; when it is not, the operation is skipped and the next round replans.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};
use nubo_protocol::{ChunkRef, CommitRequest, DeleteRequest, ErrorCode};

use crate::content::{hash_bytes, Digest};
use crate::db::{Change, DbError, FolderId, Stamp, StateDb};
use crate::fs::{LocalFs, MadeDir, TempSink};
use crate::ignore_rules::IgnoreRules;
use crate::planner::{Expect, Op};
use crate::problem::{LocalError, OpFailure};
use crate::remote::{Remote, RemoteError};
use crate::report::RecordedChange;
use crate::scanner::{self, ScanInput};
use crate::temp_names::TempNames;
use crate::tree::{
    file_name, inside, parent, ContentHash, FileStat, Kind, LocalEntry, NodeId, RemoteEntry,
    SyncedEntry, Tree,
};

mod batch;

/// Transfers at once per folder.
const PARALLEL_TRANSFERS: usize = 8;

/// Why one operation failed, with its source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("a local read or write failed")]
    Io(#[source] Arc<io::Error>),
    /// The disk or the service moved on since the plan; the next round replans.
    #[error("{0}")]
    Stale(Stale),
    #[error("{0}")]
    Refused(Refusal),
    /// The local disk has no room for it; it waits for space.
    #[error("{path} ({needed} bytes) does not fit: {free} bytes free on the folder's disk, {keep_free} kept free")]
    NoRoom {
        path: String,
        needed: u64,
        free: u64,
        keep_free: u64,
    },
    /// A write found the disk full.
    #[error("the disk is full")]
    DiskFull(#[source] Arc<io::Error>),
    /// The state database could not record it.
    #[error(transparent)]
    StateDb(Arc<DbError>),
}

/// How the disk or the service moved on since the plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    #[error("{0} changed since the plan")]
    Changed(String),
    #[error("{0} changed while it was read or sent; it will be sent again")]
    ChangedWhileSent(String),
    #[error("{0} changed here while its new version was downloaded")]
    ChangedWhileDownloaded(String),
    #[error("{0} is no longer a file")]
    NotAFile(String),
    #[error("{0} is a file where a folder is needed")]
    FileInTheWay(String),
    #[error("{0} has new content since the plan")]
    NewContent(String),
    #[error("{path} cannot be read or is not synced; {folder} stays")]
    UnseenInside { path: String, folder: String },
}

/// What the engine refuses to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("refusing to write through the symbolic link {0}")]
    ThroughLink(PathBuf),
    #[error("the service sent a damaged chunk of {0}; it will be fetched again")]
    DamagedChunk(String),
    #[error("{0} did not match its hash after download; it will be fetched again")]
    HashMismatch(String),
}

impl From<io::Error> for OpError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::StorageFull {
            OpError::DiskFull(Arc::new(e))
        } else {
            OpError::Io(Arc::new(e))
        }
    }
}

impl OpError {
    /// The state database was found damaged while recording it.
    pub fn is_database_damage(&self) -> bool {
        matches!(self, OpError::StateDb(e) if e.is_damage())
    }
}

impl From<DbError> for OpError {
    fn from(e: DbError) -> Self {
        OpError::StateDb(Arc::new(e))
    }
}

impl OpError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            OpError::Remote(e) => e.code(),
            _ => None,
        }
    }

    /// What the user is told of it.
    pub fn failure(&self) -> OpFailure {
        match self {
            OpError::Remote(RemoteError::Api(e)) => OpFailure::Service { code: e.code },
            OpError::Remote(RemoteError::Network { .. }) => OpFailure::Offline,
            OpError::Io(e) => OpFailure::Local {
                error: LocalError::from(e.as_ref()),
            },
            OpError::Stale(_) => OpFailure::Changed,
            OpError::Refused(Refusal::ThroughLink(_)) => OpFailure::ThroughLink,
            OpError::Refused(_) => OpFailure::Damaged,
            OpError::NoRoom { .. } | OpError::DiskFull(_) => OpFailure::DiskFull,
            OpError::StateDb(e) if e.is_disk_full() => OpFailure::DiskFull,
            OpError::StateDb(_) => OpFailure::LocalDatabase,
        }
    }
}

pub struct FolderCtx {
    pub folder: FolderId,
    pub root: PathBuf,
    pub remote_root: NodeId,
    pub db: Arc<StateDb>,
    pub remote: Arc<dyn Remote>,
    pub fs: Arc<dyn LocalFs>,
    /// The trees the plan was made from.
    pub local: Tree<LocalEntry>,
    pub remote_tree: Tree<RemoteEntry>,
    /// The change-feed cursor the remote tree reflects.
    pub cursor: i64,
    /// When and where this batch runs: recent changes, conflict copies.
    pub stamp: Stamp,
    made_dirs: Mutex<HashMap<String, NodeId>>,
    limits: Arc<crate::throttle::Limits>,
    /// Transfers in flight at once.
    parallel: usize,
    /// Room downloads must leave free on the folder's disk.
    keep_free: u64,
    /// Bytes of downloads under way, not yet all on the disk: parallel
    /// downloads must fit together, not each alone.
    reserved: std::sync::atomic::AtomicU64,
    /// The folder's ignore rules, for the checks before a folder goes.
    rules: IgnoreRules,
    temps: TempNames,
}

/// Disk room held for one download.
struct Room<'a> {
    ctx: &'a FolderCtx,
    size: u64,
}

impl Drop for Room<'_> {
    fn drop(&mut self) {
        self.ctx
            .reserved
            .fetch_sub(self.size, std::sync::atomic::Ordering::SeqCst);
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub done: usize,
    pub failed: Vec<(String, OpError)>,
    /// Failed moves, destination and start: the start is held back with
    /// the destination, so that neither end is read as a change.
    pub failed_moves: Vec<(String, String)>,
}

impl FolderCtx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        folder: FolderId,
        root: PathBuf,
        remote_root: NodeId,
        db: Arc<StateDb>,
        remote: Arc<dyn Remote>,
        fs: Arc<dyn LocalFs>,
        local: Tree<LocalEntry>,
        remote_tree: Tree<RemoteEntry>,
        cursor: i64,
        stamp: Stamp,
    ) -> Self {
        FolderCtx {
            folder,
            root,
            remote_root,
            db,
            remote,
            fs,
            local,
            remote_tree,
            cursor,
            stamp,
            made_dirs: Mutex::new(HashMap::new()),
            limits: Arc::default(),
            parallel: PARALLEL_TRANSFERS,
            keep_free: 0,
            reserved: Default::default(),
            rules: IgnoreRules::with_file(Path::new(""), &[], None),
            temps: TempNames::new(rand::random()),
        }
    }

    /// The folder's ignore rules (built-in ones only, unless given).
    pub fn with_rules(mut self, rules: IgnoreRules) -> Self {
        self.rules = rules;
        self
    }

    /// How this home names its temp files (a random key, unless given).
    pub fn with_temps(mut self, temps: TempNames) -> Self {
        self.temps = temps;
        self
    }

    /// A new temp file in `dir`, named as this home's own.
    fn new_temp(&self, dir: &Path) -> io::Result<Box<dyn TempSink>> {
        self.fs.create_temp(&dir.join(self.temps.fresh()))
    }

    /// Downloads that would leave less than `bytes` free on the folder's
    /// disk wait (`OpError::DiskFull`) instead of filling it.
    pub fn with_keep_free(mut self, bytes: u64) -> Self {
        self.keep_free = bytes;
        self
    }

    /// How many transfers run at once (1 makes a batch's order fixed, which
    /// the simulator needs to replay a seed).
    pub fn with_parallel_transfers(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// The engine's bandwidth limits, shared by every folder.
    pub fn with_limits(mut self, limits: Arc<crate::throttle::Limits>) -> Self {
        self.limits = limits;
        self
    }

    fn abs(&self, rel: &str) -> PathBuf {
        // Every component was checked (remote names) or read from disk
        // (local names); none is empty, `.` or `..`.
        debug_assert!(
            rel.is_empty()
                || rel
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != "..")
        );
        crate::os_names::join(&self.root, rel)
    }

    /// Records a finished operation, its bookkeeping and its line in recent
    /// changes, in one transaction.
    fn record<'a>(
        &'a self,
        change: Option<RecordedChange>,
        mut changes: Vec<Change<'a>>,
    ) -> Result<(), OpError> {
        if let Some(change) = change {
            tracing::info!(folder = self.folder, ?change);
            changes.push(Change::Recorded {
                change,
                stamp: &self.stamp,
            });
        }
        Ok(self.db.record(self.folder, &changes)?)
    }

    /// Holds `size` bytes of the folder's disk for one download until the
    /// guard drops, or says the disk is too full for it.
    fn reserve_room(&self, dir: &Path, rel: &str, size: u64) -> Result<Room<'_>, OpError> {
        use std::sync::atomic::Ordering;
        let reserved = self.reserved.fetch_add(size, Ordering::SeqCst) + size;
        let room = Room { ctx: self, size };
        if let Some(free) = self.fs.available_space(dir)? {
            if free < reserved.saturating_add(self.keep_free) {
                return Err(OpError::NoRoom {
                    path: rel.to_string(),
                    needed: size,
                    free,
                    keep_free: self.keep_free,
                });
            }
        }
        Ok(room)
    }

    /// Creates `rel` and its parents inside the root, refusing to pass
    /// through a symbolic link (which could lead outside the root).
    fn local_dir(&self, rel: &str) -> Result<(), OpError> {
        let parts: Vec<_> = (rel.split('/').filter(|p| !p.is_empty()))
            .map(crate::os_names::to_os)
            .collect();
        // Most downloads go into a folder already made: one look.
        let whole: PathBuf = parts.iter().collect();
        if parts.is_empty() || self.fs.is_dir_beneath(&self.root, &whole) {
            return Ok(());
        }
        let mut at = self.root.clone();
        for part in parts {
            at.push(part);
            match self.fs.make_dir(&at)? {
                MadeDir::Ready => {}
                MadeDir::Symlink => return Err(OpError::Refused(Refusal::ThroughLink(at))),
                MadeDir::File => {
                    return Err(OpError::Stale(Stale::FileInTheWay(
                        at.display().to_string(),
                    )))
                }
            }
        }
        Ok(())
    }

    /// The node id of a remote folder by path, creating what is missing.
    async fn remote_dir(&self, rel: &str) -> Result<NodeId, OpError> {
        if rel.is_empty() {
            return Ok(self.remote_root);
        }
        if let Some(r) = self.remote_tree.get(rel).filter(|r| r.kind == Kind::Dir) {
            return Ok(r.node);
        }
        if let Some(id) = self
            .made_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(rel)
        {
            return Ok(*id);
        }
        let parent_id = Box::pin(self.remote_dir(parent(rel))).await?;
        let node = self.remote.mkdir(parent_id, file_name(rel)).await?;
        self.record(None, vec![Change::Remote(&node)])?;
        self.made_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rel.to_string(), node.id);
        Ok(node.id)
    }

    fn stat(&self, rel: &str) -> Result<Option<(Kind, FileStat)>, OpError> {
        Ok(self.fs.stat(&self.abs(rel))?)
    }
}

/// The bytes an operation moves: what progress is measured in.
pub fn bytes_of(ctx: &FolderCtx, op: &Op) -> u64 {
    match op {
        Op::Upload { path, .. } => ctx.local.get(path).map_or(0, |l| l.stat.size),
        Op::Download { remote, .. } => remote.size,
        _ => 0,
    }
}

/// When an operation runs: moves and conflict copies first (in the plan's
/// order), then folders (outer ones first), the bookkeeping, the transfers,
/// and deletes last (inner ones first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    First,
    Dirs,
    Books,
    Transfers,
    Deletes,
}

fn stage(op: &Op) -> Stage {
    match op {
        Op::LocalMove { .. } | Op::RemoteMove { .. } | Op::KeepConflictCopy { .. } => Stage::First,
        Op::LocalMkdir { .. } | Op::RemoteMkdir { .. } => Stage::Dirs,
        Op::RecordSynced { .. } | Op::ForgetSynced { .. } => Stage::Books,
        Op::Upload { .. } | Op::Download { .. } => Stage::Transfers,
        Op::LocalDelete { .. } | Op::RemoteDelete { .. } => Stage::Deletes,
    }
}

/// Where an operation goes in the run: its stage, and its depth where
/// that matters (sorted stably: the plan's order otherwise).
fn run_order(op: &Op) -> (Stage, i64) {
    let depth = op.path().matches('/').count() as i64;
    match stage(op) {
        Stage::Dirs => (Stage::Dirs, depth),
        Stage::Deletes => (Stage::Deletes, -depth),
        other => (other, 0),
    }
}

/// Runs the batch; `done` hears of every operation that finished, with its bytes.
///
/// The plan is put in running order where it lies and taken from there
/// (a million downloads are not copied into groups of their own).
pub async fn execute(ctx: &FolderCtx, ops: Vec<Op>, done: &(dyn Fn(u64) + Sync)) -> Report {
    let mut report = Report::default();
    let mut ops = ops;
    ops.sort_by_cached_key(run_order);
    let in_turn = ops.partition_point(|op| stage(op) < Stage::Transfers);
    let transfers = ops.partition_point(|op| stage(op) < Stage::Deletes) - in_turn;

    let mut note = |path: String, bytes: u64, r: Result<(), OpError>| match r {
        Ok(()) => {
            report.done += 1;
            done(bytes);
        }
        Err(e) => {
            tracing::warn!("{path}: {e}");
            report.failed.push((path, e));
        }
    };
    let mut failed_moves = Vec::new();
    for op in ops.drain(..in_turn) {
        let path = op.path().to_string();
        let from = op.from_path().map(str::to_string);
        let result = run(ctx, op).await;
        if let (Err(_), Some(from)) = (&result, from) {
            failed_moves.push((path.clone(), from));
        }
        note(path, 0, result);
    }
    let mut running = stream::iter(batch::jobs(ctx, ops.drain(..transfers)))
        .map(|job| batch::run_job(ctx, job))
        .buffer_unordered(ctx.parallel);
    while let Some(finished) = running.next().await {
        for (path, bytes, r) in finished {
            note(path, bytes, r);
        }
    }
    drop(running);
    for op in ops {
        let path = op.path().to_string();
        note(path, 0, run(ctx, op).await);
    }
    report.failed_moves = failed_moves;
    report
}

async fn run(ctx: &FolderCtx, op: Op) -> Result<(), OpError> {
    match op {
        Op::RecordSynced { path, entry } => ctx.record(None, vec![Change::Synced(&path, &entry)]),
        Op::ForgetSynced { path } => ctx.record(None, vec![Change::RemoveSynced(&path)]),
        Op::RemoteMkdir { path } => {
            let node = ctx.remote_dir(&path).await?;
            let stat = ctx.stat(&path)?.map(|(_, s)| s).unwrap_or_default();
            let synced = SyncedEntry {
                kind: Kind::Dir,
                node,
                rev: 1,
                hash: None,
                stat,
            };
            ctx.record(None, vec![Change::Synced(&path, &synced)])
        }
        Op::LocalMkdir { path, remote } => {
            ctx.local_dir(&path)?;
            let stat = ctx.stat(&path)?.map(|(_, s)| s).unwrap_or_default();
            let local = LocalEntry {
                kind: Kind::Dir,
                stat,
                hash: None,
            };
            let synced = SyncedEntry {
                kind: Kind::Dir,
                node: remote.node,
                rev: remote.rev,
                hash: None,
                stat,
            };
            ctx.record(
                None,
                vec![Change::Local(&path, &local), Change::Synced(&path, &synced)],
            )
        }
        Op::Upload { path, base } => upload(ctx, &path, base).await,
        Op::Download {
            path,
            remote,
            expect,
        } => download(ctx, &path, &remote, &expect).await,
        Op::RemoteMove { node, from, to } => {
            let parent_id = ctx.remote_dir(parent(&to)).await?;
            let moved = ctx
                .remote
                .move_node(node, parent_id, file_name(&to))
                .await?;
            ctx.record(
                Some(RecordedChange::MovedOnService {
                    from: from.clone(),
                    to: to.clone(),
                }),
                vec![
                    Change::Remote(&moved),
                    Change::RebaseSynced {
                        from: &from,
                        to: &to,
                    },
                ],
            )
        }
        Op::LocalMove { from, to } => {
            ctx.local_dir(parent(&to))?;
            ctx.fs.rename_new(&ctx.abs(&from), &ctx.abs(&to))?;
            ctx.record(
                Some(RecordedChange::MovedHere {
                    from: from.clone(),
                    to: to.clone(),
                }),
                vec![
                    Change::RebaseLocal {
                        from: &from,
                        to: &to,
                    },
                    Change::RebaseSynced {
                        from: &from,
                        to: &to,
                    },
                ],
            )
        }
        Op::KeepConflictCopy { path, copy } => {
            ctx.fs.rename_new(&ctx.abs(&path), &ctx.abs(&copy))?;
            ctx.record(
                Some(RecordedChange::ConflictKept {
                    path: path.clone(),
                    copy: copy.clone(),
                }),
                vec![
                    Change::RebaseLocal {
                        from: &path,
                        to: &copy,
                    },
                    Change::Conflict {
                        path: &path,
                        copy: &copy,
                        stamp: &ctx.stamp,
                    },
                ],
            )
        }
        Op::RemoteDelete {
            path,
            node,
            kind,
            base_rev,
        } => {
            let req = match kind {
                Kind::File => DeleteRequest {
                    base_rev: Some(base_rev),
                    unchanged_since: None,
                },
                Kind::Dir => DeleteRequest {
                    base_rev: None,
                    unchanged_since: Some(ctx.cursor),
                },
            };
            let gone = ctx.remote.delete(node, &req).await?;
            ctx.record(
                Some(RecordedChange::TrashedOnService { path: path.clone() }),
                vec![
                    Change::RemoveRemoteSubtree {
                        id: gone.id,
                        seq: gone.seq,
                    },
                    Change::RemoveSynced(&path),
                ],
            )
        }
        Op::LocalDelete { path, kind } => local_delete(ctx, &path, kind),
    }
}

fn unchanged(ctx: &FolderCtx, rel: &str) -> Result<bool, OpError> {
    let Some(seen) = ctx.local.get(rel) else {
        return Ok(false);
    };
    Ok(match ctx.stat(rel)? {
        Some((kind, now)) => kind == seen.kind && (kind == Kind::Dir || now == seen.stat),
        None => false,
    })
}

fn local_delete(ctx: &FolderCtx, rel: &str, kind: Kind) -> Result<(), OpError> {
    // Only what is exactly as planned goes: a file edited since, or a new
    // file inside a folder, keeps it all for the next round.
    if !unchanged(ctx, rel)? {
        return Err(OpError::Stale(Stale::Changed(rel.to_string())));
    }
    let ignored = match kind {
        Kind::Dir => folder_as_planned(ctx, rel)?,
        Kind::File => Vec::new(),
    };
    ctx.fs.trash(&ctx.abs(rel))?;
    let mut changes = vec![Change::RemoveLocal(rel), Change::RemoveSynced(rel)];
    // What the folder's ignore rules left out went with it: say so.
    for path in ignored {
        changes.push(Change::Recorded {
            change: RecordedChange::TrashedWithFolder { path },
            stamp: &ctx.stamp,
        });
    }
    ctx.record(
        Some(RecordedChange::TrashedHere {
            path: rel.to_string(),
        }),
        changes,
    )
}

/// Checks that the folder `rel` holds exactly what the plan saw, by a scan
/// under the folder's own rules (paths from the root, so a rule such as
/// `d/*.log` matches inside it as in a whole scan). Returns the files in it
/// that only the user's ignore rules kept out of the sync.
fn folder_as_planned(ctx: &FolderCtx, rel: &str) -> Result<Vec<String>, OpError> {
    let seen: Tree<LocalEntry> = inside(&ctx.local, rel)
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect();
    // i64::MAX as "now": trust every unchanged stat, hash only what changed.
    let input = ScanInput {
        rules: &ctx.rules,
        previous: &seen,
        now_ns: i64::MAX,
        temps: &ctx.temps,
        previous_mounts: None,
        on_read: None,
    };
    let now = scanner::scan_under(ctx.fs.as_ref(), &ctx.root, rel, &input);
    if let Some((path, _)) = now.blocked.iter().next() {
        return Err(OpError::Stale(Stale::UnseenInside {
            path: path.clone(),
            folder: rel.to_string(),
        }));
    }
    if now.tree.len() != seen.len() {
        return Err(OpError::Stale(Stale::NewContent(rel.to_string())));
    }
    for sub in now.tree.keys() {
        if !unchanged(ctx, sub)? {
            return Err(OpError::Stale(Stale::Changed(sub.clone())));
        }
    }
    let built_in_only = IgnoreRules::with_file(&ctx.root, &[], None);
    let all = ctx.fs.walk(&ctx.root, rel, &built_in_only);
    Ok(all
        .found
        .into_iter()
        .filter(|(p, kind, _)| *kind == Kind::File && !now.tree.contains_key(p))
        .map(|(p, _, _)| p)
        .collect())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, OpError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OpError::Io(Arc::new(io::Error::other(e))))?
        .map_err(OpError::from)
}

async fn upload(ctx: &FolderCtx, rel: &str, base: Option<(NodeId, i64)>) -> Result<(), OpError> {
    let abs = ctx.abs(rel);
    let before = match ctx.stat(rel)? {
        Some((Kind::File, s)) => s,
        _ => return Err(OpError::Stale(Stale::NotAFile(rel.to_string()))),
    };
    let fs = ctx.fs.clone();
    let path = abs.clone();
    let digest = blocking(move || fs.digest(&path)).await?;
    if ctx.stat(rel)?.map(|(_, s)| s) != Some(before) {
        return Err(OpError::Stale(Stale::ChangedWhileSent(rel.to_string())));
    }
    let hashes: Vec<String> = digest.chunks.iter().map(|c| c.hash.to_string()).collect();
    let mut missing = std::collections::HashSet::new();
    for part in hashes.chunks(1000) {
        missing.extend(hashes_of(ctx.remote.missing_chunks(part).await?));
    }
    for chunk in &digest.chunks {
        // Each missing chunk once, even when the file repeats it.
        if !missing.remove(&chunk.hash) {
            continue;
        }
        let (fs, path, off, len) = (ctx.fs.clone(), abs.clone(), chunk.offset, chunk.size);
        let data = blocking(move || fs.read_at(&path, off, len)).await?;
        if hash_bytes(&data) != chunk.hash {
            return Err(OpError::Stale(Stale::ChangedWhileSent(rel.to_string())));
        }
        ctx.limits.up.acquire(chunk.size).await;
        ctx.remote.put_chunk(&chunk.hash.to_string(), data).await?;
    }
    let parent_id = ctx.remote_dir(parent(rel)).await?;
    let req = commit_request(parent_id, rel, base, &digest, &before);
    let node = ctx.remote.commit(&req).await?;
    let (local, synced) = agreed(before, digest.hash, node.id, node.rev);
    ctx.record(
        Some(RecordedChange::Uploaded {
            path: rel.to_string(),
        }),
        vec![
            Change::Remote(&node),
            Change::Local(rel, &local),
            Change::Synced(rel, &synced),
        ],
    )
}

async fn download(
    ctx: &FolderCtx,
    rel: &str,
    remote: &RemoteEntry,
    expect: &Expect,
) -> Result<(), OpError> {
    let manifest = ctx.remote.manifest(remote.node).await?;
    ctx.local_dir(parent(rel))?;
    let dir = ctx.abs(parent(rel));
    let _room = ctx.reserve_room(&dir, rel, manifest.size)?;
    let mut temp = ctx.new_temp(&dir)?;
    let temp_path = temp.path().to_path_buf();
    let here = chunks_here(ctx, rel, expect).await;
    let result: Result<ContentHash, OpError> = async {
        let mut whole = blake3::Hasher::new();
        for chunk in &manifest.chunks {
            let data = match copy_chunk(ctx, rel, &here, chunk).await {
                Some(data) => data,
                None => {
                    ctx.limits.down.acquire(chunk.size).await;
                    let data = ctx.remote.get_chunk(&chunk.hash).await?;
                    if !is_hash_of(&chunk.hash, &data) {
                        return Err(OpError::Refused(Refusal::DamagedChunk(rel.to_string())));
                    }
                    data
                }
            };
            whole.update(&data);
            temp.write_all(&data)?;
        }
        let hash = ContentHash::from(whole.finalize());
        if manifest.hash.parse() != Ok(hash) {
            return Err(OpError::Refused(Refusal::HashMismatch(rel.to_string())));
        }
        as_the_writer_had_it(temp.as_mut(), remote)?;
        temp.finish()?;
        place(ctx, rel, &temp_path, expect)?;
        Ok(hash)
    }
    .await;
    let hash = match result {
        Ok(hash) => hash,
        Err(e) => {
            let _ = ctx.fs.remove_file(&temp_path);
            return Err(e);
        }
    };
    let stat = ctx.stat(rel)?.map(|(_, s)| s).unwrap_or_default();
    let (local, synced) = agreed(stat, hash, remote.node, manifest.rev);
    ctx.record(
        Some(RecordedChange::Downloaded {
            path: rel.to_string(),
        }),
        vec![Change::Local(rel, &local), Change::Synced(rel, &synced)],
    )
}

/// A downloaded file gets its writer's exec bit and modification time (0:
/// the writer did not say; times before 1970 are negative).
fn as_the_writer_had_it(temp: &mut dyn TempSink, remote: &RemoteEntry) -> io::Result<()> {
    if remote.exec {
        temp.set_executable(true)?;
    }
    if remote.mtime_ms != 0 {
        temp.set_modified(remote.mtime_ms)?;
    }
    Ok(())
}

/// The commit of `rel`'s content as read (`digest`, with the file's `stat`).
fn commit_request(
    parent_id: NodeId,
    rel: &str,
    base: Option<(NodeId, i64)>,
    digest: &Digest,
    stat: &FileStat,
) -> CommitRequest {
    CommitRequest {
        parent: parent_id,
        name: file_name(rel).to_string(),
        node: base.map(|b| b.0),
        base_rev: base.map(|b| b.1),
        size: digest.size,
        hash: digest.hash.to_string(),
        chunks: digest
            .chunks
            .iter()
            .map(|c| ChunkRef {
                hash: c.hash.to_string(),
                size: c.size,
            })
            .collect(),
        mtime_ms: stat.mtime_ns.div_euclid(1_000_000),
        exec: stat.exec,
    }
}

/// What the state database holds for a file both sides now agree on.
fn agreed(stat: FileStat, hash: ContentHash, node: NodeId, rev: i64) -> (LocalEntry, SyncedEntry) {
    let local = LocalEntry {
        kind: Kind::File,
        stat,
        hash: Some(hash),
    };
    let synced = SyncedEntry {
        kind: Kind::File,
        node,
        rev,
        hash: Some(hash),
        stat,
    };
    (local, synced)
}

/// Hashes the service named, as values; one that is not a hash names
/// nothing this client asked for, so it is left out.
fn hashes_of(names: Vec<String>) -> impl Iterator<Item = ContentHash> {
    names.into_iter().filter_map(|n| n.parse().ok())
}

/// Whether `data` is what the service's `name` (hex) says it is.
fn is_hash_of(name: &str, data: &[u8]) -> bool {
    name.parse() == Ok(hash_bytes(data))
}

/// The chunks of the file now at `rel`, by hash, when a version of it is
/// here and larger than one chunk: a download copies those instead of
/// fetching them, so an edit in the middle of a large file moves only the
/// chunks around the edit (the cut follows content, so the rest match).
async fn chunks_here(
    ctx: &FolderCtx,
    rel: &str,
    expect: &Expect,
) -> HashMap<ContentHash, (u64, u64)> {
    let Expect::Present(stat) = expect else {
        return HashMap::new();
    };
    if stat.size <= u64::from(crate::content::MIN_CHUNK) {
        return HashMap::new();
    }
    let (fs, path) = (ctx.fs.clone(), ctx.abs(rel));
    match blocking(move || fs.digest(&path)).await {
        Ok(d) => d
            .chunks
            .into_iter()
            .map(|c| (c.hash, (c.offset, c.size)))
            .collect(),
        // Unreadable: everything is fetched, as for a new file.
        Err(_) => HashMap::new(),
    }
}

/// One chunk read from the file here, if it holds it still.
async fn copy_chunk(
    ctx: &FolderCtx,
    rel: &str,
    here: &HashMap<ContentHash, (u64, u64)>,
    chunk: &ChunkRef,
) -> Option<Vec<u8>> {
    let want: ContentHash = chunk.hash.parse().ok()?;
    let &(offset, size) = here.get(&want)?;
    if size != chunk.size {
        return None;
    }
    let (fs, path) = (ctx.fs.clone(), ctx.abs(rel));
    let data = blocking(move || fs.read_at(&path, offset, size))
        .await
        .ok()?;
    // Changed since it was cut: fetch it instead.
    (hash_bytes(&data) == want).then_some(data)
}

/// Moves a finished (durable) temp file onto `rel`, only if `rel` is still
/// as planned.
fn place(ctx: &FolderCtx, rel: &str, temp_path: &Path, expect: &Expect) -> Result<(), OpError> {
    match ctx.fs.place(temp_path, &ctx.abs(rel), expect) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(OpError::Stale(
            Stale::ChangedWhileDownloaded(rel.to_string()),
        )),
        Err(e) => Err(e.into()),
    }
}
