//! What a user does around syncing: sign in and out, agreements, folders,
//! status. The CLI and the desktop app both call these.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nubo_protocol::{
    AcceptItem, AcceptRequest, AgeConfirmation, DeviceCodeResponse, ErrorCode, Requirement,
    TokenResponse,
};
use serde::Serialize;

use crate::credentials;
use crate::db::{AcceptanceRecord, ConflictRecord, EventRecord, StateDb};
use crate::engine::{host_name, mark_root, Engine};
use crate::home::{FolderConfig, Home, TokenStore, ROOT_MARKER};
use crate::planner::Mode;
use crate::remote::{self, check_server_url, RemoteError, Tokens};

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
        RemoteError::Network(m) if m.to_lowercase().contains("certificate") => (
            LoginProblem::BadCertificate,
            format!("the service at {server} did not present a valid certificate ({m}); check the address"),
        ),
        RemoteError::Network(m) => (
            LoginProblem::Unreachable,
            format!("cannot reach the service at {server} ({m}); check the address and the network"),
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
    if let Ok(engine) = Engine::open(home.clone()) {
        if let Err(e) = engine.remote().logout().await {
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
    let engine = Engine::open(home.clone())?;
    engine
        .remote()
        .cancel_account(confirm)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    credentials::delete(home, &config);
    config.token_store = None;
    home.save_config(&config)?;
    Ok(())
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

pub fn remove_folder(home: &Home, local: &Path) -> anyhow::Result<()> {
    let mut config = home.load_config()?;
    let local: PathBuf = local.canonicalize().unwrap_or_else(|_| local.to_path_buf());
    let Some(i) = config.folders.iter().position(|f| f.local == local) else {
        bail!("{} is not a synced folder", local.display());
    };
    let f = config.folders.remove(i);
    let (db, _) = StateDb::open(&home.db_path())?;
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
    use crate::fs::LocalFs;
    let mut config = home.load_config()?;
    let (i, rel) = folder_for(&config, remote_path)?;
    let folder = config.folders[i].clone();
    if folder.excluded.contains(&rel) {
        bail!("{remote_path} is already excluded");
    }
    let (db, _) = StateDb::open(&home.db_path())?;
    let local_dir = folder.local.join(&rel);
    if local_dir.exists() {
        let synced = db.load_synced(folder.id)?;
        let fs = crate::fs::RealFs {
            fallback_trash: home.trash_dir(),
        };
        let rules = crate::ignore_rules::IgnoreRules::load(&local_dir, &[]);
        let now = crate::scanner::scan(&fs, &local_dir, &rules, &Default::default(), i64::MAX);
        for (sub, entry) in &now.tree {
            let path = format!("{rel}/{sub}");
            let in_step = synced
                .get(&path)
                .is_some_and(|s| s.kind == entry.kind && s.hash == entry.hash);
            if !in_step {
                bail!("{path} has changes here that are not synced yet; run `nubo sync --once` first, then exclude {remote_path}");
            }
        }
        fs.trash(&local_dir)
            .with_context(|| format!("cannot move {} to the trash", local_dir.display()))?;
    }
    db.record(
        folder.id,
        &[
            crate::db::Change::RemoveLocal(&rel),
            crate::db::Change::RemoveSynced(&rel),
        ],
    )?;
    config.folders[i].excluded.push(rel);
    home.save_config(&config)?;
    Ok(local_dir)
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
    let (db, _) = StateDb::open(&home.db_path())?;
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

#[derive(Debug, Serialize)]
pub struct AgreementView {
    pub id: String,
    pub title: String,
    pub version: String,
    pub effective: String,
    pub required: Requirement,
    pub locales: Vec<String>,
    /// The title in each language, by locale.
    pub titles: std::collections::BTreeMap<String, String>,
    pub accepted: bool,
}

pub async fn agreements(engine: &Engine) -> anyhow::Result<Vec<AgreementView>> {
    let remote = engine.remote();
    let list = remote.agreements().await?;
    let status = remote.agreement_status().await?;
    let mut out: Vec<AgreementView> = Vec::new();
    for d in list.documents {
        if let Some(v) = out.iter_mut().find(|v| v.id == d.id) {
            v.titles.insert(d.locale.clone(), d.title);
            v.locales.push(d.locale);
            continue;
        }
        let accepted = !status.pending.iter().any(|p| p.id == d.id);
        out.push(AgreementView {
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

fn pick_locale(locales: &[String], preferred: &str) -> String {
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

/// Accepts every pending required document (and the optional push terms
/// when `push`), recording it on the service and in the local database.
pub async fn accept(
    engine: &Engine,
    guardian: bool,
    push: bool,
    locale: &str,
) -> anyhow::Result<Vec<AcceptanceRecord>> {
    let status = engine.remote().agreement_status().await?;
    let items: Vec<AcceptItem> = status
        .pending
        .iter()
        .filter(|p| p.required != Requirement::Optional || push)
        .map(|p| AcceptItem {
            id: p.id.clone(),
            version: p.version.clone(),
            locale: pick_locale(&p.locales, locale),
        })
        .collect();
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let age = if guardian {
        AgeConfirmation::Guardian
    } else {
        AgeConfirmation::Adult
    };
    engine
        .remote()
        .accept(&AcceptRequest {
            acceptances: items.clone(),
            age: Some(age),
        })
        .await?;
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut records = Vec::new();
    for i in items {
        let r = AcceptanceRecord {
            id: i.id,
            version: i.version,
            locale: i.locale,
            age: if guardian {
                "guardian".into()
            } else {
                "adult".into()
            },
            accepted_at: at.clone(),
        };
        engine.db.add_acceptance(&r)?;
        records.push(r);
    }
    Ok(records)
}

/// Takes back consent to the optional documents (the push terms): from the
/// next start of the sync loop the client polls instead. Kept in the local
/// history as "withdrawn".
pub async fn withdraw_optional(engine: &Engine) -> anyhow::Result<Vec<AcceptanceRecord>> {
    let status = engine.remote().agreement_status().await?;
    let list = engine.remote().agreements().await?;
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in list.documents {
        let pending = status.pending.iter().any(|p| p.id == d.id);
        if d.required != Requirement::Optional || pending || !seen.insert(d.id.clone()) {
            continue;
        }
        engine.remote().withdraw(&d.id).await?;
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
    match engine.remote().agreement_status().await {
        Ok(s) => !s
            .pending
            .iter()
            .any(|p| p.required == Requirement::Optional),
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

#[derive(Debug, Serialize)]
pub struct Status {
    pub server: Option<String>,
    pub account: Option<String>,
    pub signed_in: bool,
    /// Where the sign-in tokens are kept, in words.
    pub token_store: Option<String>,
    pub folders: Vec<FolderStatus>,
    /// "up to date", a pause with what to do, or an error.
    pub state: Option<String>,
    pub state_at: Option<String>,
    pub last_error: Option<String>,
    pub notice: Option<String>,
    /// What was left out of the last sync and why: refused names from the
    /// service, links, unreadable files.
    pub problems: Vec<String>,
    /// Storage on the service as of the last sync: (used, quota) in bytes.
    pub storage: Option<(u64, u64)>,
    pub conflicts: Vec<ConflictRecord>,
    pub recent: Vec<EventRecord>,
    /// New folders on the service over the size threshold, waiting for the
    /// user to include or exclude them: (path on the service, bytes).
    pub waiting_folders: Vec<(String, u64)>,
    /// What the last pass paused for (`Pause::kind`), if it paused.
    pub pauses: Vec<String>,
}

/// Reads the home only; needs no network.
pub fn status(home: &Home) -> anyhow::Result<Status> {
    let config = home.load_config()?;
    let (db, _) = StateDb::open(&home.db_path())?;
    Ok(Status {
        server: config.server.clone(),
        account: config.account_id.clone(),
        signed_in: config.token_store.is_some(),
        token_store: config.token_store.map(|s| match s {
            TokenStore::Keyring => "the OS keyring".to_string(),
            TokenStore::File => format!(
                "{} (no keyring service was found)",
                home.credentials_path().display()
            ),
        }),
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
        state: db.meta("state")?,
        state_at: db.meta("state_at")?,
        last_error: db.meta("last_error")?,
        notice: db.meta("notice")?,
        storage: db.meta("quota")?.and_then(|q| {
            let (used, quota) = q.split_once(' ')?;
            Some((used.parse().ok()?, quota.parse().ok()?))
        }),
        problems: db
            .meta("problems")?
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default(),
        conflicts: db.conflicts()?,
        recent: db.recent_events(10)?,
        pauses: db
            .meta("pauses")?
            .and_then(|w| serde_json::from_str(&w).ok())
            .unwrap_or_default(),
        waiting_folders: db
            .meta("waiting_folders")?
            .and_then(|w| serde_json::from_str(&w).ok())
            .unwrap_or_default(),
    })
}
