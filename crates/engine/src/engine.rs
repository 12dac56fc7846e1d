//! The sync loop: the I/O around the pure planner. One `Engine` per home.
//!
//! A round: read the change feed into the remote tree, scan each folder into
//! its local tree, plan, execute. Rounds repeat until the planner returns
//! nothing (in sync) or something needs the user (paused).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use nubo_protocol::{ErrorCode, NodeId, PendingAgreement};

use crate::clock::{Clock, SystemClock};
use crate::credentials;
use crate::db::{FolderId, StateDb};
use crate::executor::{self, FolderCtx, OpError};
use crate::failing::Failing;
use crate::fs::{LocalFs, RealFs};
use crate::home::{Config, FolderConfig, Home, ROOT_MARKER};
use crate::ignore_rules::IgnoreRules;
use crate::planner::{self, MassDelete, PlanOptions};
use crate::problem::Problem;
use crate::remote::{HttpRemote, Remote, RemoteError, SharedTokens};
use crate::remote_tree;
use crate::scanner;
use crate::scanner::ScanInput;
use crate::temp_names::TempNames;
use crate::tree::{Blocked, Kind};

/// Why syncing stopped and waits for the user.
#[derive(Debug, Clone)]
pub enum Pause {
    MassDelete {
        folder: String,
        info: MassDelete,
    },
    AgreementsRequired {
        message: String,
        pending: Vec<PendingAgreement>,
    },
    StorageFull {
        message: String,
    },
    /// The disk holding a synced folder has too little room for what waits
    /// to be downloaded; everything else synced.
    DiskFull {
        message: String,
    },
    FolderUnavailable {
        message: String,
    },
    /// The account is frozen (sign in to reactivate) or was deleted on the
    /// service; every local file stays.
    Account {
        message: String,
        deleted: bool,
    },
    /// A new folder on the service is larger than the threshold.
    LargeFolder {
        remote_path: String,
        bytes: u64,
    },
    /// A subfolder that was another disk's mount point is empty now: the
    /// disk went away (or an empty one was mounted over it). Nothing in it
    /// is read as deleted; the rest of the folder syncs.
    MountGone {
        folder: String,
        path: String,
    },
}

impl Pause {
    /// What kind of decision it waits for, for a front end's buttons.
    pub fn kind(&self) -> &'static str {
        match self {
            Pause::MassDelete { .. } => "mass_delete",
            Pause::AgreementsRequired { .. } => "agreements",
            Pause::StorageFull { .. } => "storage_full",
            Pause::DiskFull { .. } => "disk_full",
            Pause::FolderUnavailable { .. } => "folder_unavailable",
            Pause::Account { deleted: false, .. } => "account_frozen",
            Pause::Account { deleted: true, .. } => "account_deleted",
            Pause::LargeFolder { .. } => "large_folder",
            Pause::MountGone { .. } => "mount_gone",
        }
    }

    /// One sentence: what happened and what to do.
    pub fn message(&self) -> String {
        match self {
            Pause::MassDelete { folder, info } => format!(
                "paused: syncing {folder} would delete {} files here and {} on the service (of {}); \
                 if that is intended run `nubo sync --allow-mass-delete`, otherwise restore the missing files",
                info.local_files, info.remote_files, info.synced_files
            ),
            Pause::AgreementsRequired { message, .. } => {
                format!("paused: {message}; read them with `nubo agreements` and accept with `nubo agreements --accept`")
            }
            Pause::StorageFull { message } => format!("paused uploads: {message}"),
            Pause::DiskFull { message } => format!("paused downloads: {message}"),
            Pause::FolderUnavailable { message } => format!("paused: {message}"),
            Pause::Account {
                message,
                deleted: false,
            } => format!("stopped: {message}. Reactivate it with `nubo login`"),
            Pause::Account {
                message,
                deleted: true,
            } => format!("stopped: {message}; nothing here was deleted"),
            Pause::MountGone { folder, path } => format!(
                "paused: {path} in {folder} was another disk's mount point and its disk is gone; nothing in it \
                 was changed here or on the service. Mount the disk again, or, if \
                 the change is meant, run `nubo folder forget-mount {folder}/{path}`"
            ),
            Pause::LargeFolder { remote_path, bytes } => format!(
                "waiting: the new folder {remote_path} on the service holds {:.1} GB; download it with \
                 `nubo folder include {remote_path}` or keep it off this computer with `nubo folder exclude {remote_path}`",
                *bytes as f64 / 1e9
            ),
        }
    }
}

