//! The sync loop: the I/O around the pure planner. One `Engine` per home.
//!
//! A round: read the change feed into the remote tree, scan each folder into
//! its local tree, plan, execute. Rounds repeat until the planner returns
//! nothing (in sync) or something needs the user (paused).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use nubo_protocol::{ApiError, ErrorCode, NodeId};

use crate::changes::{Changes, Look};
use crate::clock::{Clock, SystemClock};
use crate::credentials;
use crate::db::{Change, DbError, FolderId, Stamp, StateDb, Under};
use crate::executor::{self, FolderCtx, OpError};
use crate::failing::Failing;
use crate::focus::{self, Focused};
use crate::fs::{LocalFs, RealFs};
use crate::home::{Config, FolderConfig, Home, ROOT_MARKER};
use crate::ignore_rules::IgnoreRules;
use crate::planner::{self, PlanOptions};
use crate::problem::{OpFailure, Problem};
use crate::remote::{AccountRemote, HttpRemote, Remote, RemoteError, SharedTokens};
use crate::remote_tree;
use crate::report::{
    Failure, LastPass, Notice, PassOutcome, PendingDocument, RootProblem, Storage,
};
use crate::scanner;
use crate::scanner::ScanInput;
use crate::temp_names::TempNames;
use crate::tree::{Blocked, Kind, RelPath};

mod focused;
mod resume;
mod sliced;

pub use crate::report::Pause;
pub use sliced::SLICE_ENTRIES;

/// What the loop tells an observer (the desktop app's tray and status window).
#[derive(Debug, Clone)]
pub enum SyncEvent {
    /// A round planned this many operations, moving this many bytes.
    Working { ops: usize, bytes: u64 },
    /// Of the round's batch, this much is done.
    Progress { ops_done: usize, bytes_done: u64 },
    /// A scan is reading new and changed files (the first scan: all of
    /// them); told after each batch it read.
    Reading(scanner::Reading),
    /// A pass ended: in sync, paused (with why) or failed (with why).
    Settled(LastPass),
}

pub type Observer = Arc<dyn Fn(SyncEvent) + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InSync,
    Paused(Vec<Pause>),
}

/// Why a whole pass failed; it is tried again (`watch`) or reported.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no folder to sync")]
    NoFolders,
    #[error(transparent)]
    Remote(RemoteError),
    #[error("signed out by the service ({0})")]
    SignedOut(ApiError),
    #[error(transparent)]
    StateDb(#[from] DbError),
    #[error("sync did not settle after {0} rounds")]
    DidNotSettle(usize),
    #[error("cannot watch the synced folders")]
    Watch(#[source] notify::Error),
}

impl SyncError {
    /// What the user is told of it.
    pub fn failure(&self) -> Failure {
        match self {
            SyncError::NoFolders => Failure::NoFolders,
            SyncError::Remote(RemoteError::Network { cause, .. }) => {
                Failure::Offline { cause: *cause }
            }
            SyncError::Remote(RemoteError::Api(e)) => Failure::Service { code: e.code },
            SyncError::SignedOut(_) => Failure::SignedOut,
            SyncError::StateDb(e) => Failure::LocalDatabase {
                disk_full: e.is_disk_full(),
            },
            SyncError::DidNotSettle(_) => Failure::DidNotSettle,
            SyncError::Watch(_) => Failure::Local,
        }
    }
}

/// What wakes the sync loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    LocalChange,
    /// A folder made since the watch began has its watch now: look once
    /// more, for what was written in it before.
    NewFolderWatched,
    Push,
    PushClosed,
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
    /// How often each path was planned in the pass under way (by a hash of it: a
    /// million paths planned would otherwise be kept twice).
    planned_this_pass: std::sync::Mutex<std::collections::HashMap<(FolderId, u64), usize>>,
    /// What is still to be read from disk again, per folder: the whole of
    /// each at first, then what the watcher and the executor name.
    unscanned: std::sync::Mutex<Changes>,
    /// What each folder's last scan found blocked or left out, kept for
    /// the rounds that read only part of it again.
    carried: std::sync::Mutex<std::collections::HashMap<FolderId, Carried>>,
    /// The nodes the feed told of since the last round (`focused.rs`).
    news: std::sync::Mutex<focused::News>,
    /// The folders whose last round left nothing paused, with what it was
    /// planned with (`focused::Settled`) and, after a plan of moves only,
    /// where it started: their next round may be planned over what
    /// changed, from there too.
    settled:
        std::sync::Mutex<std::collections::HashMap<FolderId, (focused::Settled, focus::Seeds)>>,
    /// Plan each round over what changed, and each first sync in slices,
    /// over the whole trees too, and stop where the two differ (the
    /// simulator).
    check_focus: bool,
    /// The first difference `check_focus` found.
    focus_mismatch: std::sync::Mutex<Option<String>>,
    /// The entries (of a folder's three trees) each round of the pass
    /// under way planned over, a folder's round after another.
    planned_over: std::sync::Mutex<Vec<usize>>,
    /// Whether a round of the pass under way planned over whole trees.
    whole_this_pass: AtomicBool,
    /// The state database's `data_version` when this engine last looked:
    /// another writer since then makes what it holds settled stale
    /// (`resume.rs`).
    db_version: std::sync::atomic::AtomicI64,
    /// How many entries of each side a slice of a first sync holds
    /// (`sliced.rs`).
    slice_entries: usize,
    /// The folders whose first sync the pass under way took in slices:
    /// their next rounds are planned as any other (`sliced.rs`).
    sliced_this_pass: std::sync::Mutex<std::collections::HashSet<FolderId>>,
}

/// What a scan of part of a folder carries over from the last one.
#[derive(Debug, Clone, Default)]
struct Carried {
    blocked: crate::tree::Tree<Blocked>,
    skipped: Vec<Problem>,
    /// What the last look at the node table refused.
    refused: Vec<Problem>,
    /// Whether each blocked link is news to the user (`blocked_news`).
    in_the_way: std::collections::HashMap<RelPath, bool>,
}

/// An engine assembled from parts has no account administration.
#[derive(Debug, thiserror::Error)]
#[error("this home has no service to administer the account with")]
pub struct NoService;

const MAX_ROUNDS: usize = 10_000;
/// A path planned more often than this in one pass is held back (see
/// `Engine::drop_endless`); a pass that moves, renames aside and then
/// transfers plans a path three or four times.
const MAX_PLANS_PER_PASS: usize = 8;

