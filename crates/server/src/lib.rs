//! The Nubo reference cloud service: accounts, agreements, a node tree with a
//! change feed, content-addressed chunks, push. Runs from one data folder
//! (`nubo serve --data DIR`) with nothing else installed, or, at scale, with
//! its metadata in PostgreSQL and its chunks in an S3 bucket, shared by
//! several instances (`--database`, `--chunks`).

pub mod agreements;
pub mod api;
pub mod chunks;
pub mod clock;
pub mod jobs;
pub mod lifecycle;
pub mod migrate;
mod password;
pub mod store;
pub mod throttle;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

pub use password::hash_password;

use agreements::{AgreementSet, Published};
use api::AppState;
use chunks::ChunkStore;
use clock::{Clock, SystemClock};
use jobs::{JobReport, Jobs};
use store::{MetaStore, PostgresStore, SqliteStore};

/// The demo account `--demo` creates, printed at start so a person can sign in.
pub const DEMO_ACCOUNT: &str = "demo";
pub const DEMO_PASSWORD: &str = "nubo-demo";

/// Where the published agreements come from.
#[derive(Debug, Clone)]
pub enum AgreementSource {
    None,
    /// The project's own short sample documents.
    Samples,
    /// A folder with a `manifest.json`.
    Dir(PathBuf),
}

#[derive(Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub agreements: AgreementSource,
    pub demo: bool,
    /// Earlier revisions kept per file.
    pub keep_versions: u32,
    pub default_quota_bytes: u64,
    pub access_ttl_secs: u64,
    /// Days the trash and replaced versions are kept before the retention
    /// job removes them.
    pub retention_days: u32,
    pub clock: Arc<dyn Clock>,
    /// HTTPS with this certificate; required to listen beyond loopback.
    pub tls: Option<tls::TlsFiles>,
    /// Metadata in this PostgreSQL database (`postgres://…`) instead of
    /// SQLite in the data folder.
    pub database: Option<String>,
    /// Reach that database over TLS, verified against these CA
    /// certificates (PEM).
    pub database_ca: Option<PathBuf>,
    /// Chunks in this object store (`s3://bucket/prefix`) instead of the
    /// data folder.
    pub chunks: Option<String>,
    pub s3: chunks::S3Settings,
    /// How often the background jobs run (retention, account lifecycle);
    /// never on their own when None.
    pub jobs_every: Option<std::time::Duration>,
    /// Rate limits and slowdowns for clients without a token.
    pub throttling: throttle::Throttling,
}

impl ServerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            agreements: AgreementSource::None,
            demo: false,
            keep_versions: 50,
            default_quota_bytes: 10 << 30,
            access_ttl_secs: 3600,
            retention_days: 30,
            clock: Arc::new(SystemClock),
            tls: None,
            database: None,
            database_ca: None,
            chunks: None,
            s3: chunks::S3Settings::default(),
            jobs_every: Some(std::time::Duration::from_secs(3600)),
            throttling: throttle::Throttling::default(),
        }
    }

    /// The metadata store this configuration names: PostgreSQL when given,
    /// else SQLite in the data folder. Blocking (it may connect and migrate).
    pub fn open_store(&self) -> anyhow::Result<Arc<dyn MetaStore>> {
        Ok(match &self.database {
            Some(url) => Arc::new(PostgresStore::connect(
                url,
                self.database_ca.as_deref(),
                self.keep_versions,
            )?),
            None => {
                let db = private_data_folder(&self.data_dir)?;
                Arc::new(SqliteStore::open(&db, self.keep_versions)?)
            }
        })
    }

    /// The chunk store this configuration names.
    pub fn open_chunks(&self) -> anyhow::Result<ChunkStore> {
        match &self.chunks {
            Some(url) => ChunkStore::s3(url, &self.s3),
            None => ChunkStore::local(&self.data_dir.join("chunks")),
        }
    }
}

/// The SQLite database in a data folder.
const META_FILE: &str = "meta.sqlite";