/// What the loop tells an observer (the desktop app's tray and status window).
#[derive(Debug, Clone)]
pub enum SyncEvent {
    /// A round planned this many operations, moving this many bytes.
    Working { ops: usize, bytes: u64 },
    /// Of the round's batch, this much is done.
    Progress { ops_done: usize, bytes_done: u64 },
    /// A pass ended: in sync, paused (with what to do) or failed.
    Settled {
        state: String,
        paused: bool,
        failed: bool,
    },
}

pub type Observer = Arc<dyn Fn(SyncEvent) + Send + Sync>;

#[derive(Debug, Clone)]
pub enum Outcome {
    InSync,
    Paused(Vec<Pause>),
}

pub struct Engine {
    pub home: Home,
    pub config: Config,
    pub db: Arc<StateDb>,
    remote: Arc<dyn Remote>,
    http: Option<Arc<HttpRemote>>,
    fs: Arc<dyn LocalFs>,
    clock: Arc<dyn Clock>,
    host: String,
    observer: Option<Observer>,
    limits: Arc<crate::throttle::Limits>,
    temps: TempNames,
    /// Operations held back after failing, kept across passes.
    failing: std::sync::Mutex<Failing>,
    /// How often each path was planned in the pass under way.
    planned_this_pass: std::sync::Mutex<std::collections::HashMap<(FolderId, String), usize>>,
}

const MAX_ROUNDS: usize = 10_000;
/// A path planned more often than this in one pass is held back (see
/// `Engine::drop_endless`); a pass that moves, renames aside and then
/// transfers plans a path three or four times.
const MAX_PLANS_PER_PASS: usize = 8;

const REWOUND_NOTICE: &str = "the service went back in time (it was restored from an older copy); \
     Nubo compared this computer with it again: nothing was deleted, what the service lacked was \
     sent to it again, and where the two differed both were kept (see the conflicts)";

pub fn host_name() -> String {
    std::env::var("NUBO_DEVICE_NAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this computer".to_string())
}

impl Engine {
    /// Opens a signed-in home against the real world.
    pub fn open(home: Home) -> anyhow::Result<Self> {
        let config = home.load_config()?;
        let server = config
            .server
            .clone()
            .context("not signed in: run `nubo login` first")?;
        let tokens = credentials::load(&home, &config)?;
        let save_home = home.clone();
        let save_config = config.clone();
        let (load_home, load_config) = (home.clone(), config.clone());
        let shared = SharedTokens {
            lock: home.refresh_lock_path(),
            load: Arc::new(move || credentials::load(&load_home, &load_config).ok()),
        };
        let http = Arc::new(
            HttpRemote::new(
                &server,
                tokens,
                Arc::new(move |t| {
                    if let Err(e) = credentials::save(&save_home, &save_config, t) {
                        tracing::error!("could not keep the refreshed sign-in: {e:#}");
                    }
                }),
            )
            .shared_with(shared),
        );
        let fs = Arc::new(RealFs {
            fallback_trash: home.trash_dir(),
        });
        let mut engine = Self::with_parts(home, config, http.clone(), fs, Arc::new(SystemClock))?;
        engine.http = Some(http);
        Ok(engine)
    }

    /// Assembles an engine from its parts: how tests and the simulator drive it.
    pub fn with_parts(
        home: Home,
        config: Config,
        remote: Arc<dyn Remote>,
        fs: Arc<dyn LocalFs>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let (db, set_aside) = StateDb::open(&home.db_path())?;
        if let Some(p) = set_aside {
            let msg = format!(
                "the state database was damaged and was rebuilt (the old one is kept as {}); \
                 nothing is deleted while it is rebuilt, and any differences become conflict copies",
                p.display()
            );
            db.set_meta("notice", Some(&msg))?;
        }
        let temps = TempNames::new(db.temp_key()?);
        let limits = Arc::new(crate::throttle::Limits {
            up: crate::throttle::RateLimit::new(config.upload_limit_kbps),
            down: crate::throttle::RateLimit::new(config.download_limit_kbps),
        });
        Ok(Engine {
            home,
            config,
            db: Arc::new(db),
            remote,
            http: None,
            fs,
            clock,
            host: host_name(),
            observer: None,
            limits,
            temps,
            failing: Default::default(),
            planned_this_pass: Default::default(),
        })
    }

    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    fn tell(&self, event: SyncEvent) {
        if let Some(o) = &self.observer {
            o(event);
        }
    }

    pub fn remote(&self) -> &Arc<dyn Remote> {
        &self.remote
    }

    fn stamp(&self) -> String {
        let fmt = time::macros::format_description!("[year]-[month]-[day] [hour][minute][second]");
        let now = self.clock.now().format(fmt).unwrap_or_default();
        format!("from {} {now}", self.host)
    }