/// This device's name, as the service lists it and conflict copies carry
/// it: `NUBO_DEVICE_NAME`, else the system's host name.
pub fn host_name() -> String {
    std::env::var("NUBO_DEVICE_NAME")
        .ok()
        .or_else(|| gethostname::gethostname().into_string().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this computer".to_string())
}

/// The service as this home is signed in to it, keeping refreshed tokens
/// in the home; needs no state database (sign-out, a decline, an engine's
/// open).
pub fn signed_in_service(home: &Home, config: &Config) -> anyhow::Result<Arc<HttpRemote>> {
    let server = config
        .server
        .clone()
        .context("not signed in: run `nubo login` first")?;
    let tokens = credentials::load(home, config)?;
    let (save_home, save_config) = (home.clone(), config.clone());
    let (load_home, load_config) = (home.clone(), config.clone());
    let shared = SharedTokens {
        lock: home.refresh_lock_path(),
        load: Arc::new(move || credentials::load(&load_home, &load_config).ok()),
    };
    Ok(Arc::new(
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
    ))
}

impl Engine {
    /// Opens a signed-in home against the real world for everything but the
    /// sync loop (devices, agreements, restore, export, the app's views): the
    /// state database is checked, and a damaged one is reported
    /// (`DbError::Damaged`) and left where it is.
    pub fn open(home: Home) -> anyhow::Result<Self> {
        let db = StateDb::open_without_repair(&home.db_path())?;
        Self::open_with(home, db, None)
    }

    /// Opens a signed-in home for the sync loop (`nubo sync`, the app's
    /// loop), the one that may repair: a damaged state database is set aside
    /// and rebuilt, and the next status says so.
    pub fn open_for_sync(home: Home) -> anyhow::Result<Self> {
        let (db, set_aside) = StateDb::open(&home.db_path())?;
        Self::open_with(home, db, set_aside)
    }

    fn open_with(home: Home, db: StateDb, set_aside: Option<PathBuf>) -> anyhow::Result<Self> {
        let config = home.load_config()?;
        let http = signed_in_service(&home, &config)?;
        let fs = Arc::new(RealFs {
            fallback_trash: home.trash_dir(),
        });
        let parts = (http.clone() as Arc<dyn Remote>, fs as Arc<dyn LocalFs>);
        let mut engine = Self::with_db(home, config, parts, Arc::new(SystemClock), db, set_aside)?;
        engine.http = Some(http);
        Ok(engine)
    }

    /// Assembles an engine from its parts: how tests and the simulator drive
    /// its sync loop (the state database opened as `open_for_sync` does).
    pub fn with_parts(
        home: Home,
        config: Config,
        remote: Arc<dyn Remote>,
        fs: Arc<dyn LocalFs>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let (db, set_aside) = StateDb::open(&home.db_path())?;
        Self::with_db(home, config, (remote, fs), clock, db, set_aside)
    }

    /// The parts and the opened state database (`set_aside`: where a
    /// damaged one went, told in the next status).
    fn with_db(
        home: Home,
        config: Config,
        (remote, fs): (Arc<dyn Remote>, Arc<dyn LocalFs>),
        clock: Arc<dyn Clock>,
        db: StateDb,
        set_aside: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        if let Some(p) = set_aside {
            db.set_notice(&Notice::DatabaseRebuilt {
                set_aside: Some(p.display().to_string()),
            })?;
        }
        let temps = TempNames::new(db.temp_key()?);
        let limits = Arc::new(crate::throttle::Limits {
            up: crate::throttle::RateLimit::new(config.upload_limit_kbps),
            down: crate::throttle::RateLimit::new(config.download_limit_kbps),
        });
        let mut unscanned = Changes::everything();
        unscanned.expand(config.folders.iter().map(|f| f.id));
        let engine = Engine {
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
            unscanned: std::sync::Mutex::new(unscanned),
            carried: Default::default(),
            news: Default::default(),
            settled: Default::default(),
            check_focus: false,
            focus_mismatch: Default::default(),
            planned_over: Default::default(),
            whole_this_pass: AtomicBool::new(false),
            db_version: Default::default(),
            slice_entries: sliced::SLICE_ENTRIES,
            sliced_this_pass: Default::default(),
        };
        engine.resume()?;
        Ok(engine)
    }

    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// Drops the observer (and what it holds).
    pub fn clear_observer(&mut self) {
        self.observer = None;
    }

    fn tell(&self, event: SyncEvent) {
        if let Some(o) = &self.observer {
            o(event);
        }
    }

    /// The service as the sync loop sees it.
    pub fn remote(&self) -> &Arc<dyn Remote> {
        &self.remote
    }

    /// The account's administration on the service (agreements, devices,
    /// trash and versions, the account itself): a home opened against a real
    /// service has it; one assembled from parts (the simulator) does not.
    pub fn service(&self) -> Result<&dyn AccountRemote, NoService> {
        match &self.http {
            Some(http) => Ok(http.as_ref()),
            None => Err(NoService),
        }
    }

    /// Now, and this device: what recent changes and conflict copies carry.
    fn stamp(&self) -> Stamp {
        Stamp {
            at: self.clock.now(),
            device: self.host.clone(),
        }
    }

    /// Reads the change feed to its end into the remote tree. A service
    /// that went back in time is noticed here, before anything is planned:
    /// what this home knew of it is forgotten and the feed read from 0.
    pub async fn pull(&self) -> Result<(), Step> {
        match self.pull_feed().await {
            Err(Step::Remote(RemoteError::Api(e))) if e.code == ErrorCode::HistoryRewound => {
                tracing::warn!("{}", e.message);
                self.db.forget_the_service()?;
                self.db.set_notice(&Notice::ServiceRewound)?;
                self.failing().clear();
                self.lose_news();
                self.pull_feed().await
            }
            other => other,
        }
    }

    async fn pull_feed(&self) -> Result<(), Step> {
        loop {
            let cursor = self.db.cursor()?;
            let known = self.db.known_seq()?;
            let page = self.remote.changes(cursor, known).await?;
            let changed = self.db.apply_changes(&page.nodes, page.cursor)?;
            self.note_news(&changed);
            if !page.has_more {
                return Ok(());
            }
        }
    }

    /// The remote folder's node id, creating the path on the service if needed.
    async fn remote_root(&self, folder: &FolderConfig) -> Result<NodeId, Step> {
        let account = self.remote.account().await?;
        // Storage use rides along with the call every pass makes anyway.
        self.db.set_storage(&Storage {
            used_bytes: account.used_bytes,
            quota_bytes: account.quota_bytes,
        })?;
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
    fn check_root(&self, folder: &FolderConfig) -> Result<(), RootProblem> {
        let root = &folder.local;
        if !matches!(self.fs.stat(root), Ok(Some((Kind::Dir, _)))) {
            return Err(RootProblem::Missing);
        }
        match self.fs.read_small(&root.join(ROOT_MARKER)) {
            Ok(m) if String::from_utf8_lossy(&m).trim() == folder.marker => Ok(()),
            Ok(_) => Err(RootProblem::OtherFolder),
            Err(_) => Err(RootProblem::MarkerLost),
        }
    }

    /// One pass of the loop for every folder, each read whole from disk,
    /// until in sync or paused. How it ended is kept for `status` and told
    /// to the observer.
    pub async fn sync_once(&self, allow_mass_delete: bool) -> Result<Outcome, SyncError> {
        self.sync_changed(allow_mass_delete, Changes::everything())
            .await
    }

    /// A pass that reads from disk only what `changes` names (and what an
    /// earlier pass did not get to): how a watching engine pays for what
    /// changed, not for what exists.
    pub async fn sync_changed(
        &self,
        allow_mass_delete: bool,
        changes: Changes,
    ) -> Result<Outcome, SyncError> {
        self.note_changes(changes);
        // A new map, not one cleared: a pass that planned a million
        // operations would otherwise keep its table for good.
        *self
            .planned_this_pass
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Default::default();
        self.rounds_planned_over().clear();
        self.sliced_this_pass().clear();
        let result = self.sync_rounds(allow_mass_delete).await;
        if self.whole_this_pass.swap(false, Ordering::Relaxed) {
            give_back_memory();
        }
        if let Ok(Outcome::InSync) = &result {
            self.keep_settled();
        }
        let outcome = match &result {
            Ok(Outcome::InSync) => PassOutcome::InSync,
            Ok(Outcome::Paused(p)) => PassOutcome::Paused { pauses: p.clone() },
            Err(e) => {
                tracing::error!("the pass failed: {}", error_chain(e));
                if let SyncError::StateDb(db) = e {
                    if db.is_damage() {
                        self.db.distrust();
                    }
                }
                PassOutcome::Failed {
                    failure: e.failure(),
                }
            }
        };
        let pass = LastPass {
            at: self.clock.now(),
            outcome,
        };
        if let Err(e) = self.db.set_last_pass(&pass) {
            tracing::error!("cannot keep how the pass ended: {}", error_chain(&e));
        }
        self.tell(SyncEvent::Settled(pass));
        result
    }

    async fn sync_rounds(&self, allow_mass_delete: bool) -> Result<Outcome, SyncError> {
        if self.config.folders.is_empty() {
            return Err(SyncError::NoFolders);
        }
        // What the last pass left settled is not all there is to know
        // once this one has begun, nor what this engine holds where
        // another program wrote meanwhile (`resume.rs`).
        if self.others_wrote()? {
            self.unsettle_all();
        }
        self.db.forget_settled()?;
        let (roots, mut pauses) = match self.folder_roots().await {
            Ok(r) => r,
            Err(e) => return stopped(e),
        };
        // A folder left out of this pass does not see its news.
        for f in &self.config.folders {
            if !roots.iter().any(|(r, _)| r.id == f.id) {
                self.unsettle(f.id);
            }
        }
        for _round in 0..MAX_ROUNDS {
            if let Err(e) = self.pull().await {
                return stopped(e);
            }
            let mut round = RoundTotals::default();
            let news = self.take_news();
            for (folder, remote_root) in &roots {
                let f = self
                    .folder_round(folder, *remote_root, allow_mass_delete, news.as_ref())
                    .await
                    .inspect_err(|_| self.unsettle_all())?;
                round.add(folder.id, f);
                if round.stop.is_some() {
                    // The folders after it did not see this round's news.
                    self.unsettle_all();
                    break;
                }
            }
            self.hold_back_failing(&round.retry);
            // What is held back, as of the end of this round (what failed
            // in it included).
            round.problems.extend(self.held_problems(&roots));
            self.db.set_problems(&round.problems)?;
            let room = Room {
                storage: self.db.storage()?,
                keep_free_bytes: self.config.keep_free_mb * 1_000_000,
            };
            match verdict(round, &mut pauses, room) {
                Verdict::Again => {}
                Verdict::Done(outcome) => return Ok(outcome),
                Verdict::Stop(e) => return stopped(Step::Remote(e)),
            }
        }
        tracing::error!(
            "sync did not settle after {MAX_ROUNDS} rounds; see the log in {}",
            self.home.logs_dir().display()
        );
        Err(SyncError::DidNotSettle(MAX_ROUNDS))
    }

    /// Operations that failed for reasons of their own are tried again, and
    /// held back after their second failure (`Failing`): the rest goes on.
    fn hold_back_failing(&self, retry: &[(FolderId, RelPath, OpFailure)]) {
        let now = self.clock.now().unix_timestamp();
        let mut failing = self.failing();
        for (folder, path, error) in retry {
            failing.failed(*folder, path, error.clone(), now);
        }
    }

    /// Each folder to sync with its node on the service; folders whose root
    /// is unavailable are paused instead.
    async fn folder_roots(&self) -> Result<(Vec<(&FolderConfig, NodeId)>, Vec<Pause>), Step> {
        let mut roots = Vec::new();
        let mut pauses = Vec::new();
        for folder in self.config.folders.iter().filter(|f| !f.paused) {
            if let Err(why) = self.check_root(folder) {
                pauses.push(Pause::FolderUnavailable {
                    folder: folder.local.display().to_string(),
                    why,
                });
                continue;
            }
            let id = self.remote_root(folder).await?;
            // Kept so the folder's remote tree can be listed offline
            // (the selective-sync chooser).
            self.db
                .set_meta(&format!("remote_root:{}", folder.id), Some(&id.to_string()))?;
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
        news: Option<&std::collections::HashSet<NodeId>>,
    ) -> Result<FolderRound, DbError> {
        let rules = self.ignore_rules(folder);
        let mut scanned = self.scan_folder(folder, &rules)?;
        let opts = PlanOptions {
            mode: folder.mode,
            conflict_stamp: self.stamp().copy_label(),
            guard: self.config.guard(),
            allow_mass_delete,
            ..Default::default()
        };
        let place = Place {
            folder,
            root: remote_root,
            rules: &rules,
            // One time for the round: what is held back after failing is
            // the same when it is seeded, left alone and settled.
            now: self.clock.now().unix_timestamp(),
        };
        if let Some(out) = self.round_in_slices(&place, &mut scanned, &opts).await? {
            return Ok(out);
        }
        let Planned {
            trees,
            mut plan,
            seeds,
        } = self.plan_folder(&place, scanned, news, &opts)?;
        let t = &trees.trees;
        let entries = t.local.len() + t.synced.len() + t.remote.len();
        self.rounds_planned_over().push(entries);
        let over = if seeds.is_some() {
            "what changed"
        } else {
            "the whole folder"
        };
        tracing::debug!(
            folder = folder.id,
            entries,
            ops = plan.ops.len(),
            "planned over {over}"
        );
        let FolderTrees {
            trees,
            pauses,
            problems,
        } = trees;
        let mut out = FolderRound {
            pauses,
            problems,
            ..FolderRound::default()
        };
        let now = place.now;
        self.settle_failing(folder.id, &plan.ops, now);
        plan.ops = self.drop_endless(folder.id, plan.ops, now);
        if let Some(info) = plan.mass_delete {
            out.pauses.push(Pause::MassDelete {
                folder: folder.local.display().to_string(),
                local_files: info.local_files,
                remote_files: info.remote_files,
                synced_files: info.synced_files,
            });
        }
        let at = focused::Settled {
            root: remote_root,
            rules: rules.made_of(),
        };
        self.after_plan(folder.id, at, &plan, seeds, out.pauses.is_empty());
        if plan.mass_delete.is_some() || plan.ops.is_empty() {
            return Ok(out);
        }
        out.planned = plan.ops.len();
        self.note_changes(written_by(folder.id, &plan.ops));
        tracing::debug!(folder = folder.id, "plan: {:?}", plan.ops);
        let ctx = self.folder_ctx(folder, remote_root, trees, rules)?;
        let report = self.run_plan(&ctx, plan.ops).await;
        if report.failed.iter().any(|(_, e)| e.is_database_damage()) {
            self.db.distrust();
        }
        out.done = report.done;
        let failed_moves = (report.failed_moves.iter()).flat_map(|(to, from)| [to, from]);
        let failed = report
            .failed
            .iter()
            .map(|(path, _)| path)
            .chain(failed_moves);
        self.after_run(folder.id, failed.map(String::as_str));
        out.failed_moves = report.failed_moves;
        out.failed = report.failed;
        Ok(out)
    }

    /// A path that failed, neither planned again nor held any more, has
    /// stopped failing (`Failing::settle`).
    fn settle_failing(&self, folder: FolderId, ops: &[planner::Op], now: i64) {
        let planned: std::collections::HashSet<&str> = ops
            .iter()
            .flat_map(|op| std::iter::once(op.path()).chain(op.from_path()))
            .collect();
        self.failing().settle(folder, &planned, now);
    }

    /// What the executor runs a folder's plan with: the trees it was
    /// planned over (its preconditions), the limits and the rules.
    fn folder_ctx(
        &self,
        folder: &FolderConfig,
        remote_root: NodeId,
        trees: crate::tree::Trees,
        rules: IgnoreRules,
    ) -> Result<FolderCtx, DbError> {
        let crate::tree::Trees { local, remote, .. } = trees;
        Ok(FolderCtx::new(
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
        .with_temps(self.temps.clone()))
    }

    /// The folder's trees and their plan: over what changed where that is
    /// known (`focused.rs`), else, or where that plan deletes much, over
    /// the whole trees.
    fn plan_folder(
        &self,
        place: &Place<'_>,
        mut scanned: Scanned,
        news: Option<&std::collections::HashSet<NodeId>>,
        opts: &PlanOptions,
    ) -> Result<Planned, DbError> {
        let replaced = scanned.replaced.as_deref();
        let focus = self.focused(place, replaced, news, &opts.conflict_stamp)?;
        if let Some((f, seeds)) = focus {
            // The whole scan's tree is stored: not held through the round.
            scanned.scan.tree = Default::default();
            scanned.read_whole = false;
            let points = self.check_focus.then(|| f.points.clone());
            let trees = self.folder_trees(place, &scanned.scan, Source::Focus(f))?;
            let plan = planner::plan(&trees.trees, opts);
            if !focused::deletes_to_weigh(&trees, &plan, opts) {
                if let Some(points) = points {
                    let whole = self.whole_trees(place, &mut scanned)?;
                    let whole_plan = planner::plan(&whole.trees, opts);
                    let differs = focused::differs_from_whole(&plan, &whole_plan, &seeds, &points);
                    self.note_mismatch(differs);
                }
                return Ok(Planned {
                    trees,
                    plan,
                    seeds: Some(seeds),
                });
            }
        }
        let trees = self.whole_trees(place, &mut scanned)?;
        let plan = planner::plan(&trees.trees, opts);
        Ok(Planned {
            trees,
            plan,
            seeds: None,
        })
    }

    fn whole_trees(
        &self,
        place: &Place<'_>,
        scanned: &mut Scanned,
    ) -> Result<FolderTrees, DbError> {
        self.whole_this_pass.store(true, Ordering::Relaxed);
        let local = match scanned.read_whole {
            true => std::mem::take(&mut scanned.scan.tree),
            false => self.db.load_local(place.folder.id)?,
        };
        self.folder_trees(place, &scanned.scan, Source::Whole(local))
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
                let n = planned.entry((folder, path_key(op.path()))).or_insert(0);
                *n += 1;
                if *n <= MAX_PLANS_PER_PASS {
                    return true;
                }
                self.failing()
                    .hold(folder, op.path(), OpFailure::DidNotTake, now);
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

    /// The three trees of one folder as the planner needs them (whole, or
    /// around what changed), with what is left alone this round and why.
    fn folder_trees(
        &self,
        place: &Place<'_>,
        scan: &scanner::Scan,
        source: Source,
    ) -> Result<FolderTrees, DbError> {
        let Place { folder, rules, .. } = *place;
        let mut pauses = Vec::new();
        let mut problems: Vec<Problem> = Vec::new();
        let (local, synced, remote, points) = match source {
            Source::Whole(local) => {
                let (synced, remote) = self.whole_base_and_remote(place)?;
                (local, synced, remote, None)
            }
            Source::Focus(f) => {
                self.carry_refused(folder.id, &f.remote.refused, Some(&f.points));
                (f.local, f.synced, f.remote, Some(f.points))
            }
        };
        for refused in &remote.refused {
            tracing::warn!(?refused, "left out");
        }
        problems.extend(self.told_of(folder.id, scan, rules));
        let mut trees = crate::tree::Trees {
            local,
            remote: remote.tree,
            synced,
            blocked: scan.blocked.clone(),
            remote_unseen: remote.unseen,
            held_nodes: Default::default(),
        };
        self.blocked_news(folder, &trees, points.as_ref(), &mut pauses, &mut problems);
        pauses.extend(self.hold_back_large_folders(&mut trees, folder));
        for held in self.failing().held(folder.id, place.now) {
            trees.blocked.entry(held.path).or_insert(Blocked::Failing);
        }
        Ok(FolderTrees {
            trees,
            pauses,
            problems,
        })
    }

    /// What a round of a folder tells the user besides its trees' news:
    /// the names the service has that are refused here, what the scan
    /// skipped, a broken ignore file.
    fn told_of(&self, folder: FolderId, scan: &scanner::Scan, rules: &IgnoreRules) -> Vec<Problem> {
        let mut problems = self.refused(folder);
        problems.extend(scan.skipped.iter().cloned());
        problems.extend(rules.warning.map(|broken| Problem::IgnoreFile { broken }));
        problems
    }

    /// A folder's merge base, whole, without what the rules leave out.
    fn whole_base(
        &self,
        place: &Place<'_>,
    ) -> Result<crate::tree::Tree<crate::tree::SyncedEntry>, DbError> {
        let mut synced = self.db.load_synced(place.folder.id)?;
        let mut ignored = place.rules.cached();
        synced.retain(|p, s| !ignored.is_ignored(p, s.kind == Kind::Dir));
        Ok(synced)
    }

    /// The merge base and the service's tree of a folder, whole.
    fn whole_base_and_remote(
        &self,
        place: &Place<'_>,
    ) -> Result<
        (
            crate::tree::Tree<crate::tree::SyncedEntry>,
            remote_tree::RemoteTree,
        ),
        DbError,
    > {
        let Place {
            folder,
            root,
            rules,
            ..
        } = *place;
        let remote = remote_tree::build_with(root, rules, |id| {
            self.db.remote_children(id, Under::Inside(""))
        })?;
        let synced = self.whole_base(place)?;
        self.carry_refused(folder.id, &remote.refused, None);
        Ok((synced, remote))
    }

    /// What the user is told of what is blocked: a mount gone pauses the
    /// folder; a link of the user's own (a virtual environment's, say) is
    /// news only where the service has something it keeps from this
    /// computer, which a round over what changed knows where it looked,
    /// and keeps from the round that did elsewhere.
    fn blocked_news(
        &self,
        folder: &FolderConfig,
        trees: &crate::tree::Trees,
        points: Option<&focus::Points>,
        pauses: &mut Vec<Pause>,
        problems: &mut Vec<Problem>,
    ) {
        let mut carried = self.carried();
        let in_the_way = &mut carried.entry(folder.id).or_default().in_the_way;
        in_the_way.retain(|p, _| trees.blocked.contains_key(p));
        for (path, why) in &trees.blocked {
            let told = match why {
                Blocked::MountChanged => {
                    pauses.push(Pause::MountGone {
                        folder: folder.local.display().to_string(),
                        path: path.clone(),
                    });
                    false
                }
                Blocked::InTheWay { .. } => match points {
                    Some(points) if !focus::covers(points, path) => {
                        in_the_way.get(path).copied().unwrap_or(true)
                    }
                    _ => {
                        let news = trees.synced_or_remote_at(path);
                        in_the_way.insert(path.clone(), news);
                        news
                    }
                },
                _ => true,
            };
            if told {
                problems.push(Problem::Blocked {
                    path: path.clone(),
                    why: why.clone(),
                });
            }
        }
    }

    /// Keeps what the node table refused: all of it after a whole look,
    /// and after a look around what changed, what it found there in place
    /// of what was known there.
    fn carry_refused(&self, folder: FolderId, found: &[Problem], around: Option<&focus::Points>) {
        let mut carried = self.carried();
        let c = carried.entry(folder).or_default();
        if let Some(points) = around {
            c.refused
                .retain(|p| !refused_path(p).is_some_and(|path| focus::covers(points, &path)));
        } else {
            c.refused.clear();
        }
        crate::problem::add_new(&mut c.refused, found.iter().cloned());
    }

    fn refused(&self, folder: FolderId) -> Vec<Problem> {
        let carried = self.carried();
        carried
            .get(&folder)
            .map(|c| c.refused.clone())
            .unwrap_or_default()
    }

    /// The safety net (the daily timer): the next pass reads every folder
    /// whole and plans over the whole trees, whatever it knew settled.
    pub fn look_at_everything(&self) {
        self.note_changes(Changes::everything());
        self.unsettle_all();
    }

    /// What is to be read again from disk, as the watcher (or the start,
    /// or the safety timer) says.
    pub fn note_changes(&self, mut changes: Changes) {
        changes.expand(self.config.folders.iter().map(|f| f.id));
        self.unscanned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .merge(changes);
    }

    /// What the next pass will read again from disk in `folder`.
    pub fn to_read_again(&self, folder: FolderId) -> Look {
        self.unscanned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .peek(folder)
    }

    /// Scans what changed in the folder (the whole folder where that is
    /// not known) and stores it; removes this home's temp files of
    /// downloads that never finished.
    fn scan_folder(&self, folder: &FolderConfig, rules: &IgnoreRules) -> Result<Scanned, DbError> {
        let look = self
            .unscanned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(folder.id);
        let scanned = match self.changed_paths(folder, look)? {
            Some(paths) => self.scan_changed(folder, rules, &paths),
            None => self.scan_whole(folder, rules),
        };
        let scanned = match scanned {
            Ok(scanned) => scanned,
            Err(e) => {
                // Not stored: read it all again next round.
                let mut again = Changes::default();
                again.folder(folder.id);
                self.note_changes(again);
                return Err(e);
            }
        };
        let scan = &scanned.scan;
        {
            let mut carried = self.carried();
            let c = carried.entry(folder.id).or_default();
            c.blocked = scan.blocked.clone();
            c.skipped = scan.skipped.clone();
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
        Ok(scanned)
    }

    /// The paths to read again, or `None` where the folder is to be read
    /// whole: at the engine's start, after events were lost, when the
    /// ignore file changed, when a disk came or went (or the system does
    /// not say), and while a folder waits for its disk.
    fn changed_paths(
        &self,
        folder: &FolderConfig,
        look: Look,
    ) -> Result<Option<std::collections::BTreeMap<RelPath, bool>>, DbError> {
        let Look::Paths(paths) = look else {
            return Ok(None);
        };
        let carried = self.carried();
        let Some(carried) = carried.get(&folder.id) else {
            return Ok(None);
        };
        if paths.contains_key(crate::ignore_rules::IGNORE_FILE)
            || carried
                .blocked
                .values()
                .any(|b| matches!(b, Blocked::MountChanged))
        {
            return Ok(None);
        }
        let now = self.fs.mount_points(&folder.local).map(|m| {
            m.iter()
                .filter_map(|p| scanner::rel_path(&folder.local, p))
                .collect::<std::collections::BTreeSet<_>>()
        });
        match (now, self.db.mounts(folder.id)?) {
            (Some(now), Some(before)) if now == before => Ok(Some(paths)),
            _ => Ok(None),
        }
    }

    /// What a scan does with each batch of files it read: keeps their
    /// entries at once (a kill then loses none of that reading; the scan's
    /// end stores what it holds of them) and tells how far it is.
    fn keep_reading(
        &self,
        folder: FolderId,
    ) -> impl Fn(&[(RelPath, crate::tree::LocalEntry)], scanner::Reading) -> bool + '_ {
        move |read, reading| {
            let changes: Vec<Change> = read.iter().map(|(p, e)| Change::Local(p, e)).collect();
            let kept = self.db.record(folder, &changes);
            if let Err(e) = &kept {
                tracing::warn!("cannot keep what the scan read: {}", error_chain(e));
            }
            self.tell(SyncEvent::Reading(reading));
            kept.is_ok()
        }
    }

    /// Reads the whole folder against the stored tree (without holding
    /// either whole), stores what differs, and says where it does.
    fn scan_whole(&self, folder: &FolderConfig, rules: &IgnoreRules) -> Result<Scanned, DbError> {
        let previous_mounts = self.db.mounts(folder.id)?;
        let on_read = self.keep_reading(folder.id);
        let no_tree = crate::tree::Tree::new();
        let input = ScanInput {
            rules,
            previous: &no_tree,
            now_ns: self.clock.now().unix_timestamp_nanos() as i64,
            temps: &self.temps,
            previous_mounts: previous_mounts.as_ref(),
            on_read: Some(&on_read),
        };
        let stored = crate::db::StoredLocal {
            db: &self.db,
            folder: folder.id,
        };
        let fs = self.fs.as_ref();
        // Beyond what a round over what changed takes, the files read are
        // stored as they are read, and not held (a first scan's million).
        let keep_read = focused::MAX_NEWS;
        let Some(diff) = scanner::scan_against(fs, &folder.local, &input, &stored, keep_read)?
        else {
            return self.scan_whole_in_memory(folder, rules);
        };
        self.db
            .store_local(folder.id, &diff.before, &diff.scan.tree)?;
        let known = !diff.stored_as_read;
        self.scanned_whole(folder, &diff.before, diff.scan, false, known)
    }

    /// Reads the whole folder with the stored tree in memory: where the
    /// system lists no mounts, telling a disk that went away takes it.
    fn scan_whole_in_memory(
        &self,
        folder: &FolderConfig,
        rules: &IgnoreRules,
    ) -> Result<Scanned, DbError> {
        let previous = self.db.load_local(folder.id)?;
        let previous_mounts = self.db.mounts(folder.id)?;
        let on_read = self.keep_reading(folder.id);
        let input = ScanInput {
            rules,
            previous: &previous,
            now_ns: self.clock.now().unix_timestamp_nanos() as i64,
            temps: &self.temps,
            previous_mounts: previous_mounts.as_ref(),
            on_read: Some(&on_read),
        };
        let scan = scanner::scan(self.fs.as_ref(), &folder.local, &input);
        self.db.store_local(folder.id, &previous, &scan.tree)?;
        self.scanned_whole(folder, &previous, scan, true, true)
    }

    /// After a whole scan: its mounts kept, and where it found the folder
    /// unlike the last scan (`before` against `scan.tree`, where these
    /// hold all that differs: `known`).
    fn scanned_whole(
        &self,
        folder: &FolderConfig,
        before: &crate::tree::Tree<crate::tree::LocalEntry>,
        mut scan: scanner::Scan,
        read_whole: bool,
        known: bool,
    ) -> Result<Scanned, DbError> {
        if let Some(mounts) = &scan.mounts {
            self.db.set_mounts(folder.id, mounts)?;
        }
        tracing::debug!(
            folder = folder.id,
            differ = scan.tree.len(),
            were = before.len(),
            "a whole scan"
        );
        // The walk's list is freed: it goes back to the system.
        self.whole_this_pass.store(true, Ordering::Relaxed);
        let blocked_before = self.carried().get(&folder.id).map(|c| c.blocked.clone());
        let replaced = blocked_before.filter(|_| known).and_then(|blocked| {
            scanner::replaced_between(before, &scan, &blocked, focused::MAX_NEWS)
        });
        if !read_whole {
            // What differed is stored: a round over the whole trees loads
            // them from there, not beside this (at a first scan, all of it).
            scan.tree = Default::default();
        }
        // The walk's lists (a million entries: hundreds of MB) are freed:
        // the round that follows reuses none of them.
        give_back_memory();
        Ok(Scanned {
            scan,
            replaced,
            read_whole,
        })
    }

    /// Reads `paths` again and puts what it found in place of what the
    /// last scan knew there; the rest of the tree, and what was blocked or
    /// left out elsewhere, stay as they were. The scan's tree is left
    /// empty: what it replaced is in the state database, and `replaced`
    /// says where.
    fn scan_changed(
        &self,
        folder: &FolderConfig,
        rules: &IgnoreRules,
        paths: &std::collections::BTreeMap<RelPath, bool>,
    ) -> Result<Scanned, DbError> {
        let carried = self.carried().get(&folder.id).cloned().unwrap_or_default();
        let previous = self.local_around(folder.id, paths, &carried.blocked)?;
        let on_read = self.keep_reading(folder.id);
        let input = ScanInput {
            rules,
            previous: &previous,
            now_ns: self.clock.now().unix_timestamp_nanos() as i64,
            temps: &self.temps,
            previous_mounts: None,
            on_read: Some(&on_read),
        };
        let found = scanner::rescan(
            self.fs.as_ref(),
            &folder.local,
            paths,
            &carried.blocked,
            &input,
        );
        let mut old = crate::tree::Tree::new();
        for r in &found.replaced {
            old.extend(self.db.local_under(folder.id, Under::At(&r.path))?);
            if r.whole {
                old.extend(self.db.local_under(folder.id, Under::Inside(&r.path))?);
            }
        }
        // What a folder blocked now held is kept as it was (the rescan
        // keeps only what it was given of it).
        old.retain(|p, _| scanner::blocked_above(&found.scan.blocked, p).is_none());
        self.db.store_local(folder.id, &old, &found.scan.tree)?;
        let replaced = found.replaced;
        let scanner::Scan {
            blocked: mut found_blocked,
            skipped,
            leftovers,
            ..
        } = found.scan;
        let mut blocked = carried.blocked;
        blocked.retain(|p, _| {
            !replaced
                .iter()
                .any(|r| *p == r.path || (r.whole && crate::tree::is_inside(p, &r.path)))
        });
        blocked.append(&mut found_blocked);
        let mut all_skipped = carried.skipped;
        crate::problem::add_new(&mut all_skipped, skipped);
        Ok(Scanned {
            scan: scanner::Scan {
                tree: crate::tree::Tree::new(),
                blocked,
                skipped: all_skipped,
                leftovers,
                mounts: None,
            },
            replaced: Some(replaced),
            read_whole: false,
        })
    }

    /// What the last scan knew at and above `paths`, and inside those to
    /// be looked into (a path inside a blocked folder is read again as
    /// that whole folder, which keeps what it held): all a scan of them
    /// compares with.
    fn local_around(
        &self,
        folder: FolderId,
        paths: &std::collections::BTreeMap<RelPath, bool>,
        blocked: &crate::tree::Tree<Blocked>,
    ) -> Result<crate::tree::Tree<crate::tree::LocalEntry>, DbError> {
        let mut previous = crate::tree::Tree::new();
        let mut looked: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut inside: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for (path, deep) in paths {
            let (path, deep) = match scanner::blocked_above(blocked, path) {
                Some(top) => (top, true),
                None => (path.as_str(), *deep),
            };
            for p in std::iter::once(path).chain(crate::tree::ancestors(path)) {
                if looked.insert(p) {
                    previous.extend(self.db.local_under(folder, Under::At(p))?);
                }
            }
            if deep && inside.insert(path) {
                previous.extend(self.db.local_under(folder, Under::Inside(path))?);
            }
        }
        Ok(previous)
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
            pauses.push(large_folder(folder, &path, bytes));
        }
        pauses
    }

    /// Every path held back after failing, as the user is told of it.
    fn held_problems(&self, roots: &[(&FolderConfig, NodeId)]) -> Vec<Problem> {
        let now = self.clock.now().unix_timestamp();
        let failing = self.failing();
        roots
            .iter()
            .flat_map(|(f, _)| failing.held(f.id, now))
            .map(|held| Problem::Failing {
                path: held.path,
                error: held.error,
                retry_at: time::OffsetDateTime::from_unix_timestamp(held.retry_at)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            })
            .collect()
    }

    /// The most entries of a folder's three trees that one round of the
    /// last pass planned over: all of them where it read them whole, what
    /// changed and its neighbours where it did not (`focus`).
    pub fn planned_over(&self) -> usize {
        self.rounds_planned_over()
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// The entries each folder's round of the last pass planned over, in
    /// the order they were planned.
    pub fn rounds_planned_over(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.planned_over.lock().unwrap_or_else(|p| p.into_inner())
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

    fn carried(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<FolderId, Carried>> {
        self.carried.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Syncs, then keeps syncing on every local change (watcher), every push
    /// from the service, and every poll interval, until `stop` resolves.
    /// Each pass reads from disk only what the watcher named; every folder
    /// is read whole at the start, after the watcher lost events, on the
    /// timer while some folders have no watch, and every
    /// `rescan_interval_secs`.
    pub async fn watch(
        &self,
        allow_mass_delete: bool,
        push: bool,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), SyncError> {
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<Wake>(64);
        let pending = Arc::new(std::sync::Mutex::new(Changes::default()));
        let watchers =
            crate::watch::watch_folders(&self.config.folders, wake_tx.clone(), pending.clone())
                .map_err(SyncError::Watch)?;
        let push_up = Arc::new(AtomicBool::new(false));
        if push {
            if let Some(http) = self.http.clone() {
                let tx = wake_tx.clone();
                tokio::spawn(crate::watch::follow_push(http, tx, push_up.clone()));
            }
        }
        let rescan_every = Duration::from_secs(self.config.rescan_interval_secs.max(60));
        let mut whole_at = tokio::time::Instant::now();
        // What changed while nothing watched.
        self.note_changes(Changes::everything());
        let mut timed_out = false;
        tokio::pin!(stop);
        // After a failed pass: 2 s, then twice as long each time, up to a minute.
        let mut backoff =
            crate::backoff::Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
        loop {
            // Folders without a watch are seen by scanning now and then.
            let unwatched = watchers.unwatched();
            if let Err(e) = self.db.set_unwatched(unwatched) {
                tracing::warn!("cannot keep the unwatched folders: {}", error_chain(&e));
            }
            let mut changes = pending.lock().unwrap_or_else(|p| p.into_inner()).take_all();
            if whole_at.elapsed() >= rescan_every {
                self.look_at_everything();
                whole_at = tokio::time::Instant::now();
            } else if timed_out && unwatched > 0 {
                changes = Changes::everything();
            }
            let result = self.sync_changed(allow_mass_delete, changes).await;
            let push_open = push_up.load(Ordering::SeqCst) && unwatched == 0;
            let wait = self
                .wait_after(result, push_open, &mut backoff)
                .unwrap_or(rescan_every)
                .min(rescan_every.saturating_sub(whole_at.elapsed()));
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(wait) => timed_out = true,
                Some(why) = wake_rx.recv() => {
                    tracing::debug!(?why, "woken");
                    timed_out = false;
                    // Coalesce a burst of file events (an editor's save is
                    // several) into one round; a push is one event.
                    if why != Wake::Push {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    while wake_rx.try_recv().is_ok() {}
                }
            }
        }
    }

    /// How long the watching loop waits after a pass before it looks
    /// again unasked: `None` for as long as the watcher and an open push
    /// channel will say when.
    fn wait_after(
        &self,
        result: Result<Outcome, SyncError>,
        push_open: bool,
        backoff: &mut crate::backoff::Backoff,
    ) -> Option<Duration> {
        let poll = Duration::from_secs(self.config.poll_interval_secs.max(1));
        let wait = match result {
            // In sync with the push channel open: the watcher and the
            // channel say when to look again, and no timer runs but the
            // daily one (an idle laptop stays asleep).
            Ok(Outcome::InSync) if push_open => {
                backoff.reset();
                None
            }
            Ok(Outcome::InSync) => {
                backoff.reset();
                Some(poll)
            }
            Ok(Outcome::Paused(p)) => {
                for pause in p {
                    tracing::warn!(?pause, "paused");
                }
                // A disk with room again or a plan with space sends no
                // event: pauses keep polling.
                Some(poll)
            }
            // Logged by `sync_once`, and told to the observer.
            Err(_) => Some(backoff.failed()),
        };
        // An operation held back after failing is tried again on time.
        let now = self.clock.now().unix_timestamp();
        let retry = self
            .failing()
            .next_retry(now)
            .map(|at| Duration::from_secs((at - now).max(1) as u64));
        match (wait, retry) {
            (Some(w), Some(r)) => Some(w.min(r)),
            (w, r) => w.or(r),
        }
    }
}

/// After a pass that held whole trees (a million files: a GB), or a whole
/// scan, their freed memory goes back to the system: what comes next
/// needs little of it. (glibc keeps a freed heap for reuse otherwise.) It
/// takes the allocator's locks a moment: not on the loop's thread, where
/// there is one.
fn give_back_memory() {
    fn trim() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim takes glibc's own locks and only releases
        // memory that is free.
        unsafe {
            libc::malloc_trim(0);
        }
    }
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(trim)),
        Err(_) => trim(),
    }
}

/// A path's key among many (64 bits of its BLAKE3 hash): two paths that
/// share one would only share a count of plans.
fn path_key(path: &str) -> u64 {
    let hash = blake3::hash(path.as_bytes());
    u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 of 32 bytes"))
}

/// What running `ops` writes in the folder, to be read again next round:
/// each op's paths (a conflict copy's too), and the folders above them
/// (a download makes those on its way).
fn written_by(folder: FolderId, ops: &[planner::Op]) -> Changes {
    let mut written = Changes::default();
    for path in ops.iter().flat_map(paths_written) {
        written.path(folder, path.to_string(), true);
        for dir in crate::tree::ancestors(path) {
            written.path(folder, dir.to_string(), false);
        }
    }
    written
}

/// The paths an operation writes (with what is inside them): its own,
/// where it moves from, and a conflict copy's.
fn paths_written(op: &planner::Op) -> impl Iterator<Item = &str> {
    let copy = match op {
        planner::Op::KeepConflictCopy { copy, .. } => Some(copy.as_str()),
        _ => None,
    };
    std::iter::once(op.path()).chain(op.from_path()).chain(copy)
}

/// One folder's trees for the planner, the rules they were read with, and
/// what the reading found for the user.
struct FolderTrees {
    trees: crate::tree::Trees,
    pauses: Vec<Pause>,
    problems: Vec<Problem>,
}

/// A folder's trees and their plan; `seeds`: where the plan started,
/// where it was planned over what changed.
struct Planned {
    trees: FolderTrees,
    plan: planner::Plan,
    seeds: Option<focus::Seeds>,
}

/// The folder a round is in: its config, its node on the service, its
/// ignore rules.
#[derive(Clone, Copy)]
struct Place<'a> {
    folder: &'a FolderConfig,
    root: NodeId,
    rules: &'a IgnoreRules,
    /// The round's time (unix seconds).
    now: i64,
}

/// What a folder's scan found: the whole tree (`replaced: None`), or the
/// paths it read again, stored in the state database.
struct Scanned {
    scan: scanner::Scan,
    /// Where the scan found the folder unlike the last one (`None`: not
    /// known, plan over the whole trees).
    replaced: Option<Vec<scanner::Replaced>>,
    /// Whether `scan.tree` is the whole local tree (else it is in the
    /// state database).
    read_whole: bool,
}

/// Where a round's trees come from.
enum Source {
    /// The local tree as scanned whole or loaded; the rest loaded whole.
    Whole(crate::tree::Tree<crate::tree::LocalEntry>),
    /// Around what changed (`focus::gather`).
    Focus(Focused),
}

/// Where a refused node is, for telling whether a look covered it.
fn refused_path(p: &Problem) -> Option<RelPath> {
    match p {
        Problem::RefusedName { dir, name, .. } => Some(crate::tree::join(dir, name)),
        Problem::NotHere { path, .. }
        | Problem::FolderLoop { path }
        | Problem::BadHash { path } => Some(path.clone()),
        _ => None,
    }
}

/// What one folder's part of a round did.
#[derive(Default)]
struct FolderRound {
    planned: usize,
    done: usize,
    pauses: Vec<Pause>,
    problems: Vec<Problem>,
    failed: Vec<(String, OpError)>,
    /// (destination, start) of failed moves.
    failed_moves: Vec<(String, String)>,
}

/// What stops a step of a pass: the service's answer (which may pause the
/// pass rather than fail it), or the state database.
#[derive(Debug)]
pub enum Step {
    Remote(RemoteError),
    Db(DbError),
}

impl From<RemoteError> for Step {
    fn from(e: RemoteError) -> Self {
        Step::Remote(e)
    }
}

impl From<DbError> for Step {
    fn from(e: DbError) -> Self {
        Step::Db(e)
    }
}

/// A round over every folder, added up.
#[derive(Debug, Default)]
struct RoundTotals {
    planned: usize,
    done: usize,
    pauses: Vec<Pause>,
    problems: Vec<Problem>,
    failures: usize,
    quota_failures: usize,
    service_full: usize,
    /// Downloads this disk has no room for.
    disk_full: Vec<RelPath>,
    /// Operations that failed for reasons of their own, to try again (a
    /// failed move's start with its destination).
    retry: Vec<(FolderId, RelPath, OpFailure)>,
    /// The first failure that stops the whole pass.
    stop: Option<RemoteError>,
}

impl RoundTotals {
    /// Adds a folder's part, each failure by its kind.
    fn add(&mut self, folder: FolderId, f: FolderRound) {
        self.planned += f.planned;
        self.done += f.done;
        self.pauses.extend(f.pauses);
        self.problems.extend(f.problems);
        for (path, err) in f.failed {
            self.failures += 1;
            match failure_kind(&err) {
                FailureKind::StopsThePass => {
                    if let (None, OpError::Remote(e)) = (&self.stop, &err) {
                        self.stop = Some(e.clone());
                    }
                }
                FailureKind::Quota => self.quota_failures += 1,
                FailureKind::ServiceFull => self.service_full += 1,
                FailureKind::DiskFull => self.disk_full.push(path),
                FailureKind::ThisOperation => {
                    let failure = err.failure();
                    for (_, from) in f.failed_moves.iter().filter(|(to, _)| *to == path) {
                        self.retry.push((folder, from.clone(), failure.clone()));
                    }
                    self.retry.push((folder, path, failure));
                }
            }
        }
    }

    /// Nothing failed but for want of room, here or on the service.
    fn only_waiting_for_room(&self) -> bool {
        self.failures > 0
            && self.failures == self.quota_failures + self.service_full + self.disk_full.len()
    }
}

#[derive(Debug, PartialEq, Eq)]
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
            OpError::NoRoom { .. } | OpError::DiskFull(_) => FailureKind::DiskFull,
            OpError::StateDb(e) if e.is_disk_full() => FailureKind::DiskFull,
            OpError::Remote(RemoteError::Network { .. }) => FailureKind::StopsThePass,
            _ => FailureKind::ThisOperation,
        },
    }
}

/// What room there is, for the pauses of a round that only waits for it.
#[derive(Debug, Clone, Copy)]
struct Room {
    storage: Option<Storage>,
    keep_free_bytes: u64,
}

/// What a round's report means for the user.
#[derive(Debug)]
enum Verdict {
    /// Work was done, or what failed may go next time: plan again.
    Again,
    /// The pass is over.
    Done(Outcome),
    /// A failure that stops the pass (`stopped` says how).
    Stop(RemoteError),
}

/// The decision after each round, pure: `pauses` gathers what the pass's
/// rounds paused for (each said once).
fn verdict(round: RoundTotals, pauses: &mut Vec<Pause>, room: Room) -> Verdict {
    if let Some(e) = round.stop {
        return Verdict::Stop(e);
    }
    let waits_for_room = round.done == 0 && round.only_waiting_for_room();
    pauses.extend(round.pauses.iter().cloned());
    if round.planned == 0 || (!pauses.is_empty() && round.done == 0) {
        return Verdict::Done(paused_or_in_sync(std::mem::take(pauses)));
    }
    if waits_for_room {
        pauses.extend(room_pauses(&round, room));
        return Verdict::Done(paused_or_in_sync(std::mem::take(pauses)));
    }
    Verdict::Again
}

/// The pauses, each said once; none is in sync.
fn paused_or_in_sync(mut pauses: Vec<Pause>) -> Outcome {
    let mut seen = Vec::new();
    pauses.retain(|p| {
        let new = !seen.contains(p);
        if new {
            seen.push(p.clone());
        }
        new
    });
    if pauses.is_empty() {
        Outcome::InSync
    } else {
        Outcome::Paused(pauses)
    }
}

/// The pauses of a round in which only uploads over the quota, uploads
/// the service had no room for, and downloads this disk has no room for
/// failed.
fn room_pauses(round: &RoundTotals, room: Room) -> Vec<Pause> {
    let mut pauses = Vec::new();
    if round.quota_failures > 0 {
        pauses.push(Pause::StorageFull {
            waiting: round.quota_failures,
            storage: room.storage,
        });
    }
    if round.service_full > 0 {
        pauses.push(Pause::ServiceFull {
            waiting: round.service_full,
        });
    }
    if !round.disk_full.is_empty() {
        pauses.push(Pause::DiskFull {
            waiting: round.disk_full.len(),
            first: round.disk_full.first().cloned(),
            keep_free_bytes: room.keep_free_bytes,
        });
    }
    pauses
}

/// How a failure that stops the pass ends it: the account or the
/// agreements pause it (nothing is planned, so an empty account never
/// reaches the planner); anything else fails it.
fn stopped(e: Step) -> Result<Outcome, SyncError> {
    let api = match e {
        Step::Db(e) => return Err(SyncError::StateDb(e)),
        Step::Remote(RemoteError::Api(api)) => api,
        Step::Remote(other) => return Err(SyncError::Remote(other)),
    };
    let pause = match api.code {
        ErrorCode::AgreementsRequired => Pause::AgreementsRequired {
            documents: api
                .pending
                .iter()
                .map(|p| PendingDocument {
                    id: p.id.clone(),
                    title: p.title.clone(),
                    version: p.version.clone(),
                    effective: p.effective.clone(),
                })
                .collect(),
        },
        ErrorCode::AccountFrozen => Pause::AccountFrozen {
            deletes_at: api
                .deletes_at
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()),
        },
        ErrorCode::AccountDeleted => Pause::AccountDeleted,
        ErrorCode::Unauthorized => return Err(SyncError::SignedOut(api)),
        _ => return Err(SyncError::Remote(RemoteError::Api(api))),
    };
    Ok(Outcome::Paused(vec![pause]))
}

