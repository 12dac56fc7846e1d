//! The embedded backend: one SQLite file in WAL mode, one writer. What a
//! person or a family runs, with nothing else installed.
//!
//! Writes take the one write connection in turn; reads run beside them on
//! connections of their own (WAL lets readers and the writer go on at
//! once), each read in one snapshot. So a large request of one account
//! holds no one else's reads, and writes wait only for other writes, each
//! bounded by the request limits.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::db::{Backend, Cell, Db, DbError, Param, Row};
use super::sql::SqlStore;
use super::StoreError;

/// The schema, one step per release that changed it; `user_version` says
/// how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    account_id    TEXT NOT NULL UNIQUE,
    phone         TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    quota_bytes   INTEGER NOT NULL,
    root_id       INTEGER,
    seq           INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL
);
CREATE TABLE devices (
    id         INTEGER PRIMARY KEY,
    account    INTEGER NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    device     INTEGER NOT NULL REFERENCES devices(id),
    expires_at INTEGER NOT NULL
);
CREATE TABLE acceptances (
    id          INTEGER PRIMARY KEY,
    account     INTEGER NOT NULL REFERENCES accounts(id),
    doc_id      TEXT NOT NULL,
    version     TEXT NOT NULL,
    locale      TEXT NOT NULL,
    age         TEXT NOT NULL,
    device      INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL
);
CREATE TABLE nodes (
    id         INTEGER PRIMARY KEY,
    account    INTEGER NOT NULL REFERENCES accounts(id),
    parent     INTEGER REFERENCES nodes(id),
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    rev        INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    chunks     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    deleted_by INTEGER,
    mtime_ms   INTEGER NOT NULL,
    device     INTEGER
);
CREATE UNIQUE INDEX nodes_live_name ON nodes(account, parent, name) WHERE deleted = 0;
CREATE INDEX nodes_feed ON nodes(account, seq);
CREATE INDEX nodes_parent ON nodes(parent);
CREATE TABLE versions (
    id         INTEGER PRIMARY KEY,
    node       INTEGER NOT NULL REFERENCES nodes(id),
    rev        INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    chunks     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    device     INTEGER
);
CREATE INDEX versions_node ON versions(node, rev);
CREATE TABLE account_chunks (
    account INTEGER NOT NULL,
    hash    TEXT NOT NULL,
    size    INTEGER NOT NULL,
    PRIMARY KEY (account, hash)
) WITHOUT ROWID;
"#,
    // Restore: which delete removed a node (`delete_op`, the change-feed seq of
    // that delete: what one delete removed is restored together), when content
    // was written (a version's `created_at` stays the time it was replaced, which
    // retention counts from), and whether the retention job emptied a node.
    r#"
ALTER TABLE nodes ADD COLUMN delete_op INTEGER;
ALTER TABLE nodes ADD COLUMN written_at INTEGER;
ALTER TABLE nodes ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
UPDATE nodes SET delete_op = seq WHERE deleted = 1;
CREATE INDEX nodes_trash ON nodes(account, deleted_at) WHERE deleted = 1 AND purged = 0;
ALTER TABLE versions ADD COLUMN written_at INTEGER;
CREATE INDEX versions_age ON versions(created_at);
"#,
    // The account lifecycle: cancelled, or deleted after staying frozen.
    r#"
ALTER TABLE accounts ADD COLUMN deleted_at INTEGER;
"#,
    // Consent to an optional document can be withdrawn; the history keeps both.
    r#"
ALTER TABLE acceptances ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0;
"#,
    // Device sign-in grants, short-lived; the device code only as a digest.
    r#"
CREATE TABLE device_grants (
    code_hash   TEXT PRIMARY KEY,
    user_code   TEXT NOT NULL UNIQUE,
    device_name TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    last_poll   INTEGER NOT NULL DEFAULT 0,
    account     INTEGER REFERENCES accounts(id)
);
"#,
    // Each device's operating system, for the device list.
    r#"
ALTER TABLE devices ADD COLUMN os TEXT NOT NULL DEFAULT '';
ALTER TABLE device_grants ADD COLUMN os TEXT NOT NULL DEFAULT '';
"#,
    // Each account's used bytes, kept by triggers: summing every live file
    // on each commit made a 10,000-file upload quadratic. Triggers, so that
    // no write path (commit, delete, restore, purge) can forget it.
    r#"
ALTER TABLE accounts ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET used_bytes = (SELECT COALESCE(SUM(size), 0) FROM nodes
    WHERE nodes.account = accounts.id AND deleted = 0 AND kind = 'file');
CREATE TRIGGER nodes_used_insert AFTER INSERT ON nodes
    WHEN NEW.kind = 'file' AND NEW.deleted = 0
BEGIN
    UPDATE accounts SET used_bytes = used_bytes + NEW.size WHERE id = NEW.account;