    /// Reads the change feed to its end into the remote tree. A service
    /// that went back in time is noticed here, before anything is planned:
    /// what this home knew of it is forgotten and the feed read from 0.
    pub async fn pull(&self) -> Result<(), RemoteError> {
        match self.pull_feed().await {
            Err(RemoteError::Api(e)) if e.code == ErrorCode::HistoryRewound => {
                tracing::warn!("{}", e.message);
                self.db
                    .forget_the_service()
                    .and_then(|()| self.db.set_meta("notice", Some(REWOUND_NOTICE)))
                    .map_err(|e| RemoteError::Network(format!("cannot reset the state: {e:#}")))?;
                self.failing().clear();
                self.pull_feed().await
            }
            other => other,
        }
    }

    async fn pull_feed(&self) -> Result<(), RemoteError> {
        loop {
            let cursor = self.db.cursor().unwrap_or(0);
            let known = self.db.known_seq().unwrap_or(0);
            let page = self.remote.changes(cursor, known).await?;
            self.db
                .apply_changes(&page.nodes, page.cursor)
                .map_err(|e| RemoteError::Network(format!("cannot record changes: {e:#}")))?;
            if !page.has_more {
                return Ok(());
            }
        }
    }

    /// The remote folder's node id, creating the path on the service if needed.
    async fn remote_root(&self, folder: &FolderConfig) -> Result<NodeId, RemoteError> {
        let account = self.remote.account().await?;
        // Storage use rides along with the call every pass makes anyway.
        let _ = self.db.set_meta(
            "quota",
            Some(&format!("{} {}", account.used_bytes, account.quota_bytes)),
        );
        let mut id = account.root_id;
        for name in folder.remote.split('/').filter(|s| !s.is_empty()) {
            id = self.remote.mkdir(id, name).await?.id;
        }
        Ok(id)
    }

    /// The folder's ignore rules, its `.nuboignore` read through the file system.
    fn ignore_rules(&self, folder: &FolderConfig) -> IgnoreRules {
        IgnoreRules::read(self.fs.as_ref(), &folder.local, &folder.excluded)
    }

    /// Rule: a root without its marker (unmounted, emptied, replaced) stops.
    fn check_root(&self, folder: &FolderConfig) -> Result<(), String> {
        let root = &folder.local;
        if !matches!(self.fs.stat(root), Ok(Some((Kind::Dir, _)))) {
            return Err(format!("{} is missing or not mounted; nothing was changed. Reconnect the drive or remove the folder with `nubo folder remove`", root.display()));
        }
        match self.fs.read_small(&root.join(ROOT_MARKER)) {
            Ok(m) if String::from_utf8_lossy(&m).trim() == folder.marker => Ok(()),
            Ok(_) => Err(format!("{} belongs to another Nubo folder (its {ROOT_MARKER} differs); nothing was changed", root.display())),
            Err(_) => Err(format!(
                "{} lost its {ROOT_MARKER} marker, so it may be an empty mount point; nothing was changed. \
                 If the folder is right, add it again with `nubo folder add`",
                root.display()
            )),
        }
    }

