//! The one task that owns the engine. IPC commands and tray clicks send it
//! requests; it answers, and pushes every change of state to the front end
//! and the tray. No sync logic lives here: it is all in `nubo-engine`.

use std::sync::Arc;
use std::time::Duration;

use nubo_engine::account::{self, LoginError, LoginProblem};
use nubo_engine::engine::SyncEvent;
use nubo_engine::home::Config;
use nubo_engine::planner::Mode;
use nubo_engine::restore;
use nubo_engine::{Engine, Home};
use nubo_ipc::*;
use tokio::sync::{mpsc, oneshot};

use crate::i18n;

pub type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

/// The IPC commands as requests, one variant per command of
/// `nubo_ipc::commands!` (same name, same arguments, and where the answer
/// goes), and `Controller::command`, which hands each to the controller's
/// method of its name.
macro_rules! command_requests {
    ($( $(#[doc = $doc:literal])* $name:ident ( $($arg:ident : $ty:ty),* ) -> $reply:ty ; )*) => {
        /// An IPC command, as `nubo_ipc::commands!` declares it.
        #[allow(non_camel_case_types)]
        pub enum Command {
            $( $(#[doc = $doc])* $name { $($arg: $ty,)* reply: Reply<$reply> }, )*
        }

        impl Controller {
            async fn command(&mut self, command: Command) {
                match command {
                    $( Command::$name { $($arg,)* reply } => {
                        let answer: Answer<$reply> = self.$name($($arg),*).await.into();
                        answer.send(reply);
                    } )*
                }
            }
        }
    };
}
nubo_ipc::commands!(command_requests);

pub enum Request {
    /// From the front end or the tray.
    Command(Command),
    /// A sign-in by code ended (`code_sign_in_wait`'s task).
    CodeSignInDone(Result<(), CommandError>, Reply<AppSnapshot>),
    /// Where restored items are now on the service: sync them down, then
    /// tell the user and show them.
    Restored(RestoreSummary),
    /// From the engine's observer.
    Engine(SyncEvent),
}

impl From<Command> for Request {
    fn from(c: Command) -> Self {
        Request::Command(c)
    }
}

/// A command's answer: at once, or from a task of its own (a restore, an
/// export, a sign-in by code), while the controller goes on answering.
pub enum Answer<T> {
    Now(Result<T, CommandError>),
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, CommandError>> + Send>>),
}

impl<T> From<Result<T, CommandError>> for Answer<T> {
    fn from(r: Result<T, CommandError>) -> Self {
        Answer::Now(r)
    }
}

impl<T: Send + 'static> Answer<T> {
    fn send(self, reply: Reply<T>) {
        match self {
            Answer::Now(r) => {
                let _ = reply.send(r);
            }
            Answer::Later(task) => {
                tauri::async_runtime::spawn(async move {
                    let _ = reply.send(task.await);
                });
            }
        }
    }
}

/// What the controller tells the outside world (front end, tray).
pub trait Outlet: Send + Sync + 'static {
    fn snapshot(&self, snapshot: &AppSnapshot);
    fn notify(&self, title: &str, body: &str);
    fn start_at_login(&self) -> bool;
    fn set_start_at_login(&self, on: bool) -> Result<(), String>;
    /// Shows a file or folder in the file manager.
    fn reveal(&self, path: &std::path::Path);
    fn restore_progress(&self, progress: &RestoreProgress);
    fn export_progress(&self, progress: &ExportProgressView);
}

#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Request>,
}

impl Handle {
    pub async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, CommandError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx).into())
            .await
            .map_err(|_| err("the app is shutting down"))?;
        rx.await.map_err(|_| err("the app is shutting down"))?
    }
}

fn err(message: impl Into<String>) -> CommandError {
    CommandError {
        problem: None,
        message: message.into(),
    }
}

fn from_anyhow(e: anyhow::Error) -> CommandError {
    if let Some(o) = e.downcast_ref::<account::AgreementOutdated>() {
        return CommandError {
            problem: Some(SignInProblem::AgreementOutdated),
            message: o.message.clone(),
        };
    }
    if let Some(l) = e.downcast_ref::<LoginError>() {
        let problem = match l.problem {
            LoginProblem::WrongCredentials => SignInProblem::WrongCredentials,
            LoginProblem::TooManyAttempts { retry_at } => {
                SignInProblem::TooManyAttempts { retry_at }
            }
            LoginProblem::Unreachable => SignInProblem::Unreachable,
            LoginProblem::BadCertificate => SignInProblem::BadCertificate,
            LoginProblem::InsecureAddress => SignInProblem::InsecureAddress,
            LoginProblem::Other => SignInProblem::Other,
        };
        return CommandError {
            problem: Some(problem),
            message: l.message.clone(),
        };
    }
    err(format!("{e:#}"))
}

