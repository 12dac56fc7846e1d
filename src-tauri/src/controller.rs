//! The one task that owns the engine. IPC commands and tray clicks send it
//! requests; it answers, and pushes every change of state to the front end
//! and the tray. No sync logic lives here: it is all in `nubo-engine`.

use std::sync::Arc;
use std::time::Duration;

use nubo_engine::account::{self, LoginError, LoginProblem};
use nubo_engine::engine::SyncEvent;
use nubo_engine::planner::Mode;
use nubo_engine::restore;
use nubo_engine::{Engine, Home};
use nubo_ipc::*;
use tokio::sync::{mpsc, oneshot};

use crate::i18n;

type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

pub enum Request {
    Snapshot(Reply<AppSnapshot>),
    SetLanguage(String, Reply<AppSnapshot>),
    SignIn(SignIn, Reply<AppSnapshot>),
    /// Starts a sign-in by code for the given service address.
    CodeSignInStart(String, Reply<CodeSignIn>),
    /// Waits (in its own task) until the code is approved or expires.
    CodeSignInWait(Reply<AppSnapshot>),
    CodeSignInDone(Result<(), CommandError>, Reply<AppSnapshot>),
    Agreements(Reply<Vec<AgreementSummary>>),
    /// A document's text: (id, locale, version; None for the one in force).
    AgreementText(String, String, Option<String>, Reply<AgreementText>),
    Accept(Acceptance, Reply<AppSnapshot>),
    /// Declines the documents shown: recorded on the service, then sign out.
    Decline(Vec<ShownDocument>, Reply<AppSnapshot>),
    /// "Privacy and legal": every published document with this account's
    /// record; before sign-in, from the given service address.
    Legal(Option<String>, Reply<Vec<LegalDocument>>),
    /// What cancelling would delete.
    AccountSummary(Reply<AccountSummaryView>),
    ChangePassword(PasswordChangeView, Reply<()>),
    /// Copies the account into a folder (with the trash, when true), with
    /// progress events; in its own task.
    Export(String, bool, Reply<ExportSummary>),
    ChooseFolder(FolderChoice, Reply<AppSnapshot>),
    Status(Reply<StatusView>),
    Pause(Option<u64>, Reply<AppSnapshot>),
    SetStartAtLogin(bool, Reply<AppSnapshot>),
    RemoteFolders(Reply<Vec<RemoteFolder>>),
    /// Shows a conflict's two versions (they sit side by side) in the file manager.
    ShowConflict(String, Reply<()>),
    OpenLogs(Reply<()>),
    Limits(Reply<Limits>),
    Devices(Reply<Vec<DeviceView>>),
    /// Stop syncing one folder; its files stay.
    RemoveFolder(String, Reply<AppSnapshot>),
    RevokeDevice(i64, Reply<Vec<DeviceView>>),
    /// Pause or resume one folder, or change its mode.
    SetFolder(String, Option<SyncMode>, Option<bool>, Reply<AppSnapshot>),
    SetLimits(Limits, Reply<()>),
    /// The first folder's `.nuboignore`.
    IgnorePatterns(Reply<String>),
    SetIgnorePatterns(String, Reply<()>),
    /// Selective sync: keep a remote folder off this computer, or bring it back.
    SetExcluded(String, bool, Reply<AppSnapshot>),
    Resume(Reply<AppSnapshot>),
    /// The user confirms a paused mass delete: one pass goes ahead with it.
    AllowMassDelete(Reply<AppSnapshot>),
    /// Gives or withdraws consent to instant change notifications.
    SetPush(bool, Reply<AppSnapshot>),
    /// Cancels the account (the argument is the typed account ID).
    CancelAccount(String, Reply<AppSnapshot>),
    SignOut(Reply<AppSnapshot>),
    /// One page of the service's trash matching a search.
    ListDeleted(String, u32, Reply<DeletedPage>),
    /// A file's versions, by its path on the service.
    ListVersions(String, Reply<FileVersions>),
    /// Runs in its own task, with progress events; then `Restored`.
    Restore(Vec<RestoreItem>, Reply<RestoreSummary>),
    /// Where restored items are now on the service: sync them down, then
    /// tell the user and show them.
    Restored(RestoreSummary),
    /// From the engine's observer.
    Engine(SyncEvent),
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
    pub async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, CommandError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
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
        let config = self.home.load_config().unwrap_or_default();
        let local = summary
            .paths
            .iter()
            .find_map(|p| restore::local_path(&config, p));
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
        if self.open_engine().is_ok() {
            self.refresh_agreements().await;
            if self.phase() == Phase::Running {
                self.start_sync().await;
            }
        }
        self.publish();
    }

    /// After a sign-in (password or code): a fresh engine on the new
    /// tokens, and where the wizard goes next.
    async fn signed_in(&mut self) -> Result<AppSnapshot, CommandError> {
        self.engine = None;
        self.open_engine().map_err(from_anyhow)?;
        self.refresh_agreements().await;
        Ok(self.snapshot())
    }

    fn open_engine(&mut self) -> anyhow::Result<Arc<Engine>> {
        if let Some(e) = &self.engine {
            return Ok(e.clone());
        }
        let mut engine = Engine::open(self.home.clone())?;
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
        let config = self.home.load_config().unwrap_or_default();
        if config.token_store.is_none() || self.engine.is_none() {
            Phase::Welcome
        } else if self.agreements_pending {
            Phase::Agreements
        } else if config.folders.is_empty() {
            Phase::Folder
        } else {
            Phase::Running
        }
    }

    fn snapshot(&self) -> AppSnapshot {
        let config = self.home.load_config().unwrap_or_default();
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
            status: self.status_view().ok(),
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
        self.outlet.snapshot(&self.snapshot());
    }

    fn status_view(&self) -> anyhow::Result<StatusView> {
        // The engine's handle when it is open (the sync loop's own): no
        // second open, no second check, while it runs.
        let db = self.engine.as_ref().map(|e| &*e.db);
        let s = account::status_with(&self.home, db)?;
        let config = self.home.load_config()?;
        let accepted = match db {
            Some(db) => db.acceptances()?,
            None => match nubo_engine::db::StateDb::open_for_reading(&self.home.db_path()) {
                Ok(Some(db)) => db.acceptances()?,
                Ok(None) | Err(_) => Vec::new(),
            },
        };
        let rfc3339 = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        Ok(StatusView {
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
        })
    }

    async fn start_sync(&mut self) {
        if self.stop.is_some() || self.paused {
            return;
        }
        let Some(engine) = self.engine.clone() else {
            return;
        };
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
        if let Ok(status) = self.status_view() {
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
    async fn sign_out(
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
        self.publish();
        result.map(|_| self.snapshot())
    }

    /// The service's address: the one given, else the signed-in one, else
    /// the default.
    fn server_or_default(&self, given: Option<String>) -> String {
        given
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.home.load_config().ok().and_then(|c| c.server))
            .unwrap_or_else(|| self.default_server.clone())
    }

    async fn handle(&mut self, req: Request) {
        match req {
            Request::Snapshot(r) => {
                let _ = r.send(Ok(self.snapshot()));
            }
            Request::SetLanguage(lang, r) => {
                let _ = r.send(self.set_language(lang));
            }
            Request::SignIn(s, r) => {
                let _ = r.send(self.sign_in_with_password(s).await);
            }
            Request::CodeSignInStart(server, r) => {
                let _ = r.send(self.code_sign_in_start(server).await);
            }
            Request::CodeSignInWait(r) => self.code_sign_in_wait(r).await,
            Request::CodeSignInDone(done, r) => {
                let _ = r.send(self.code_sign_in_done(done).await);
            }
            Request::Agreements(r) => {
                let _ = r.send(self.agreements().await);
            }
            Request::AgreementText(id, locale, version, r) => {
                let _ = r.send(self.agreement_text(id, locale, version).await);
            }
            Request::Legal(server, r) => {
                let _ = r.send(self.legal(server).await);
            }
            Request::AccountSummary(r) => {
                let _ = r.send(self.account_summary().await);
            }
            Request::ChangePassword(p, r) => {
                let _ = r.send(self.change_password(p).await);
            }
            Request::Export(dir, trash, r) => self.export(dir, trash, r).await,
            Request::Accept(a, r) => {
                let _ = r.send(self.accept(a).await);
            }
            Request::Decline(shown, r) => {
                let result = self.sign_out(&crate::legal::shown_items(shown)).await;
                let _ = r.send(result);
            }
            Request::SignOut(r) => {
                let result = self.sign_out(&[]).await;
                let _ = r.send(result);
            }
            Request::ChooseFolder(f, r) => {
                let _ = r.send(self.choose_folder(f).await);
            }
            Request::SetStartAtLogin(on, r) => {
                let _ = r.send(self.set_start_at_login(on));
            }
            Request::RemoteFolders(r) => {
                let _ = r.send(self.remote_folders());
            }
            Request::SetExcluded(path, excluded, r) => {
                let _ = r.send(self.set_excluded(path, excluded).await);
            }
            Request::Status(r) => {
                let _ = r.send(self.status_view().map_err(from_anyhow));
            }
            Request::ShowConflict(path, r) => {
                let _ = r.send(self.show_conflict(path));
            }
            Request::SetFolder(local, mode, paused, r) => {
                let _ = r.send(self.set_folder(local, mode, paused).await);
            }
            Request::RemoveFolder(local, r) => {
                let _ = r.send(self.remove_folder(local).await);
            }
            Request::Devices(r) => {
                let _ = r.send(self.devices().await);
            }
            Request::RevokeDevice(id, r) => {
                let _ = r.send(self.revoke_device(id).await);
            }
            Request::Limits(r) => {
                let _ = r.send(self.limits());
            }
            Request::SetLimits(l, r) => {
                let _ = r.send(self.set_limits(l).await);
            }
            Request::OpenLogs(r) => {
                self.outlet.reveal(&self.home.logs_dir());
                let _ = r.send(Ok(()));
            }
            Request::IgnorePatterns(r) => {
                let _ = r.send(account::ignore_patterns(&self.home).map_err(from_anyhow));
            }
            Request::SetIgnorePatterns(text, r) => {
                let result = account::set_ignore_patterns(&self.home, &text).map_err(from_anyhow);
                let _ = r.send(result);
            }
            Request::Pause(minutes, r) => {
                let _ = r.send(self.pause(minutes).await);
            }
            Request::SetPush(on, r) => {
                let _ = r.send(self.set_push(on).await);
            }
            Request::CancelAccount(confirm, r) => {
                let _ = r.send(self.cancel_account(confirm).await);
            }
            Request::AllowMassDelete(r) => {
                let _ = r.send(self.allow_mass_delete().await);
            }
            Request::Resume(r) => {
                let _ = r.send(self.resume().await);
            }
            Request::ListDeleted(query, offset, r) => {
                let _ = r.send(self.list_deleted(query, offset).await);
            }
            Request::ListVersions(path, r) => {
                let _ = r.send(self.list_versions(path).await);
            }
            Request::Restore(items, r) => self.restore(items, r).await,
            Request::Restored(summary) => self.restored(summary).await,
            Request::Engine(ev) => self.engine_event(ev).await,
        }
    }

    fn set_language(&mut self, lang: String) -> Result<AppSnapshot, CommandError> {
        self.language = i18n::normalize(&lang).to_string();
        let _ = crate::settings::save_language(&self.home, &self.language);
        self.publish();
        Ok(self.snapshot())
    }

    async fn sign_in_with_password(&mut self, s: SignIn) -> Result<AppSnapshot, CommandError> {
        let result = account::login(&self.home, &s.server, &s.login, &s.password)
            .await
            .map_err(from_anyhow);
        let result = match result {
            Ok(_) => self.signed_in().await,
            Err(e) => Err(e),
        };
        self.publish();
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

    async fn code_sign_in_wait(&mut self, r: Reply<AppSnapshot>) {
        let Some((server, code)) = self.pending_code.clone() else {
            let _ = r.send(Err(err("no sign-in by code was started")));
            return;
        };
        let (home, tx) = (self.home.clone(), self.tx.clone());
        // Its own task: approval can take minutes.
        tauri::async_runtime::spawn(async move {
            let done = account::finish_code_sign_in(&home, &server, &code)
                .await
                .map(|_| ())
                .map_err(from_anyhow);
            let _ = tx.send(Request::CodeSignInDone(done, r)).await;
        });
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
        self.publish();
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
        let result = match (self.open_engine(), self.home.load_config()) {
            (Ok(engine), Ok(config)) => account::summary(&engine)
                .await
                .map(|s| crate::legal::summary_view(&s, |n| account::synced_here(&config, n)))
                .map_err(from_anyhow),
            (Err(e), _) | (_, Err(e)) => Err(from_anyhow(e)),
        };
        result
    }

    async fn change_password(&mut self, p: PasswordChangeView) -> Result<(), CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => account::change_password(&engine, &p.current, &p.new, p.sign_out_others)
                .await
                .map_err(from_anyhow),
            Err(e) => Err(from_anyhow(e)),
        };
        result
    }

    async fn export(&mut self, dir: String, trash: bool, r: Reply<ExportSummary>) {
        let engine = match self.open_engine() {
            Ok(e) => e,
            Err(e) => {
                let _ = r.send(Err(from_anyhow(e)));
                return;
            }
        };
        let outlet = self.outlet.clone();
        // Its own task: the controller keeps answering while it runs.
        tauri::async_runtime::spawn(async move {
            let dir = std::path::PathBuf::from(dir);
            let done = crate::legal::export(&engine, &dir, trash, |p| outlet.export_progress(p))
                .await
                .map_err(from_anyhow);
            let _ = r.send(done);
        });
    }

    async fn accept(&mut self, a: Acceptance) -> Result<AppSnapshot, CommandError> {
        let result = match self.open_engine() {
            Ok(engine) => {
                let shown = crate::legal::shown_items(a.documents);
                let age = match a.age {
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
                self.refresh_agreements().await;
                if self.phase() == Phase::Running {
                    // A loop paused on the old version goes again now.
                    self.stop_sync_and_wait().await;
                    self.start_sync().await;
                }
                Ok(self.snapshot())
            }
            Err(e) => Err(e),
        };
        self.publish();
        result
    }

    async fn choose_folder(&mut self, f: FolderChoice) -> Result<AppSnapshot, CommandError> {
        // Adding a second folder from settings: the loop must pick it up.
        self.stop_sync_and_wait().await;
        let result = account::add_folder(
            &self.home,
            std::path::Path::new(&f.local),
            &f.remote,
            mode_of(f.mode),
        );
        let result = match result {
            Ok(_) => {
                // The end of the wizard: from now on Nubo starts with the session.
                if let Err(e) = self.outlet.set_start_at_login(true) {
                    tracing::warn!("cannot turn on start at login: {e}");
                }
                self.engine = None;
                match self.open_engine() {
                    Ok(_) => {
                        self.start_sync().await;
                        Ok(self.snapshot())
                    }
                    Err(e) => Err(from_anyhow(e)),
                }
            }
            Err(e) => Err(from_anyhow(e)),
        };
        self.publish();
        result
    }

    fn set_start_at_login(&mut self, on: bool) -> Result<AppSnapshot, CommandError> {
        let result = self
            .outlet
            .set_start_at_login(on)
            .map_err(err)
            .map(|_| self.snapshot());
        self.publish();
        result
    }

    fn remote_folders(&mut self) -> Result<Vec<RemoteFolder>, CommandError> {
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
        self.publish();
        changed.map_err(from_anyhow).map(|_| self.snapshot())
    }

    fn show_conflict(&mut self, path: String) -> Result<(), CommandError> {
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
        self.publish();
        changed.map_err(from_anyhow).map(|_| self.snapshot())
    }

    async fn remove_folder(&mut self, local: String) -> Result<AppSnapshot, CommandError> {
        let was_running = self.stop.is_some();
        self.stop_sync_and_wait().await;
        let removed = account::remove_folder(&self.home, std::path::Path::new(&local));
        self.reopen(was_running).await;
        self.publish();
        removed.map_err(from_anyhow).map(|_| self.snapshot())
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

    fn limits(&mut self) -> Result<Limits, CommandError> {
        account::limits(&self.home)
            .map(|(upload_kbps, download_kbps)| Limits {
                upload_kbps,
                download_kbps,
            })
            .map_err(from_anyhow)
    }

    async fn set_limits(&mut self, l: Limits) -> Result<(), CommandError> {
        let result =
            account::set_limits(&self.home, l.upload_kbps, l.download_kbps).map_err(from_anyhow);
        // The loop reads its limits when it starts: start it again.
        if result.is_ok() {
            self.restart_sync().await;
        }
        self.publish();
        result
    }

    async fn pause(&mut self, minutes: Option<u64>) -> Result<AppSnapshot, CommandError> {
        self.stop_sync_and_wait().await;
        self.paused = true;
        self.tray = TrayState::Paused;
        if let Some(m) = minutes {
            let tx = self.tx.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(Duration::from_secs(m * 60)).await;
                let (reply, _) = oneshot::channel();
                let _ = tx.send(Request::Resume(reply)).await;
            });
        }
        self.publish();
        Ok(self.snapshot())
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
        self.publish();
        result.map(|_| self.snapshot())
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
        self.publish();
        result.map(|_| self.snapshot())
    }

    async fn allow_mass_delete(&mut self) -> Result<AppSnapshot, CommandError> {
        self.stop_sync_and_wait().await;
        self.allow_mass_delete_once = true;
        if self.phase() == Phase::Running && !self.paused {
            self.start_sync().await;
        }
        self.publish();
        Ok(self.snapshot())
    }

    async fn resume(&mut self) -> Result<AppSnapshot, CommandError> {
        self.paused = false;
        if self.phase() == Phase::Running {
            self.start_sync().await;
        }
        self.publish();
        Ok(self.snapshot())
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

    async fn restore(&mut self, items: Vec<RestoreItem>, r: Reply<RestoreSummary>) {
        let engine = match self.open_engine() {
            Ok(e) => e,
            Err(e) => {
                let _ = r.send(Err(from_anyhow(e)));
                return;
            }
        };
        let (outlet, tx) = (self.outlet.clone(), self.tx.clone());
        // Its own task: the controller keeps answering while it runs.
        tauri::async_runtime::spawn(async move {
            let summary = run_restore(&engine, &items, outlet.as_ref()).await;
            let _ = tx.send(Request::Restored(summary.clone())).await;
            let _ = r.send(Ok(summary));
        });
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
                self.batch = (ops as u32, bytes);
                syncing(self.batch, 0, 0)
            }
            SyncEvent::Progress {
                ops_done,
                bytes_done,
            } => {
                self.tray = syncing(self.batch, ops_done as u32, bytes_done);
                // Thousands of small files finish in a second: tell the
                // window a few times a second, not once per file.
                if self.last_progress.elapsed() >= PROGRESS_EVERY {
                    self.last_progress = std::time::Instant::now();
                    self.publish();
                }
                return;
            }
            SyncEvent::Settled(pass) => match pass.outcome {
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
            },
        };
        self.announce(&before);
        self.publish();
    }
}