/// An error with its sources, for the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out = format!("{out}: {text}");
        }
        source = s.source();
    }
    out
}

/// The pause of the service's new folder `path` of `folder`, held back
/// for its size until the user says to sync it.
fn large_folder(folder: &FolderConfig, path: &str, bytes: u64) -> Pause {
    let base = folder.remote.trim_end_matches('/');
    Pause::LargeFolder {
        remote_path: format!("{base}/{path}"),
        bytes,
    }
}

/// New folders on the service, not yet here in any form, whose contents
/// exceed `limit` bytes and that the user has not chosen to download.
/// A folder that only moved (its node is known) is not new. (A first sync
/// in slices finds them as its walk reaches them: `sliced.rs`.)
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
    Ok(db.record(folder.id, &[Change::RemoveLocal(rel)])?)
}

/// Writes the root marker of a new folder (keeping an existing one's value).
pub fn mark_root(root: &Path, marker: &str) -> anyhow::Result<()> {
    crate::home::write_atomic(&root.join(ROOT_MARKER), marker.as_bytes(), false)
}

#[cfg(test)]
mod tests {
    //! The round's verdict, as the planner is tested: pure, case by case.

    use std::sync::Arc;

    use super::*;
    use crate::executor::Stale;

    fn api(code: ErrorCode) -> RemoteError {
        RemoteError::Api(ApiError::new(code, "said by the service"))
    }