struct Controller {
    home: Home,
    /// The home's config.json as last read: at start and after the user
    /// changed something (never on the engine's events).
    config: Config,
    /// The status the window and the tray show, kept here: read at start
    /// and after the user changed something, updated from the engine's
    /// events (a pass's end reads its records through the engine's handle).
    status: Option<StatusView>,
    /// The engine could not be opened because the state database is
    /// damaged: the sync loop's start sets it aside and rebuilds it.
    db_damaged: bool,
    outlet: Arc<dyn Outlet>,
    tx: mpsc::Sender<Request>,
    language: String,
    default_server: String,
    engine: Option<Arc<Engine>>,
    agreements_pending: bool,
    tray: TrayState,
    /// Stops the running sync loop.
    stop: Option<oneshot::Sender<()>>,
    /// The running sync loop, to wait for when it must be fully stopped.
    sync_task: Option<tauri::async_runtime::JoinHandle<()>>,
    paused: bool,
    /// Conflicts already announced, so each new one is notified once.
    conflicts_seen: usize,
    revision: std::sync::atomic::AtomicU32,
    /// The running batch: operations and bytes.
    batch: (u32, u64),
    last_progress: std::time::Instant,
    /// A sign-in by code started and not finished: (service, code).
    pending_code: Option<(String, nubo_protocol::DeviceCodeResponse)>,
    /// The next start of the loop lets a paused mass delete through, once.
    allow_mass_delete_once: bool,
    /// Consent to the push terms, as of the last look at the agreements.
    push: bool,
}

pub fn spawn(
    home: Home,
    outlet: Arc<dyn Outlet>,
    language: String,
    default_server: String,
) -> Handle {
    let (tx, rx) = mpsc::channel(64);
    let c = Controller {
        config: Config::default(),
        status: None,
        db_damaged: false,
        home,
        outlet,
        tx: tx.clone(),
        language,
        default_server,
        engine: None,
        agreements_pending: false,
        tray: TrayState::ActionNeeded { need: Need::SignIn },
        stop: None,
        sync_task: None,
        paused: false,
        conflicts_seen: usize::MAX,
        revision: Default::default(),
        batch: (0, 0),
        last_progress: std::time::Instant::now(),
        pending_code: None,
        allow_mass_delete_once: false,
        push: false,
    };
    tauri::async_runtime::spawn(c.run(rx));
    Handle { tx }
}

const PROGRESS_EVERY: Duration = Duration::from_millis(250);

async fn devices_of(engine: &Engine) -> Result<Vec<DeviceView>, CommandError> {
    let list = engine
        .service()
        .map_err(|e| err(e.to_string()))?
        .devices()
        .await
        .map_err(|e| err(e.to_string()))?;
    Ok(list
        .devices
        .into_iter()
        .map(|d| DeviceView {
            id: d.id,
            name: d.name,
            os: d.os,
            last_seen: d.last_seen,
            current: d.current,
        })
        .collect())
}

fn syncing((files, bytes): (u32, u64), files_done: u32, bytes_done: u64) -> TrayState {
    TrayState::Syncing {
        files_left: files.saturating_sub(files_done),
        files_total: files,
        bytes_left: bytes.saturating_sub(bytes_done),
        bytes_total: bytes,
    }
}

/// A count of files as the tray states hold it (past four billion, all
/// the same).
fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn mode_of(m: SyncMode) -> Mode {
    match m {
        SyncMode::TwoWay => Mode::TwoWay,
        SyncMode::UploadOnly => Mode::UploadOnly,
        SyncMode::DownloadOnly => Mode::DownloadOnly,
    }
}

fn sync_mode(m: Mode) -> SyncMode {
    match m {
        Mode::TwoWay => SyncMode::TwoWay,
        Mode::UploadOnly => SyncMode::UploadOnly,
        Mode::DownloadOnly => SyncMode::DownloadOnly,
    }
}

/// A QR code a phone camera reads, as SVG.
fn qr_svg(text: &str) -> Result<String, CommandError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| err(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build())
}

fn deleted_page(list: nubo_protocol::TrashList) -> DeletedPage {
    DeletedPage {
        total: list.total,
        retention_days: list.retention_days,
        items: list
            .items
            .into_iter()
            .map(|i| DeletedItem {
                folder: match i.path.rsplit_once('/') {
                    Some(("", _)) | None => "/".into(),
                    Some((dir, _)) => dir.into(),
                },
                id: i.id,
                name: i.name,
                path: i.path,
                is_dir: i.kind == nubo_protocol::NodeKind::Dir,
                size: i.size,
                files: i.files,
                deleted_at: i.deleted_at,
                device: i.device_name,
            })
            .collect(),
    }
}

fn file_versions(v: restore::FileVersions) -> FileVersions {
    let current = VersionView {
        rev: v.node.rev,
        size: v.node.size,
        at: v.node.mtime_ms / 1000,
        device: String::new(),
        current: true,
    };
    FileVersions {
        node: v.node.id,
        path: v.path,
        deleted: v.node.deleted,
        versions: std::iter::once(current)
            .chain(v.versions.into_iter().map(|x| VersionView {
                rev: x.rev,
                size: x.size,
                at: x.created_at,
                device: x.device_name,
                current: false,
            }))
            .collect(),
    }
}

async fn run_restore(
    engine: &Engine,
    items: &[RestoreItem],
    outlet: &dyn Outlet,
) -> RestoreSummary {
    let targets: Vec<restore::Target> = items
        .iter()
        .map(|i| restore::Target {
            node: i.node,
            rev: i.rev,
            to: None,
            as_copy: i.as_copy,
            label: i.label.clone(),
        })
        .collect();
    let results = restore::restore_many(engine, &targets, &mut |p| {
        outlet.restore_progress(&RestoreProgress {
            done: p.done as u32,
            total: p.total as u32,
            label: p.label.clone(),
            error: p.result.as_ref().err().cloned(),
        })
    })
    .await;
    let mut summary = RestoreSummary {
        restored: 0,
        files: 0,
        paths: Vec::new(),
        failed: Vec::new(),
    };
    for p in results {
        match p.result {
            Ok(r) => {
                summary.restored += 1;
                summary.files += r.files;
                summary.paths.push(r.path);
            }
            Err(e) => summary.failed.push(format!("{}: {e}", p.label)),
        }
    }
    summary
}

