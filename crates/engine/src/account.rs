//! What a user does around syncing: sign in and out, agreements, folders,
//! status. The CLI and the desktop app both call these.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nubo_protocol::{
    AcceptItem, AcceptRequest, AgeConfirmation, DeviceCodeResponse, ErrorCode, PendingAgreement,
    Requirement, TokenResponse,
};
use serde::Serialize;

use crate::credentials;
use crate::db::{AcceptanceRecord, ChangeRecord, ConflictRecord, DbError, StateDb};
use crate::engine::{host_name, mark_root, signed_in_service, Engine, Pause};
use crate::home::{Config, FolderConfig, Home, TokenStore, ROOT_MARKER};
use crate::planner::Mode;
use crate::problem::Problem;
use crate::remote::{self, check_server_url, AccountRemote, RemoteError, Tokens};
use crate::report::{LastPass, NetCause, Notice, PassOutcome, Storage, Upcoming};

/// Why a sign-in failed, for a front end to say it in the user's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginProblem {
    WrongCredentials,
    /// Too many wrong passwords for this account or from this address (or
    /// too many requests): the service takes the next try at `retry_at`
    /// (Unix seconds).
    TooManyAttempts {
        retry_at: i64,
    },
    Unreachable,
    BadCertificate,
    /// Plain `http://` to another machine.
    InsecureAddress,
    Other,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LoginError {
    pub problem: LoginProblem,
    pub message: String,
}

fn login_error(server: &str, e: RemoteError) -> anyhow::Error {
    let (problem, message) = match e {
        RemoteError::Api(a) if a.code == ErrorCode::InvalidCredentials => {
            (LoginProblem::WrongCredentials, "the account ID, phone number or password is wrong".to_string())
        }
        RemoteError::Api(a) if a.code == ErrorCode::TooManyAttempts => (
            LoginProblem::TooManyAttempts {
                retry_at: a.retry_at.unwrap_or_default(),
            },
            format!("sign-in refused for now: {}", a.message),
        ),
        e @ RemoteError::Network {
            cause: NetCause::Certificate,
            ..
        } => (
            LoginProblem::BadCertificate,
            format!(
                "the service at {server} did not present a valid certificate ({}); check the address",
                e.detail()
            ),
        ),
        e @ RemoteError::Network { .. } => (
            LoginProblem::Unreachable,
            format!(
                "cannot reach the service at {server} ({}); check the address and the network",
                e.detail()
            ),
        ),
        RemoteError::Api(a) => (LoginProblem::Other, format!("sign-in failed: {}", a.message)),
    };
    LoginError { problem, message }.into()
}

/// Password sign-in. Only the tokens are kept.
pub async fn login(
    home: &Home,
    server: &str,
    login: &str,
    password: &str,
) -> anyhow::Result<TokenStore> {
    let server = check_server_url(server).map_err(|e| LoginError {
        problem: LoginProblem::InsecureAddress,
        message: format!("{e:#}"),
    })?;
    let t = remote::login(&server, login, password, &host_name())
        .await
        .map_err(|e| login_error(&server, e))?;
    keep_sign_in(home, server, t)
}

/// Starts a sign-in that a device already signed in approves: show the
/// returned code (and its address) to the user, then `finish_code_sign_in`.
pub async fn start_code_sign_in(server: &str) -> anyhow::Result<(String, DeviceCodeResponse)> {
    let server = check_server_url(server).map_err(|e| LoginError {
        problem: LoginProblem::InsecureAddress,
        message: format!("{e:#}"),
    })?;
    let code = remote::device_code_start(&server, &host_name())
        .await
        .map_err(|e| login_error(&server, e))?;
    Ok((server, code))
}

/// Polls at the service's pace until the code is approved (then keeps the
/// tokens, as a password sign-in does) or expires.
pub async fn finish_code_sign_in(
    home: &Home,
    server: &str,
    code: &DeviceCodeResponse,
) -> anyhow::Result<TokenStore> {
    let mut interval = code.interval.max(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(code.expires_in);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        match remote::device_code_poll(server, &code.device_code).await {
            Ok(t) => return keep_sign_in(home, server.to_string(), t),
            Err(RemoteError::Api(e)) if e.code == ErrorCode::AuthorizationPending => {}
            Err(RemoteError::Api(e)) if e.code == ErrorCode::SlowDown => interval += 5,
            Err(RemoteError::Api(e)) if e.code == ErrorCode::ExpiredToken => {
                bail!(
                    "the code {} expired before it was approved; start the sign-in again",
                    code.user_code
                )
            }
            Err(e) => return Err(login_error(server, e)),
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the code {} expired before it was approved; start the sign-in again",
                code.user_code
            );
        }
    }
}