    /// One pass of the loop for every folder, until in sync or paused.
    pub async fn sync_once(&self, allow_mass_delete: bool) -> anyhow::Result<Outcome> {
        self.planned_this_pass
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let result = self.sync_rounds(allow_mass_delete).await;
        let state = match &result {
            Ok(Outcome::InSync) => "up to date".to_string(),
            Ok(Outcome::Paused(p)) => p.iter().map(Pause::message).collect::<Vec<_>>().join("; "),
            Err(e) => format!("error: {e:#}"),
        };
        self.tell(SyncEvent::Settled {
            state: state.clone(),
            paused: matches!(result, Ok(Outcome::Paused(_))),
            failed: result.is_err(),
        });
        // Large new folders waiting for a yes or no, for the app's buttons.
        let waiting: Vec<(String, u64)> = match &result {
            Ok(Outcome::Paused(p)) => p
                .iter()
                .filter_map(|p| match p {
                    Pause::LargeFolder { remote_path, bytes } => {
                        Some((remote_path.clone(), *bytes))
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let kinds: Vec<&str> = match &result {
            Ok(Outcome::Paused(p)) => p.iter().map(Pause::kind).collect(),
            _ => Vec::new(),
        };
        let _ = self.db.set_meta(
            "pauses",
            Some(&serde_json::to_string(&kinds).unwrap_or_default()),
        );
        let _ = self.db.set_meta(
            "waiting_folders",
            Some(&serde_json::to_string(&waiting).unwrap_or_default()),
        );
        let _ = self.db.set_meta("state", Some(&state));
        let _ = self.db.set_meta("state_at", Some(&self.stamp()));
        match &result {
            Err(e) => {
                let _ = self.db.set_meta("last_error", Some(&format!("{e:#}")));
            }
            Ok(Outcome::InSync) => {
                let _ = self.db.set_meta("last_error", None);
            }
            Ok(_) => {}
        }
        result
    }

    async fn sync_rounds(&self, allow_mass_delete: bool) -> anyhow::Result<Outcome> {
        if self.config.folders.is_empty() {
            bail!("no folder to sync: add one with `nubo folder add PATH`");
        }
        let (roots, mut pauses) = match self.folder_roots().await {
            Ok(r) => r,
            Err(e) => return self.remote_failure(e),
        };
        for _round in 0..MAX_ROUNDS {
            if let Err(e) = self.pull().await {
                return self.remote_failure(e);
            }
            let mut round = RoundTotals::default();
            for (folder, remote_root) in &roots {
                let f = self
                    .folder_round(folder, *remote_root, allow_mass_delete)
                    .await?;
                if let Some(e) = round.add(folder, f, self)? {
                    return self.remote_failure(e);
                }
            }
            pauses.extend(std::mem::take(&mut round.pauses));
            // What is held back, as of the end of this round (what failed
            // in it included).
            round.problems.extend(self.held_problems(&roots));
            let _ = self.db.set_meta(
                "problems",
                Some(&serde_json::to_string(&round.problems).unwrap_or_default()),
            );
            if round.planned == 0 || (!pauses.is_empty() && round.done == 0) {
                // A pause seen in several rounds is said once.
                let mut seen = std::collections::HashSet::new();
                pauses.retain(|p| seen.insert(p.message()));
                return Ok(if pauses.is_empty() {
                    Outcome::InSync
                } else {
                    Outcome::Paused(pauses)
                });
            }
            if round.done == 0 && round.only_waiting_for_room() {
                pauses.extend(self.room_pauses(&round));
                return Ok(Outcome::Paused(pauses));
            }
            // Otherwise what failed is tried again next round, and held
            // back after its second failure (`Failing`): the rest goes on.
        }
        bail!(
            "sync did not settle after {MAX_ROUNDS} rounds; see the log in {}",
            self.home.logs_dir().display()
        )
    }

    /// Each folder to sync with its node on the service; folders whose root
    /// is unavailable are paused instead.
    async fn folder_roots(
        &self,
    ) -> Result<(Vec<(&FolderConfig, NodeId)>, Vec<Pause>), RemoteError> {
        let mut roots = Vec::new();
        let mut pauses = Vec::new();
        for folder in self.config.folders.iter().filter(|f| !f.paused) {
            if let Err(message) = self.check_root(folder) {
                pauses.push(Pause::FolderUnavailable { message });
                continue;
            }
            let id = self.remote_root(folder).await?;
            // Kept so the folder's remote tree can be listed offline
            // (the selective-sync chooser).
            self.db
                .set_meta(&format!("remote_root:{}", folder.id), Some(&id.to_string()))
                .map_err(|e| RemoteError::Network(format!("cannot record the folder: {e:#}")))?;
            roots.push((folder, id));
        }
        Ok((roots, pauses))
    }

    /// One folder's part of a round: its trees, the plan, and the run.
    async fn folder_round(
        &self,
        folder: &FolderConfig,
        remote_root: NodeId,
        allow_mass_delete: bool,
    ) -> anyhow::Result<FolderRound> {
        let FolderTrees {
            trees,
            rules,
            pauses,
            problems,
        } = self.folder_trees(folder, remote_root)?;
        let mut out = FolderRound {
            pauses,
            problems,
            ..FolderRound::default()
        };
        let opts = PlanOptions {
            mode: folder.mode,
            conflict_stamp: self.stamp(),
            guard: self.config.guard(),
            allow_mass_delete,
            ..Default::default()
        };
        let mut plan = planner::plan(&trees, &opts);
        let now = self.clock.now().unix_timestamp();
        let planned_paths: std::collections::HashSet<&str> = plan
            .ops
            .iter()
            .flat_map(|op| std::iter::once(op.path()).chain(op.from_path()))
            .collect();
        self.failing().settle(folder.id, &planned_paths, now);
        plan.ops = self.drop_endless(folder.id, plan.ops, now);
        if let Some(info) = plan.mass_delete {
            out.pauses.push(Pause::MassDelete {
                folder: folder.local.display().to_string(),
                info,
            });
            return Ok(out);
        }
        if plan.ops.is_empty() {
            return Ok(out);
        }
        out.planned = plan.ops.len();
        tracing::debug!(folder = folder.id, "plan: {:?}", plan.ops);
        let crate::tree::Trees { local, remote, .. } = trees;
        let ctx = FolderCtx::new(
            folder.id,
            folder.local.clone(),
            remote_root,
            self.db.clone(),
            self.remote.clone(),
            self.fs.clone(),
            local,
            remote,
            self.db.cursor()?,
            self.stamp(),
        )
        .with_limits(self.limits.clone())
        .with_parallel_transfers(self.config.parallel_transfers)
        .with_keep_free(self.config.keep_free_mb * 1_000_000)
        .with_rules(rules)
        .with_temps(self.temps.clone());
        let report = self.run_plan(&ctx, plan.ops).await;
        out.done = report.done;
        out.failed_moves = report.failed_moves;
        out.failed = report.failed;
        Ok(out)
    }

    /// An operation planned again and again in one pass, though it went
    /// through each time, does not take on this disk (the disk keeps
    /// something else than what was done): it is held back as failing, so
    /// that the pass ends and says so, instead of running for ever.
    fn drop_endless(&self, folder: FolderId, ops: Vec<planner::Op>, now: i64) -> Vec<planner::Op> {
        let mut planned = self
            .planned_this_pass
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        ops.into_iter()
            .filter(|op| {
                let n = planned.entry((folder, op.path().to_string())).or_insert(0);
                *n += 1;
                if *n <= MAX_PLANS_PER_PASS {
                    return true;
                }
                let why = "what was done here did not take: it is planned again and again";
                self.failing().hold(folder, op.path(), why.into(), now);
                false
            })
            .collect()
    }

    /// Runs a batch, telling the observer how far it got.
    async fn run_plan(&self, ctx: &FolderCtx, ops: Vec<planner::Op>) -> executor::Report {
        let bytes: u64 = ops.iter().map(|op| executor::bytes_of(ctx, op)).sum();
        self.tell(SyncEvent::Working {
            ops: ops.len(),
            bytes,
        });
        let (ops_done, bytes_done) = (AtomicUsize::new(0), AtomicU64::new(0));
        let on_done = |b: u64| {
            let ops_done = ops_done.fetch_add(1, Ordering::Relaxed) + 1;
            let bytes_done = bytes_done.fetch_add(b, Ordering::Relaxed) + b;
            self.tell(SyncEvent::Progress {
                ops_done,
                bytes_done,
            });
        };
        executor::execute(ctx, ops, &on_done).await
    }

    /// The three trees of one folder as the planner needs them, with what
    /// is left alone this round and why.
    fn folder_trees(
        &self,
        folder: &FolderConfig,
        remote_root: NodeId,
    ) -> anyhow::Result<FolderTrees> {
        let rules = self.ignore_rules(folder);
        let mut pauses = Vec::new();
        let mut problems: Vec<String> = Vec::new();
        let scan = self.scan_folder(folder, &rules)?;
        let rows = self.db.remote_rows()?;
        let remote = remote_tree::build(&rows, remote_root, &rules);
        drop(rows);
        for refused in &remote.refused {
            tracing::warn!("{refused}");
        }
        problems.extend(remote.refused.iter().cloned());
        problems.extend(scan.skipped.iter().cloned());
        problems.extend(rules.warning.iter().cloned());
        let mut synced = self.db.load_synced(folder.id)?;
        let mut ignored = rules.cached();
        synced.retain(|p, s| !ignored.is_ignored(p, s.kind == Kind::Dir));
        let mut trees = crate::tree::Trees {
            local: scan.tree,
            remote: remote.tree,
            synced,
            blocked: scan.blocked,
            remote_unseen: remote.unseen,
            held_nodes: Default::default(),
        };
        for (path, why) in &trees.blocked {
            match why {
                Blocked::MountChanged => pauses.push(Pause::MountGone {
                    folder: folder.local.display().to_string(),
                    path: path.clone(),
                }),
                // A link of the user's own (a virtual environment's, say)
                // is news only where the service has something it keeps
                // from this computer.
                Blocked::InTheWay { .. } if !trees.synced_or_remote_at(path) => {}
                _ => problems.push(
                    Problem::Blocked {
                        path: path.clone(),
                        why: why.clone(),
                    }
                    .to_string(),
                ),
            }
        }
        pauses.extend(self.hold_back_large_folders(&mut trees, folder));
        let now = self.clock.now().unix_timestamp();
        for held in self.failing().held(folder.id, now) {
            trees.blocked.entry(held.path).or_insert(Blocked::Failing);
        }
        Ok(FolderTrees {
            trees,
            rules,
            pauses,
            problems,
        })
    }

    /// Scans the folder into its local tree and stores it; removes this
    /// home's temp files of downloads that never finished.
    fn scan_folder(
        &self,
        folder: &FolderConfig,
        rules: &IgnoreRules,
    ) -> anyhow::Result<scanner::Scan> {
        let previous = self.db.load_local(folder.id)?;
        let previous_mounts = self.db.mounts(folder.id)?;
        let input = ScanInput {
            rules,
            previous: &previous,
            now_ns: self.clock.now().unix_timestamp_nanos() as i64,
            temps: &self.temps,
            previous_mounts: previous_mounts.as_ref(),
        };
        let scan = scanner::scan(self.fs.as_ref(), &folder.local, &input);
        self.db.store_local(folder.id, &previous, &scan.tree)?;
        if let Some(mounts) = &scan.mounts {
            self.db.set_mounts(folder.id, mounts)?;
        }
        // No download runs between rounds: any temp file of ours is a leftover.
        for leftover in &scan.leftovers {
            if let Err(e) = self.fs.remove_file(leftover) {
                tracing::warn!(
                    "cannot remove the unfinished download {}: {e}",
                    leftover.display()
                );
            }
        }
        Ok(scan)
    }

    /// New folders on the service too large to download unasked wait for
    /// the user: their content is unseen this round, and what this computer
    /// had synced that moved into them stays where it is here.
    fn hold_back_large_folders(
        &self,
        trees: &mut crate::tree::Trees,
        folder: &FolderConfig,
    ) -> Vec<Pause> {
        let mut pauses = Vec::new();
        let large = large_new_folders(
            &trees.remote,
            &trees.synced,
            &trees.local,
            folder,
            self.config.large_folder_bytes,
        );
        if large.is_empty() {
            return pauses;
        }
        let known: std::collections::HashSet<NodeId> =
            trees.synced.values().map(|s| s.node).collect();
        for (path, bytes) in large {
            let inside: Vec<String> = crate::tree::inside(&trees.remote, &path)
                .map(|(p, _)| p.clone())
                .collect();
            for p in inside.iter().chain(std::iter::once(&path)) {
                if let Some(r) = trees.remote.remove(p) {
                    if known.contains(&r.node) {
                        trees.held_nodes.insert(r.node);
                    }
                }
            }
            trees.remote_unseen.insert(path.clone());
            let base = folder.remote.trim_end_matches('/');
            pauses.push(Pause::LargeFolder {
                remote_path: format!("{base}/{path}"),
                bytes,
            });
        }
        pauses
    }

    /// Every path held back after failing, as the user is told of it.
    fn held_problems(&self, roots: &[(&FolderConfig, NodeId)]) -> Vec<String> {
        let now = self.clock.now().unix_timestamp();
        let failing = self.failing();
        roots
            .iter()
            .flat_map(|(f, _)| failing.held(f.id, now))
            .map(|held| {
                Problem::Failing {
                    path: held.path,
                    error: held.error,
                    retry_at: held.retry_at,
                }
                .to_string()
            })
            .collect()
    }

    /// How many paths wait to be tried again after failing.
    pub fn held_back(&self) -> usize {
        let now = self.clock.now().unix_timestamp();
        self.config
            .folders
            .iter()
            .map(|f| self.failing().held(f.id, now).len())
            .sum()
    }

    fn failing(&self) -> std::sync::MutexGuard<'_, Failing> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pauses of a round in which only uploads over the quota, uploads
    /// the service had no room for, and downloads this disk has no room
    /// for failed.
    fn room_pauses(&self, round: &RoundTotals) -> Vec<Pause> {
        let mut pauses = Vec::new();
        // Usage as of this pass, so the user sees how full it is.
        let usage = self
            .db
            .meta("quota")
            .ok()
            .flatten()
            .and_then(|q| {
                let (used, quota) = q.split_once(' ')?;
                Some(format!(
                    " ({} of {} used)",
                    executor::mb(used.parse().ok()?),
                    executor::mb(quota.parse().ok()?)
                ))
            })
            .unwrap_or_default();
        if round.quota_failures > 0 {
            pauses.push(Pause::StorageFull {
                message: format!("storage on the service is full{usage}; {} files wait to be uploaded, everything else synced. Free some space or upgrade the plan; uploads resume by themselves", round.quota_failures),
            });
        }
        if round.service_full > 0 {
            pauses.push(Pause::StorageFull {
                message: format!("the service's disk is full (not your storage plan; its operator has to free space); {} changes wait to be uploaded, everything else synced. They go up by themselves once it has room", round.service_full),
            });
        }
        if let Some(first) = round.disk_full.first() {
            pauses.push(Pause::DiskFull {
                message: format!(
                    "this computer's disk is too full: {} files wait to be downloaded ({first}), everything else synced. \
                     Free some space (Nubo leaves {} MB free for your other programs); downloads resume by themselves",
                    round.disk_full.len(),
                    self.config.keep_free_mb
                ),
            });
        }
        pauses
    }

    fn remote_failure(&self, e: RemoteError) -> anyhow::Result<Outcome> {
        match e {
            RemoteError::Api(api) if api.code == ErrorCode::AgreementsRequired => {
                Ok(Outcome::Paused(vec![Pause::AgreementsRequired {
                    message: api.message,
                    pending: api.pending,
                }]))
            }
            RemoteError::Api(api)
                if matches!(
                    api.code,
                    ErrorCode::AccountFrozen | ErrorCode::AccountDeleted
                ) =>
            {
                // Nothing is planned, so nothing local can be deleted: the
                // service's empty answer never reaches the planner.
                Ok(Outcome::Paused(vec![Pause::Account {
                    message: api.message,
                    deleted: api.code == ErrorCode::AccountDeleted,
                }]))
            }
            RemoteError::Api(api) if api.code == ErrorCode::Unauthorized => {
                bail!(
                    "signed out by the service ({}); sign in again with `nubo login`",
                    api.message
                )
            }
            other => Err(other.into()),
        }
    }

    /// Syncs, then keeps syncing on every local change (watcher), every push
    /// from the service, and every poll interval, until `stop` resolves.
    pub async fn watch(
        &self,
        allow_mass_delete: bool,
        push: bool,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<&'static str>(64);
        let watchers = crate::watch::watch_folders(&self.config.folders, wake_tx.clone())?;
        let push_up = Arc::new(AtomicBool::new(false));
        if push {
            if let Some(http) = self.http.clone() {
                let tx = wake_tx.clone();
                tokio::spawn(crate::watch::follow_push(http, tx, push_up.clone()));
            }
        }
        let poll = Duration::from_secs(self.config.poll_interval_secs.max(1));
        tokio::pin!(stop);
        let mut backoff = Duration::from_secs(1);
        loop {
            // Folders without a watch are seen by scanning now and then.
            let unwatched = watchers.unwatched();
            let _ = self.db.set_meta(
                "unwatched",
                (unwatched > 0).then(|| unwatched.to_string()).as_deref(),
            );
            let wait = match self.sync_once(allow_mass_delete).await {
                // In sync with the push channel open: the watcher and the
                // channel say when to look again, and no timer runs (an idle
                // laptop stays asleep).
                Ok(Outcome::InSync) if push_up.load(Ordering::SeqCst) && unwatched == 0 => {
                    backoff = Duration::from_secs(1);
                    None
                }
                Ok(Outcome::InSync) => {
                    backoff = Duration::from_secs(1);
                    Some(poll)
                }
                Ok(Outcome::Paused(p)) => {
                    for pause in p {
                        tracing::warn!("{}", pause.message());
                        eprintln!("{}", pause.message());
                    }
                    // A disk with room again or a plan with space sends no
                    // event: pauses keep polling.
                    Some(poll)
                }
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("{e:#}");
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    Some(backoff)
                }
            };
            // An operation held back after failing is tried again on time.
            let now = self.clock.now().unix_timestamp();
            let retry = self
                .failing()
                .next_retry(now)
                .map(|at| Duration::from_secs((at - now).max(1) as u64));
            let wait = match (wait, retry) {
                (Some(w), Some(r)) => Some(w.min(r)),
                (w, r) => w.or(r),
            };
            let timer = async {
                match wait {
                    Some(w) => tokio::time::sleep(w).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = timer => {}
                Some(why) = wake_rx.recv() => {
                    tracing::debug!("woken: {why}");
                    // Coalesce a burst of file events (an editor's save is
                    // several) into one round; a push is one event.
                    if why != "push" {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    while wake_rx.try_recv().is_ok() {}
                }
            }
        }
    }
}

/// One folder's trees for the planner, the rules they were read with, and
/// what the reading found for the user.
struct FolderTrees {
    trees: crate::tree::Trees,
    rules: IgnoreRules,
    pauses: Vec<Pause>,
    problems: Vec<String>,
}

/// What one folder's part of a round did.
#[derive(Default)]
struct FolderRound {
    planned: usize,
    done: usize,
    pauses: Vec<Pause>,
    problems: Vec<String>,
    failed: Vec<(String, OpError)>,
    /// (destination, start) of failed moves.
    failed_moves: Vec<(String, String)>,
}

/// A round over every folder, added up.
#[derive(Default)]
struct RoundTotals {
    planned: usize,
    done: usize,
    pauses: Vec<Pause>,
    problems: Vec<String>,
    failures: usize,
    quota_failures: usize,
    service_full: usize,
    disk_full: Vec<String>,
}

impl RoundTotals {
    /// Adds a folder's part. A failure that stops the whole pass (signed
    /// out, agreements, account, network) is handed back; any other is
    /// counted, and one that is not about room is held back with backoff.
    fn add(
        &mut self,
        folder: &FolderConfig,
        f: FolderRound,
        engine: &Engine,
    ) -> anyhow::Result<Option<RemoteError>> {
        self.planned += f.planned;
        self.done += f.done;
        self.pauses.extend(f.pauses);
        self.problems.extend(f.problems);
        let now = engine.clock.now().unix_timestamp();
        for (path, err) in f.failed {
            match failure_kind(&err) {
                FailureKind::StopsThePass => {
                    if let OpError::Remote(e) = err {
                        return Ok(Some(e));
                    }
                }
                FailureKind::Quota => self.quota_failures += 1,
                FailureKind::ServiceFull => self.service_full += 1,
                FailureKind::DiskFull => self.disk_full.push(format!("{path}: {err}")),
                FailureKind::ThisOperation => {
                    let mut failing = engine.failing();
                    // A move's start is held with its destination.
                    for (_, from) in f.failed_moves.iter().filter(|(to, _)| *to == path) {
                        failing.failed(folder.id, from, err.to_string(), now);
                    }
                    failing.failed(folder.id, &path, err.to_string(), now);
                }
            }
            self.failures += 1;
        }
        Ok(None)
    }

    /// Nothing failed but for want of room, here or on the service.
    fn only_waiting_for_room(&self) -> bool {
        self.failures > 0
            && self.failures == self.quota_failures + self.service_full + self.disk_full.len()
    }
}

enum FailureKind {
    /// Signed out, agreements pending, account frozen or deleted, offline.
    StopsThePass,
    Quota,
    ServiceFull,
    DiskFull,
    /// Anything else: this operation alone.
    ThisOperation,
}

fn failure_kind(err: &OpError) -> FailureKind {
    match err.code() {
        Some(
            ErrorCode::AgreementsRequired
            | ErrorCode::Unauthorized
            | ErrorCode::AccountFrozen
            | ErrorCode::AccountDeleted,
        ) => FailureKind::StopsThePass,
        Some(ErrorCode::QuotaExceeded) => FailureKind::Quota,
        Some(ErrorCode::ServiceFull) => FailureKind::ServiceFull,
        _ => match err {
            OpError::DiskFull(_) => FailureKind::DiskFull,
            OpError::Remote(RemoteError::Network(_)) => FailureKind::StopsThePass,
            _ => FailureKind::ThisOperation,
        },
    }
}

/// New folders on the service, not yet here in any form, whose contents
/// exceed `limit` bytes and that the user has not chosen to download.
/// A folder that only moved (its node is known) is not new.
fn large_new_folders(
    remote: &crate::tree::Tree<crate::tree::RemoteEntry>,
    synced: &crate::tree::Tree<crate::tree::SyncedEntry>,
    local: &crate::tree::Tree<crate::tree::LocalEntry>,
    folder: &FolderConfig,
    limit: u64,
) -> Vec<(String, u64)> {
    let known: std::collections::HashSet<NodeId> = synced.values().map(|s| s.node).collect();
    let mut out: Vec<(String, u64)> = Vec::new();
    for (path, r) in remote {
        let fresh = r.kind == Kind::Dir
            && !synced.contains_key(path)
            && !local.contains_key(path)
            && !known.contains(&r.node)
            && !folder.confirmed.contains(path)
            && !out.iter().any(|(p, _)| crate::tree::is_inside(path, p));
        if !fresh {
            continue;
        }
        let bytes: u64 = crate::tree::inside(remote, path).map(|(_, e)| e.size).sum();
        if bytes > limit {
            out.push((path.clone(), bytes));
        }
    }
    out
}

/// The user says the subfolder `rel` of `folder` lost its disk for good:
/// what it held is no longer kept as it was, so the next pass deletes it
/// (still behind the mass-delete guard) or syncs what is there now.
pub fn forget_mount(
    db: &StateDb,
    fs: &dyn LocalFs,
    folder: &FolderConfig,
    rel: &str,
) -> anyhow::Result<()> {
    if let Some(now) = fs.mount_points(&folder.local) {
        let mut mounts = db.mounts(folder.id)?.unwrap_or_default();
        let is_mount = now
            .iter()
            .any(|p| scanner::rel_path(&folder.local, p).as_deref() == Some(rel));
        if is_mount {
            mounts.insert(rel.to_string());
        } else {
            mounts.remove(rel);
        }
        db.set_mounts(folder.id, &mounts)?;
    }
    // What the last scan kept of it goes: the next scan sees it afresh.
    db.record(folder.id, &[crate::db::Change::RemoveLocal(rel)])
}

/// Writes the root marker of a new folder (keeping an existing one's value).
pub fn mark_root(root: &Path, marker: &str) -> anyhow::Result<()> {
    crate::home::write_atomic(&root.join(ROOT_MARKER), marker.as_bytes(), false)
}