END;
CREATE TRIGGER nodes_used_delete AFTER DELETE ON nodes
    WHEN OLD.kind = 'file' AND OLD.deleted = 0
BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size WHERE id = OLD.account;
END;
CREATE TRIGGER nodes_used_update AFTER UPDATE OF account, kind, size, deleted ON nodes
    WHEN (OLD.kind = 'file' AND OLD.deleted = 0) OR (NEW.kind = 'file' AND NEW.deleted = 0)
BEGIN
    UPDATE accounts SET used_bytes = used_bytes - OLD.size
        WHERE id = OLD.account AND OLD.kind = 'file' AND OLD.deleted = 0;
    UPDATE accounts SET used_bytes = used_bytes + NEW.size
        WHERE id = NEW.account AND NEW.kind = 'file' AND NEW.deleted = 0;
END;
"#,
    // Chunks that came in a batch lie side by side in one pack object; a
    // chunk with no row here is an object of its own (as before packs).
    r#"
CREATE TABLE packed_chunks (
    hash       TEXT PRIMARY KEY,
    pack       TEXT NOT NULL,
    pack_start INTEGER NOT NULL,
    size       INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // When each background job last ran (several instances share a
    // PostgreSQL database; SQLite has the same table so both run one code).
    r#"
CREATE TABLE job_runs (
    name     TEXT PRIMARY KEY,
    last_run INTEGER NOT NULL
);
"#,
    // Records that are true and deletion that deletes (issue 19): a declined
    // agreement is recorded too; every published version of a document is
    // kept, to show the one a user accepted; an account unused for 13
    // months loses its content but stays until it is cancelled.
    r#"
ALTER TABLE acceptances ADD COLUMN declined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN content_deleted_at INTEGER;
CREATE TABLE agreement_texts (
    doc_id       TEXT NOT NULL,
    version      TEXT NOT NULL,
    locale       TEXT NOT NULL,
    title        TEXT NOT NULL,
    effective    TEXT NOT NULL,
    required     TEXT NOT NULL,
    body         TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (doc_id, version, locale)
);
"#,
    // Refresh token rotation: a spent refresh token stays, marked, until it
    // expires, so that a second use is seen (and revokes its device). The
    // index serves revocation and the purge of old tokens.
    r#"
ALTER TABLE tokens ADD COLUMN spent_at INTEGER;
CREATE INDEX tokens_device ON tokens(device, kind, expires_at);
"#,
    // Chunks per account: each row says where the account's own copy lies
    // (`object`, `object_start`; none for a chunk uploaded before, whose one
    // copy all accounts shared: `packed_chunks`, or an object named by its
    // hash), when it came, and whether a commit has named it yet. The bytes
    // of chunks no commit named count against the quota (`pending_bytes`,
    // kept by triggers like `used_bytes`). Rows from before count as
    // committed.
    r#"
ALTER TABLE account_chunks ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_chunks ADD COLUMN committed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE account_chunks ADD COLUMN object TEXT;
ALTER TABLE account_chunks ADD COLUMN object_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN pending_bytes INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER chunks_pending_insert AFTER INSERT ON account_chunks
    WHEN NEW.committed = 0
BEGIN
    UPDATE accounts SET pending_bytes = pending_bytes + NEW.size WHERE id = NEW.account;
END;
CREATE TRIGGER chunks_pending_delete AFTER DELETE ON account_chunks
    WHEN OLD.committed = 0
BEGIN
    UPDATE accounts SET pending_bytes = pending_bytes - OLD.size WHERE id = OLD.account;
END;
CREATE TRIGGER chunks_pending_update AFTER UPDATE OF account, size, committed ON account_chunks
    WHEN OLD.committed = 0 OR NEW.committed = 0
BEGIN
    UPDATE accounts SET pending_bytes = pending_bytes - OLD.size
        WHERE id = OLD.account AND OLD.committed = 0;
    UPDATE accounts SET pending_bytes = pending_bytes + NEW.size
        WHERE id = NEW.account AND NEW.committed = 0;
END;
"#,
    // Failed attempts (wrong passwords per login, wrong sign-in codes per
    // approving account), for the backoff every instance shares; and the
    // grants' purge by expiry and the time each was asked for.
    r#"
CREATE TABLE failed_attempts (
    subject  TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at  INTEGER NOT NULL
);
CREATE INDEX failed_attempts_age ON failed_attempts(last_at);
ALTER TABLE device_grants ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX device_grants_expiry ON device_grants(expires_at);
"#,
    // 14. A service restored from a backup, noticed across restores (issue
    // 15): each start records the gap between the newest change it found
    // and its clock; no change of this history has a number inside one.
    r#"
CREATE TABLE history_gaps (
    high  INTEGER NOT NULL,
    floor INTEGER NOT NULL
);
CREATE INDEX history_gaps_floor ON history_gaps(floor);
"#,
    // 15. The exec bit of a file (issue 15), kept with its content.
    r#"
ALTER TABLE nodes ADD COLUMN exec INTEGER NOT NULL DEFAULT 0;
"#,
    // 16. Garbage collection of chunks (issue 19): whether any row still
    // names an object, or still reads a chunk from its shared copy, and
    // which chunks a shared pack holds.
    r#"
CREATE INDEX account_chunks_object ON account_chunks(object) WHERE object IS NOT NULL;
CREATE INDEX account_chunks_shared ON account_chunks(hash) WHERE object IS NULL;
CREATE INDEX packed_chunks_pack ON packed_chunks(pack);
"#,
];