/// Keeps a sign-in's tokens (keyring or 0600 file) and its account in the home.
fn keep_sign_in(home: &Home, server: String, t: TokenResponse) -> anyhow::Result<TokenStore> {
    let mut config = home.load_config()?;
    if let Some(prev) = &config.account_id {
        if *prev != t.account_id && !config.folders.is_empty() {
            bail!(
                "this home syncs folders for the account {prev}; sign in to {} with another --home",
                t.account_id
            );
        }
    }
    config.server = Some(server);
    config.account_id = Some(t.account_id);
    config.device_id = Some(t.device_id);
    let store = credentials::save(
        home,
        &config,
        &Tokens {
            access: t.access_token,
            refresh: t.refresh_token,
        },
    )?;
    config.token_store = Some(store);
    home.save_config(&config)?;
    Ok(store)
}

/// Signs this device out on the service (best effort) and forgets the tokens.
/// Folders, their files and the sync state stay.
pub async fn logout(home: &Home) -> anyhow::Result<()> {
    let mut config = home.load_config()?;
    if config.token_store.is_none() {
        bail!("not signed in");
    }
    // The service alone: a damaged state database does not keep the sign-out
    // from reaching it.
    if let Ok(service) = signed_in_service(home, &config) {
        if let Err(e) = service.logout().await {
            tracing::warn!("the service did not confirm the sign-out: {e}");
        }
    }
    credentials::delete(home, &config);
    config.token_store = None;
    home.save_config(&config)?;
    Ok(())
}

/// Cancels the account on the service (everything it stores there is
/// deleted) and forgets this device's sign-in. Local files stay. `confirm`
/// must be the account ID, typed by the user.
pub async fn cancel_account(home: &Home, confirm: &str) -> anyhow::Result<()> {
    let mut config = home.load_config()?;
    signed_in_service(home, &config)?
        .cancel_account(confirm)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    credentials::delete(home, &config);
    config.token_store = None;
    home.save_config(&config)?;
    Ok(())
}

/// Whether a top-level item of the account (by name) is synced to this
/// computer by one of the home's folders.
pub fn synced_here(config: &crate::home::Config, name: &str) -> bool {
    config.folders.iter().any(|f| {
        let remote = f.remote.trim_matches('/');
        if remote.is_empty() {
            !f.excluded.iter().any(|e| e == name)
        } else {
            remote.split('/').next() == Some(name)
        }
    })
}

/// What the account stores on the service, with sizes: what cancelling
/// would delete.
pub async fn summary(engine: &Engine) -> anyhow::Result<nubo_protocol::AccountSummary> {
    Ok(engine.service()?.account_summary().await?)
}

