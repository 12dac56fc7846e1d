//! The embedded metadata store: one SQLite file in WAL mode, one writer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use nubo_protocol::names::check_name;
use nubo_protocol::{
    AcceptItem, Acceptance, AgeConfirmation, ApiError, ChangesResponse, ChunkRef, CommitRequest,
    DeleteRequest, ErrorCode, Manifest, Node, NodeId, NodeKind, RestoreRequest, RestoreResponse,
    TrashItem, Version,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

mod restore;

use super::{
    AccountKey, AccountRow, DeviceId, DeviceRow, GrantPoll, MetaStore, PackedAt, PackedChunk,
    StoreResult, TokenKind, TokenOwner,
};

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
];

/// Statements through the connection's cache. Every request runs a handful
/// of the same statements; parsing each one again was a seventh of the
/// service's time in an upload of many small files.
pub(super) trait Cached {
    fn run(&self, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize>;
    fn row<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn run(&self, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(p)
    }

    fn row<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(p, f)
    }
}

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Earlier revisions kept per file; older ones are dropped on commit.
    keep_versions: u32,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    let message = e.to_string();
    // SQLITE_FULL has no error value left by the time it is only displayed;
    // its message is fixed by SQLite.
    if message.contains("database or disk is full") {
        return crate::api::service_full(&message);
    }
    ApiError::new(
        ErrorCode::Internal,
        format!("metadata store failed: {message}"),
    )
}

fn conflict(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Conflict, msg)
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such file or folder in this account",
    )
}

const NODE_COLUMNS: &str = "id, parent, name, kind, rev, size, hash, seq, deleted, mtime_ms";

fn node_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Node> {
    let kind: String = r.get(3)?;
    Ok(Node {
        id: r.get(0)?,
        parent: r.get(1)?,
        name: r.get(2)?,
        kind: if kind == "dir" {
            NodeKind::Dir
        } else {
            NodeKind::File
        },
        rev: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        hash: r.get(6)?,
        seq: r.get(7)?,
        deleted: r.get(8)?,
        mtime_ms: r.get(9)?,
    })
}

fn kind_str(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::File => "file",
        NodeKind::Dir => "dir",
    }
}

fn age_str(age: AgeConfirmation) -> &'static str {
    match age {
        AgeConfirmation::Adult => "adult",
        AgeConfirmation::Guardian => "guardian",
    }
}

fn account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        key: r.get(0)?,
        account_id: r.get(1)?,
        phone: r.get(2)?,
        password_hash: r.get(3)?,
        root_id: r.get(4)?,
        quota_bytes: r.get::<_, i64>(5)? as u64,
        last_used_at: r.get(6)?,
        deleted: r.get::<_, Option<i64>>(7)?.is_some(),
    })
}

const ACCOUNT_COLUMNS: &str =
    "id, account_id, phone, password_hash, root_id, quota_bytes, last_used_at, deleted_at";

fn next_seq(tx: &Transaction<'_>, account: AccountKey) -> StoreResult<i64> {
    tx.row(
        "UPDATE accounts SET seq = seq + 1 WHERE id = ?1 RETURNING seq",
        [account],
        |r| r.get(0),
    )
    .map_err(internal)
}

fn get_node(tx: &Connection, account: AccountKey, id: NodeId) -> StoreResult<Node> {
    tx.row(
        &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?1 AND account = ?2"),
        params![id, account],
        node_from_row,
    )
    .optional()
    .map_err(internal)?
    .ok_or_else(not_found)
}

fn live_dir(tx: &Connection, account: AccountKey, id: NodeId) -> StoreResult<Node> {
    let node = get_node(tx, account, id)?;
    if node.deleted {
        return Err(conflict("the folder was deleted on the service"));
    }
    if node.kind != NodeKind::Dir {
        return Err(conflict("the parent is a file, not a folder"));
    }
    Ok(node)
}

fn live_child(
    tx: &Connection,
    account: AccountKey,
    parent: NodeId,
    name: &str,
) -> StoreResult<Option<Node>> {
    tx.row(
        &format!(
            "SELECT {NODE_COLUMNS} FROM nodes
             WHERE account = ?1 AND parent = ?2 AND name = ?3 AND deleted = 0"
        ),
        params![account, parent, name],
        node_from_row,
    )
    .optional()
    .map_err(internal)
}