    fn offline() -> RemoteError {
        RemoteError::network(NetCauseAlias::Connect, "connection refused")
    }

    use crate::report::NetCause as NetCauseAlias;

    const ROOM: Room = Room {
        storage: Some(Storage {
            used_bytes: 10,
            quota_bytes: 10,
        }),
        keep_free_bytes: 500,
    };

    /// A round of one folder that planned `planned`, did `done`, and saw
    /// these failures and pauses.
    fn round(
        planned: usize,
        done: usize,
        failed: Vec<(&str, OpError)>,
        pauses: Vec<Pause>,
    ) -> RoundTotals {
        let mut totals = RoundTotals::default();
        totals.add(
            1,
            FolderRound {
                planned,
                done,
                pauses,
                problems: Vec::new(),
                failed: failed
                    .into_iter()
                    .map(|(p, e)| (p.to_string(), e))
                    .collect(),
                failed_moves: vec![("to.txt".into(), "from.txt".into())],
            },
        );
        totals
    }

    fn done(v: Verdict) -> Outcome {
        match v {
            Verdict::Done(o) => o,
            other => panic!("not the end of the pass: {other:?}"),
        }
    }

    #[test]
    fn nothing_planned_is_in_sync_and_work_done_goes_again() {
        let mut pauses = Vec::new();
        assert_eq!(
            done(verdict(round(0, 0, vec![], vec![]), &mut pauses, ROOM)),
            Outcome::InSync
        );
        assert!(matches!(
            verdict(round(3, 3, vec![], vec![]), &mut pauses, ROOM),
            Verdict::Again
        ));
    }

