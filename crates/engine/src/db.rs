//! The state database: one SQLite file per home (WAL, one writer) holding
//! the local, remote and synced trees, the change-feed cursor, conflicts,
//! recent changes and the acceptance records.
//!
//! A database that is lost or fails its integrity check is set aside and
//! started afresh. That is safe by construction: with an empty synced tree the
//! planner can only see both sides as new, so identical content is linked up,
//! differences become conflict copies, and nothing is deleted.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nubo_protocol::{Node, NodeId, NodeKind};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use time::OffsetDateTime;

use crate::content_hash::BadHash;
use crate::problem::Problem;
use crate::report::{LastPass, Notice, RecordedChange, Storage, Upcoming};
use crate::tree::{ContentHash, FileStat, Kind, LocalEntry, RelPath, SyncedEntry, Tree};

mod lookup;
mod seal;
pub use lookup::{StoredLocal, Under};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE local (
    folder INTEGER NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (folder, path)
) WITHOUT ROWID;
CREATE TABLE synced (
    folder INTEGER NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
    node INTEGER NOT NULL, rev INTEGER NOT NULL, hash TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
    PRIMARY KEY (folder, path)
) WITHOUT ROWID;
CREATE TABLE remote (
    id INTEGER PRIMARY KEY, parent INTEGER, name TEXT NOT NULL, kind TEXT NOT NULL,
    rev INTEGER NOT NULL, size INTEGER NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY, folder INTEGER NOT NULL, path TEXT NOT NULL, copy TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, folder INTEGER NOT NULL, action TEXT NOT NULL, path TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE acceptances (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, version TEXT NOT NULL, locale TEXT NOT NULL,
    age TEXT NOT NULL, accepted_at TEXT NOT NULL
);
"#,
    // Each remote file's modification time, given to the file downloaded
    // (0: not known yet; the file keeps the time it was written).
    r#"
ALTER TABLE remote ADD COLUMN mtime_ms INTEGER NOT NULL DEFAULT 0;
"#,
    // Change time and device of each entry: an edit that keeps size and
    // mtime is still seen, and a folder whose mount went away is noticed.
    // (0 in rows written before: such a file is read once more.)
    r#"
ALTER TABLE local ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE local ADD COLUMN dev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE synced ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE synced ADD COLUMN dev INTEGER NOT NULL DEFAULT 0;
"#,
    // The exec bit of files on each side and in the merge base (0 in rows
    // written before: an executable file is read once more and sends its
    // bit to the service).
    r#"
ALTER TABLE local ADD COLUMN exec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE synced ADD COLUMN exec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remote ADD COLUMN exec INTEGER NOT NULL DEFAULT 0;
"#,
    // What the engine reports, stored as data (`report`): recent changes
    // as `RecordedChange` JSON with a time and a device, conflicts with
    // theirs, and the meta rows that held sentences as JSON. Rows written
    // before are carried over (their stamps "from HOST DATE TIME" were the
    // writer's wall clock, read here as UTC); the last pass's own rows
    // (state, pauses, problems, last error) are dropped: the next pass,
    // which starts at once, writes them again.
    r#"
CREATE TABLE changes (
    id INTEGER PRIMARY KEY, folder INTEGER NOT NULL, change TEXT NOT NULL,
    at INTEGER NOT NULL, device TEXT NOT NULL
);
INSERT INTO changes (id, folder, change, at, device)
SELECT id, folder,
    CASE action
        WHEN 'uploaded' THEN json_object('kind', 'uploaded', 'path', path)
        WHEN 'downloaded' THEN json_object('kind', 'downloaded', 'path', path)
        WHEN 'moved on the service' THEN json_object('kind', 'moved_on_service',
            'from', substr(path, 1, instr(path, ' → ') - 1), 'to', substr(path, instr(path, ' → ') + 3))
        WHEN 'moved here' THEN json_object('kind', 'moved_here',
            'from', substr(path, 1, instr(path, ' → ') - 1), 'to', substr(path, instr(path, ' → ') + 3))
        WHEN 'conflict: kept this computer''s version as' THEN json_object('kind', 'conflict_kept',
            'path', coalesce((SELECT c.path FROM conflicts c WHERE c.folder = events.folder AND c.copy = events.path
                              ORDER BY c.id DESC LIMIT 1), path),
            'copy', path)
        WHEN 'moved to the service''s trash' THEN json_object('kind', 'trashed_on_service', 'path', path)
        WHEN 'moved to the trash' THEN json_object('kind', 'trashed_here', 'path', path)
        ELSE json_object('kind', 'trashed_with_folder', 'path', path)
    END,
    coalesce(CAST(strftime('%s', substr(at, -17, 10) || ' ' || substr(at, -6, 2) || ':' || substr(at, -4, 2)
        || ':' || substr(at, -2, 2)) AS INTEGER), 0),
    CASE WHEN at LIKE 'from %' AND length(at) > 23 THEN substr(at, 6, length(at) - 23) ELSE '' END
FROM events
WHERE action IN ('uploaded', 'downloaded', 'moved on the service', 'moved here',
    'conflict: kept this computer''s version as', 'moved to the service''s trash', 'moved to the trash',
    'moved to the trash with its folder (not synced: .nuboignore)');
DROP TABLE events;
ALTER TABLE conflicts ADD COLUMN at_unix INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conflicts ADD COLUMN device TEXT NOT NULL DEFAULT '';
UPDATE conflicts SET
    at_unix = coalesce(CAST(strftime('%s', substr(at, -17, 10) || ' ' || substr(at, -6, 2) || ':'
        || substr(at, -4, 2) || ':' || substr(at, -2, 2)) AS INTEGER), 0),
    device = CASE WHEN at LIKE 'from %' AND length(at) > 23 THEN substr(at, 6, length(at) - 23) ELSE '' END;
UPDATE meta SET key = 'storage', value = json_object(
        'used_bytes', CAST(substr(value, 1, instr(value, ' ') - 1) AS INTEGER),
        'quota_bytes', CAST(substr(value, instr(value, ' ') + 1) AS INTEGER))
    WHERE key = 'quota' AND instr(value, ' ') > 0;
UPDATE meta SET value = CASE
        WHEN value LIKE '%went back in time%' THEN json_object('kind', 'service_rewound')
        WHEN instr(value, 'kept as ') > 0 THEN json_object('kind', 'database_rebuilt', 'set_aside',
            substr(value, instr(value, 'kept as ') + 8,
                   instr(substr(value, instr(value, 'kept as ') + 8), ')') - 1))
        ELSE json_object('kind', 'database_rebuilt', 'set_aside', NULL)
    END
    WHERE key = 'notice';
UPDATE meta SET value = (SELECT json_group_array(json_object('title', json_extract(e.value, '$[0]'),
        'version', json_extract(e.value, '$[1]'), 'effective', json_extract(e.value, '$[2]')))
        FROM json_each(meta.value) e)
    WHERE key = 'upcoming_agreements' AND json_valid(value);
DELETE FROM meta WHERE key IN ('quota', 'state', 'state_at', 'pauses', 'problems', 'waiting_folders', 'last_error');
"#,
    // What a round planned over what changed looks up (`db/lookup.rs`):
    // a node's children and a child by name, an entry of the merge base by
    // its node or inode, a local entry by its inode (moves).
    r#"
CREATE INDEX remote_children ON remote (parent, name);
CREATE INDEX synced_node ON synced (folder, node);
CREATE INDEX synced_inode ON synced (folder, inode);
CREATE INDEX local_inode ON local (folder, inode);
"#,
    // What a pass that ended in sync leaves for the engine's next start
    // (`engine/resume.rs`): every write to the trees or the cursor
    // empties it, in its own transaction (`unsettle`).
    r#"
CREATE TABLE settled (folder INTEGER PRIMARY KEY, state TEXT NOT NULL);
"#,
];