/// An operator's command on the data of a service that exists: without
/// PostgreSQL, the data folder must hold the service's database (a
/// mistyped folder would otherwise be created empty and reported on).
fn existing_service(config: &ServerConfig) -> anyhow::Result<()> {
    if config.database.is_none() && !config.data_dir.join(META_FILE).is_file() {
        bail!(
            "{} holds no Nubo service (no {META_FILE} in it): give the --data folder `nubo serve` uses",
            config.data_dir.display()
        );
    }
    Ok(())
}

/// Makes the data folder (0700: it holds password hashes, tokens' digests
/// and every account's chunks) and its database file (0600, before SQLite
/// creates it: the journal files take its mode); narrows them when they
/// exist with more. The database's path.
fn private_data_folder(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let cannot = || format!("cannot create the data folder {}", dir.display());
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder.create(dir).with_context(cannot)?;
    let db = dir.join(META_FILE);
    let mut file = std::fs::OpenOptions::new();
    file.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(&db).with_context(cannot)?;
    #[cfg(unix)]
    for (path, mode) in [(dir.to_path_buf(), 0o700), (db.clone(), 0o600)] {
        use std::os::unix::fs::PermissionsExt;
        let had = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        if had & !mode != 0 {
            tracing::warn!(
                "{} was open to other users ({had:o}); narrowing it to {mode:o}",
                path.display()
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(had & mode))?;
        }
    }
    Ok(db)
}

/// `nubo admin add-account`: works on the service's store directly, with or
/// without a running service. Blocking.
pub fn add_account(
    config: &ServerConfig,
    account_id: &str,
    phone: Option<&str>,
    quota_bytes: u64,
    password: &str,
) -> anyhow::Result<()> {
    if account_id.trim().is_empty() || password.is_empty() {
        bail!("an account needs a non-empty ID and password");
    }
    let store = config.open_store()?;
    let now = SystemClock.now();
    store.create_account(
        account_id,
        phone,
        &hash_password(password),
        quota_bytes,
        now,
    )?;
    Ok(())
}

/// `nubo admin gc`: one garbage collection of chunks now (as the hourly
/// job runs it), on the store and chunk store the configuration names,
/// with or without a running service; with `sweep`, then also removes the
/// objects no row names (`Jobs::sweep`). What each freed.
pub async fn collect_garbage(
    config: ServerConfig,
    sweep: bool,
) -> anyhow::Result<(JobReport, Option<chunks::Freed>)> {
    existing_service(&config)?;
    let opening = config.clone();
    let store = tokio::task::spawn_blocking(move || opening.open_store()).await??;
    let jobs = Jobs {
        store,
        chunks: config.open_chunks()?,
        clock: config.clock.clone(),
        retention_days: config.retention_days,
    };
    tokio::task::spawn_blocking(move || {
        let report = jobs.collect_garbage()?;
        let swept = if sweep { Some(jobs.sweep()?) } else { None };
        Ok((report, swept))
    })
    .await?
}

/// `nubo admin reset-password`: an operator sets a new password for an
/// account (by account ID or phone number) and signs every device of it
/// out. Works on the store directly, with or without a running service.
/// Blocking.
pub fn reset_password(config: &ServerConfig, login: &str, password: &str) -> anyhow::Result<()> {
    api::check_new_password(password).map_err(|e| anyhow::anyhow!("{}", e.0.message))?;
    existing_service(config)?;
    let store = config.open_store()?;
    let account = store
        .find_account(login.trim())?
        .filter(|a| !a.deleted)
        .with_context(|| format!("there is no account {login:?}"))?;
    store.set_password(
        account.key,
        &hash_password(password),
        store::SignOut::Everyone,
    )?;
    tracing::info!(account = account.key, "password reset by an operator");
    Ok(())
}

