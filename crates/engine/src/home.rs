//! A client home: one account's config, state database, credentials
//! fallback and logs. Two homes on one machine behave as two PCs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::planner::{MassDeleteGuard, Mode};

/// The file a sync root carries, so an empty or unmounted folder is never
/// taken for "everything was deleted".
pub const ROOT_MARKER: &str = ".nubo-root";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FolderConfig {
    pub id: i64,
    pub local: PathBuf,
    /// `/` is the account's top folder.
    pub remote: String,
    pub mode: Mode,
    /// Written into the root marker; a marker with another value is another folder's.
    pub marker: String,
    /// Selective sync: paths inside the folder that stay on the service only.
    #[serde(default)]
    pub excluded: Vec<String>,
    /// New remote folders over the size threshold the user chose to download.
    #[serde(default)]
    pub confirmed: Vec<String>,
    /// Paused by the user: not synced at all until resumed.
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenStore {
    Keyring,
    /// A 0600 file in the home, where no keyring service exists.
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub server: Option<String>,
    pub account_id: Option<String>,
    pub device_id: Option<i64>,
    pub token_store: Option<TokenStore>,
    #[serde(default)]
    pub folders: Vec<FolderConfig>,
    /// How often to ask the service for changes when push is not in use.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// How often a watching engine reads every folder whole, for what the
    /// system's events may have missed (they say what changed in between).
    #[serde(default = "default_rescan")]
    pub rescan_interval_secs: u64,
    #[serde(default = "default_min_files")]
    pub mass_delete_min_files: usize,
    #[serde(default = "default_share")]
    pub mass_delete_max_share: f64,
    /// A new folder on the service larger than this waits for the user.
    #[serde(default = "default_large_folder")]
    pub large_folder_bytes: u64,
    /// Bandwidth limits in kB/s; 0 is unlimited.
    #[serde(default)]
    pub upload_limit_kbps: u64,
    #[serde(default)]
    pub download_limit_kbps: u64,
    /// Transfers in flight at once.
    #[serde(default = "default_parallel")]
    pub parallel_transfers: usize,
    /// Downloads leave this much free on a synced folder's disk (MB), so
    /// that syncing never fills it for the user's other programs.
    #[serde(default = "default_keep_free")]
    pub keep_free_mb: u64,
}

fn default_poll() -> u64 {
    60
}
fn default_rescan() -> u64 {
    24 * 3600
}
fn default_min_files() -> usize {
    MassDeleteGuard::default().min_files
}
fn default_large_folder() -> u64 {
    1_000_000_000
}
fn default_share() -> f64 {
    MassDeleteGuard::default().max_share
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: None,
            account_id: None,
            device_id: None,
            token_store: None,
            folders: Vec::new(),
            poll_interval_secs: default_poll(),
            rescan_interval_secs: default_rescan(),
            mass_delete_min_files: default_min_files(),
            mass_delete_max_share: default_share(),
            large_folder_bytes: default_large_folder(),
            upload_limit_kbps: 0,
            download_limit_kbps: 0,
            parallel_transfers: default_parallel(),
            keep_free_mb: default_keep_free(),
        }
    }
}

fn default_parallel() -> usize {
    8
}

fn default_keep_free() -> u64 {
    100
}

impl Config {
    pub fn guard(&self) -> MassDeleteGuard {
        MassDeleteGuard {
            min_files: self.mass_delete_min_files,
            max_share: self.mass_delete_max_share,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    /// The home, made if missing. It holds the account's sign-in, its file
    /// list and logs: only this user may enter it (0700), and the state
    /// database is made 0600 before SQLite creates it (its journal files
    /// take the same mode).
    pub fn new(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let dir = dir.into();
        private_dir(&dir)
            .with_context(|| format!("cannot create the Nubo home {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let home = Home { dir };
        private_file(&home.db_path())?;
        Ok(home)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("state.sqlite")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn credentials_path(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }
    /// Held by the process refreshing the sign-in (`remote::SharedTokens`).
    pub fn refresh_lock_path(&self) -> PathBuf {
        self.dir.join("refresh.lock")
    }
    pub fn trash_dir(&self) -> PathBuf {
        self.dir.join("trash")
    }

    /// Held while syncing: two sync loops on one home would race each other.
    /// Whether a sync (`nubo sync` or the app) holds this home's lock now.
    pub fn sync_running(&self) -> bool {
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .open(self.dir.join("sync.lock"))
        else {
            return false;
        };
        matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }

    pub fn lock_for_sync(&self) -> anyhow::Result<std::fs::File> {
        let path = self.dir.join("sync.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!(
                    "another `nubo sync` is already running for {}; stop it first",
                    self.dir.display()
                )
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }

    pub fn load_config(&self) -> anyhow::Result<Config> {
        let path = self.config_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not valid; fix it or remove it and sign in again",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save_config(&self, config: &Config) -> anyhow::Result<()> {
        write_atomic(
            &self.config_path(),
            serde_json::to_string_pretty(config)?.as_bytes(),
            true,
        )
    }
}

/// A folder only this user may enter (0700 on Unix), made with its parents
/// when missing; one that exists is narrowed to that (never widened).
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    narrow(dir, 0o700)?;
    Ok(())
}

/// A file only this user may read (0600 on Unix): made empty when
/// missing, narrowed when it exists.
pub fn private_file(path: &Path) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    narrow(path, 0o600)?;
    Ok(())
}

/// Takes from `path` every permission `mode` does not give.
#[cfg(unix)]
fn narrow(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let now = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if now & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(now & mode))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    Ok(())
}

/// Temp file, fsync, rename: a crash leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