pub type FolderId = i64;

/// What went wrong with the state database. Always a local problem: never
/// read as "offline".
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the state database {} cannot be opened", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// It failed its integrity check (a read-only open leaves it as it is).
    #[error("the state database {} is damaged ({check}); the next sync sets it aside and rebuilds it", path.display())]
    Damaged { path: PathBuf, check: String },
    #[error("the state database was written by a newer Nubo (schema {0}); upgrade Nubo")]
    Newer(usize),
    #[error("cannot move the broken state database {} aside", path.display())]
    SetAside {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state database cannot be read or written")]
    Sql(#[from] rusqlite::Error),
    #[error("the state database holds a record it cannot read")]
    Record(#[from] serde_json::Error),
}

impl DbError {
    /// SQLite found the file damaged while reading it.
    pub fn is_damage(&self) -> bool {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match self {
            DbError::Damaged { .. } => true,
            DbError::Sql(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, DatabaseCorrupt | NotADatabase)
            }
            _ => false,
        }
    }

    /// The disk holding it is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            DbError::Sql(rusqlite::Error::SqliteFailure(e, _)) | DbError::Open { source: rusqlite::Error::SqliteFailure(e, _), .. }
                if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

pub type DbResult<T> = Result<T, DbError>;

pub struct StateDb {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// How the file was checked at this open; for a writable open, what its
    /// clean close seals (`seal.rs`).
    check: Check,
    /// A writable open leaves a seal when it closes, unless damage was met.
    sealing: Option<std::sync::atomic::AtomicBool>,
}

/// When the file was last checked whole, whether this open did it, and
/// which file it was (device and inode).
#[derive(Debug, Clone, Copy)]
struct Check {
    at: i64,
    now: bool,
    file: Option<(u64, u64)>,
}

impl Drop for StateDb {
    /// Closes the connection first: the last close of the file ends its
    /// log, and only then is the file as the next open will find it.
    fn drop(&mut self) {
        let Some(trust) = &self.sealing else {
            return;
        };
        if !trust.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let Ok(placeholder) = Connection::open_in_memory() else {
            return;
        };
        let conn = std::mem::replace(
            self.conn.get_mut().unwrap_or_else(|p| p.into_inner()),
            placeholder,
        );
        if conn.close().is_ok() {
            seal::leave(&self.path, self.check.at, self.check.file);
        }
    }
}

/// When a change was made, and by which device (its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub at: OffsetDateTime,
    pub device: String,
}

impl Stamp {
    /// How conflict copies are named: "from DEVICE 2026-12-06 170114".
    pub fn copy_label(&self) -> String {
        let fmt = time::macros::format_description!("[year]-[month]-[day] [hour][minute][second]");
        format!(
            "from {} {}",
            self.device,
            self.at.format(fmt).unwrap_or_default()
        )
    }
}

#[derive(Debug, Clone)]
pub struct RemoteRow {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    pub name: String,
    pub kind: Kind,
    pub rev: i64,
    pub size: u64,
    /// None for folders; what the service sent when it is not a hash
    /// (`remote_tree` refuses such a file).
    pub hash: Result<Option<ContentHash>, BadHash>,
    pub mtime_ms: i64,
    pub exec: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictRecord {
    pub folder: FolderId,
    pub path: String,
    pub copy: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub device: String,
}

/// One recent change, with when and where it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub folder: FolderId,
    pub change: RecordedChange,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub device: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AcceptanceRecord {
    pub id: String,
    pub version: String,
    pub locale: String,
    pub age: String,
    pub accepted_at: String,
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::File => "file",
        Kind::Dir => "dir",
    }
}

/// A stored kind; anything else than the two written is a damaged row.
fn kind_from(s: &str) -> rusqlite::Result<Kind> {
    match s {
        "file" => Ok(Kind::File),
        "dir" => Ok(Kind::Dir),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            format!("kind {other:?}"),
            rusqlite::types::Type::Text,
        )),
    }
}