fn valid_name(name: &str) -> StoreResult<()> {
    check_name(name).map_err(|p| {
        ApiError::new(
            ErrorCode::InvalidName,
            format!("{name:?} cannot be a file name: {p}"),
        )
    })
}

/// A file's content as a node row holds it.
struct Content<'a> {
    size: u64,
    hash: &'a str,
    chunks_json: &'a str,
    mtime_ms: i64,
}

/// Gives a file new content; the current content becomes a version (only the
/// newest `keep` are kept). The caller checked name, chunks and quota.
fn replace_content(
    tx: &Transaction<'_>,
    account: AccountKey,
    device: DeviceId,
    id: NodeId,
    c: &Content<'_>,
    now: i64,
    keep: u32,
) -> StoreResult<()> {
    tx.run(
        "INSERT INTO versions (node, rev, size, hash, chunks, created_at, device, written_at)
         SELECT id, rev, size, hash, chunks, ?2, device, written_at FROM nodes WHERE id = ?1",
        params![id, now],
    )
    .map_err(internal)?;
    tx.run(
        "DELETE FROM versions WHERE node = ?1 AND id NOT IN
         (SELECT id FROM versions WHERE node = ?1 ORDER BY rev DESC LIMIT ?2)",
        params![id, keep],
    )
    .map_err(internal)?;
    let seq = next_seq(tx, account)?;
    tx.run(
        "UPDATE nodes SET rev = rev + 1, size = ?2, hash = ?3, chunks = ?4, seq = ?5,
         mtime_ms = ?6, device = ?7, written_at = ?8 WHERE id = ?1",
        params![
            id,
            c.size as i64,
            c.hash,
            c.chunks_json,
            seq,
            c.mtime_ms,
            device,
            now
        ],
    )
    .map_err(internal)?;
    Ok(())
}

fn insert_file(
    tx: &Transaction<'_>,
    account: AccountKey,
    device: DeviceId,
    parent: NodeId,
    name: &str,
    c: &Content<'_>,
    now: i64,
) -> StoreResult<NodeId> {
    let seq = next_seq(tx, account)?;
    tx.run(
        "INSERT INTO nodes (account, parent, name, kind, rev, size, hash, chunks, seq, mtime_ms, device, written_at)
         VALUES (?1, ?2, ?3, 'file', 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![account, parent, name, c.size as i64, c.hash, c.chunks_json, seq, c.mtime_ms, device, now],
    )
    .map_err(internal)?;
    Ok(tx.last_insert_rowid())
}

fn quota_check(c: &Connection, account: AccountKey, adding: u64, freeing: u64) -> StoreResult<()> {
    let quota = c
        .row(
            "SELECT quota_bytes FROM accounts WHERE id = ?1",
            [account],
            |r| r.get::<_, i64>(0),
        )
        .map_err(internal)? as u64;
    let used = used_bytes(c, account)?;
    if used.saturating_sub(freeing) + adding > quota {
        return Err(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "storage is full: {used} of {quota} bytes used; free some space or upgrade the plan"
            ),
        ));
    }
    Ok(())
}

