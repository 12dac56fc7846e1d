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

use anyhow::Context;
use nubo_protocol::{Node, NodeId, NodeKind};
use rusqlite::{params, Connection, OptionalExtension};

use crate::tree::{FileStat, Kind, LocalEntry, SyncedEntry, Tree};

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
];

pub type FolderId = i64;

pub struct StateDb {
    conn: Mutex<Connection>,
}

#[derive(Debug, Clone)]
pub struct RemoteRow {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    pub name: String,
    pub kind: Kind,
    pub rev: i64,
    pub size: u64,
    pub hash: String,
    pub mtime_ms: i64,
    pub exec: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConflictRecord {
    pub folder: FolderId,
    pub path: String,
    pub copy: String,
    pub at: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRecord {
    pub folder: FolderId,
    pub action: String,
    pub path: String,
    pub at: String,
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

fn kind_from(s: &str) -> Kind {
    if s == "dir" {
        Kind::Dir
    } else {
        Kind::File
    }
}

/// `path` itself or anything inside it, for `WHERE` clauses with `?2` = path.
const UNDER: &str = "(path = ?2 OR (path >= ?2 || '/' AND path < ?2 || '0'))";

fn open_checked(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Every statement of `apply` and the scans stay prepared.
    conn.set_prepared_statement_cache_capacity(64);
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(check),
        ));
    }
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "the state database was written by a newer Nubo (schema {version}); upgrade Nubo"
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

impl StateDb {
    /// Opens the database; a corrupt one is renamed aside (the returned path)
    /// and a fresh one started.
    pub fn open(path: &Path) -> anyhow::Result<(Self, Option<PathBuf>)> {
        let mut set_aside = None;
        let mut conn = match open_checked(path).and_then(|mut c| {
            migrate(&mut c).map_err(|e| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                    Some(e.to_string()),
                )
            })?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(e) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let aside = path.with_extension(format!("sqlite.corrupt-{stamp}"));
                tracing::error!("the state database {} is unreadable ({e}); setting it aside as {} and rebuilding", path.display(), aside.display());
                std::fs::rename(path, &aside).with_context(|| {
                    format!(
                        "cannot move the broken state database {} aside",
                        path.display()
                    )
                })?;
                for ext in ["sqlite-wal", "sqlite-shm"] {
                    let _ = std::fs::remove_file(path.with_extension(ext));
                }
                set_aside = Some(aside);
                open_checked(path).with_context(|| format!("cannot create {}", path.display()))?
            }
        };
        migrate(&mut conn)?;
        Ok((
            StateDb {
                conn: Mutex::new(conn),
            },
            set_aside,
        ))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn meta(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: Option<&str>) -> anyhow::Result<()> {
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

    /// This home's key for naming its temp files (`temp_names`), made on
    /// first use.
    pub fn temp_key(&self) -> anyhow::Result<[u8; 32]> {
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
    pub fn known_seq(&self) -> anyhow::Result<i64> {
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
    pub fn forget_the_service(&self) -> anyhow::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM remote; DELETE FROM synced;
             DELETE FROM meta WHERE key IN ('cursor', 'known_seq');",
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The mount points inside a folder as its last scan kept them
    /// (`scanner::Scan::mounts`); `None` before the first.
    pub fn mounts(
        &self,
        folder: FolderId,
    ) -> anyhow::Result<Option<std::collections::BTreeSet<String>>> {
        Ok(self
            .meta(&format!("mounts:{folder}"))?
            .and_then(|m| serde_json::from_str(&m).ok()))
    }

    pub fn set_mounts(
        &self,
        folder: FolderId,
        mounts: &std::collections::BTreeSet<String>,
    ) -> anyhow::Result<()> {
        self.set_meta(
            &format!("mounts:{folder}"),
            Some(&serde_json::to_string(mounts)?),
        )
    }

    pub fn cursor(&self) -> anyhow::Result<i64> {
        Ok(self
            .meta("cursor")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    // ------------------------------------------------------------ local tree

    pub fn load_local(&self, folder: FolderId) -> anyhow::Result<Tree<LocalEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT path, kind, size, mtime_ns, inode, hash, ctime_ns, dev, exec FROM local WHERE folder = ?1",
        )?;
        let rows = stmt.query_map([folder], |r| {
            Ok((
                r.get::<_, String>(0)?,
                LocalEntry {
                    kind: kind_from(&r.get::<_, String>(1)?),
                    stat: FileStat {
                        size: r.get::<_, i64>(2)? as u64,
                        mtime_ns: r.get(3)?,
                        inode: r.get::<_, i64>(4)? as u64,
                        ctime_ns: r.get(6)?,
                        dev: r.get::<_, i64>(7)? as u64,
                        exec: r.get(8)?,
                    },
                    hash: r.get(5)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes the differences between the stored local tree and `new`.
    pub fn store_local(
        &self,
        folder: FolderId,
        old: &Tree<LocalEntry>,
        new: &Tree<LocalEntry>,
    ) -> anyhow::Result<()> {
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
        tx.commit()?;
        Ok(())
    }

    // ------------------------------------------------------------ synced tree

    pub fn load_synced(&self, folder: FolderId) -> anyhow::Result<Tree<SyncedEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT path, kind, node, rev, hash, size, mtime_ns, inode, ctime_ns, dev, exec FROM synced WHERE folder = ?1")?;
        let rows = stmt.query_map([folder], |r| {
            Ok((
                r.get::<_, String>(0)?,
                SyncedEntry {
                    kind: kind_from(&r.get::<_, String>(1)?),
                    node: r.get(2)?,
                    rev: r.get(3)?,
                    hash: r.get(4)?,
                    stat: FileStat {
                        size: r.get::<_, i64>(5)? as u64,
                        mtime_ns: r.get(6)?,
                        inode: r.get::<_, i64>(7)? as u64,
                        ctime_ns: r.get(8)?,
                        dev: r.get::<_, i64>(9)? as u64,
                        exec: r.get(10)?,
                    },
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applies the bookkeeping of one finished operation atomically: a crash
    /// leaves all of it or none of it.
    pub fn record(&self, folder: FolderId, changes: &[Change<'_>]) -> anyhow::Result<()> {
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
        tx.commit()?;
        Ok(())
    }

    pub fn forget_folder(&self, folder: FolderId) -> anyhow::Result<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM local WHERE folder = ?1", [folder])?;
        conn.execute("DELETE FROM synced WHERE folder = ?1", [folder])?;
        Ok(())
    }

    // ------------------------------------------------------------ remote nodes

    /// Applies one page of the change feed and moves the cursor, atomically.
    pub fn apply_changes(&self, nodes: &[Node], cursor: i64) -> anyhow::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            for n in nodes {
                // Remote nodes belong to the account, not to a folder.
                apply(&tx, 0, &Change::Remote(n))?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?1)",
                [cursor.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn remote_rows(&self) -> anyhow::Result<Vec<RemoteRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, parent, name, kind, rev, size, hash, mtime_ms, exec FROM remote",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RemoteRow {
                id: r.get(0)?,
                parent: r.get(1)?,
                name: r.get(2)?,
                kind: kind_from(&r.get::<_, String>(3)?),
                rev: r.get(4)?,
                size: r.get::<_, i64>(5)? as u64,
                hash: r.get(6)?,
                mtime_ms: r.get(7)?,
                exec: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ------------------------------------------------------------ history

    pub fn conflicts(&self) -> anyhow::Result<Vec<ConflictRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT folder, path, copy, at FROM conflicts ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(ConflictRecord {
                folder: r.get(0)?,
                path: r.get(1)?,
                copy: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn recent_events(&self, limit: usize) -> anyhow::Result<Vec<EventRecord>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT folder, action, path, at FROM events ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(EventRecord {
                folder: r.get(0)?,
                action: r.get(1)?,
                path: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn add_acceptance(&self, a: &AcceptanceRecord) -> anyhow::Result<()> {
        self.conn().execute(
            "INSERT INTO acceptances (doc_id, version, locale, age, accepted_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![a.id, a.version, a.locale, a.age, a.accepted_at],
        )?;
        Ok(())
    }

    pub fn acceptances(&self) -> anyhow::Result<Vec<AcceptanceRecord>> {
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
        at: &'a str,
    },
    Event {
        action: &'a str,
        path: &'a str,
        at: &'a str,
    },
}

/// Runs a statement from the connection's cache: a sync records thousands
/// of changes, and parsing the same SQL for each was a visible part of it.
fn cached(c: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(p)
}

fn apply(c: &Connection, folder: FolderId, change: &Change<'_>) -> rusqlite::Result<()> {
    match *change {
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
                params![folder, path, kind_str(e.kind), e.stat.size as i64, e.stat.mtime_ns, e.stat.inode as i64, e.hash, e.stat.ctime_ns, e.stat.dev as i64, e.stat.exec],
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
                params![folder, path, kind_str(e.kind), e.node, e.rev, e.hash, e.stat.size as i64, e.stat.mtime_ns, e.stat.inode as i64, e.stat.ctime_ns, e.stat.dev as i64, e.stat.exec],
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
        Change::Conflict { path, copy, at } => {
            cached(
                c,
                "INSERT INTO conflicts (folder, path, copy, at) VALUES (?1, ?2, ?3, ?4)",
                params![folder, path, copy, at],
            )?;
        }
        Change::Event { action, path, at } => {
            cached(
                c,
                "INSERT INTO events (folder, action, path, at) VALUES (?1, ?2, ?3, ?4)",
                params![folder, action, path, at],
            )?;
            // Recent changes only: the log of record is the service's history.
            cached(
                c,
                "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - 200",
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