    #[test]
    fn every_pause_ends_the_pass_once_nothing_more_is_done() {
        let every = [
            Pause::MassDelete {
                folder: "/f".into(),
                local_files: 20,
                remote_files: 0,
                synced_files: 20,
            },
            Pause::AgreementsRequired { documents: vec![] },
            Pause::StorageFull {
                waiting: 1,
                storage: None,
            },
            Pause::ServiceFull { waiting: 1 },
            Pause::DiskFull {
                waiting: 1,
                first: None,
                keep_free_bytes: 0,
            },
            Pause::FolderUnavailable {
                folder: "/f".into(),
                why: RootProblem::MarkerLost,
            },
            Pause::AccountFrozen { deletes_at: None },
            Pause::AccountDeleted,
            Pause::LargeFolder {
                remote_path: "/videos".into(),
                bytes: 5,
            },
            Pause::MountGone {
                folder: "/f".into(),
                path: "disk".into(),
            },
        ];
        for pause in every {
            // Seen in an earlier round (a folder's root) and again now: said once.
            let mut pauses = vec![pause.clone()];
            let v = verdict(round(1, 0, vec![], vec![pause.clone()]), &mut pauses, ROOM);
            assert_eq!(done(v), Outcome::Paused(vec![pause.clone()]));
            // While work is still being done, the pass goes on.
            let mut pauses = Vec::new();
            let v = verdict(round(2, 1, vec![], vec![pause.clone()]), &mut pauses, ROOM);
            assert!(matches!(v, Verdict::Again), "{pause:?}");
            assert_eq!(pauses, [pause]);
        }
    }