/// One commit inside `tx`: the rules of `MetaStore::commit`.
fn commit_in(
    tx: &Transaction<'_>,
    account: AccountKey,
    device: DeviceId,
    req: &CommitRequest,
    now: i64,
    keep: u32,
) -> StoreResult<Node> {
    valid_name(&req.name)?;
    let total: u64 = req.chunks.iter().map(|c| c.size).sum();
    if total != req.size {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("the chunks add up to {total} bytes, not {}", req.size),
        ));
    }
    let chunks_json = serde_json::to_string(&req.chunks).map_err(internal)?;
    let hashes: Vec<String> = req.chunks.iter().map(|c| c.hash.clone()).collect();
    let missing = missing_chunks(tx, account, &hashes)?;
    if !missing.is_empty() {
        let mut err = ApiError::new(
            ErrorCode::MissingChunks,
            format!("{} chunks of this file were never uploaded", missing.len()),
        );
        err.missing = missing;
        return Err(err);
    }
    let existing = match req.node {
        Some(id) => {
            let node = get_node(tx, account, id)?;
            if node.deleted {
                return Err(conflict("the file was deleted on the service"));
            }
            if node.kind != NodeKind::File {
                return Err(conflict("that node is a folder"));
            }
            Some(node)
        }
        None => {
            live_dir(tx, account, req.parent)?;
            live_child(tx, account, req.parent, &req.name)?
        }
    };
    if let Some(cur) = &existing {
        // Same content is never a conflict, and a retried commit whose
        // first attempt landed must not fail.
        if cur.kind == NodeKind::File && cur.hash == req.hash && cur.size == req.size {
            return Ok(cur.clone());
        }
        if req.node.is_none() {
            return Err(conflict(format!(
                "{:?} already exists on the service with other content",
                req.name
            )));
        }
        if req.base_rev != Some(cur.rev) {
            return Err(conflict(format!(
                "{:?} changed on the service (revision {} is current, not {})",
                cur.name,
                cur.rev,
                req.base_rev.unwrap_or(0)
            )));
        }
    }
    let old_size = existing.as_ref().map_or(0, |n| n.size);
    quota_check(tx, account, req.size, old_size)?;
    let content = Content {
        size: req.size,
        hash: &req.hash,
        chunks_json: &chunks_json,
        mtime_ms: req.mtime_ms,
    };
    let id = match existing {
        Some(cur) => {
            replace_content(tx, account, device, cur.id, &content, now, keep)?;
            cur.id
        }
        None => insert_file(tx, account, device, req.parent, &req.name, &content, now)?,
    };
    get_node(tx, account, id)
}

impl SqliteStore {
    pub fn open(path: &Path, keep_versions: u32) -> anyhow::Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.set_prepared_statement_cache_capacity(128);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
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
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            keep_versions,
        })
    }

    fn with_tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(internal)?;
        let out = f(&tx)?;
        tx.commit().map_err(internal)?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }
}