/// Changes the password (the current one proves it is the owner). Other
/// devices stay signed in unless `sign_out_others`. Neither password is kept.
pub async fn change_password(
    engine: &Engine,
    current: &str,
    new: &str,
    sign_out_others: bool,
) -> anyhow::Result<()> {
    engine
        .service()?
        .change_password(&nubo_protocol::PasswordChange {
            current: current.to_string(),
            new: new.to_string(),
            sign_out_others,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn add_folder(
    home: &Home,
    local: &Path,
    remote: &str,
    mode: Mode,
) -> anyhow::Result<FolderConfig> {
    let mut config = home.load_config()?;
    std::fs::create_dir_all(local).with_context(|| format!("cannot create {}", local.display()))?;
    let local = local.canonicalize()?;
    if local.starts_with(&home.dir) || home.dir.starts_with(&local) {
        bail!(
            "{} overlaps the Nubo home {}; choose another folder",
            local.display(),
            home.dir.display()
        );
    }
    let remote = format!("/{}", remote.trim_matches('/'));
    for name in remote.split('/').filter(|s| !s.is_empty()) {
        nubo_protocol::names::check_name(name)
            .map_err(|p| anyhow::anyhow!("{remote:?} is not a remote folder path: {p}"))?;
    }
    if let Some(i) = config.folders.iter().position(|f| f.local == local) {
        // Adding a folder again renews its marker: the user says it is the right one.
        let f = &mut config.folders[i];
        f.remote = remote;
        f.mode = mode;
        mark_root(&local, &f.marker)?;
        let f = f.clone();
        home.save_config(&config)?;
        return Ok(f);
    }
    for f in &config.folders {
        if local.starts_with(&f.local) || f.local.starts_with(&local) {
            bail!(
                "{} overlaps the synced folder {}",
                local.display(),
                f.local.display()
            );
        }
    }
    refuse_nested_roots(&local)?;
    let folder = FolderConfig {
        id: config.folders.iter().map(|f| f.id).max().unwrap_or(0) + 1,
        local: local.clone(),
        remote,
        mode,
        marker: format!("{:032x}", rand::random::<u128>()),
        excluded: Vec::new(),
        confirmed: Vec::new(),
        paused: false,
    };
    mark_root(&local, &folder.marker)?;
    config.folders.push(folder.clone());
    home.save_config(&config)?;
    Ok(folder)
}

/// A folder inside or around a folder that any Nubo home syncs (its
/// `.nubo-root` marker says so) would sync the same files twice, each copy
/// inside the other, one level deeper every round: refused.
fn refuse_nested_roots(local: &Path) -> anyhow::Result<()> {
    if let Some(outer) = local
        .ancestors()
        .skip(1)
        .find(|a| a.join(ROOT_MARKER).is_file())
    {
        bail!(
            "{} is inside {}, which Nubo already syncs; choose a folder outside it",
            local.display(),
            outer.display()
        );
    }
    let inner = ignore::WalkBuilder::new(local)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .build()
        .filter_map(Result::ok)
        .find(|e| e.depth() > 1 && e.file_name() == ROOT_MARKER);
    if let Some(inner) = inner {
        let dir = inner.path().parent().unwrap_or(local);
        bail!(
            "{} holds {}, which Nubo already syncs; choose a folder that does not hold it",
            local.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Pauses or resumes one folder, or changes how it syncs.
pub fn set_folder(
    home: &Home,
    local: &Path,
    mode: Option<Mode>,
    paused: Option<bool>,
) -> anyhow::Result<FolderConfig> {
    let mut config = home.load_config()?;
    let local: PathBuf = local.canonicalize().unwrap_or_else(|_| local.to_path_buf());
    let Some(f) = config.folders.iter_mut().find(|f| f.local == local) else {
        bail!("{} is not a synced folder", local.display());
    };
    if let Some(m) = mode {
        f.mode = m;
    }
    if let Some(p) = paused {
        f.paused = p;
    }
    let f = f.clone();
    home.save_config(&config)?;
    Ok(f)
}

/// The first synced folder's ignore patterns (its `.nuboignore`), as the
/// user wrote them; empty without one.
pub fn ignore_patterns(home: &Home) -> anyhow::Result<String> {
    let config = home.load_config()?;
    Ok(config
        .folders
        .first()
        .and_then(|f| crate::ignore_rules::file_text(&f.local))
        .unwrap_or_default())
}

/// Writes the first synced folder's ignore patterns. The loop reads the file
/// at every pass, and the write wakes a watching one.
pub fn set_ignore_patterns(home: &Home, text: &str) -> anyhow::Result<()> {
    let config = home.load_config()?;
    let folder = config.folders.first().context("no synced folder")?;
    crate::home::write_atomic(
        &folder.local.join(crate::ignore_rules::IGNORE_FILE),
        text.as_bytes(),
        false,
    )
}

/// Bandwidth limits in kB/s, (upload, download); 0 is none.
pub fn limits(home: &Home) -> anyhow::Result<(u64, u64)> {
    let config = home.load_config()?;
    Ok((config.upload_limit_kbps, config.download_limit_kbps))
}

/// Sets the bandwidth limits; a sync loop reads them when it starts.
pub fn set_limits(home: &Home, upload_kbps: u64, download_kbps: u64) -> anyhow::Result<()> {
    let mut config = home.load_config()?;
    config.upload_limit_kbps = upload_kbps;
    config.download_limit_kbps = download_kbps;
    home.save_config(&config)
}

/// The file at `rel` in the first synced folder (a conflict and its copy
/// sit side by side there), refused unless it lies inside the folder.
pub fn file_in_folder(home: &Home, rel: &str) -> anyhow::Result<PathBuf> {
    let config = home.load_config()?;
    let folder = config.folders.first().context("no synced folder")?;
    let file = folder.local.join(rel);
    if !file.starts_with(&folder.local) || rel.split('/').any(|p| p == "..") {
        bail!("{rel} is not a path in the synced folder");
    }
    Ok(file)
}

pub fn remove_folder(home: &Home, local: &Path) -> anyhow::Result<()> {
    let mut config = home.load_config()?;
    let local: PathBuf = local.canonicalize().unwrap_or_else(|_| local.to_path_buf());
    let Some(i) = config.folders.iter().position(|f| f.local == local) else {
        bail!("{} is not a synced folder", local.display());
    };
    let f = config.folders.remove(i);
    let db = StateDb::open_without_repair(&home.db_path())?;
    db.forget_folder(f.id)?;
    let _ = std::fs::remove_file(f.local.join(ROOT_MARKER));
    home.save_config(&config)?;
    Ok(())
}

/// The synced folder holding `remote_path` (a path on the service), and the
/// path relative to that folder.
fn folder_for(config: &crate::home::Config, remote_path: &str) -> anyhow::Result<(usize, String)> {
    let want = format!("/{}", remote_path.trim_matches('/'));
    for (i, f) in config.folders.iter().enumerate() {
        let base = format!("/{}", f.remote.trim_matches('/'));
        let rel = if base == "/" {
            want.trim_start_matches('/')
        } else if let Some(r) = want.strip_prefix(&format!("{base}/")) {
            r
        } else {
            continue;
        };
        if rel.is_empty() {
            bail!("{want} is the whole synced folder; remove the folder with `nubo folder remove` instead");
        }
        for name in rel.split('/') {
            nubo_protocol::names::check_name(name)
                .map_err(|p| anyhow::anyhow!("{want:?} is not a folder path: {p}"))?;
        }
        return Ok((i, rel.to_string()));
    }
    bail!("{want} is not inside a synced folder")
}

/// Selective sync: `remote_path` stays on the service and leaves this PC.
/// Refused while anything in it has changes here that are not synced yet;
/// otherwise its local copy goes to the OS trash. Returns that local path.
pub fn exclude(home: &Home, remote_path: &str) -> anyhow::Result<PathBuf> {
    let mut config = home.load_config()?;
    let (i, rel) = folder_for(&config, remote_path)?;
    let db = StateDb::open_without_repair(&home.db_path())?;
    let fs = crate::fs::RealFs {
        fallback_trash: home.trash_dir(),
    };
    let local_dir = leave_here(&fs, &db, &config.folders[i], &rel)?;
    config.folders[i].excluded.push(rel);
    home.save_config(&config)?;
    Ok(local_dir)
}

/// The local half of excluding `rel` from `folder`: refused while anything
/// in it has changes not synced yet or cannot be read; otherwise its local
/// copy goes to the OS trash and its merge base is forgotten. The caller
/// adds `rel` to the folder's exclusions.
pub fn leave_here(
    fs: &dyn crate::fs::LocalFs,
    db: &StateDb,
    folder: &FolderConfig,
    rel: &str,
) -> anyhow::Result<PathBuf> {
    if folder.excluded.iter().any(|e| e == rel) {
        bail!("/{rel} is already excluded");
    }
    let local_dir = crate::os_names::join(&folder.local, rel);
    if fs.stat(&local_dir)?.is_some() {
        let synced = db.load_synced(folder.id)?;
        let rules = crate::ignore_rules::IgnoreRules::read(fs, &folder.local, &folder.excluded);
        let temps = crate::temp_names::TempNames::new(db.temp_key()?);
        let input = crate::scanner::ScanInput {
            rules: &rules,
            previous: &Default::default(),
            now_ns: i64::MAX,
            temps: &temps,
            previous_mounts: None,
            on_read: None,
        };
        let now = crate::scanner::scan_under(fs, &folder.local, rel, &input);
        if let Some(path) = now.blocked.keys().next() {
            bail!("{path} cannot be read or is not a file or folder, so it cannot be checked for changes; exclude /{rel} once it can be read");
        }
        for (path, entry) in &now.tree {
            let in_step = synced
                .get(path)
                .is_some_and(|s| s.kind == entry.kind && s.hash == entry.hash);
            if !in_step {
                bail!("{path} has changes here that are not synced yet; run `nubo sync --once` first, then exclude /{rel}");
            }
        }
        fs.trash(&local_dir)
            .with_context(|| format!("cannot move {} to the trash", local_dir.display()))?;
    }
    db.record(
        folder.id,
        &[
            crate::db::Change::RemoveLocal(rel),
            crate::db::Change::RemoveSynced(rel),
        ],
    )?;
    Ok(local_dir)
}

/// `nubo folder forget-mount PATH`: the subfolder at `local` lost its disk
/// for good; see `engine::forget_mount`.
pub fn forget_mount(home: &Home, local: &Path) -> anyhow::Result<()> {
    let config = home.load_config()?;
    let local = std::path::absolute(local)?;
    let (folder, rel) = config
        .folders
        .iter()
        .find_map(|f| Some((f, crate::scanner::rel_path(&f.local, &local)?)))
        .filter(|(_, rel)| !rel.is_empty())
        .with_context(|| format!("{} is not a folder inside a synced folder", local.display()))?;
    let db = StateDb::open_without_repair(&home.db_path())?;
    let fs = crate::fs::RealFs {
        fallback_trash: home.trash_dir(),
    };
    crate::engine::forget_mount(&db, &fs, folder, &rel)
}

/// A folder on the service, for the selective-sync chooser.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteFolder {
    /// The path on the service, e.g. `/photos/2020`.
    pub path: String,
    pub excluded: bool,
}

/// The service's folders inside each synced folder (as of the last sync),
/// down to `depth` levels, with what is excluded.
pub fn remote_folders(home: &Home, depth: usize) -> anyhow::Result<Vec<RemoteFolder>> {
    let config = home.load_config()?;
    let Some(db) = StateDb::open_for_reading(&home.db_path())? else {
        return Ok(Vec::new());
    };
    let rows = db.remote_rows()?;
    let mut out = Vec::new();
    for f in &config.folders {
        let Some(root) = db
            .meta(&format!("remote_root:{}", f.id))?
            .and_then(|r| r.parse().ok())
        else {
            continue;
        };
        let rules = crate::ignore_rules::IgnoreRules::load(&f.local, &[]);
        let tree = crate::remote_tree::build(&rows, root, &rules).tree;
        let base = f.remote.trim_end_matches('/');
        for (rel, entry) in tree {
            if entry.kind != crate::tree::Kind::Dir || rel.split('/').count() > depth {
                continue;
            }
            let excluded = f
                .excluded
                .iter()
                .any(|e| *e == rel || crate::tree::is_inside(&rel, e));
            out.push(RemoteFolder {
                path: format!("{base}/{rel}"),
                excluded,
            });
        }
    }
    Ok(out)
}

/// Undoes `exclude`, or says yes to a large new folder: the next sync
/// brings it to this computer.
pub fn include(home: &Home, remote_path: &str) -> anyhow::Result<()> {
    let mut config = home.load_config()?;
    let (i, rel) = folder_for(&config, remote_path)?;
    let folder = &mut config.folders[i];
    folder.excluded.retain(|e| *e != rel);
    if !folder.confirmed.contains(&rel) {
        folder.confirmed.push(rel);
    }
    home.save_config(&config)?;
    Ok(())
}

/// One document as the service publishes it now, with this account's record.
#[derive(Debug, Serialize)]
pub struct AgreementView {
    pub id: String,
    pub title: String,
    /// The version in force.
    pub version: String,
    pub effective: String,
    pub required: Requirement,
    pub locales: Vec<String>,
    /// The title in each language, by locale.
    pub titles: std::collections::BTreeMap<String, String>,
    /// The version in force is accepted (and not withdrawn or declined).
    pub accepted: bool,
    /// The account's latest record of this document: accepted, withdrawn
    /// or declined, which version, in which language, when.
    pub record: Option<nubo_protocol::Acceptance>,
    /// A revision announced for a later date: (version, effective date).
    pub upcoming: Option<(String, String)>,
}

/// Every document the service publishes now (the version in force of each),
/// with what this account recorded of it.
pub async fn agreements(engine: &Engine) -> anyhow::Result<Vec<AgreementView>> {
    let remote = engine.service()?;
    let list = remote.agreements().await?;
    let status = remote.agreement_status().await?;
    remember_upcoming(engine, &status.upcoming);
    let mut out: Vec<AgreementView> = Vec::new();
    for d in list.documents.into_iter().filter(|d| d.in_force) {
        if let Some(v) = out.iter_mut().find(|v| v.id == d.id) {
            v.titles.insert(d.locale.clone(), d.title);
            v.locales.push(d.locale);
            continue;
        }
        let accepted = !status.pending.iter().any(|p| p.id == d.id);
        out.push(AgreementView {
            record: status.accepted.iter().rev().find(|a| a.id == d.id).cloned(),
            upcoming: status
                .upcoming
                .iter()
                .find(|u| u.id == d.id)
                .map(|u| (u.version.clone(), u.effective.clone())),
            id: d.id,
            title: d.title.clone(),
            version: d.version,
            effective: d.effective,
            required: d.required,
            titles: [(d.locale.clone(), d.title.clone())].into(),
            locales: vec![d.locale],
            accepted,
        });
    }
    Ok(out)
}

/// What the "Privacy and legal" screen shows: the documents published now,
/// every version ever published (titles of the one accepted), and, when
/// signed in, the account's records, all from the service.
#[derive(Debug, Clone)]
pub struct LegalView {
    pub published: Vec<nubo_protocol::AgreementDoc>,
    pub versions: Vec<nubo_protocol::AgreementDoc>,
    pub status: Option<nubo_protocol::AgreementStatus>,
}

/// Signed in: this home's service and account. Before sign-in: `server`.
pub async fn legal(home: &Home, server: &str) -> anyhow::Result<LegalView> {
    let config = home.load_config()?;
    let signed_in = config.token_store.is_some();
    if let (true, Ok(remote)) = (signed_in, signed_in_service(home, &config)) {
        return Ok(LegalView {
            published: remote.agreements().await?.documents,
            versions: remote.agreement_versions().await?.documents,
            status: Some(remote.agreement_status().await?),
        });
    }
    let server = check_server_url(server)?;
    Ok(LegalView {
        published: remote::public_agreements(&server, false).await?.documents,
        versions: remote::public_agreements(&server, true).await?.documents,
        status: None,
    })
}

/// A document's text for reading again: of `version` when given. Signed in
/// through this home's service, else from `server`.
pub async fn agreement_text(
    home: &Home,
    server: &str,
    id: &str,
    locale: &str,
    version: Option<&str>,
) -> anyhow::Result<String> {
    let config = home.load_config()?;
    let signed_in = config.token_store.is_some();
    if let (true, Ok(remote)) = (signed_in, signed_in_service(home, &config)) {
        return Ok(remote.agreement_text(id, locale, version).await?);
    }
    let server = check_server_url(server)?;
    Ok(remote::public_agreement_text(&server, id, locale, version).await?)
}

/// The announced revisions, kept for `status` (which reads the home only):
/// "new terms take effect on DATE".
fn remember_upcoming(engine: &Engine, upcoming: &[PendingAgreement]) {
    let notes: Vec<Upcoming> = upcoming
        .iter()
        .map(|u| Upcoming {
            title: u.title.clone(),
            version: u.version.clone(),
            effective: u.effective.clone(),
        })
        .collect();
    if let Err(e) = engine.db.set_upcoming(&notes) {
        tracing::warn!("cannot keep the announced agreements: {e}");
    }
}

/// The language to show a document in: the user's, else English, else the first.
pub fn pick_locale(locales: &[String], preferred: &str) -> String {
    locales
        .iter()
        .find(|l| l.as_str() == preferred)
        .or_else(|| {
            locales
                .iter()
                .find(|l| l.starts_with(preferred.split('-').next().unwrap_or("")))
        })
        .or_else(|| locales.iter().find(|l| l.as_str() == "en"))
        .or_else(|| locales.first())
        .cloned()
        .unwrap_or_else(|| "en".into())
}

/// A pending document as it is to be shown: its exact version, and the
/// language picked for the user.
#[derive(Debug, Clone)]
pub struct ToRead {
    pub item: AcceptItem,
    pub title: String,
    pub required: Requirement,
    pub effective: String,
}

/// The pending documents to read before accepting: the required ones when
/// `required`, the optional ones (push terms) when `optional`.
pub async fn to_read(
    engine: &Engine,
    locale: &str,
    required: bool,
    optional: bool,
) -> anyhow::Result<Vec<ToRead>> {
    let status = engine.service()?.agreement_status().await?;
    remember_upcoming(engine, &status.upcoming);
    Ok(status
        .pending
        .iter()
        .filter(|p| {
            if p.required == Requirement::Optional {
                optional
            } else {
                required
            }
        })
        .map(|p| ToRead {
            item: AcceptItem {
                id: p.id.clone(),
                version: p.version.clone(),
                locale: pick_locale(&p.locales, locale),
            },
            title: p.title.clone(),
            required: p.required,
            effective: p.effective.clone(),
        })
        .collect())
}

/// The service refused an acceptance because a newer version of a
/// document appeared while it was read: show `pending` and ask again.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AgreementOutdated {
    pub message: String,
    pub pending: Vec<PendingAgreement>,
}

fn age_word(age: AgeConfirmation) -> &'static str {
    match age {
        AgeConfirmation::Adult => "adult",
        AgeConfirmation::Guardian => "guardian",
    }
}

/// Accepts exactly the documents the user was shown (id, version,
/// language each), recording it on the service and in the local history.
/// A version replaced meanwhile fails with `AgreementOutdated`.
pub async fn accept(
    engine: &Engine,
    shown: &[AcceptItem],
    age: AgeConfirmation,
) -> anyhow::Result<Vec<AcceptanceRecord>> {
    if shown.is_empty() {
        return Ok(Vec::new());
    }
    let sent = engine
        .service()?
        .accept(&AcceptRequest {
            acceptances: shown.to_vec(),
            age: Some(age),
        })
        .await;
    match sent {
        Ok(_) => {}
        Err(RemoteError::Api(e)) if e.code == ErrorCode::AgreementOutdated => {
            return Err(AgreementOutdated {
                message: e.message,
                pending: e.pending,
            }
            .into())
        }
        Err(e) => return Err(e.into()),
    }
    let at = now_rfc3339();
    let mut records = Vec::new();
    for i in shown {
        let r = AcceptanceRecord {
            id: i.id.clone(),
            version: i.version.clone(),
            locale: i.locale.clone(),
            age: age_word(age).into(),
            accepted_at: at.clone(),
        };
        engine.db.add_acceptance(&r)?;
        records.push(r);
    }
    Ok(records)
}

/// Consent to the push terms and nothing else: a required document
/// pending at the same moment is not accepted by it.
pub async fn accept_push(
    engine: &Engine,
    age: AgeConfirmation,
    locale: &str,
) -> anyhow::Result<Vec<AcceptanceRecord>> {
    let shown: Vec<AcceptItem> = to_read(engine, locale, false, true)
        .await?
        .into_iter()
        .map(|d| d.item)
        .collect();
    accept(engine, &shown, age).await
}

/// Declines the documents the user was shown: recorded on the service
/// (as the record of what happened), then this device signs out. Files stay.
pub async fn decline(home: &Home, shown: &[AcceptItem]) -> anyhow::Result<()> {
    if !shown.is_empty() {
        if let Ok(service) = signed_in_service(home, &home.load_config()?) {
            if let Err(e) = service.decline(shown).await {
                tracing::warn!("the service did not record the decline: {e}");
            }
        }
    }
    logout(home).await
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Takes back consent to the optional documents (the push terms): from the
/// next start of the sync loop the client polls instead. Kept in the local
/// history as "withdrawn".
pub async fn withdraw_optional(engine: &Engine) -> anyhow::Result<Vec<AcceptanceRecord>> {
    let status = engine.service()?.agreement_status().await?;
    let list = engine.service()?.agreements().await?;
    let at = now_rfc3339();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in list.documents.into_iter().filter(|d| d.in_force) {
        let pending = status.pending.iter().any(|p| p.id == d.id);
        if d.required != Requirement::Optional || pending || !seen.insert(d.id.clone()) {
            continue;
        }
        engine.service()?.withdraw(&d.id).await?;
        let r = AcceptanceRecord {
            id: d.id,
            version: d.version,
            locale: String::new(),
            age: "withdrawn".into(),
            accepted_at: at.clone(),
        };
        engine.db.add_acceptance(&r)?;
        out.push(r);
    }
    Ok(out)
}

/// Push is used only with the user's consent: every optional document (the
/// push terms) accepted in its current version.
pub async fn push_allowed(engine: &Engine) -> bool {
    let Ok(service) = engine.service() else {
        return false;
    };
    match service.agreement_status().await {
        Ok(s) => {
            remember_upcoming(engine, &s.upcoming);
            !s.pending
                .iter()
                .any(|p| p.required == Requirement::Optional)
        }
        Err(_) => false,
    }
}

#[derive(Debug, Serialize)]
pub struct FolderStatus {
    pub local: PathBuf,
    pub remote: String,
    pub mode: Mode,
    /// Selective sync: what stays on the service only.
    pub excluded: Vec<String>,
    pub paused: bool,
}

/// What `status` shows and the app's status window is built from, as data.
#[derive(Debug, Default, Serialize)]
pub struct Status {
    pub server: Option<String>,
    pub account: Option<String>,
    pub signed_in: bool,
    /// Where the sign-in tokens are kept.
    pub token_store: Option<TokenStore>,
    /// The tokens' file, when they are kept in one.
    pub credentials_file: Option<PathBuf>,
    pub folders: Vec<FolderStatus>,
    /// How the last pass ended (none yet: not synced yet).
    pub last_pass: Option<LastPass>,
    /// Something that happened once and that the user should know.
    pub notice: Option<Notice>,
    /// What was left out of the last sync and why.
    pub problems: Vec<Problem>,
    /// Storage on the service as of the last sync.
    pub storage: Option<Storage>,
    /// Folders a watching sync has no watch for (the system's limit).
    pub unwatched_folders: usize,
    pub conflicts: Vec<ConflictRecord>,
    /// The newest recorded changes, newest first.
    pub recent: Vec<ChangeRecord>,
    /// Revised agreements announced for a later date, as last seen.
    pub upcoming_agreements: Vec<Upcoming>,
    /// The state database could not be read: what is wrong with it. It is
    /// left where it is; the next sync sets it aside and rebuilds it.
    pub database: Option<DatabaseProblem>,
}

/// Why the state database could not be read for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DatabaseProblem {
    /// Damaged (fails to open or read): the next sync rebuilds it.
    Damaged { path: PathBuf },
    /// Written by a newer Nubo.
    Newer { schema: usize },
}

impl Status {
    /// What the last pass paused for.
    pub fn pauses(&self) -> &[Pause] {
        match self.last_pass.as_ref().map(|p| &p.outcome) {
            Some(PassOutcome::Paused { pauses }) => pauses,
            _ => &[],
        }
    }
}

/// Reads the home only; needs no network, and changes nothing: a damaged
/// state database is reported and left where it is.
pub fn status(home: &Home) -> anyhow::Result<Status> {
    status_with(home, None)
}

/// As `status`, read through `db`, a handle already open (the app's engine
/// holds one); without one, the database is opened to read it only.
pub fn status_with(home: &Home, db: Option<&StateDb>) -> anyhow::Result<Status> {
    Ok(status_of(home, &home.load_config()?, db))
}

/// As `status_with`, for a `config` already read (the app keeps it in memory).
pub fn status_of(home: &Home, config: &Config, db: Option<&StateDb>) -> Status {
    let mut status = Status {
        server: config.server.clone(),
        account: config.account_id.clone(),
        signed_in: config.token_store.is_some(),
        token_store: config.token_store,
        credentials_file: (config.token_store == Some(TokenStore::File))
            .then(|| home.credentials_path()),
        folders: config
            .folders
            .iter()
            .map(|f| FolderStatus {
                local: f.local.clone(),
                remote: f.remote.clone(),
                mode: f.mode,
                excluded: f.excluded.clone(),
                paused: f.paused,
            })
            .collect(),
        ..Status::default()
    };
    // Kept by a watching sync: news only while one runs.
    let watching = home
        .sync_running()
        .then_some(config.poll_interval_secs.max(1));
    let read = match db {
        Some(db) => read_status(db, &mut status, watching),
        None => StateDb::open_for_reading(&home.db_path()).and_then(|db| match db {
            Some(db) => read_status(&db, &mut status, watching),
            None => Ok(()),
        }),
    };
    match read {
        Ok(()) => {}
        Err(DbError::Newer(schema)) => status.database = Some(DatabaseProblem::Newer { schema }),
        Err(e) => {
            tracing::warn!("status: {}", crate::engine::error_chain(&e));
            status.database = Some(DatabaseProblem::Damaged {
                path: home.db_path(),
            });
        }
    }
    status
}

/// What the last pass left; with `watching` (a watching sync runs, scanning
/// every so many seconds), the folders it has no watch for.
fn read_status(db: &StateDb, s: &mut Status, watching: Option<u64>) -> Result<(), DbError> {
    s.last_pass = db.last_pass()?;
    s.notice = db.notice()?;
    s.problems = db.problems()?;
    if let Some(every_secs) = watching {
        s.unwatched_folders = db.unwatched()?;
        if s.unwatched_folders > 0 {
            s.problems.push(Problem::Unwatched {
                folders: s.unwatched_folders,
                every_secs,
            });
        }
    }
    s.storage = db.storage()?;
    s.conflicts = db.conflicts()?;
    s.recent = db.recent_changes(10)?;
    s.upcoming_agreements = db.upcoming()?;
    Ok(())
}