    #[test]
    fn failures_for_want_of_room_pause_with_what_waits() {
        let io_full = || {
            OpError::DiskFull(Arc::new(std::io::Error::from(
                std::io::ErrorKind::StorageFull,
            )))
        };
        let no_room = OpError::NoRoom {
            path: "big.bin".into(),
            needed: 10,
            free: 1,
            keep_free: 500,
        };
        let failed = vec![
            ("a.txt", OpError::Remote(api(ErrorCode::QuotaExceeded))),
            ("b.txt", OpError::Remote(api(ErrorCode::QuotaExceeded))),
            ("c.txt", OpError::Remote(api(ErrorCode::ServiceFull))),
            ("big.bin", no_room),
            ("d.bin", io_full()),
        ];
        let mut pauses = Vec::new();
        let v = verdict(round(5, 0, failed, vec![]), &mut pauses, ROOM);
        assert_eq!(
            done(v),
            Outcome::Paused(vec![
                Pause::StorageFull {
                    waiting: 2,
                    storage: ROOM.storage,
                },
                Pause::ServiceFull { waiting: 1 },
                Pause::DiskFull {
                    waiting: 2,
                    first: Some("big.bin".into()),
                    keep_free_bytes: 500,
                },
            ])
        );
        // Room is short, but something else was done: plan again.
        let failed = vec![("a.txt", OpError::Remote(api(ErrorCode::QuotaExceeded)))];
        assert!(matches!(
            verdict(round(2, 1, failed, vec![]), &mut pauses, ROOM),
            Verdict::Again
        ));
    }