impl MetaStore for SqliteStore {
    fn create_account(
        &self,
        account_id: &str,
        phone: Option<&str>,
        password_hash: &str,
        quota_bytes: u64,
        now: i64,
    ) -> StoreResult<AccountRow> {
        self.with_tx(|tx| {
            let taken: bool = tx
                .row(
                    "SELECT EXISTS(SELECT 1 FROM accounts WHERE account_id = ?1 OR phone = ?1
                                   OR (?2 IS NOT NULL AND (phone = ?2 OR account_id = ?2)))",
                    params![account_id, phone],
                    |r| r.get(0),
                )
                .map_err(internal)?;
            if taken {
                return Err(conflict(format!(
                    "an account with the ID or phone number {account_id:?} already exists"
                )));
            }
            tx.run(
                "INSERT INTO accounts (account_id, phone, password_hash, quota_bytes, created_at, last_used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![account_id, phone, password_hash, quota_bytes as i64, now],
            )
            .map_err(internal)?;
            let key = tx.last_insert_rowid();
            tx.run(
                "INSERT INTO nodes (account, parent, name, kind, rev, size, hash, chunks, seq, mtime_ms)
                 VALUES (?1, NULL, '', 'dir', 1, 0, '', '[]', 0, 0)",
                [key],
            )
            .map_err(internal)?;
            let root = tx.last_insert_rowid();
            tx.run("UPDATE accounts SET root_id = ?1 WHERE id = ?2", [root, key])
                .map_err(internal)?;
            Ok(AccountRow {
                key,
                account_id: account_id.to_string(),
                phone: phone.map(str::to_string),
                password_hash: password_hash.to_string(),
                root_id: root,
                quota_bytes,
                last_used_at: now,
                deleted: false,
            })
        })
    }

    fn find_account(&self, login: &str) -> StoreResult<Option<AccountRow>> {
        self.read(|c| {
            c.row(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?1 OR phone = ?1"
                ),
                [login],
                account_from_row,
            )
            .optional()
            .map_err(internal)
        })
    }

    fn account(&self, account: AccountKey) -> StoreResult<AccountRow> {
        self.read(|c| {
            c.row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                [account],
                account_from_row,
            )
            .optional()
            .map_err(internal)?
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "the account no longer exists"))
        })
    }

    fn used_bytes(&self, account: AccountKey) -> StoreResult<u64> {
        self.read(|c| used_bytes(c, account))
    }

    fn create_device(
        &self,
        account: AccountKey,
        name: &str,
        os: &str,
        now: i64,
    ) -> StoreResult<DeviceId> {
        self.with_tx(|tx| {
            tx.run(
                "INSERT INTO devices (account, name, os, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![account, name, os, now],
            )
            .map_err(internal)?;
            tx.run(
                "UPDATE accounts SET last_used_at = ?1 WHERE id = ?2",
                params![now, account],
            )
            .map_err(internal)?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn devices(&self, account: AccountKey) -> StoreResult<Vec<DeviceRow>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT id, name, os, created_at, last_seen FROM devices WHERE account = ?1 AND revoked = 0 ORDER BY id")
                .map_err(internal)?;
            let rows = stmt
                .query_map([account], |r| {
                    Ok(DeviceRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        os: r.get(2)?,
                        created_at: r.get(3)?,
                        last_seen: r.get(4)?,
                    })
                })
                .map_err(internal)?;
            rows.collect::<Result<_, _>>().map_err(internal)
        })
    }

    fn device_owner(&self, device: DeviceId) -> StoreResult<Option<AccountKey>> {
        self.read(|c| {
            c.row(
                "SELECT account FROM devices WHERE id = ?1 AND revoked = 0",
                [device],
                |r| r.get(0),
            )
            .optional()
            .map_err(internal)
        })
    }

    fn revoke_device(&self, device: DeviceId) -> StoreResult<()> {
        self.with_tx(|tx| {
            tx.run("UPDATE devices SET revoked = 1 WHERE id = ?1", [device])
                .map_err(internal)?;
            tx.run("DELETE FROM tokens WHERE device = ?1", [device])
                .map_err(internal)?;
            Ok(())
        })
    }

    fn put_token(
        &self,
        token_hash: &str,
        kind: TokenKind,
        device: DeviceId,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.with_tx(|tx| {
            tx.run(
                "INSERT INTO tokens (hash, kind, device, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, token_kind_str(kind), device, expires_at],
            )
            .map_err(internal)?;
            Ok(())
        })
    }

    fn find_token(
        &self,
        token_hash: &str,
        kind: TokenKind,
        now: i64,
    ) -> StoreResult<Option<TokenOwner>> {
        self.with_tx(|tx| {
            let owner = tx
                .row(
                    "SELECT d.account, d.id, t.expires_at, a.last_used_at, a.deleted_at FROM tokens t
                     JOIN devices d ON d.id = t.device
                     JOIN accounts a ON a.id = d.account
                     WHERE t.hash = ?1 AND t.kind = ?2 AND d.revoked = 0 AND t.expires_at > ?3",
                    params![token_hash, token_kind_str(kind), now],
                    |r| {
                        Ok(TokenOwner {
                            account: r.get(0)?,
                            device: r.get(1)?,
                            expires_at: r.get(2)?,
                            last_used_at: r.get(3)?,
                            account_deleted: r.get::<_, Option<i64>>(4)?.is_some(),
                        })
                    },
                )
                .optional()
                .map_err(internal)?;
            if let Some(o) = owner {
                // A write per request would serialise every reader behind the
                // writer; a minute's precision is plenty for "last seen".
                tx.run(
                    "UPDATE devices SET last_seen = ?1 WHERE id = ?2 AND last_seen < ?1 - 60",
                    params![now, o.device],
                )
                .map_err(internal)?;
                // A frozen account is not woken by a token: only a sign-in
                // with the password reactivates it.
                tx.run(
                    "UPDATE accounts SET last_used_at = ?1 WHERE id = ?2 AND last_used_at < ?1 - 60
                     AND last_used_at > ?1 - ?3 AND deleted_at IS NULL",
                    params![now, o.account, crate::lifecycle::FREEZE_AFTER_SECS],
                )
                .map_err(internal)?;
            }
            Ok(owner)
        })
    }

    fn delete_token(&self, token_hash: &str) -> StoreResult<()> {
        self.with_tx(|tx| {
            tx.run("DELETE FROM tokens WHERE hash = ?1", [token_hash])
                .map_err(internal)?;
            Ok(())
        })
    }

    fn token_account(&self, token_hash: &str) -> StoreResult<Option<(i64, bool)>> {
        self.read(|c| {
            c.row(
                "SELECT a.last_used_at, a.deleted_at FROM tokens t
                 JOIN devices d ON d.id = t.device JOIN accounts a ON a.id = d.account
                 WHERE t.hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.is_some())),
            )
            .optional()
            .map_err(internal)
        })
    }

    fn delete_account(&self, account: AccountKey, now: i64) -> StoreResult<()> {
        self.with_tx(|tx| {
            for sql in [
                "DELETE FROM versions WHERE node IN (SELECT id FROM nodes WHERE account = ?1)",
                "DELETE FROM nodes WHERE account = ?1 AND parent IS NOT NULL",
                "DELETE FROM account_chunks WHERE account = ?1",
                "UPDATE devices SET revoked = 1 WHERE account = ?1",
            ] {
                tx.run(sql, [account]).map_err(internal)?;
            }
            tx.run(
                "UPDATE accounts SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
                params![account, now],
            )
            .map_err(internal)?;
            Ok(())
        })
    }

    fn inactive_accounts(&self, before: i64) -> StoreResult<Vec<AccountKey>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id FROM accounts WHERE deleted_at IS NULL AND last_used_at < ?1",
                )
                .map_err(internal)?;
            let rows = stmt.query_map([before], |r| r.get(0)).map_err(internal)?;
            rows.collect::<Result<_, _>>().map_err(internal)
        })
    }

    fn create_grant(
        &self,
        code_hash: &str,
        user_code: &str,
        device_name: &str,
        os: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.with_tx(|tx| {
            tx.run(
                "DELETE FROM device_grants WHERE expires_at < ?1",
                [expires_at - 86_400],
            )
            .map_err(internal)?;
            tx.run(
                "INSERT INTO device_grants (code_hash, user_code, device_name, os, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![code_hash, user_code, device_name, os, expires_at],
            )
            .map_err(internal)?;
            Ok(())
        })
    }

    fn approve_grant(&self, user_code: &str, account: AccountKey, now: i64) -> StoreResult<bool> {
        self.with_tx(|tx| {
            let n = tx
                .run(
                    "UPDATE device_grants SET account = ?2
                     WHERE user_code = ?1 AND expires_at > ?3 AND account IS NULL",
                    params![user_code, account, now],
                )
                .map_err(internal)?;
            Ok(n == 1)
        })
    }

    fn poll_grant(&self, code_hash: &str, now: i64, interval: i64) -> StoreResult<GrantPoll> {
        self.with_tx(|tx| {
            let row: Option<(String, i64, i64, Option<AccountKey>, String)> = tx
                .row(
                    "SELECT device_name, expires_at, last_poll, account, os FROM device_grants WHERE code_hash = ?1",
                    [code_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()
                .map_err(internal)?;
            let Some((device_name, expires_at, last_poll, account, os)) = row else {
                return Ok(GrantPoll::Unknown);
            };
            if now >= expires_at {
                return Ok(GrantPoll::Expired);
            }
            if let Some(account) = account {
                tx.run("DELETE FROM device_grants WHERE code_hash = ?1", [code_hash])
                    .map_err(internal)?;
                return Ok(GrantPoll::Approved {
                    account,
                    device_name,
                    os,
                });
            }
            tx.run(
                "UPDATE device_grants SET last_poll = ?2 WHERE code_hash = ?1",
                params![code_hash, now],
            )
            .map_err(internal)?;
            Ok(if now - last_poll < interval {
                GrantPoll::SlowDown
            } else {
                GrantPoll::Pending
            })
        })
    }

    fn acceptances(&self, account: AccountKey) -> StoreResult<Vec<Acceptance>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc_id, version, locale, accepted_at, age, device, withdrawn FROM acceptances
                     WHERE account = ?1 ORDER BY id",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map([account], |r| {
                    let age: String = r.get(4)?;
                    Ok(Acceptance {
                        id: r.get(0)?,
                        version: r.get(1)?,
                        locale: r.get(2)?,
                        accepted_at: r.get(3)?,
                        age: if age == "guardian" {
                            AgeConfirmation::Guardian
                        } else {
                            AgeConfirmation::Adult
                        },
                        device_id: r.get(5)?,
                        withdrawn: r.get(6)?,
                    })
                })
                .map_err(internal)?;
            rows.collect::<Result<_, _>>().map_err(internal)
        })
    }

    fn record_acceptances(
        &self,
        account: AccountKey,
        device: DeviceId,
        items: &[AcceptItem],
        age: AgeConfirmation,
        now: i64,
    ) -> StoreResult<()> {
        self.with_tx(|tx| {
            for item in items {
                tx.run(
                    "INSERT INTO acceptances (account, doc_id, version, locale, age, device, accepted_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![account, item.id, item.version, item.locale, age_str(age), device, now],
                )
                .map_err(internal)?;
            }
            Ok(())
        })
    }

    fn record_withdrawal(
        &self,
        account: AccountKey,
        device: DeviceId,
        id: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.with_tx(|tx| {
            tx.run(
                "INSERT INTO acceptances (account, doc_id, version, locale, age, device, accepted_at, withdrawn)
                 VALUES (?1, ?2, ?3, '', 'adult', ?4, ?5, 1)",
                params![account, id, version, device, now],
            )
            .map_err(internal)?;
            Ok(())
        })
    }

    fn changes(
        &self,
        account: AccountKey,
        cursor: i64,
        limit: u32,
    ) -> StoreResult<ChangesResponse> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {NODE_COLUMNS} FROM nodes WHERE account = ?1 AND seq > ?2
                     ORDER BY seq LIMIT ?3"
                ))
                .map_err(internal)?;
            let mut nodes: Vec<Node> = stmt
                .query_map(params![account, cursor, limit as i64 + 1], node_from_row)
                .map_err(internal)?
                .collect::<Result<_, _>>()
                .map_err(internal)?;
            let has_more = nodes.len() > limit as usize;
            nodes.truncate(limit as usize);
            let cursor = match nodes.last() {
                Some(n) => n.seq,
                None if has_more => cursor,
                None => cursor.max(current_cursor(c, account)?),
            };
            Ok(ChangesResponse {
                nodes,
                cursor,
                has_more,
            })
        })
    }

    fn current_cursor(&self, account: AccountKey) -> StoreResult<i64> {
        self.read(|c| current_cursor(c, account))
    }

    fn node(&self, account: AccountKey, id: NodeId) -> StoreResult<Node> {
        self.read(|c| get_node(c, account, id))
    }

    fn mkdir(
        &self,
        account: AccountKey,
        parent: NodeId,
        name: &str,
        now: i64,
    ) -> StoreResult<Node> {
        valid_name(name)?;
        self.with_tx(|tx| {
            live_dir(tx, account, parent)?;
            if let Some(existing) = live_child(tx, account, parent, name)? {
                return match existing.kind {
                    NodeKind::Dir => Ok(existing),
                    NodeKind::File => Err(conflict(format!("a file named {name:?} is in the way"))),
                };
            }
            let seq = next_seq(tx, account)?;
            tx.run(
                "INSERT INTO nodes (account, parent, name, kind, rev, size, hash, chunks, seq, mtime_ms)
                 VALUES (?1, ?2, ?3, 'dir', 1, 0, '', '[]', ?4, ?5)",
                params![account, parent, name, seq, now * 1000],
            )
            .map_err(internal)?;
            get_node(tx, account, tx.last_insert_rowid())
        })
    }

    fn commit(
        &self,
        account: AccountKey,
        device: DeviceId,
        req: &CommitRequest,
        now: i64,
    ) -> StoreResult<Node> {
        self.with_tx(|tx| commit_in(tx, account, device, req, now, self.keep_versions))
    }

    fn commit_many(
        &self,
        account: AccountKey,
        device: DeviceId,
        reqs: &[CommitRequest],
        now: i64,
    ) -> StoreResult<Vec<StoreResult<Node>>> {
        self.with_tx(|tx| {
            let mut out = Vec::with_capacity(reqs.len());
            for req in reqs {
                // Each commit in a savepoint: a refused one leaves no trace
                // and does not take the others with it.
                tx.execute_batch("SAVEPOINT one_commit").map_err(internal)?;
                let r = commit_in(tx, account, device, req, now, self.keep_versions);
                if r.is_err() {
                    tx.execute_batch("ROLLBACK TO one_commit")
                        .map_err(internal)?;
                }
                tx.execute_batch("RELEASE one_commit").map_err(internal)?;
                match r {
                    // The store itself failing (a full disk) fails the batch.
                    Err(e) if matches!(e.code, ErrorCode::Internal | ErrorCode::ServiceFull) => {
                        return Err(e)
                    }
                    r => out.push(r),
                }
            }
            Ok(out)
        })
    }

    fn move_node(
        &self,
        account: AccountKey,
        id: NodeId,
        parent: NodeId,
        name: &str,
    ) -> StoreResult<Node> {
        valid_name(name)?;
        self.with_tx(|tx| {
            let node = get_node(tx, account, id)?;
            if node.deleted {
                return Err(conflict("the item was deleted on the service"));
            }
            if node.parent.is_none() {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "the root cannot be moved",
                ));
            }
            if node.parent == Some(parent) && node.name == name {
                return Ok(node);
            }
            live_dir(tx, account, parent)?;
            // A folder cannot move into itself or below itself.
            let mut up = Some(parent);
            while let Some(p) = up {
                if p == id {
                    return Err(ApiError::new(
                        ErrorCode::BadRequest,
                        "a folder cannot be moved into itself",
                    ));
                }
                up = get_node(tx, account, p)?.parent;
            }
            if live_child(tx, account, parent, name)?.is_some() {
                return Err(conflict(format!("{name:?} already exists there")));
            }
            let seq = next_seq(tx, account)?;
            tx.run(
                "UPDATE nodes SET parent = ?2, name = ?3, seq = ?4 WHERE id = ?1",
                params![id, parent, name, seq],
            )
            .map_err(internal)?;
            get_node(tx, account, id)
        })
    }

    fn delete_node(
        &self,
        account: AccountKey,
        device: DeviceId,
        id: NodeId,
        req: &DeleteRequest,
        now: i64,
    ) -> StoreResult<Node> {
        self.with_tx(|tx| {
            let node = get_node(tx, account, id)?;
            if node.deleted {
                return Ok(node);
            }
            if node.parent.is_none() {
                return Err(ApiError::new(ErrorCode::BadRequest, "the root cannot be deleted"));
            }
            if let Some(base) = req.base_rev {
                if node.kind == NodeKind::File && base != node.rev {
                    return Err(conflict(format!(
                        "{:?} changed on the service since it was last synced",
                        node.name
                    )));
                }
            }
            let subtree = "WITH RECURSIVE sub(id) AS (
                    SELECT ?1
                    UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id WHERE n.deleted = 0)";
            if let Some(since) = req.unchanged_since {
                let changed: bool = tx
                    .row(
                        &format!("{subtree} SELECT EXISTS(SELECT 1 FROM nodes WHERE id IN sub AND id != ?1 AND seq > ?2)"),
                        params![id, since],
                        |r| r.get(0),
                    )
                    .map_err(internal)?;
                if changed {
                    return Err(conflict(format!(
                        "something inside {:?} changed on the service since it was last synced",
                        node.name
                    )));
                }
            }
            let ids: Vec<NodeId> = {
                let mut stmt = tx
                    .prepare_cached(&format!("{subtree} SELECT id FROM sub"))
                    .map_err(internal)?;
                let rows = stmt.query_map([id], |r| r.get(0)).map_err(internal)?;
                rows.collect::<Result<_, _>>().map_err(internal)?
            };
            // The seq of the first row names this delete: what it removed is
            // one trash entry, restored together.
            let mut op = None;
            for nid in ids {
                let seq = next_seq(tx, account)?;
                let op = *op.get_or_insert(seq);
                tx.run(
                    "UPDATE nodes SET deleted = 1, deleted_at = ?2, deleted_by = ?3, seq = ?4,
                     delete_op = ?5 WHERE id = ?1",
                    params![nid, now, device, seq, op],
                )
                .map_err(internal)?;
            }
            get_node(tx, account, id)
        })
    }

    fn manifest(&self, account: AccountKey, id: NodeId) -> StoreResult<Manifest> {
        self.read(|c| {
            let (rev, size, hash, chunks, kind): (i64, i64, String, String, String) = c
                .row(
                    "SELECT rev, size, hash, chunks, kind FROM nodes WHERE id = ?1 AND account = ?2",
                    params![id, account],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()
                .map_err(internal)?
                .ok_or_else(not_found)?;
            if kind != kind_str(NodeKind::File) {
                return Err(ApiError::new(ErrorCode::BadRequest, "a folder has no content"));
            }
            Ok(Manifest {
                node: id,
                rev,
                size: size as u64,
                hash,
                chunks: serde_json::from_str(&chunks).map_err(internal)?,
            })
        })
    }

    fn versions(&self, account: AccountKey, id: NodeId) -> StoreResult<Vec<Version>> {
        self.read(|c| {
            get_node(c, account, id)?;
            let mut stmt = c
                .prepare_cached(
                    "SELECT v.rev, v.size, v.hash, COALESCE(v.written_at, v.created_at), v.device,
                            COALESCE(d.name, '')
                     FROM versions v LEFT JOIN devices d ON d.id = v.device
                     WHERE v.node = ?1 ORDER BY v.rev DESC",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map([id], |r| {
                    Ok(Version {
                        rev: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        hash: r.get(2)?,
                        created_at: r.get(3)?,
                        device_id: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                        device_name: r.get(5)?,
                    })
                })
                .map_err(internal)?;
            rows.collect::<Result<_, _>>().map_err(internal)
        })
    }

    fn trash(
        &self,
        account: AccountKey,
        query: &str,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<TrashItem>, u64)> {
        self.read(|c| restore::trash(c, account, query, offset, limit))
    }

    fn lookup(&self, account: AccountKey, path: &str) -> StoreResult<Node> {
        self.read(|c| restore::lookup(c, account, path))
    }

    fn restore(
        &self,
        account: AccountKey,
        device: DeviceId,
        req: &RestoreRequest,
        now: i64,
    ) -> StoreResult<RestoreResponse> {
        let keep = self.keep_versions;
        self.with_tx(|tx| restore::restore(tx, account, device, req, now, keep))
    }

    fn purge_expired(&self, before: i64) -> StoreResult<(u64, u64)> {
        self.with_tx(|tx| restore::purge(tx, before))
    }

    fn add_chunks(
        &self,
        account: AccountKey,
        chunks: &[ChunkRef],
        packed: &[PackedChunk],
    ) -> StoreResult<()> {
        self.with_tx(|tx| {
            // A chunk two uploads packed at once keeps the first place
            // recorded; the other copy is never read.
            for p in packed {
                tx.run(
                    "INSERT OR IGNORE INTO packed_chunks (hash, pack, pack_start, size)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![p.hash, p.at.pack, p.at.start as i64, p.at.size as i64],
                )
                .map_err(internal)?;
            }
            for chunk in chunks {
                tx.run(
                    "INSERT OR IGNORE INTO account_chunks (account, hash, size) VALUES (?1, ?2, ?3)",
                    params![account, chunk.hash, chunk.size as i64],
                )
                .map_err(internal)?;
            }
            Ok(())
        })
    }

    fn packed_chunks(&self, hashes: &[String]) -> StoreResult<HashMap<String, PackedAt>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT pack, pack_start, size FROM packed_chunks WHERE hash = ?1")
                .map_err(internal)?;
            let mut found = HashMap::new();
            for h in hashes {
                let at = stmt
                    .query_row([h], |r| {
                        Ok(PackedAt {
                            pack: r.get(0)?,
                            start: r.get::<_, i64>(1)? as u64,
                            size: r.get::<_, i64>(2)? as u64,
                        })
                    })
                    .optional()
                    .map_err(internal)?;
                if let Some(at) = at {
                    found.insert(h.clone(), at);
                }
            }
            Ok(found)
        })
    }

    fn missing_chunks(&self, account: AccountKey, hashes: &[String]) -> StoreResult<Vec<String>> {
        self.read(|c| missing_chunks(c, account, hashes))
    }

    fn has_chunk(&self, account: AccountKey, hash: &str) -> StoreResult<bool> {
        self.read(|c| Ok(missing_chunks(c, account, &[hash.to_string()])?.is_empty()))
    }
}

fn token_kind_str(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "access",
        TokenKind::Refresh => "refresh",
    }
}

fn used_bytes(c: &Connection, account: AccountKey) -> StoreResult<u64> {
    c.row(
        "SELECT used_bytes FROM accounts WHERE id = ?1",
        [account],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(internal)
}

fn current_cursor(c: &Connection, account: AccountKey) -> StoreResult<i64> {
    c.row("SELECT seq FROM accounts WHERE id = ?1", [account], |r| {
        r.get(0)
    })
    .map_err(internal)
}

fn missing_chunks(
    c: &Connection,
    account: AccountKey,
    hashes: &[String],
) -> StoreResult<Vec<String>> {
    let mut stmt = c
        .prepare_cached("SELECT 1 FROM account_chunks WHERE account = ?1 AND hash = ?2")
        .map_err(internal)?;
    let mut missing = Vec::new();
    for h in hashes {
        if !stmt.exists(params![account, h]).map_err(internal)? && !missing.contains(h) {
            missing.push(h.clone());
        }
    }
    Ok(missing)
}