/// How long to wait for restored files to reach the disk before saying so
/// without showing them.
const REVEAL_WAIT: Duration = Duration::from_secs(120);

impl Controller {
    /// A notification, and the first restored item shown in the file manager
    /// once the sync loop has brought it down.
    fn show_restored(&self, summary: RestoreSummary) {
        if summary.restored == 0 {
            return;
        }
        let local = summary
            .paths
            .iter()
            .find_map(|p| restore::local_path(&self.config, p));
        let messages = i18n::catalog(&self.language);
        let title = messages.get("restore-done_title", &[]);
        let count = summary.files;
        let outlet = self.outlet.clone();
        let Some(local) = local else {
            outlet.notify(
                &title,
                &messages.get("restore-done_remote", &[("count", count.into())]),
            );
            return;
        };
        let body = messages.get("restore-done_body", &[("count", count.into())]);
        tauri::async_runtime::spawn(async move {
            let start = std::time::Instant::now();
            while !local.exists() && start.elapsed() < REVEAL_WAIT {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            outlet.notify(&title, &body);
            if local.exists() {
                outlet.reveal(&local);
            }
        });
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        self.resume_session().await;
        while let Some(req) = rx.recv().await {
            self.handle(req).await;
        }
    }

    /// At start: a home that is signed in, has accepted and has a folder syncs at once.
    async fn resume_session(&mut self) {
        self.reload();
        if self.open_engine().is_ok() || self.db_damaged {
            self.refresh_agreements().await;
            if self.phase() == Phase::Running {
                self.start_sync().await;
            }
        }
        self.changed();
    }

    /// After a sign-in (password or code): a fresh engine on the new
    /// tokens, and where the wizard goes next.
    async fn signed_in(&mut self) -> Result<AppSnapshot, CommandError> {
        self.engine = None;
        let opened = self.open_engine();
        self.reload();
        opened.map_err(from_anyhow)?;
        self.refresh_agreements().await;
        Ok(self.snapshot_now())
    }

    /// The engine, opened once and kept: its state database handle is the
    /// one the controller reads and the sync loop writes. This open checks
    /// the database and never moves it (a damaged one is remembered for the
    /// sync loop's start, `open_for_sync`).
    fn open_engine(&mut self) -> anyhow::Result<Arc<Engine>> {
        if let Some(e) = &self.engine {
            return Ok(e.clone());
        }
        let opened = Engine::open(self.home.clone());
        self.db_damaged = matches!(
            opened
                .as_ref()
                .err()
                .and_then(|e| e.downcast_ref::<nubo_engine::db::DbError>()),
            Some(nubo_engine::db::DbError::Damaged { .. })
        );
        self.keep_engine(opened?)
    }

    /// The sync loop's open, with the home's sync lock held: a damaged state
    /// database is set aside and rebuilt here, and nowhere else in the app.
    fn open_engine_for_sync(&mut self) -> anyhow::Result<Arc<Engine>> {
        if let Some(e) = &self.engine {
            return Ok(e.clone());
        }
        let engine = Engine::open_for_sync(self.home.clone())?;
        self.db_damaged = false;
        self.keep_engine(engine)
    }

    fn keep_engine(&mut self, mut engine: Engine) -> anyhow::Result<Arc<Engine>> {
        let tx = self.tx.clone();
        engine.set_observer(Arc::new(move |ev| {
            let _ = tx.try_send(Request::Engine(ev));
        }));
        let engine = Arc::new(engine);
        self.engine = Some(engine.clone());
        Ok(engine)
    }

    async fn refresh_agreements(&mut self) {
        let Some(service) = self.engine.as_ref().and_then(|e| e.service().ok()) else {
            return;
        };
        if let Ok(s) = service.agreement_status().await {
            self.agreements_pending = s
                .pending
                .iter()
                .any(|p| p.required != nubo_protocol::Requirement::Optional);
            self.push = !s
                .pending
                .iter()
                .any(|p| p.required == nubo_protocol::Requirement::Optional);
        }
    }

    fn phase(&self) -> Phase {
        let config = &self.config;
        // Signed in, and the engine open, or waiting for the sync loop's
        // start to rebuild a damaged state database.
        if config.token_store.is_none() || (self.engine.is_none() && !self.db_damaged) {
            Phase::Welcome
        } else if self.agreements_pending {
            Phase::Agreements
        } else if config.folders.is_empty() {
            Phase::Folder
        } else {
            Phase::Running
        }
    }

    /// What the front end shows, from memory.
    fn snapshot_now(&self) -> AppSnapshot {
        let config = &self.config;
        AppSnapshot {
            revision: self
                .revision
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1,
            phase: self.phase(),
            language: self.language.clone(),
            server: config.server.clone(),
            account: config.account_id.clone(),
            tray: self.tray_state(),
            status: self.status.clone(),
            default_server: self.default_server.clone(),
            start_at_login: self.outlet.start_at_login(),
            push: self.push,
        }
    }

    /// Until the wizard is done the tray says which step needs the user;
    /// then it shows the sync loop's state.
    fn tray_state(&self) -> TrayState {
        let need = match self.phase() {
            Phase::Welcome | Phase::SignIn => Need::SignIn,
            Phase::Agreements => Need::Agreements,
            Phase::Folder => Need::Folder,
            Phase::Running => return self.tray.clone(),
        };
        TrayState::ActionNeeded { need }
    }

    fn publish(&self) {
        self.outlet.snapshot(&self.snapshot_now());
    }

    /// After the user changed something: config.json and the status read
    /// again, then published.
    fn changed(&mut self) {
        self.reload();
        self.publish();
    }

    /// config.json and the status, read from disk.
    fn reload(&mut self) {
        match self.home.load_config() {
            Ok(config) => self.config = config,
            Err(e) => tracing::warn!("cannot read the settings: {e:#}"),
        }
        self.status = Some(self.read_status());
    }

    /// The status, read through the engine's handle when it is open (the
    /// sync loop's own: no second open, no second check); before that, the
    /// database is opened to read it only.
    fn read_status(&self) -> StatusView {
        let db = self.engine.as_ref().map(|e| &*e.db);
        let s = account::status_of(&self.home, &self.config, db);
        let config = &self.config;
        let accepted = match db {
            Some(db) => db.acceptances(),
            None => match nubo_engine::db::StateDb::open_for_reading(&self.home.db_path()) {
                Ok(Some(db)) => db.acceptances(),
                Ok(None) => Ok(Vec::new()),
                Err(e) => Err(e),
            },
        }
        .unwrap_or_else(|e| {
            tracing::warn!("cannot read the acceptances: {e}");
            Vec::new()
        });
        let rfc3339 = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        StatusView {
            pauses: s.pauses().to_vec(),
            last_pass: s.last_pass,
            notice: s.notice,
            database_damaged: matches!(s.database, Some(account::DatabaseProblem::Damaged { .. })),
            folders: s
                .folders
                .into_iter()
                .map(|f| FolderView {
                    local: f.local.display().to_string(),
                    remote: f.remote,
                    mode: sync_mode(f.mode),
                    excluded: f.excluded,
                    paused: f.paused,
                })
                .collect(),
            conflicts: s
                .conflicts
                .into_iter()
                .map(|c| Conflict {
                    path: c.path,
                    copy: c.copy,
                    at: rfc3339(c.at),
                })
                .collect(),
            recent: s
                .recent
                .into_iter()
                .map(|e| RecentChange {
                    service_path: config
                        .folders
                        .iter()
                        .find(|f| f.id == e.folder)
                        .map(|f| format!("{}/{}", f.remote.trim_end_matches('/'), e.change.path())),
                    change: e.change,
                    at: rfc3339(e.at),
                    device: e.device,
                })
                .collect(),
            problems: s.problems,
            storage_used: s.storage.map(|st| st.used_bytes),
            storage_quota: s.storage.map(|st| st.quota_bytes),
            token_store: s.token_store.map(|t| match t {
                nubo_engine::home::TokenStore::Keyring => TokenStoreView::Keyring,
                nubo_engine::home::TokenStore::File => TokenStoreView::File,
            }),
            accepted: accepted
                .into_iter()
                .map(|a| AcceptedAgreement {
                    id: a.id,
                    version: a.version,
                    locale: a.locale,
                    age: a.age,
                    accepted_at: a.accepted_at,
                })
                .collect(),
        }
    }

    async fn start_sync(&mut self) {
        if self.stop.is_some() || self.paused {
            return;
        }
        // The same lock as `nubo sync`: one sync loop per home, app or CLI.
        let lock = match self.home.lock_for_sync() {
            Ok(lock) => lock,
            Err(e) => {
                tracing::warn!("cannot start syncing: {e:#}");
                self.tray = TrayState::Error {
                    failure: Failure::HomeBusy,
                };
                return;
            }
        };
        let engine = match self.open_engine_for_sync() {
            Ok(engine) => engine,
            Err(e) => {
                tracing::error!("cannot start syncing: {e:#}");
                return;
            }
        };
        let push = account::push_allowed(&engine).await;
        let allow_once = std::mem::take(&mut self.allow_mass_delete_once);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        self.stop = Some(stop_tx);
        self.tray = syncing((0, 0), 0, 0);
        self.sync_task = Some(tauri::async_runtime::spawn(async move {
            let _lock = lock;
            let stop = async move {
                let _ = stop_rx.await;
            };
            if allow_once {
                if let Err(e) = engine.sync_once(true).await {
                    tracing::error!("the confirmed pass failed: {e:#}");
                }
            }
            if let Err(e) = engine.watch(false, push, stop).await {
                tracing::error!("the sync loop stopped: {e:#}");
            }
        }));
    }

    /// Desktop notifications for what needs the user: a state that newly
    /// needs an action (agreements, storage full, a paused mass delete), a new
    /// error, a new conflict.
    fn announce(&mut self, before: &TrayState) {
        let messages = i18n::catalog(&self.language);
        match &self.tray {
            TrayState::ActionNeeded { .. } if !matches!(before, TrayState::ActionNeeded { .. }) => {
                self.outlet
                    .notify("Nubo", &nubo_ipc::words::tray_line(messages, &self.tray));
            }
            TrayState::Error { .. } if !matches!(before, TrayState::Error { .. }) => {
                self.outlet
                    .notify("Nubo", &nubo_ipc::words::tray_line(messages, &self.tray));
            }
            _ => {}
        }
        if let Some(status) = &self.status {
            let count = status.conflicts.len();
            if count > self.conflicts_seen {
                if let Some(c) = status.conflicts.last() {
                    let body = messages.get(
                        "status-conflict_item",
                        &[("path", (&c.path).into()), ("copy", (&c.copy).into())],
                    );
                    self.outlet
                        .notify(&messages.get("status-conflicts", &[]), &body);
                }
            }
            self.conflicts_seen = count;
        }
    }

    fn stop_sync(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the sync loop and waits until its round has ended and the
    /// home's lock is released.
    /// After a change the sync loop reads only when it starts (folders,
    /// limits): a running loop starts again.
    async fn restart_sync(&mut self) {
        if self.stop.is_some() {
            self.stop_sync_and_wait().await;
            self.reopen(true).await;
        }
    }

    /// The engine opened afresh (after folders changed), and the loop started
    /// again if it ran (and there is still something to sync).
    async fn reopen(&mut self, start: bool) {
        self.engine = None;
        let _ = self.open_engine();
        self.reload();
        if start && self.phase() == Phase::Running {
            self.start_sync().await;
        }
    }

    async fn stop_sync_and_wait(&mut self) {
        self.stop_sync();
        if let Some(task) = self.sync_task.take() {
            let _ = task.await;
        }
    }

    /// Signs out, syncs nothing, keeps every local file. Declining the
    /// agreements (`declined`: the documents shown) means no use of the
    /// service: the decline is recorded on the service first.
    async fn sign_out_declining(
        &mut self,
        declined: &[nubo_protocol::AcceptItem],
    ) -> Result<AppSnapshot, CommandError> {
        self.stop_sync_and_wait().await;
        let result = account::decline(&self.home, declined)
            .await
            .map_err(from_anyhow);
        self.engine = None;
        self.agreements_pending = false;
        self.tray = TrayState::ActionNeeded { need: Need::SignIn };
        self.changed();
        result.map(|_| self.snapshot_now())
    }

    /// The service's address: the one given, else the signed-in one, else
    /// the default.
    fn server_or_default(&self, given: Option<String>) -> String {
        given
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.config.server.clone())
            .unwrap_or_else(|| self.default_server.clone())
    }

    async fn handle(&mut self, req: Request) {
        match req {
            Request::Command(c) => self.command(c).await,
            Request::CodeSignInDone(done, r) => {
                let _ = r.send(self.code_sign_in_done(done).await);
            }
            Request::Restored(summary) => self.restored(summary).await,
            Request::Engine(ev) => self.engine_event(ev).await,
        }
    }

    async fn snapshot(&mut self) -> Result<AppSnapshot, CommandError> {
        Ok(self.snapshot_now())
    }

    async fn status(&mut self) -> Result<StatusView, CommandError> {
        if self.status.is_none() {
            self.reload();
        }
        self.status
            .clone()
            .ok_or_else(|| err("the status cannot be read"))
    }

    async fn default_folder(&mut self) -> Result<String, CommandError> {
        Ok(directories::UserDirs::new()
            .map(|d| d.home_dir().join("Nubo").display().to_string())
            .unwrap_or_else(|| "Nubo".into()))
    }

    async fn open_logs(&mut self) -> Result<(), CommandError> {
        self.outlet.reveal(&self.home.logs_dir());
        Ok(())
    }

    async fn ignore_patterns(&mut self) -> Result<String, CommandError> {
        account::ignore_patterns(&self.home).map_err(from_anyhow)
    }

    async fn set_ignore_patterns(&mut self, text: String) -> Result<(), CommandError> {
        account::set_ignore_patterns(&self.home, &text).map_err(from_anyhow)
    }

    async fn decline(
        &mut self,
        documents: Vec<ShownDocument>,
    ) -> Result<AppSnapshot, CommandError> {
        self.sign_out_declining(&crate::legal::shown_items(documents))
            .await
    }

    async fn sign_out(&mut self) -> Result<AppSnapshot, CommandError> {
        self.sign_out_declining(&[]).await
    }

    async fn set_language(&mut self, language: String) -> Result<AppSnapshot, CommandError> {
        self.language = i18n::normalize(&language).to_string();
        let _ = crate::settings::save_language(&self.home, &self.language);
        self.changed();
        Ok(self.snapshot_now())
    }

    async fn sign_in(&mut self, request: SignIn) -> Result<AppSnapshot, CommandError> {
        let result = account::login(
            &self.home,
            &request.server,
            &request.login,
            &request.password,
        )
        .await
        .map_err(from_anyhow);
        let result = match result {
            Ok(_) => self.signed_in().await,
            Err(e) => Err(e),
        };
        self.changed();
        result
    }

    async fn code_sign_in_start(&mut self, server: String) -> Result<CodeSignIn, CommandError> {
        account::start_code_sign_in(&server)
            .await
            .map_err(from_anyhow)
            .and_then(|(server, code)| {
                let view = CodeSignIn {
                    qr_svg: qr_svg(&code.verification_uri_complete)?,
                    user_code: code.user_code.clone(),
                    verification_uri: code.verification_uri.clone(),
                    verification_uri_complete: code.verification_uri_complete.clone(),
                    expires_in: code.expires_in,
                };
                self.pending_code = Some((server, code));
                Ok(view)
            })
    }

    /// Its own task (approval can take minutes); the controller then takes
    /// the new sign-in (`code_sign_in_done`).
    async fn code_sign_in_wait(&mut self) -> Answer<AppSnapshot> {
        let Some((server, code)) = self.pending_code.clone() else {
            return Answer::Now(Err(err("no sign-in by code was started")));
        };
        let (home, tx) = (self.home.clone(), self.tx.clone());
        Answer::Later(Box::pin(async move {
            let done = account::finish_code_sign_in(&home, &server, &code)
                .await
                .map(|_| ())
                .map_err(from_anyhow);
            let (reply, answer) = oneshot::channel();
            let _ = tx.send(Request::CodeSignInDone(done, reply)).await;
            answer.await.map_err(|_| err("the app is shutting down"))?
        }))
    }

    async fn code_sign_in_done(
        &mut self,
        done: Result<(), CommandError>,
    ) -> Result<AppSnapshot, CommandError> {
        self.pending_code = None;
        let result = match done {
            Ok(()) => self.signed_in().await,
            Err(e) => Err(e),
        };
        self.changed();
        result
    }

    async fn agreements(&mut self) -> Result<Vec<AgreementSummary>, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => account::agreements(&engine)
                .await
                .map_err(from_anyhow)
                .map(|list| {
                    list.into_iter()
                        .map(|a| AgreementSummary {
                            id: a.id,
                            title: a.title,
                            version: a.version,
                            effective: a.effective,
                            required: crate::legal::requirement(a.required),
                            locales: a.locales,
                            titles: a.titles,
                            accepted: a.accepted,
                            upcoming: a
                                .upcoming
                                .map(|(version, effective)| Upcoming { version, effective }),
                        })
                        .collect()
                }),
            Err(e) => Err(from_anyhow(e)),
        };
        result
    }

    async fn agreement_text(
        &mut self,
        id: String,
        locale: String,
        version: Option<String>,
    ) -> Result<AgreementText, CommandError> {
        let server = self.server_or_default(None);
        account::agreement_text(&self.home, &server, &id, &locale, version.as_deref())
            .await
            .map(|markdown| AgreementText {
                id,
                locale,
                markdown,
            })
            .map_err(from_anyhow)
    }

    async fn legal(&mut self, server: Option<String>) -> Result<Vec<LegalDocument>, CommandError> {
        let server = self.server_or_default(server);
        crate::legal::load(&self.home, &server)
            .await
            .map_err(from_anyhow)
    }

    async fn account_summary(&mut self) -> Result<AccountSummaryView, CommandError> {
        let engine = self.open_engine().map_err(from_anyhow)?;
        let config = &self.config;
        account::summary(&engine)
            .await
            .map(|s| crate::legal::summary_view(&s, |n| account::synced_here(config, n)))
            .map_err(from_anyhow)
    }

    async fn change_password(&mut self, change: PasswordChangeView) -> Result<(), CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => account::change_password(
                &engine,
                &change.current,
                &change.new,
                change.sign_out_others,
            )
            .await
            .map_err(from_anyhow),
            Err(e) => Err(from_anyhow(e)),
        };
        result
    }

    /// Its own task: the controller keeps answering while it runs.
    async fn export_to(&mut self, dir: String, trash: bool) -> Answer<ExportSummary> {
        let engine = match self.open_engine() {
            Ok(e) => e,
            Err(e) => return Answer::Now(Err(from_anyhow(e))),
        };
        let outlet = self.outlet.clone();
        Answer::Later(Box::pin(async move {
            let dir = std::path::PathBuf::from(dir);
            crate::legal::export(&engine, &dir, trash, |p| outlet.export_progress(p))
                .await
                .map_err(from_anyhow)
        }))
    }

    async fn accept(&mut self, acceptance: Acceptance) -> Result<AppSnapshot, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => {
                let shown = crate::legal::shown_items(acceptance.documents);
                let age = match acceptance.age {
                    Age::Adult => nubo_protocol::AgeConfirmation::Adult,
                    Age::Guardian => nubo_protocol::AgeConfirmation::Guardian,
                };
                account::accept(&engine, &shown, age)
                    .await
                    .map_err(from_anyhow)
            }
            Err(e) => Err(from_anyhow(e)),
        };
        let result = match result {
            Ok(_) => {
                self.reload();
                self.refresh_agreements().await;
                if self.phase() == Phase::Running {
                    // A loop paused on the old version goes again now.
                    self.stop_sync_and_wait().await;
                    self.start_sync().await;
                }
                Ok(self.snapshot_now())
            }
            Err(e) => Err(e),
        };
        self.changed();
        result
    }

    async fn choose_folder(&mut self, choice: FolderChoice) -> Result<AppSnapshot, CommandError> {
        // Adding a second folder from settings: the loop must pick it up.
        self.stop_sync_and_wait().await;
        let result = account::add_folder(
            &self.home,
            std::path::Path::new(&choice.local),
            &choice.remote,
            mode_of(choice.mode),
        );
        self.reload();
        let result = match result {
            Ok(_) => {
                // The end of the wizard: from now on Nubo starts with the session.
                if let Err(e) = self.outlet.set_start_at_login(true) {
                    tracing::warn!("cannot turn on start at login: {e}");
                }
                self.engine = None;
                match self.open_engine() {
                    // A damaged state database: the loop's start rebuilds it.
                    Err(e) if !self.db_damaged => Err(from_anyhow(e)),
                    _ => {
                        self.start_sync().await;
                        Ok(self.snapshot_now())
                    }
                }
            }
            Err(e) => Err(from_anyhow(e)),
        };
        self.changed();
        result
    }

    async fn set_start_at_login(&mut self, on: bool) -> Result<AppSnapshot, CommandError> {
        let result = self
            .outlet
            .set_start_at_login(on)
            .map_err(err)
            .map(|_| self.snapshot_now());
        self.changed();
        result
    }

    async fn remote_folders(&mut self) -> Result<Vec<RemoteFolder>, CommandError> {
        account::remote_folders(&self.home, 3)
            .map(|list| {
                list.into_iter()
                    .map(|f| RemoteFolder {
                        path: f.path,
                        excluded: f.excluded,
                    })
                    .collect()
            })
            .map_err(from_anyhow)
    }

    async fn set_excluded(
        &mut self,
        path: String,
        excluded: bool,
    ) -> Result<AppSnapshot, CommandError> {
        // The sync loop holds the folder: stop it, change, start again.
        let was_running = self.stop.is_some();
        self.stop_sync_and_wait().await;
        let changed = if excluded {
            account::exclude(&self.home, &path).map(|_| ())
        } else {
            account::include(&self.home, &path)
        };
        self.reopen(was_running).await;
        self.changed();
        changed.map_err(from_anyhow).map(|_| self.snapshot_now())
    }

    async fn show_conflict(&mut self, path: String) -> Result<(), CommandError> {
        // Both versions sit side by side in one folder: show it.
        account::file_in_folder(&self.home, &path)
            .map(|file| self.outlet.reveal(&file))
            .map_err(from_anyhow)
    }

    async fn set_folder(
        &mut self,
        local: String,
        mode: Option<SyncMode>,
        paused: Option<bool>,
    ) -> Result<AppSnapshot, CommandError> {
        let changed = account::set_folder(
            &self.home,
            std::path::Path::new(&local),
            mode.map(mode_of),
            paused,
        );
        // The loop reads folders when it starts: start it again.
        if changed.is_ok() {
            self.restart_sync().await;
        }
        self.changed();
        changed.map_err(from_anyhow).map(|_| self.snapshot_now())
    }

    async fn remove_folder(&mut self, local: String) -> Result<AppSnapshot, CommandError> {
        let was_running = self.stop.is_some();
        self.stop_sync_and_wait().await;
        let removed = account::remove_folder(&self.home, std::path::Path::new(&local));
        self.reopen(was_running).await;
        self.changed();
        removed.map_err(from_anyhow).map(|_| self.snapshot_now())
    }

    async fn devices(&mut self) -> Result<Vec<DeviceView>, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => devices_of(&engine).await,
            Err(e) => Err(from_anyhow(e)),
        };
        result
    }

    async fn revoke_device(&mut self, id: i64) -> Result<Vec<DeviceView>, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => match engine
                .service()
                .map_err(|e| err(e.to_string()))?
                .revoke_device(id)
                .await
            {
                Ok(()) => devices_of(&engine).await,
                Err(e) => Err(err(e.to_string())),
            },
            Err(e) => Err(from_anyhow(e)),
        };
        result
    }

    async fn limits(&mut self) -> Result<Limits, CommandError> {
        account::limits(&self.home)
            .map(|(upload_kbps, download_kbps)| Limits {
                upload_kbps,
                download_kbps,
            })
            .map_err(from_anyhow)
    }

    async fn set_limits(&mut self, limits: Limits) -> Result<(), CommandError> {
        let result = account::set_limits(&self.home, limits.upload_kbps, limits.download_kbps)
            .map_err(from_anyhow);
        // The loop reads its limits when it starts: start it again.
        if result.is_ok() {
            self.restart_sync().await;
        }
        self.changed();
        result
    }

    async fn pause(&mut self, minutes: Option<u32>) -> Result<AppSnapshot, CommandError> {
        self.stop_sync_and_wait().await;
        self.paused = true;
        self.tray = TrayState::Paused;
        if let Some(m) = minutes {
            let tx = self.tx.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(Duration::from_secs(u64::from(m) * 60)).await;
                let (reply, _) = oneshot::channel();
                let _ = tx.send(Command::resume { reply }.into()).await;
            });
        }
        self.changed();
        Ok(self.snapshot_now())
    }

    async fn set_push(&mut self, on: bool) -> Result<AppSnapshot, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => {
                if on {
                    // The same age confirmation as the last acceptance.
                    let guardian = engine
                        .db
                        .acceptances()
                        .ok()
                        .and_then(|a| a.last().map(|x| x.age == "guardian"))
                        .unwrap_or(false);
                    let age = if guardian {
                        nubo_protocol::AgeConfirmation::Guardian
                    } else {
                        nubo_protocol::AgeConfirmation::Adult
                    };
                    // The push terms and nothing else.
                    account::accept_push(&engine, age, &self.language)
                        .await
                        .map(|_| ())
                } else {
                    account::withdraw_optional(&engine).await.map(|_| ())
                }
                .map_err(from_anyhow)
            }
            Err(e) => Err(from_anyhow(e)),
        };
        self.refresh_agreements().await;
        // The loop opens or drops its push channel when it starts.
        if result.is_ok() && self.stop.is_some() {
            self.stop_sync_and_wait().await;
            self.start_sync().await;
        }
        self.changed();
        result.map(|_| self.snapshot_now())
    }

    async fn cancel_account(&mut self, confirm: String) -> Result<AppSnapshot, CommandError> {
        self.stop_sync_and_wait().await;
        let result = account::cancel_account(&self.home, &confirm)
            .await
            .map_err(from_anyhow);
        if result.is_ok() {
            self.engine = None;
            self.agreements_pending = false;
        } else if self.phase() == Phase::Running && !self.paused {
            self.start_sync().await;
        }
        self.changed();
        result.map(|_| self.snapshot_now())
    }

    async fn allow_mass_delete(&mut self) -> Result<AppSnapshot, CommandError> {
        self.stop_sync_and_wait().await;
        self.allow_mass_delete_once = true;
        if self.phase() == Phase::Running && !self.paused {
            self.start_sync().await;
        }
        self.changed();
        Ok(self.snapshot_now())
    }

    async fn resume(&mut self) -> Result<AppSnapshot, CommandError> {
        self.paused = false;
        if self.phase() == Phase::Running {
            self.start_sync().await;
        }
        self.changed();
        Ok(self.snapshot_now())
    }

    async fn list_deleted(
        &mut self,
        query: String,
        offset: u32,
    ) -> Result<DeletedPage, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => restore::deleted(&engine, &query, offset, 200)
                .await
                .map(deleted_page)
                .map_err(from_anyhow),
            Err(e) => Err(from_anyhow(e)),
        };
        result
    }

    async fn list_versions(&mut self, path: String) -> Result<FileVersions, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => restore::versions(&engine, &path)
                .await
                .map(file_versions)
                .map_err(from_anyhow),
            Err(e) => Err(from_anyhow(e)),
        };
        result
    }

    /// Its own task, with progress events: the controller keeps answering
    /// while it runs, and then shows what came back (`restored`).
    async fn restore(&mut self, items: Vec<RestoreItem>) -> Answer<RestoreSummary> {
        let engine = match self.open_engine() {
            Ok(e) => e,
            Err(e) => return Answer::Now(Err(from_anyhow(e))),
        };
        let (outlet, tx) = (self.outlet.clone(), self.tx.clone());
        Answer::Later(Box::pin(async move {
            let summary = run_restore(&engine, &items, outlet.as_ref()).await;
            let _ = tx.send(Request::Restored(summary.clone())).await;
            Ok(summary)
        }))
    }

    async fn restored(&mut self, summary: RestoreSummary) {
        // Wake the loop now rather than at its next poll.
        if self.stop.is_some() {
            self.stop_sync_and_wait().await;
            self.start_sync().await;
        }
        self.show_restored(summary);
    }

    async fn engine_event(&mut self, ev: SyncEvent) {
        let before = self.tray.clone();
        self.tray = match ev {
            SyncEvent::Working { ops, bytes } => {
                self.batch = (count(ops as u64), bytes);
                syncing(self.batch, 0, 0)
            }
            SyncEvent::Progress {
                ops_done,
                bytes_done,
            } => {
                self.tray = syncing(self.batch, count(ops_done as u64), bytes_done);
                // Thousands of small files finish in a second: tell the
                // window a few times a second, not once per file.
                if self.last_progress.elapsed() >= PROGRESS_EVERY {
                    self.last_progress = std::time::Instant::now();
                    self.publish();
                }
                return;
            }
            SyncEvent::Reading(r) => TrayState::Reading {
                files_left: count(r.files.saturating_sub(r.files_done)),
                files_total: count(r.files),
                bytes_left: r.bytes.saturating_sub(r.bytes_done),
                bytes_total: r.bytes,
            },
            SyncEvent::Settled(pass) => {
                // What the pass recorded (changes, conflicts, problems),
                // through the engine's own handle; config.json is not read.
                // How it ended comes from the event, even when the
                // database could not keep it.
                let mut status = self.read_status();
                status.pauses = match &pass.outcome {
                    PassOutcome::Paused { pauses } => pauses.clone(),
                    _ => Vec::new(),
                };
                status.last_pass = Some(pass.clone());
                self.status = Some(status);
                self.settled_tray(pass.outcome).await
            }
        };
        self.announce(&before);
        self.publish();
    }

    /// The tray's state after a pass.
    async fn settled_tray(&mut self, outcome: PassOutcome) -> TrayState {
        match outcome {
            PassOutcome::InSync => TrayState::UpToDate,
            PassOutcome::Failed {
                failure: Failure::Offline { cause },
            } => TrayState::Offline { cause },
            PassOutcome::Failed { failure } => TrayState::Error { failure },
            PassOutcome::Paused { pauses } => {
                // A new version of a required agreement brings
                // back the agreement screen: the one action that
                // resolves it.
                self.refresh_agreements().await;
                TrayState::ActionNeeded {
                    need: Need::Pauses { pauses },
                }
            }
        }
    }
}