/// A service that is listening. Dropping it does not stop it; call `shutdown`.
pub struct RunningServer {
    pub addr: SocketAddr,
    https: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    jobs: Jobs,
    jobs_task: Option<tokio::task::JoinHandle<()>>,
    /// Set to stop the thread that listens for other instances' changes.
    stop_listening: Arc<std::sync::atomic::AtomicBool>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub async fn shutdown(mut self) {
        if let Some(task) = &self.jobs_task {
            task.abort();
        }
        self.stop_listening
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }

    /// One pass of the background jobs now, on the service's clock (tests
    /// move the clock and call this instead of waiting for the interval).
    pub async fn run_jobs_once(&self) -> anyhow::Result<JobReport> {
        let jobs = self.jobs.clone();
        tokio::task::spawn_blocking(move || jobs.run_once()).await?
    }

    /// A pass unless an instance sharing the store ran one less than `gap`
    /// ago, as the timer does: what ran, if anything.
    pub async fn run_jobs_if_due(
        &self,
        gap: std::time::Duration,
    ) -> anyhow::Result<Option<JobReport>> {
        let jobs = self.jobs.clone();
        tokio::task::spawn_blocking(move || jobs.run_if_due(gap)).await?
    }
}

/// Binds and serves in the background.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    if !config.listen.ip().is_loopback() && config.tls.is_none() {
        bail!(
            "refusing to serve plain HTTP on {}: tokens would cross the network unencrypted. \
             Give a certificate with --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS reverse proxy",
            config.listen
        );
    }
    let agreements = match &config.agreements {
        AgreementSource::None => Published::fixed(AgreementSet::default()),
        AgreementSource::Samples => Published::fixed(AgreementSet::samples()),
        AgreementSource::Dir(dir) => Published::from_dir(dir)?,
    };
    let opening = config.clone();
    let (changes, _) = broadcast::channel(1024);
    let stop_listening = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (wake, stop) = (changes.clone(), stop_listening.clone());
    // Off the runtime: PostgreSQL's client blocks.
    let store = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let store = opening.open_store()?;
        // Before anything is written: what this database's history holds,
        // so that a client from a history it lost (a restore from a backup)
        // is told so.
        store
            .begin_history(opening.clock.now())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if opening.demo
            && store
                .find_account(DEMO_ACCOUNT)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .is_none()
        {
            store
                .create_account(
                    DEMO_ACCOUNT,
                    None,
                    &hash_password(DEMO_PASSWORD),
                    opening.default_quota_bytes,
                    opening.clock.now(),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        // Other instances' changes wake this one's push clients too.
        store
            .listen(
                Box::new(move |account, cursor| {
                    let _ = wake.send((account, cursor));
                }),
                stop,
            )
            .map_err(|e| anyhow::anyhow!("cannot listen for other instances' changes: {e}"))?;
        Ok(store)
    })
    .await??;
    let chunks = config.open_chunks()?;
    let jobs = Jobs {
        store: store.clone(),
        chunks: chunks.clone(),
        clock: config.clock.clone(),
        retention_days: config.retention_days,
    };
    let state = AppState {
        store,
        chunks,
        agreements: Arc::new(agreements),
        clock: config.clock.clone(),
        changes,
        access_ttl_secs: config.access_ttl_secs,
        refresh_ttl_secs: 90 * 24 * 3600,
        retention_days: config.retention_days,
        https: config.tls.is_some(),
        throttle: Arc::new(throttle::Throttle::new(config.throttling.clone())),
        archived: Default::default(),
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = api::router(state);
    let https = config.tls.is_some();
    let task = match &config.tls {
        Some(files) => {
            let acceptor = tls::acceptor(files)?;
            tokio::spawn(tls::serve(listener, acceptor, app, rx))
        }
        None => tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!("the service stopped: {e}");
            }
        }),
    };
    // The first pass runs at once, unless this instance or another one on
    // the same store ran one within the interval: a service that was down
    // for a while catches up before anyone asks.
    let jobs_task = config.jobs_every.map(|every| jobs.clone().spawn(every));
    Ok(RunningServer {
        addr,
        https,
        shutdown: Some(tx),
        task,
        jobs,
        jobs_task,
        stop_listening,
    })
}