/// A stored hash as its column holds it: hex, empty for folders.
fn hash_text(hash: Option<ContentHash>) -> String {
    hash.map(|h| h.to_string()).unwrap_or_default()
}

/// The hash of a row of kind `kind` in column `i`, read in place (no
/// string per row): none for a folder, whatever its column holds.
fn hash_at(
    r: &rusqlite::Row<'_>,
    i: usize,
    kind: Kind,
) -> rusqlite::Result<Result<Option<ContentHash>, BadHash>> {
    Ok(match kind {
        Kind::Dir => Ok(None),
        Kind::File => r.get_ref(i)?.as_str()?.parse().map(Some),
    })
}

/// A hash this engine wrote itself (the local and synced trees): one that
/// does not read is a damaged row.
fn own_hash_at(
    r: &rusqlite::Row<'_>,
    i: usize,
    kind: Kind,
) -> rusqlite::Result<Option<ContentHash>> {
    hash_at(r, i, kind)?.map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A file's stat from the six columns at `first` on: size, mtime_ns,
/// inode, ctime_ns, dev, exec (in that order in both trees' queries).
fn stat_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<FileStat> {
    Ok(FileStat {
        size: r.get::<_, i64>(first)? as u64,
        mtime_ns: r.get(first + 1)?,
        inode: r.get::<_, i64>(first + 2)? as u64,
        ctime_ns: r.get(first + 3)?,
        dev: r.get::<_, i64>(first + 4)? as u64,
        exec: r.get(first + 5)?,
    })
}

const LOCAL_COLUMNS: &str = "path, kind, hash, size, mtime_ns, inode, ctime_ns, dev, exec";

fn local_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(RelPath, LocalEntry)> {
    let kind = kind_from(r.get_ref(1)?.as_str()?)?;
    let entry = LocalEntry {
        kind,
        hash: own_hash_at(r, 2, kind)?,
        stat: stat_at(r, 3)?,
    };
    Ok((r.get::<_, String>(0)?, entry))
}

const SYNCED_COLUMNS: &str =
    "path, kind, node, rev, hash, size, mtime_ns, inode, ctime_ns, dev, exec";

fn synced_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(RelPath, SyncedEntry)> {
    let kind = kind_from(r.get_ref(1)?.as_str()?)?;
    let entry = SyncedEntry {
        kind,
        node: r.get(2)?,
        rev: r.get(3)?,
        hash: own_hash_at(r, 4, kind)?,
        stat: stat_at(r, 5)?,
    };
    Ok((r.get::<_, String>(0)?, entry))
}

const REMOTE_COLUMNS: &str = "id, parent, name, kind, rev, size, hash, mtime_ms, exec";

fn remote_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RemoteRow> {
    let kind = kind_from(r.get_ref(3)?.as_str()?)?;
    Ok(RemoteRow {
        id: r.get(0)?,
        parent: r.get(1)?,
        name: r.get(2)?,
        kind,
        rev: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        hash: hash_at(r, 6, kind)?,
        mtime_ms: r.get(7)?,
        exec: r.get(8)?,
    })
}

fn unix(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `path` itself or anything inside it, for `WHERE` clauses with `?2` = path.
const UNDER: &str = "(path = ?2 OR (path >= ?2 || '/' AND path < ?2 || '0'))";

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Every statement of `apply` and the scans stay prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// A failure to open: a file that is not a database, or whose pages SQLite
/// finds malformed, is a damaged one.
fn open_error(path: &Path, source: rusqlite::Error) -> DbError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match source {
        rusqlite::Error::SqliteFailure(e, _) if e.code == NotADatabase => DbError::Damaged {
            path: path.to_path_buf(),
            check: "not a database".into(),
        },
        rusqlite::Error::SqliteFailure(e, _) if e.code == DatabaseCorrupt => DbError::Damaged {
            path: path.to_path_buf(),
            check: "malformed".into(),
        },
        source => DbError::Open {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Opens for the sync loop and checks integrity where that is due
/// (`seal.rs`): `Damaged` when it fails.
fn open_checked(path: &Path) -> DbResult<(Connection, Check)> {
    let open = |source| open_error(path, source);
    let now = unix_now();
    let trusted = seal::trusted(seal::take(path), path, now);
    let conn = Connection::open(path).map_err(open)?;
    configure(&conn).map_err(open)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open)?;
    let check = check_unless(trusted, now, &conn, path).map_err(|e| match e {
        DbError::Sql(source) => open(source),
        e => e,
    })?;
    if check.now {
        seal::cleared(path);
    }
    Ok((conn, check))
}

/// The whole check, unless a seal vouched for the file (`trusted`: when
/// it was last checked). Damage found is marked for every process.
fn check_unless(trusted: Option<i64>, now: i64, conn: &Connection, path: &Path) -> DbResult<Check> {
    let file = seal::identity(path);
    let checked = match trusted {
        Some(at) => Ok(Check {
            at,
            now: false,
            file,
        }),
        None => quick_check(conn, path).map(|()| Check {
            at: now,
            now: true,
            file,
        }),
    };
    if checked
        .as_ref()
        .is_err_and(|e| e.is_damage() || matches!(e, DbError::Sql(_)))
    {
        seal::suspect(path);
    }
    checked
}

/// SQLite's check of every page: `Damaged` where it finds any wrong.
fn quick_check(conn: &Connection, path: &Path) -> DbResult<()> {
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(DbError::Damaged {
            path: path.to_path_buf(),
            check,
        });
    }
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn migrate(conn: &mut Connection) -> DbResult<()> {
    let version = schema_version(conn)?;
    if version > MIGRATIONS.len() {
        return Err(DbError::Newer(version));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

impl StateDb {
    /// Opens the database for the sync loop, the one writer: a corrupt one
    /// is renamed aside (the returned path) and a fresh one started.
    pub fn open(path: &Path) -> DbResult<(Self, Option<PathBuf>)> {
        let mut set_aside = None;
        let checked =
            open_checked(path).and_then(|(mut c, check)| migrate(&mut c).map(|()| (c, check)));
        let (mut conn, check) = match checked {
            Ok(c) => c,
            Err(DbError::Newer(v)) => return Err(DbError::Newer(v)),
            Err(e) => {
                let aside = path.with_extension(format!("sqlite.corrupt-{}", unix_now()));
                tracing::error!(
                    "the state database {} is unreadable ({e}); setting it aside as {} and rebuilding",
                    path.display(),
                    aside.display()
                );
                std::fs::rename(path, &aside).map_err(|source| DbError::SetAside {
                    path: path.to_path_buf(),
                    source,
                })?;
                for ext in ["sqlite-wal", "sqlite-shm"] {
                    let _ = std::fs::remove_file(path.with_extension(ext));
                }
                set_aside = Some(aside);
                open_checked(path)?
            }
        };
        migrate(&mut conn)?;
        Ok((StateDb::writable(conn, path, check), set_aside))
    }

    fn writable(conn: Connection, path: &Path, check: Check) -> Self {
        StateDb {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            check,
            sealing: Some(std::sync::atomic::AtomicBool::new(true)),
        }
    }

    /// Damage was met in a query: this open's close leaves no seal, so the
    /// next open checks the whole file (and the sync loop's sets it aside).
    pub fn distrust(&self) {
        seal::suspect(&self.path);
        if let Some(trust) = &self.sealing {
            trust.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether this open checked the whole file (else a seal vouched for it).
    pub fn checked_at_open(&self) -> bool {
        self.check.now
    }

    /// Opens the database to change it outside the sync loop (a folder
    /// removed, a mount forgotten, an exclusion checked): checked and brought
    /// up to date as the loop's open does, but a damaged one is reported
    /// (`Damaged`) and left where it is: only the sync loop sets it aside.
    pub fn open_without_repair(path: &Path) -> DbResult<Self> {
        let (mut conn, check) = open_checked(path)?;
        migrate(&mut conn)?;
        Ok(StateDb::writable(conn, path, check))
    }

    /// Opens the database to read it only (status, the app's views): it is
    /// checked, but nothing is set aside or rebuilt, so a damaged file stays
    /// where it is and the read fails with what is wrong (`Damaged`). `None` before the
    /// first sync made one. A database of an older schema is brought up
    /// to date first (the one write a read may make).
    pub fn open_for_reading(path: &Path) -> DbResult<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        let open = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let now = unix_now();
        let trusted = seal::trusted(seal::peek(path), path, now);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open)?;
        configure(&conn).map_err(open)?;
        let version = schema_version(&conn).map_err(|source| open_error(path, source))?;
        let check = check_unless(trusted, now, &conn, path).map_err(|e| match e {
            DbError::Sql(e) => DbError::Damaged {
                path: path.to_path_buf(),
                check: e.to_string(),
            },
            e => e,
        })?;
        let conn = match version.cmp(&MIGRATIONS.len()) {
            std::cmp::Ordering::Equal => conn,
            std::cmp::Ordering::Greater => return Err(DbError::Newer(version)),
            std::cmp::Ordering::Less => {
                drop(conn);
                let mut conn = Connection::open(path).map_err(open)?;
                configure(&conn).map_err(open)?;
                migrate(&mut conn)?;
                conn
            }
        };
        Ok(Some(StateDb {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            check,
            sealing: None,
        }))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn meta(&self, key: &str) -> DbResult<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: Option<&str>) -> DbResult<()> {
        let conn = self.conn();
        match value {
            Some(v) => conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                [key, v],
            )?,
            None => conn.execute("DELETE FROM meta WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    fn typed<T: DeserializeOwned>(&self, key: &str) -> DbResult<Option<T>> {
        match self.meta(key)? {
            Some(json) => Ok(Some(serde_json::from_str(&json)?)),
            None => Ok(None),
        }
    }

    fn set_typed<T: Serialize>(&self, key: &str, value: Option<&T>) -> DbResult<()> {
        let json = value.map(serde_json::to_string).transpose()?;
        self.set_meta(key, json.as_deref())
    }

    /// How the last pass ended.
    pub fn last_pass(&self) -> DbResult<Option<LastPass>> {
        self.typed("last_pass")
    }

    pub fn set_last_pass(&self, pass: &LastPass) -> DbResult<()> {
        self.set_typed("last_pass", Some(pass))
    }

    /// What the last round left out and why.
    pub fn problems(&self) -> DbResult<Vec<Problem>> {
        Ok(self.typed("problems")?.unwrap_or_default())
    }

    pub fn set_problems(&self, problems: &[Problem]) -> DbResult<()> {
        self.set_typed("problems", Some(&problems))
    }

    /// Storage on the service as of the last pass.
    pub fn storage(&self) -> DbResult<Option<Storage>> {
        self.typed("storage")
    }

    pub fn set_storage(&self, storage: &Storage) -> DbResult<()> {
        self.set_typed("storage", Some(storage))
    }

    /// What the user should know that happened once (kept until replaced).
    pub fn notice(&self) -> DbResult<Option<Notice>> {
        self.typed("notice")
    }

    pub fn set_notice(&self, notice: &Notice) -> DbResult<()> {
        self.set_typed("notice", Some(notice))
    }

    /// Revised agreements announced for a later date, as last seen.
    pub fn upcoming(&self) -> DbResult<Vec<Upcoming>> {
        Ok(self.typed("upcoming_agreements")?.unwrap_or_default())
    }

    pub fn set_upcoming(&self, upcoming: &[Upcoming]) -> DbResult<()> {
        self.set_typed(
            "upcoming_agreements",
            (!upcoming.is_empty()).then_some(&upcoming),
        )
    }

    /// This home's key for naming its temp files (`temp_names`), made on
    /// first use.
    pub fn temp_key(&self) -> DbResult<[u8; 32]> {
        if let Some(k) = self.meta("temp_key")? {
            if let Ok(Ok(key)) = hex::decode(&k).map(<[u8; 32]>::try_from) {
                return Ok(key);
            }
        }
        let key: [u8; 32] = rand::random();
        self.set_meta("temp_key", Some(&hex::encode(key)))?;
        Ok(key)
    }

    /// The newest change number of the service this home knows of: the
    /// feed's cursor, or a change it made itself (recorded ahead of the feed).
    pub fn known_seq(&self) -> DbResult<i64> {
        let own = self
            .meta("known_seq")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok(own.max(self.cursor()?))
    }

    /// The service went back in time: nothing this home knows of it holds.
    /// The remote tree, its node ids, the cursor and every folder's merge
    /// base go; the local tree stays (its hashes spare reading every file
    /// again). With no merge base, the next plan deletes nothing: identical
    /// content is linked up, what only one side has goes to the other, and
    /// differences become conflict copies.
    pub fn forget_the_service(&self) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM remote; DELETE FROM synced;
             DELETE FROM meta WHERE key IN ('cursor', 'known_seq');",
        )?;
        unsettle(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// The mount points inside a folder as its last scan kept them
    /// (`scanner::Scan::mounts`); `None` before the first.
    pub fn mounts(&self, folder: FolderId) -> DbResult<Option<std::collections::BTreeSet<String>>> {
        // One that does not read is as none kept: the next scan keeps one.
        Ok(self.typed(&format!("mounts:{folder}")).unwrap_or(None))
    }

    pub fn set_mounts(
        &self,
        folder: FolderId,
        mounts: &std::collections::BTreeSet<String>,
    ) -> DbResult<()> {
        self.set_typed(&format!("mounts:{folder}"), Some(mounts))
    }

    /// How many folders the watching sync has no watch for (the system's
    /// limit on watches); kept by the loop while it runs.
    pub fn unwatched(&self) -> DbResult<usize> {
        Ok(self.typed("unwatched")?.unwrap_or(0))
    }

    pub fn set_unwatched(&self, folders: usize) -> DbResult<()> {
        self.set_typed("unwatched", (folders > 0).then_some(&folders))
    }

    pub fn cursor(&self) -> DbResult<i64> {
        Ok(self
            .meta("cursor")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    // ------------------------------------------------------------ local tree

    pub fn load_local(&self, folder: FolderId) -> DbResult<Tree<LocalEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {LOCAL_COLUMNS} FROM local WHERE folder = ?1"
        ))?;
        let rows = stmt.query_map([folder], local_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many entries a folder's local tree holds.
    pub fn local_count(&self, folder: FolderId) -> DbResult<usize> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT count(*) FROM local WHERE folder = ?1")?;
        Ok(stmt.query_row([folder], |r| r.get::<_, i64>(0))? as usize)
    }

    /// How many nodes of the service this home knows (of all its folders).
    pub fn remote_count(&self) -> DbResult<usize> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT count(*) FROM remote")?;
        Ok(stmt.query_row([], |r| r.get::<_, i64>(0))? as usize)
    }

    /// The bytes of all the service's files this home knows (of all its
    /// folders): more than any folder of it holds.
    pub fn remote_bytes(&self) -> DbResult<u64> {
        let conn = self.conn();
        // `total`, a float: a sum of sizes that overflows 64 bits is still
        // more than any limit.
        let mut stmt = conn.prepare_cached("SELECT total(size) FROM remote")?;
        Ok(stmt.query_row([], |r| r.get::<_, f64>(0))? as u64)
    }

    /// Whether a folder has a merge base: none before its first sync.
    pub fn has_synced(&self, folder: FolderId) -> DbResult<bool> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT 1 FROM synced WHERE folder = ?1 LIMIT 1")?;
        Ok(stmt.exists([folder])?)
    }

    /// Writes the differences between the stored local tree and `new`.
    pub fn store_local(
        &self,
        folder: FolderId,
        old: &Tree<LocalEntry>,
        new: &Tree<LocalEntry>,
    ) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut del = tx.prepare_cached("DELETE FROM local WHERE folder = ?1 AND path = ?2")?;
            for path in old.keys().filter(|p| !new.contains_key(*p)) {
                del.execute(params![folder, path])?;
            }
            for (path, e) in new.iter().filter(|(p, e)| old.get(*p) != Some(e)) {
                apply(&tx, folder, &Change::Local(path, e))?;
            }
        }
        unsettle(&tx)?;
        tx.commit()?;
        Ok(())
    }

    // ------------------------------------------------------------ synced tree

    pub fn load_synced(&self, folder: FolderId) -> DbResult<Tree<SyncedEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SYNCED_COLUMNS} FROM synced WHERE folder = ?1"
        ))?;
        let rows = stmt.query_map([folder], synced_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applies the bookkeeping of one finished operation atomically: a crash
    /// leaves all of it or none of it.
    pub fn record(&self, folder: FolderId, changes: &[Change<'_>]) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for change in changes {
            apply(&tx, folder, change)?;
        }
        // A change this home made itself, ahead of the feed: the service
        // must still have it next time (`known_seq`).
        let own = changes.iter().filter_map(|c| match c {
            Change::Remote(n) => Some(n.seq),
            Change::RemoveRemoteSubtree { seq, .. } => Some(*seq),
            _ => None,
        });
        if let Some(seq) = own.max() {
            cached(
                &tx,
                "INSERT INTO meta (key, value) VALUES ('known_seq', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = ?1
                 WHERE CAST(value AS INTEGER) < CAST(?1 AS INTEGER)",
                [seq.to_string()],
            )?;
        }
        unsettle(&tx)?;
        tx.commit()?;
        Ok(())
    }

    pub fn forget_folder(&self, folder: FolderId) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM local WHERE folder = ?1", [folder])?;
        tx.execute("DELETE FROM synced WHERE folder = ?1", [folder])?;
        unsettle(&tx)?;
        tx.commit()?;
        Ok(())
    }

    // ------------------------------------------------------------ settled

    /// What each folder's last pass that ended in sync left for the next
    /// start, where it is still there and reads as a `T`.
    pub fn settled<T: DeserializeOwned>(&self) -> DbResult<Vec<(FolderId, T)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT folder, state FROM settled")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, FolderId>(0)?, r.get::<_, String>(1)?))
        })?;
        let rows: Vec<(FolderId, String)> = rows.collect::<Result<_, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(f, text)| Some((f, serde_json::from_str(&text).ok()?)))
            .collect())
    }

    /// Keeps what a folder's pass that ended in sync leaves for the next
    /// start (until the next write to the trees or the cursor).
    pub fn keep_settled<T: Serialize>(&self, folder: FolderId, state: &T) -> DbResult<()> {
        let text = serde_json::to_string(state).expect("serializes");
        self.conn().execute(
            "INSERT OR REPLACE INTO settled (folder, state) VALUES (?1, ?2)",
            params![folder, text],
        )?;
        Ok(())
    }

    /// A number that changes whenever another connection (another
    /// program, or another handle in this one) committed a write since
    /// this one last asked (SQLite's `data_version`).
    pub fn data_version(&self) -> DbResult<i64> {
        Ok(self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// A pass begins: nothing is settled until it ends in sync.
    pub fn forget_settled(&self) -> DbResult<()> {
        unsettle(&self.conn())?;
        Ok(())
    }

    // ------------------------------------------------------------ remote nodes

    /// Applies one page of the change feed and moves the cursor, atomically.
    /// Returns the nodes that changed the table: a node this home wrote
    /// itself, back in the feed as stored, did not (and is no news).
    pub fn apply_changes(&self, nodes: &[Node], cursor: i64) -> DbResult<Vec<NodeId>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut changed = Vec::new();
        for n in nodes {
            if apply_node(&tx, n)? {
                changed.push(n.id);
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?1)",
            [cursor.to_string()],
        )?;
        unsettle(&tx)?;
        tx.commit()?;
        Ok(changed)
    }

    pub fn remote_rows(&self) -> DbResult<Vec<RemoteRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {REMOTE_COLUMNS} FROM remote"))?;
        let rows = stmt.query_map([], remote_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ------------------------------------------------------------ history

    pub fn conflicts(&self) -> DbResult<Vec<ConflictRecord>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT folder, path, copy, at_unix, device FROM conflicts ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(ConflictRecord {
                folder: r.get(0)?,
                path: r.get(1)?,
                copy: r.get(2)?,
                at: unix(r.get(3)?),
                device: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `limit` recorded changes, newest first.
    pub fn recent_changes(&self, limit: usize) -> DbResult<Vec<ChangeRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT folder, change, at, device FROM changes ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, FolderId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (folder, change, at, device) = row?;
            out.push(ChangeRecord {
                folder,
                change: serde_json::from_str(&change)?,
                at: unix(at),
                device,
            });
        }
        Ok(out)
    }

    pub fn add_acceptance(&self, a: &AcceptanceRecord) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO acceptances (doc_id, version, locale, age, accepted_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![a.id, a.version, a.locale, a.age, a.accepted_at],
        )?;
        Ok(())
    }

    pub fn acceptances(&self) -> DbResult<Vec<AcceptanceRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT doc_id, version, locale, age, accepted_at FROM acceptances ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AcceptanceRecord {
                id: r.get(0)?,
                version: r.get(1)?,
                locale: r.get(2)?,
                age: r.get(3)?,
                accepted_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// One write of the bookkeeping `StateDb::record` applies.
#[derive(Debug)]
pub enum Change<'a> {
    /// A node the engine itself just changed, ahead of the change feed.
    Remote(&'a Node),
    /// A folder or file this home deleted on the service, with the change
    /// number of the delete.
    RemoveRemoteSubtree {
        id: NodeId,
        seq: i64,
    },
    Local(&'a str, &'a LocalEntry),
    RemoveLocal(&'a str),
    RebaseLocal {
        from: &'a str,
        to: &'a str,
    },
    Synced(&'a str, &'a SyncedEntry),
    RemoveSynced(&'a str),
    RebaseSynced {
        from: &'a str,
        to: &'a str,
    },
    Conflict {
        path: &'a str,
        copy: &'a str,
        stamp: &'a Stamp,
    },
    /// A line in recent changes.
    Recorded {
        change: RecordedChange,
        stamp: &'a Stamp,
    },
}

/// Runs a statement from the connection's cache: a sync records thousands
/// of changes, and parsing the same SQL for each was a visible part of it.
/// Every write to the trees or the cursor empties the `settled` table in
/// the same transaction: what was settled is no longer all there is to
/// know, whichever program wrote.
fn unsettle(c: &Connection) -> rusqlite::Result<()> {
    cached(c, "DELETE FROM settled WHERE folder IS NOT NULL", [])?;
    Ok(())
}

fn cached(c: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(p)
}

/// One node of the feed into the table; whether that changed the table.
fn apply_node(c: &Connection, n: &Node) -> DbResult<bool> {
    let rows = if n.deleted {
        cached(c, "DELETE FROM remote WHERE id = ?1", [n.id])?
    } else {
        cached(
            c,
            "INSERT INTO remote (id, parent, name, kind, rev, size, hash, mtime_ms, exec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET parent = ?2, name = ?3, kind = ?4, rev = ?5, size = ?6, hash = ?7, mtime_ms = ?8, exec = ?9
             WHERE (parent, name, kind, rev, size, hash, mtime_ms, exec) IS NOT (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![n.id, n.parent, n.name, node_kind(n.kind), n.rev, n.size as i64, n.hash, n.mtime_ms, n.exec],
        )?
    };
    Ok(rows > 0)
}

fn apply(c: &Connection, folder: FolderId, change: &Change<'_>) -> DbResult<()> {
    match change {
        Change::Remote(n) if n.deleted => {
            cached(c, "DELETE FROM remote WHERE id = ?1", [n.id])?;
        }
        Change::Remote(n) => {
            cached(
                c,
                "INSERT OR REPLACE INTO remote (id, parent, name, kind, rev, size, hash, mtime_ms, exec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![n.id, n.parent, n.name, node_kind(n.kind), n.rev, n.size as i64, n.hash, n.mtime_ms, n.exec],
            )?;
        }
        Change::RemoveRemoteSubtree { id, .. } => {
            cached(
                c,
                "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT r.id FROM remote r JOIN sub ON r.parent = sub.id)
                 DELETE FROM remote WHERE id IN sub",
                [id],
            )?;
        }
        Change::Local(path, e) => {
            cached(
                c,
                "INSERT OR REPLACE INTO local (folder, path, kind, size, mtime_ns, inode, hash, ctime_ns, dev, exec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![folder, path, kind_str(e.kind), e.stat.size as i64, e.stat.mtime_ns, e.stat.inode as i64, hash_text(e.hash), e.stat.ctime_ns, e.stat.dev as i64, e.stat.exec],
            )?;
        }
        Change::RemoveLocal(path) => {
            cached(
                c,
                &format!("DELETE FROM local WHERE folder = ?1 AND {UNDER}"),
                params![folder, path],
            )?;
        }
        Change::RebaseLocal { from, to } => {
            cached(
                c,
                &format!("UPDATE OR REPLACE local SET path = ?3 || substr(path, length(?2) + 1) WHERE folder = ?1 AND {UNDER}"),
                params![folder, from, to],
            )?;
        }
        Change::Synced(path, e) => {
            cached(
                c,
                "INSERT OR REPLACE INTO synced (folder, path, kind, node, rev, hash, size, mtime_ns, inode, ctime_ns, dev, exec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![folder, path, kind_str(e.kind), e.node, e.rev, hash_text(e.hash), e.stat.size as i64, e.stat.mtime_ns, e.stat.inode as i64, e.stat.ctime_ns, e.stat.dev as i64, e.stat.exec],
            )?;
        }
        Change::RemoveSynced(path) => {
            cached(
                c,
                &format!("DELETE FROM synced WHERE folder = ?1 AND {UNDER}"),
                params![folder, path],
            )?;
        }
        Change::RebaseSynced { from, to } => {
            cached(
                c,
                &format!("UPDATE OR REPLACE synced SET path = ?3 || substr(path, length(?2) + 1) WHERE folder = ?1 AND {UNDER}"),
                params![folder, from, to],
            )?;
        }
        Change::Conflict { path, copy, stamp } => {
            cached(
                c,
                "INSERT INTO conflicts (folder, path, copy, at, at_unix, device) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![folder, path, copy, stamp.copy_label(), stamp.at.unix_timestamp(), stamp.device],
            )?;
        }
        Change::Recorded { change, stamp } => {
            cached(
                c,
                "INSERT INTO changes (folder, change, at, device) VALUES (?1, ?2, ?3, ?4)",
                params![
                    folder,
                    serde_json::to_string(change)?,
                    stamp.at.unix_timestamp(),
                    stamp.device
                ],
            )?;
            // Recent changes only: the log of record is the service's history.
            cached(
                c,
                "DELETE FROM changes WHERE id <= (SELECT MAX(id) FROM changes) - 200",
                [],
            )?;
        }
    }
    Ok(())
}

fn node_kind(k: NodeKind) -> &'static str {
    match k {
        NodeKind::File => "file",
        NodeKind::Dir => "dir",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A home written before the reports were typed: its recent changes,
    /// conflicts, storage, notice and announced agreements still read.
    #[test]
    fn rows_of_the_sentence_era_are_read_as_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..3] {
                tx.execute_batch(sql).unwrap();
            }
            tx.pragma_update(None, "user_version", 3).unwrap();
            tx.commit().unwrap();
            let at = "from pc-b 2026-12-06 170114";
            for (action, path) in [
                ("uploaded", "a.txt"),
                ("moved on the service", "x/old.txt → y/new.txt"),
                (
                    "conflict: kept this computer's version as",
                    "r (conflicted copy).txt",
                ),
                (
                    "moved to the trash with its folder (not synced: .nuboignore)",
                    "d/b.log",
                ),
            ] {
                conn.execute(
                    "INSERT INTO events (folder, action, path, at) VALUES (1, ?1, ?2, ?3)",
                    [action, path, at],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO conflicts (folder, path, copy, at) VALUES (1, 'r.txt', 'r (conflicted copy).txt', ?1)",
                [at],
            )
            .unwrap();
            for (k, v) in [
                ("quota", "71 10737418240"),
                ("notice", "the state database was damaged and was rebuilt (the old one is kept as /h/state.sqlite.corrupt-1); nothing is deleted"),
                ("upcoming_agreements", r#"[["Terms","2","2027-01-01"]]"#),
                ("state", "up to date"),
            ] {
                conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [k, v])
                    .unwrap();
            }
        }
        let db = StateDb::open_for_reading(&path).unwrap().unwrap();
        let at = OffsetDateTime::from_unix_timestamp(1_796_576_474).unwrap();
        let changes: Vec<(RecordedChange, OffsetDateTime, String)> = db
            .recent_changes(10)
            .unwrap()
            .into_iter()
            .map(|c| (c.change, c.at, c.device))
            .collect();
        assert_eq!(
            changes,
            [
                (
                    RecordedChange::TrashedWithFolder {
                        path: "d/b.log".into()
                    },
                    at,
                    "pc-b".into()
                ),
                (
                    RecordedChange::ConflictKept {
                        path: "r.txt".into(),
                        copy: "r (conflicted copy).txt".into()
                    },
                    at,
                    "pc-b".into()
                ),
                (
                    RecordedChange::MovedOnService {
                        from: "x/old.txt".into(),
                        to: "y/new.txt".into()
                    },
                    at,
                    "pc-b".into()
                ),
                (
                    RecordedChange::Uploaded {
                        path: "a.txt".into()
                    },
                    at,
                    "pc-b".into()
                ),
            ]
        );
        let conflict = &db.conflicts().unwrap()[0];
        assert_eq!((conflict.at, conflict.device.as_str()), (at, "pc-b"));
        assert_eq!(
            db.storage().unwrap(),
            Some(Storage {
                used_bytes: 71,
                quota_bytes: 10_737_418_240
            })
        );
        assert_eq!(
            db.notice().unwrap(),
            Some(Notice::DatabaseRebuilt {
                set_aside: Some("/h/state.sqlite.corrupt-1".into())
            })
        );
        assert_eq!(
            db.upcoming().unwrap(),
            [Upcoming {
                title: "Terms".into(),
                version: "2".into(),
                effective: "2027-01-01".into()
            }]
        );
        assert_eq!(
            db.last_pass().unwrap(),
            None,
            "the last pass's sentence is gone"
        );
    }

    /// The whole check at an open is paid once: while the file is as this
    /// program closed it, a day long. Another program's write, a crash, or
    /// damage met in a query, and the next open checks it again.
    #[test]
    fn a_database_is_checked_whole_again_only_when_it_may_have_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let reopen = || StateDb::open(&path).unwrap().0;
        let db = reopen();
        assert!(db.checked_at_open(), "a new file");
        db.set_meta("cursor", Some("1")).unwrap();
        drop(db);
        let db = reopen();
        assert!(!db.checked_at_open(), "closed cleanly, untouched since");
        drop(db);
        assert!(!StateDb::open_for_reading(&path)
            .unwrap()
            .unwrap()
            .checked_at_open());

        let other = Connection::open(&path).unwrap();
        // A write that grows the file: its times may be of the same clock
        // tick as the close (a person's copy over it is not).
        other
            .execute(
                "INSERT INTO meta (key, value) VALUES ('other', ?1)",
                ["x".repeat(200_000)],
            )
            .unwrap();
        drop(other);
        assert!(StateDb::open_for_reading(&path)
            .unwrap()
            .unwrap()
            .checked_at_open());
        let db = reopen();
        assert!(db.checked_at_open(), "another program wrote it");
        drop(db);

        let db = reopen();
        db.distrust();
        drop(db);
        let db = reopen();
        assert!(db.checked_at_open(), "damage met in a query");
        let twice = StateDb::open_without_repair(&path).unwrap();
        assert!(twice.checked_at_open(), "open twice at once");
        drop(twice);
        drop(db);
        assert!(!reopen().checked_at_open());

        std::mem::forget(reopen());
        assert!(reopen().checked_at_open(), "left open, as by a crash");
    }

    #[test]
    fn a_read_leaves_a_damaged_database_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        std::fs::write(&path, b"this is not a database, it is a sentence").unwrap();
        let e = StateDb::open_for_reading(&path)
            .err()
            .expect("it is damaged");
        assert!(
            matches!(e, DbError::Damaged { .. } | DbError::Open { .. }),
            "{e:?}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"this is not a database, it is a sentence"
        );
        let (_db, aside) = StateDb::open(&path).unwrap();
        assert!(aside.is_some(), "the sync loop's open sets it aside");
    }

    /// Hashes stay the hex text earlier builds wrote (a folder's empty),
    /// and are values in the trees; a hash from the service that is not one
    /// is kept as what it was, for `remote_tree` to refuse.
    #[test]
    fn hashes_are_hex_in_the_database_and_values_in_the_trees() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = StateDb::open(&dir.path().join("state.sqlite")).unwrap();
        let hex = blake3::hash(b"content").to_hex().to_string();
        let hash: ContentHash = hex.parse().unwrap();
        // Rows as a build that kept hashes as strings wrote them.
        db.conn()
            .execute_batch(&format!(
                "INSERT INTO local (folder, path, kind, size, mtime_ns, inode, hash, ctime_ns, dev, exec)
                 VALUES (1, 'd', 'dir', 0, 1, 2, '', 0, 0, 0), (1, 'd/f', 'file', 7, 1, 3, '{hex}', 0, 0, 0);
                 INSERT INTO synced (folder, path, kind, node, rev, hash, size, mtime_ns, inode, ctime_ns, dev, exec)
                 VALUES (1, 'd', 'dir', 2, 1, '', 0, 1, 2, 0, 0, 0), (1, 'd/f', 'file', 3, 1, '{hex}', 7, 1, 3, 0, 0, 0);
                 INSERT INTO remote (id, parent, name, kind, rev, size, hash, mtime_ms, exec)
                 VALUES (2, 1, 'd', 'dir', 1, 0, '', 0, 0), (3, 2, 'f', 'file', 1, 7, '{hex}', 0, 0),
                        (4, 2, 'g', 'file', 1, 7, 'NOT-A-HASH', 0, 0);"
            ))
            .unwrap();
        let local = db.load_local(1).unwrap();
        assert_eq!((local["d"].hash, local["d/f"].hash), (None, Some(hash)));
        let synced = db.load_synced(1).unwrap();
        assert_eq!((synced["d"].hash, synced["d/f"].hash), (None, Some(hash)));
        let remote: std::collections::HashMap<_, _> = db
            .remote_rows()
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.hash))
            .collect();
        assert_eq!((&remote[&2], &remote[&3]), (&Ok(None), &Ok(Some(hash))));
        assert_eq!(remote[&4].as_ref().unwrap_err().text, "NOT-A-HASH");

        // Written back as the same text.
        let mut moved = local.clone();
        moved.insert("e".into(), local["d/f"].clone());
        db.store_local(1, &local, &moved).unwrap();
        let stored: String = db
            .conn()
            .query_row("SELECT hash FROM local WHERE path = 'e'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, hex);
        assert_eq!(db.load_local(1).unwrap(), moved);

        // The engine's own rows are not the service's word: one that does
        // not read is a damaged row, not a file without content.
        db.conn()
            .execute("UPDATE local SET hash = 'abc' WHERE path = 'e'", [])
            .unwrap();
        assert!(db.load_local(1).is_err());
    }
}