    #[test]
    fn the_service_and_the_network_stop_the_pass() {
        for (e, want) in [
            (
                api(ErrorCode::AccountFrozen),
                Ok(Pause::AccountFrozen { deletes_at: None }),
            ),
            (api(ErrorCode::AccountDeleted), Ok(Pause::AccountDeleted)),
            (
                api(ErrorCode::AgreementsRequired),
                Ok(Pause::AgreementsRequired { documents: vec![] }),
            ),
            (api(ErrorCode::Unauthorized), Err(Failure::SignedOut)),
            (
                offline(),
                Err(Failure::Offline {
                    cause: NetCauseAlias::Connect,
                }),
            ),
        ] {
            let mut pauses = Vec::new();
            let failed = vec![
                ("a.txt", OpError::Remote(e)),
                ("b.txt", OpError::Stale(Stale::Changed("b.txt".into()))),
            ];
            let Verdict::Stop(e) = verdict(round(2, 1, failed, vec![]), &mut pauses, ROOM) else {
                panic!("the pass goes on after {want:?}");
            };
            let got = match stopped(Step::Remote(e)) {
                Ok(Outcome::Paused(p)) => Ok(p.into_iter().next().unwrap()),
                Ok(Outcome::InSync) => panic!("in sync"),
                Err(e) => Err(e.failure()),
            };
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_failure_of_its_own_is_retried_and_a_local_database_is_never_offline() {
        let db = DbError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            None,
        ));
        let failed = vec![
            (
                "to.txt",
                OpError::Io(Arc::new(std::io::Error::from(
                    std::io::ErrorKind::PermissionDenied,
                ))),
            ),
            ("x.txt", OpError::from(db)),
        ];
        let totals = round(2, 0, failed, vec![]);
        assert_eq!(
            totals.retry,
            [
                (
                    1,
                    "from.txt".to_string(),
                    OpFailure::Local {
                        error: crate::problem::LocalError::PermissionDenied
                    }
                ),
                (
                    1,
                    "to.txt".to_string(),
                    OpFailure::Local {
                        error: crate::problem::LocalError::PermissionDenied
                    }
                ),
                (1, "x.txt".to_string(), OpFailure::LocalDatabase),
            ],
            "a move's start is held with its destination"
        );
        let mut pauses = Vec::new();
        assert!(matches!(verdict(totals, &mut pauses, ROOM), Verdict::Again));
        // A pass the state database stops is a local failure, not offline.
        let e = SyncError::StateDb(DbError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        )));
        assert_eq!(e.failure(), Failure::LocalDatabase { disk_full: true });
    }
}