pub type SqliteStore = SqlStore<Sqlite>;

impl SqliteStore {
    pub fn open(path: &Path, keep_versions: u32) -> anyhow::Result<Self> {
        Ok(SqlStore::new(Sqlite::open(path)?, keep_versions))
    }
}

pub struct Sqlite {
    writer: Mutex<Connection>,
    readers: r2d2::Pool<Readers>,
}

/// Read connections beside the writer, at most this many at once.
const READERS: u32 = 8;

/// Opens read connections to one database file.
struct Readers(PathBuf);

impl r2d2::ManageConnection for Readers {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            &self.0,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.set_prepared_statement_cache_capacity(128);
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

impl Sqlite {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Every request runs a handful of the same statements; parsing each
        // one again was a seventh of the service's time in an upload of many
        // small files.
        conn.set_prepared_statement_cache_capacity(128);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows are overwritten with zeros, not left in free space:
        // a cancelled account's names must not stay in the file's bytes.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn, path)?;
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(Readers(path.to_path_buf()))?;
        Ok(Sqlite {
            writer: Mutex::new(conn),
            readers,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> anyhow::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "{} was written by a newer Nubo service (schema {version}); upgrade this service",
            path.display()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

impl Backend for Sqlite {
    fn write<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        // Immediate: the write lock first, so that no read inside can be
        // overtaken by another writer (one process, but other tools may
        // open the file).
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let out = f(&mut SqliteDb(&tx))?;
        tx.commit().map_err(db_error)?;
        Ok(out)
    }

    /// On a read connection, in one snapshot: a read of several statements
    /// (the feed's rows, then its cursor) must not see a commit land
    /// between two of them.
    fn read<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .readers
            .get()
            .map_err(|e| DbError::new(format!("no read connection to the database: {e}")))?;
        let tx = conn.transaction().map_err(db_error)?;
        let out = f(&mut SqliteDb(&tx))?;
        tx.commit().map_err(db_error)?;
        Ok(out)
    }

    /// With `secure_delete` the deleted rows are zeros in the pages written
    /// since; a checkpoint moves those pages into the database file, and
    /// truncating the log drops its older frames, which still held them.
    fn scrub(&self) -> Result<(), DbError> {
        let conn = self.lock();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(db_error)
    }
}

fn db_error(e: rusqlite::Error) -> DbError {
    let mut err = DbError::new(e.to_string());
    err.full = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull);
    err
}

struct SqliteDb<'c>(&'c Connection);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Param::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

impl Db for SqliteDb<'_> {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(db_error)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params))
            .map_err(db_error)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(db_error)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(db_error)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_error)? {
            let mut cells = Vec::with_capacity(columns);
            for i in 0..columns {
                cells.push(match r.get_ref(i).map_err(db_error)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Int(v as i64),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Cell::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.execute_batch(sql).map_err(db_error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::store::{Accounts, ChunkRecords};

    /// One account's long write does not hold another's reads: a read
    /// finishes while a write transaction is open.
    #[test]
    fn a_read_goes_on_while_a_write_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("meta.sqlite"), 5).unwrap());
        let account = store.create_account("a", None, "-", 100, 0).unwrap().key;
        let (inside, is_inside) = mpsc::channel();
        let (read_done, was_read) = mpsc::channel();
        let writing = store.clone();
        let writer = std::thread::spawn(move || {
            writing.backend().write(&mut |db| {
                db.exec("UPDATE accounts SET quota_bytes = 200", &[])?;
                inside.send(()).unwrap();
                // Bounded: a read stuck behind this write fails the test.
                Ok(was_read.recv_timeout(Duration::from_secs(30)).is_ok())
            })
        });
        is_inside.recv().unwrap();
        let usage = store.usage(account).unwrap();
        read_done.send(()).unwrap();
        assert!(
            writer.join().unwrap().unwrap(),
            "the read waited for the write"
        );
        assert_eq!(usage.quota, 100, "the read saw the state before the write");
        assert_eq!(store.usage(account).unwrap().quota, 200);
    }
}
