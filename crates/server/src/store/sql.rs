//! The metadata store's rules, written once over `db::Db`: accounts and
//! their devices and tokens, acceptances, the node tree with its change feed,
//! conditional commits, and (in `restore`) the trash and retention. Each
//! call is one transaction of the backend (`sqlite.rs`, `postgres.rs`),
//! except a token check: a read, then a write at most once a minute.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use nubo_protocol::names::check_name;
use nubo_protocol::{
    AcceptItem, Acceptance, AccountSummary, AgeConfirmation, AgreementDoc, ChangesResponse,
    ChunkRef, CommitRequest, DeleteRequest, Manifest, Node, NodeId, NodeKind, PendingSignIn,
    RestoreRequest, RestoreResponse, TrashItem, Version,
};

mod chunks;
mod gc;
mod legal;
mod privacy;
mod restore;

use chunks::quota_check;

use super::db::{args, Backend, Db, DbError, Row};
use super::error::{Conflict, Invalid, NotFound, StoreError};
use super::{
    AccountKey, AccountRow, ChunkPlace, Deliver, DeviceId, DeviceRow, Garbage, GrantPoll,
    MetaStore, NewGrant, NewTokens, PlacedChunk, Rotation, SignOut, StoreResult, StoredObject,
    TokenKind, TokenOwner, Usage,
};

use crate::throttle::Failures;

type R<T> = Result<T, StoreError>;

/// The store on one backend.
pub struct SqlStore<B> {
    backend: B,
    /// Earlier revisions kept per file; older ones are dropped on commit.
    keep_versions: u32,
}

/// Change numbers are microseconds of the service's clock, or one more than
/// the last where that is not more: numbers never given out before a
/// restore from a backup are told from those given out after it.
const SEQ_PER_SEC: i64 = 1_000_000;
/// A change committing while another instance starts, its number taken
/// before the start's gap was written, may carry a number a little below
/// that start (its clock a little behind): the window it is given. A
/// service restored from a backup is down longer.
const START_MARGIN_SECS: i64 = 2;

fn not_found() -> StoreError {
    NotFound::Node.into()
}

const NODE_COLUMNS: &str = "id, parent, name, kind, rev, size, hash, seq, deleted, mtime_ms, exec";

fn node_from_row(r: &Row) -> Result<Node, DbError> {
    Ok(Node {
        id: r.int(0)?,
        parent: r.opt_int(1)?,
        name: r.text(2)?,
        kind: kind_of(&r.text(3)?),
        rev: r.int(4)?,
        size: r.size(5)?,
        hash: r.text(6)?,
        seq: r.int(7)?,
        deleted: r.flag(8)?,
        mtime_ms: r.int(9)?,
        exec: r.flag(10)?,
    })
}

fn kind_of(column: &str) -> NodeKind {
    if column == "dir" {
        NodeKind::Dir
    } else {
        NodeKind::File
    }
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

fn token_kind_str(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "access",
        TokenKind::Refresh => "refresh",
    }
}

fn account_from_row(r: &Row) -> Result<AccountRow, DbError> {
    Ok(AccountRow {
        key: r.int(0)?,
        account_id: r.text(1)?,
        phone: r.opt_text(2)?,
        password_hash: r.text(3)?,
        // None once the account was cancelled.
        root_id: r.opt_int(4)?.unwrap_or(0),
        quota_bytes: r.size(5)?,
        last_used_at: r.int(6)?,
        deleted: r.opt_int(7)?.is_some(),
    })
}

const ACCOUNT_COLUMNS: &str =
    "id, account_id, phone, password_hash, root_id, quota_bytes, last_used_at, deleted_at";

/// The account's next change-feed number: one more than the last, and at
/// least the clock's microseconds (`SEQ_PER_SEC`) and the floor of the
/// newest history gap (an instance started since with a clock ahead of
/// this one's). Its row update also serialises the account's writers
/// (across instances, on PostgreSQL).
fn next_seq(db: &mut dyn Db, account: AccountKey, now: i64) -> R<i64> {
    let floor = db
        .query_one("SELECT COALESCE(MAX(floor), 0) FROM history_gaps", args![])?
        .int(0)?;
    let at_least = now.saturating_mul(SEQ_PER_SEC).max(floor);
    Ok(db
        .query_one(
            "UPDATE accounts SET seq = CASE WHEN seq + 1 > ?2 THEN seq + 1 ELSE ?2 END
             WHERE id = ?1 RETURNING seq",
            args![account, at_least],
        )?
        .int(0)?)
}

/// Whether `position` lies in a gap of this database's history: between
/// the newest change it held when a service instance started and that
/// start (`begin_history`). No change of this history has such a number,
/// so one given out lies in a history the database lost to a restore.
/// The gaps are rows of the database itself, so that a second restore
/// from a copy made after a first still knows the first one's gap.
fn in_history_gap(db: &mut dyn Db, position: i64) -> R<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM history_gaps WHERE high < ?1 AND floor > ?1 LIMIT 1",
            args![position],
        )?
        .is_some())
}

fn get_node(db: &mut dyn Db, account: AccountKey, id: NodeId) -> R<Node> {
    let row = db.query_opt(
        &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?1 AND account = ?2"),
        args![id, account],
    )?;
    match row {
        Some(r) => Ok(node_from_row(&r)?),
        None => Err(not_found()),
    }
}

fn live_dir(db: &mut dyn Db, account: AccountKey, id: NodeId) -> R<Node> {
    let node = get_node(db, account, id)?;
    if node.deleted {
        return Err(Conflict::ParentDeleted.into());
    }
    if node.kind != NodeKind::Dir {
        return Err(Conflict::ParentIsFile.into());
    }
    Ok(node)
}

fn live_child(db: &mut dyn Db, account: AccountKey, parent: NodeId, name: &str) -> R<Option<Node>> {
    let row = db.query_opt(
        &format!(
            "SELECT {NODE_COLUMNS} FROM nodes
             WHERE account = ?1 AND parent = ?2 AND name = ?3 AND deleted = 0"
        ),
        args![account, parent, name],
    )?;
    Ok(row.map(|r| node_from_row(&r)).transpose()?)
}

fn valid_name(name: &str) -> R<()> {
    check_name(name).map_err(|problem| StoreError::InvalidName {
        name: name.to_string(),
        problem,
    })
}

/// A file's content as a node row holds it.
struct Content<'a> {
    size: u64,
    hash: &'a str,
    chunks_json: &'a str,
    mtime_ms: i64,
    exec: bool,
}

/// Gives a file new content; the current content becomes a version (only the
/// newest `keep` are kept). The caller checked name, chunks and quota.
fn replace_content(
    db: &mut dyn Db,
    account: AccountKey,
    device: DeviceId,
    id: NodeId,
    c: &Content<'_>,
    now: i64,
    keep: u32,
) -> R<()> {
    db.exec(
        "INSERT INTO versions (node, rev, size, hash, chunks, created_at, device, written_at)
         SELECT id, rev, size, hash, chunks, ?2, device, written_at FROM nodes WHERE id = ?1",
        args![id, now],
    )?;
    db.exec(
        "DELETE FROM versions WHERE node = ?1 AND id NOT IN
         (SELECT id FROM versions WHERE node = ?1 ORDER BY rev DESC LIMIT ?2)",
        args![id, keep],
    )?;
    let seq = next_seq(db, account, now)?;
    db.exec(
        "UPDATE nodes SET rev = rev + 1, size = ?2, hash = ?3, chunks = ?4, seq = ?5,
         mtime_ms = ?6, device = ?7, written_at = ?8, exec = ?9 WHERE id = ?1",
        args![
            id,
            c.size,
            c.hash,
            c.chunks_json,
            seq,
            c.mtime_ms,
            device,
            now,
            i64::from(c.exec)
        ],
    )?;
    Ok(())
}

fn insert_file(
    db: &mut dyn Db,
    account: AccountKey,
    device: DeviceId,
    parent: NodeId,
    name: &str,
    c: &Content<'_>,
    now: i64,
) -> R<NodeId> {
    let seq = next_seq(db, account, now)?;
    Ok(db
        .query_one(
            "INSERT INTO nodes (account, parent, name, kind, rev, size, hash, chunks, seq, mtime_ms, device, written_at, exec)
             VALUES (?1, ?2, ?3, 'file', 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
            args![account, parent, name, c.size, c.hash, c.chunks_json, seq, c.mtime_ms, device, now, i64::from(c.exec)],
        )?
        .int(0)?)
}

/// A file's exec bit, changed alone (`chmod`): a change in the feed.
fn set_exec(db: &mut dyn Db, account: AccountKey, id: NodeId, exec: bool, now: i64) -> R<()> {
    let seq = next_seq(db, account, now)?;
    db.exec(
        "UPDATE nodes SET exec = ?2, seq = ?3 WHERE id = ?1",
        args![id, i64::from(exec), seq],
    )?;
    Ok(())
}

/// One commit inside a transaction: the rules of `MetaStore::commit`.
fn commit_in(
    db: &mut dyn Db,
    account: AccountKey,
    device: DeviceId,
    req: &CommitRequest,
    now: i64,
    keep: u32,
) -> R<Node> {
    valid_name(&req.name)?;
    let total: u64 = req.chunks.iter().map(|c| c.size).sum();
    if total != req.size {
        return Err(Invalid::ChunksSum {
            total,
            size: req.size,
        }
        .into());
    }
    let chunks_json = serde_json::to_string(&req.chunks)
        .map_err(|e| DbError::new(format!("cannot write a chunk list: {e}")))?;
    chunks::claim(db, account, &req.chunks)?;
    let existing = match req.node {
        Some(id) => {
            let node = get_node(db, account, id)?;
            if node.deleted {
                return Err(Conflict::FileDeleted.into());
            }
            if node.kind != NodeKind::File {
                return Err(Conflict::NotAFile.into());
            }
            Some(node)
        }
        None => {
            live_dir(db, account, req.parent)?;
            live_child(db, account, req.parent, &req.name)?
        }
    };
    if let Some(cur) = &existing {
        // Same content is never a conflict, and a retried commit whose
        // first attempt landed must not fail; a changed exec bit alone is
        // no new revision.
        if cur.kind == NodeKind::File && cur.hash == req.hash && cur.size == req.size {
            if cur.exec != req.exec {
                set_exec(db, account, cur.id, req.exec, now)?;
                return get_node(db, account, cur.id);
            }
            return Ok(cur.clone());
        }
        if req.node.is_none() {
            return Err(Conflict::FileExists(req.name.clone()).into());
        }
        if req.base_rev != Some(cur.rev) {
            return Err(Conflict::StaleRevision {
                name: cur.name.clone(),
                current: cur.rev,
                base: req.base_rev.unwrap_or(0),
            }
            .into());
        }
    }
    let old_size = existing.as_ref().map_or(0, |n| n.size);
    quota_check(db, account, req.size, old_size)?;
    let content = Content {
        size: req.size,
        hash: &req.hash,
        chunks_json: &chunks_json,
        mtime_ms: req.mtime_ms,
        exec: req.exec,
    };
    let id = match existing {
        Some(cur) => {
            replace_content(db, account, device, cur.id, &content, now, keep)?;
            cur.id
        }
        None => insert_file(db, account, device, req.parent, &req.name, &content, now)?,
    };
    get_node(db, account, id)
}

/// A new, empty top folder for the account; its id.
fn new_root(db: &mut dyn Db, account: AccountKey) -> R<NodeId> {
    let root = db
        .query_one(
            "INSERT INTO nodes (account, parent, name, kind, rev, size, hash, chunks, seq, mtime_ms)
             VALUES (?1, NULL, '', 'dir', 1, 0, '', '[]', 0, 0) RETURNING id",
            args![account],
        )?
        .int(0)?;
    db.exec(
        "UPDATE accounts SET root_id = ?1 WHERE id = ?2",
        args![root, account],
    )?;
    Ok(root)
}

fn used_bytes(db: &mut dyn Db, account: AccountKey) -> R<u64> {
    Ok(db
        .query_one(
            "SELECT used_bytes FROM accounts WHERE id = ?1",
            args![account],
        )?
        .size(0)?)
}

fn current_cursor(db: &mut dyn Db, account: AccountKey) -> R<i64> {
    Ok(db
        .query_one("SELECT seq FROM accounts WHERE id = ?1", args![account])?
        .int(0)?)
}

/// Signs a device out: its tokens stop working at once.
fn revoke(db: &mut dyn Db, device: DeviceId) -> R<()> {
    db.exec(
        "UPDATE devices SET revoked = 1 WHERE id = ?1",
        args![device],
    )?;
    db.exec("DELETE FROM tokens WHERE device = ?1", args![device])?;
    Ok(())
}

fn insert_tokens(db: &mut dyn Db, device: DeviceId, t: &NewTokens) -> R<()> {
    let insert = "INSERT INTO tokens (hash, kind, device, expires_at) VALUES (?1, ?2, ?3, ?4)";
    db.exec(
        insert,
        args![
            &t.access_hash,
            token_kind_str(TokenKind::Access),
            device,
            t.access_expires_at
        ],
    )?;
    db.exec(
        insert,
        args![
            &t.refresh_hash,
            token_kind_str(TokenKind::Refresh),
            device,
            t.refresh_expires_at
        ],
    )?;
    Ok(())
}

/// Notes a use of the device ("last seen", to the minute) and of its
/// account. A frozen account is not woken by a token: only a sign-in with
/// the password reactivates it.
fn note_use(db: &mut dyn Db, account: AccountKey, device: DeviceId, now: i64) -> R<()> {
    db.exec(
        "UPDATE devices SET last_seen = ?1 WHERE id = ?2 AND last_seen < ?1 - 60",
        args![now, device],
    )?;
    db.exec(
        "UPDATE accounts SET last_used_at = ?1 WHERE id = ?2 AND last_used_at < ?1 - 60
         AND last_used_at > ?1 - ?3 AND deleted_at IS NULL",
        args![now, account, crate::lifecycle::FREEZE_AFTER_SECS],
    )?;
    Ok(())
}

/// `MetaStore::rotate_refresh` inside its transaction. The spent token's
/// row stays (marked) until it expires, so that a second use is known for
/// what it is.
fn rotate_refresh(db: &mut dyn Db, token_hash: &str, next: &NewTokens, now: i64) -> R<Rotation> {
    let row = db.query_opt(
        "SELECT t.device, d.account, t.expires_at, t.spent_at, d.revoked
         FROM tokens t JOIN devices d ON d.id = t.device
         WHERE t.hash = ?1 AND t.kind = ?2",
        args![token_hash, token_kind_str(TokenKind::Refresh)],
    )?;
    let Some(r) = row else {
        return Ok(Rotation::Invalid);
    };
    let (device, account) = (r.int(0)?, r.int(1)?);
    if r.flag(4)? {
        return Ok(Rotation::Invalid);
    }
    if r.opt_int(3)?.is_some() {
        revoke(db, device)?;
        return Ok(Rotation::Reused { account, device });
    }
    if r.int(2)? <= now {
        return Ok(Rotation::Invalid);
    }
    let spent = db.exec(
        "UPDATE tokens SET spent_at = ?2 WHERE hash = ?1 AND spent_at IS NULL",
        args![token_hash, now],
    )?;
    if spent != 1 {
        return Err(DbError::new("a refresh token changed inside its own transaction").into());
    }
    insert_tokens(db, device, next)?;
    note_use(db, account, device, now)?;
    Ok(Rotation::Rotated { account, device })
}

impl<B: Backend> SqlStore<B> {
    pub fn new(backend: B, keep_versions: u32) -> Self {
        SqlStore {
            backend,
            keep_versions,
        }
    }

    /// Refuses a feed position from a history this database does not have.
    fn check_history(&self, db: &mut dyn Db, account: AccountKey, positions: [i64; 2]) -> R<()> {
        let current = current_cursor(db, account)?;
        for p in positions {
            if p > current || in_history_gap(db, p)? {
                return Err(StoreError::HistoryRewound);
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn write<T>(&self, mut f: impl FnMut(&mut dyn Db) -> R<T>) -> StoreResult<T> {
        self.backend.write(&mut f)
    }

    fn read<T>(&self, mut f: impl FnMut(&mut dyn Db) -> R<T>) -> StoreResult<T> {
        self.backend.read(&mut f)
    }
}

impl<B: Backend> MetaStore for SqlStore<B> {
    fn create_account(
        &self,
        account_id: &str,
        phone: Option<&str>,
        password_hash: &str,
        quota_bytes: u64,
        now: i64,
    ) -> StoreResult<AccountRow> {
        self.write(|db| {
            let taken = db
                .query_opt(
                    "SELECT 1 FROM accounts WHERE account_id = ?1 OR phone = ?1
                     OR (CAST(?2 AS TEXT) IS NOT NULL AND (phone = ?2 OR account_id = ?2)) LIMIT 1",
                    args![account_id, phone],
                )?
                .is_some();
            if taken {
                return Err(Conflict::AccountTaken(account_id.to_string()).into());
            }
            let key = db
                .query_one(
                    "INSERT INTO accounts (account_id, phone, password_hash, quota_bytes, created_at, last_used_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
                    args![account_id, phone, password_hash, quota_bytes, now],
                )?
                .int(0)?;
            let root = new_root(db, key)?;
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
        self.read(|db| {
            let row = db.query_opt(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?1 OR phone = ?1"
                ),
                args![login],
            )?;
            Ok(row.map(|r| account_from_row(&r)).transpose()?)
        })
    }

    fn account(&self, account: AccountKey) -> StoreResult<AccountRow> {
        self.read(|db| {
            let row = db.query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                args![account],
            )?;
            match row {
                Some(r) => Ok(account_from_row(&r)?),
                None => Err(StoreError::AccountGone),
            }
        })
    }

    fn used_bytes(&self, account: AccountKey) -> StoreResult<u64> {
        self.read(|db| used_bytes(db, account))
    }

    fn create_device(
        &self,
        account: AccountKey,
        name: &str,
        os: &str,
        now: i64,
    ) -> StoreResult<DeviceId> {
        self.write(|db| {
            let id = db
                .query_one(
                    "INSERT INTO devices (account, name, os, created_at, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
                    args![account, name, os, now],
                )?
                .int(0)?;
            db.exec(
                "UPDATE accounts SET last_used_at = ?1 WHERE id = ?2",
                args![now, account],
            )?;
            Ok(id)
        })
    }

    fn devices(&self, account: AccountKey) -> StoreResult<Vec<DeviceRow>> {
        self.read(|db| {
            let rows = db.query(
                "SELECT id, name, os, created_at, last_seen FROM devices
                 WHERE account = ?1 AND revoked = 0 ORDER BY id",
                args![account],
            )?;
            let devices = rows
                .iter()
                .map(|r| {
                    Ok(DeviceRow {
                        id: r.int(0)?,
                        name: r.text(1)?,
                        os: r.text(2)?,
                        created_at: r.int(3)?,
                        last_seen: r.int(4)?,
                    })
                })
                .collect::<Result<_, DbError>>()?;
            Ok(devices)
        })
    }

    fn device_owner(&self, device: DeviceId) -> StoreResult<Option<AccountKey>> {
        self.read(|db| {
            let row = db.query_opt(
                "SELECT account FROM devices WHERE id = ?1 AND revoked = 0",
                args![device],
            )?;
            Ok(row.map(|r| r.int(0)).transpose()?)
        })
    }

    fn revoke_device(&self, device: DeviceId) -> StoreResult<()> {
        self.write(|db| revoke(db, device))
    }

    fn put_tokens(&self, device: DeviceId, tokens: &NewTokens) -> StoreResult<()> {
        self.write(|db| insert_tokens(db, device, tokens))
    }

    fn rotate_refresh(
        &self,
        token_hash: &str,
        next: &NewTokens,
        now: i64,
    ) -> StoreResult<Rotation> {
        self.write(|db| rotate_refresh(db, token_hash, next, now))
    }

    fn find_token(
        &self,
        token_hash: &str,
        kind: TokenKind,
        now: i64,
    ) -> StoreResult<Option<TokenOwner>> {
        // Every request comes here: a read, and a write only when "last
        // seen" is a minute old (plenty of precision), so that requests do
        // not queue behind one another for the write.
        let found = self.read(|db| {
            let row = db.query_opt(
                "SELECT d.account, d.id, t.expires_at, a.last_used_at, a.deleted_at, d.last_seen
                 FROM tokens t
                 JOIN devices d ON d.id = t.device
                 JOIN accounts a ON a.id = d.account
                 WHERE t.hash = ?1 AND t.kind = ?2 AND d.revoked = 0 AND t.expires_at > ?3
                   AND t.spent_at IS NULL",
                args![token_hash, token_kind_str(kind), now],
            )?;
            let Some(r) = row else { return Ok(None) };
            let owner = TokenOwner {
                account: r.int(0)?,
                device: r.int(1)?,
                expires_at: r.int(2)?,
                last_used_at: r.int(3)?,
                account_deleted: r.opt_int(4)?.is_some(),
            };
            Ok(Some((owner, r.int(5)?)))
        })?;
        let Some((owner, last_seen)) = found else {
            return Ok(None);
        };
        let account_stale = owner.last_used_at < now - 60
            && owner.last_used_at > now - crate::lifecycle::FREEZE_AFTER_SECS
            && !owner.account_deleted;
        if last_seen < now - 60 || account_stale {
            self.write(|db| note_use(db, owner.account, owner.device, now))?;
        }
        Ok(Some(owner))
    }

    fn token_account(&self, token_hash: &str) -> StoreResult<Option<(i64, bool)>> {
        self.read(|db| {
            let row = db.query_opt(
                "SELECT a.last_used_at, a.deleted_at FROM tokens t
                 JOIN devices d ON d.id = t.device JOIN accounts a ON a.id = d.account
                 WHERE t.hash = ?1",
                args![token_hash],
            )?;
            Ok(row
                .map(|r| Ok::<_, DbError>((r.int(0)?, r.opt_int(1)?.is_some())))
                .transpose()?)
        })
    }

    fn delete_account(&self, account: AccountKey, now: i64) -> StoreResult<Vec<StoredObject>> {
        let shared = self.write(|db| privacy::erase_account(db, account, now))?;
        self.backend.scrub()?;
        Ok(shared)
    }

    fn delete_content(&self, account: AccountKey, now: i64) -> StoreResult<Vec<StoredObject>> {
        let objects = self.write(|db| privacy::delete_content(db, account, now))?;
        self.backend.scrub()?;
        Ok(objects)
    }

    fn accounts_to_empty(&self, before: i64) -> StoreResult<Vec<AccountKey>> {
        self.read(|db| privacy::to_empty(db, before))
    }

    fn accounts_to_cancel(&self, before: i64) -> StoreResult<Vec<AccountKey>> {
        self.read(|db| privacy::to_cancel(db, before))
    }

    fn expire_records(&self, before: i64) -> StoreResult<u64> {
        self.write(|db| privacy::expire_records(db, before))
    }

    fn account_summary(&self, account: AccountKey) -> StoreResult<AccountSummary> {
        self.read(|db| privacy::summary(db, account))
    }

    fn set_password(
        &self,
        account: AccountKey,
        password_hash: &str,
        sign_out: SignOut,
    ) -> StoreResult<()> {
        self.write(|db| privacy::set_password(db, account, password_hash, sign_out))
    }

    fn record_declines(
        &self,
        account: AccountKey,
        device: DeviceId,
        items: &[AcceptItem],
        now: i64,
    ) -> StoreResult<()> {
        self.write(|db| legal::record_declines(db, account, device, items, now))
    }

    fn archive_agreements(&self, docs: &[(AgreementDoc, String)], now: i64) -> StoreResult<()> {
        self.write(|db| legal::archive(db, docs, now))
    }

    fn archived_agreement(
        &self,
        id: &str,
        version: &str,
        locale: &str,
    ) -> StoreResult<Option<String>> {
        self.read(|db| legal::archived_text(db, id, version, locale))
    }

    fn archived_agreements(&self) -> StoreResult<Vec<AgreementDoc>> {
        self.read(legal::archived_docs)
    }

    fn failures(&self, key: &str) -> StoreResult<Option<Failures>> {
        self.read(|db| {
            let row = db.query_opt(
                "SELECT failures, last_at FROM failed_attempts WHERE subject = ?1",
                args![key],
            )?;
            Ok(row
                .map(|r| {
                    Ok::<_, DbError>(Failures {
                        count: r.int(0)?.clamp(0, i64::from(u32::MAX)) as u32,
                        last: r.int(1)?,
                    })
                })
                .transpose()?)
        })
    }

    fn note_failure(&self, key: &str, now: i64) -> StoreResult<()> {
        self.write(|db| {
            let before = db.query_opt(
                "SELECT failures, last_at FROM failed_attempts WHERE subject = ?1",
                args![key],
            )?;
            let next = match before {
                Some(r) => Failures {
                    count: r.int(0)?.clamp(0, i64::from(u32::MAX)) as u32,
                    last: r.int(1)?,
                }
                .and_one(now),
                None => Failures {
                    count: 1,
                    last: now,
                },
            };
            db.exec(
                "INSERT INTO failed_attempts (subject, failures, last_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject) DO UPDATE SET failures = ?2, last_at = ?3",
                args![key, next.count, next.last],
            )?;
            Ok(())
        })
    }

    fn clear_failures(&self, key: &str) -> StoreResult<()> {
        self.write(|db| {
            db.exec("DELETE FROM failed_attempts WHERE subject = ?1", args![key])?;
            Ok(())
        })
    }

    fn create_grant(&self, grant: &NewGrant<'_>, now: i64, max_waiting: u64) -> StoreResult<()> {
        self.write(|db| {
            db.exec(
                "DELETE FROM device_grants WHERE expires_at <= ?1",
                args![now],
            )?;
            let waiting = db
                .query_one("SELECT COUNT(*) FROM device_grants", &[])?
                .size(0)?;
            if waiting >= max_waiting {
                return Err(StoreError::TooManyWaiting { retry_at: now + 60 });
            }
            db.exec(
                "INSERT INTO device_grants (code_hash, user_code, device_name, os, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![grant.code_hash, grant.user_code, grant.device_name, grant.os, grant.expires_at, now],
            )?;
            Ok(())
        })
    }

    fn waiting_grant(&self, user_code: &str, now: i64) -> StoreResult<Option<PendingSignIn>> {
        self.read(|db| {
            let row = db.query_opt(
                "SELECT user_code, device_name, os, created_at FROM device_grants
                 WHERE user_code = ?1 AND expires_at > ?2 AND account IS NULL",
                args![user_code, now],
            )?;
            Ok(row
                .map(|r| {
                    Ok::<_, DbError>(PendingSignIn {
                        user_code: r.text(0)?,
                        device_name: r.text(1)?,
                        os: r.text(2)?,
                        requested_at: r.int(3)?,
                    })
                })
                .transpose()?)
        })
    }

    fn approve_grant(&self, user_code: &str, account: AccountKey, now: i64) -> StoreResult<bool> {
        self.write(|db| {
            let n = db.exec(
                "UPDATE device_grants SET account = ?2
                 WHERE user_code = ?1 AND expires_at > ?3 AND account IS NULL",
                args![user_code, account, now],
            )?;
            Ok(n == 1)
        })
    }

    fn poll_grant(&self, code_hash: &str, now: i64, interval: i64) -> StoreResult<GrantPoll> {
        self.write(|db| {
            let row = db.query_opt(
                "SELECT device_name, expires_at, last_poll, account, os FROM device_grants
                 WHERE code_hash = ?1",
                args![code_hash],
            )?;
            let Some(r) = row else {
                return Ok(GrantPoll::Unknown);
            };
            let (expires_at, last_poll) = (r.int(1)?, r.int(2)?);
            if now >= expires_at {
                return Ok(GrantPoll::Expired);
            }
            if let Some(account) = r.opt_int(3)? {
                db.exec(
                    "DELETE FROM device_grants WHERE code_hash = ?1",
                    args![code_hash],
                )?;
                return Ok(GrantPoll::Approved {
                    account,
                    device_name: r.text(0)?,
                    os: r.text(4)?,
                });
            }
            db.exec(
                "UPDATE device_grants SET last_poll = ?2 WHERE code_hash = ?1",
                args![code_hash, now],
            )?;
            Ok(if now - last_poll < interval {
                GrantPoll::SlowDown
            } else {
                GrantPoll::Pending
            })
        })
    }

    fn acceptances(&self, account: AccountKey) -> StoreResult<Vec<Acceptance>> {
        self.read(|db| {
            let rows = db.query(
                "SELECT doc_id, version, locale, accepted_at, age, device, withdrawn, declined FROM acceptances
                 WHERE account = ?1 ORDER BY id",
                args![account],
            )?;
            let list = rows
                .iter()
                .map(|r| {
                    Ok(Acceptance {
                        id: r.text(0)?,
                        version: r.text(1)?,
                        locale: r.text(2)?,
                        accepted_at: r.int(3)?,
                        age: if r.text(4)? == "guardian" {
                            AgeConfirmation::Guardian
                        } else {
                            AgeConfirmation::Adult
                        },
                        device_id: r.int(5)?,
                        withdrawn: r.flag(6)?,
                        declined: r.flag(7)?,
                    })
                })
                .collect::<Result<_, DbError>>()?;
            Ok(list)
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
        self.write(|db| {
            for item in items {
                db.exec(
                    "INSERT INTO acceptances (account, doc_id, version, locale, age, device, accepted_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    args![account, &item.id, &item.version, &item.locale, age_str(age), device, now],
                )?;
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
        self.write(|db| {
            db.exec(
                "INSERT INTO acceptances (account, doc_id, version, locale, age, device, accepted_at, withdrawn)
                 VALUES (?1, ?2, ?3, '', 'adult', ?4, ?5, 1)",
                args![account, id, version, device, now],
            )?;
            Ok(())
        })
    }

    fn changes(
        &self,
        account: AccountKey,
        cursor: i64,
        known: i64,
        limit: u32,
    ) -> StoreResult<ChangesResponse> {
        self.read(|db| {
            self.check_history(db, account, [cursor, known])?;
            let rows = db.query(
                &format!(
                    "SELECT {NODE_COLUMNS} FROM nodes WHERE account = ?1 AND seq > ?2
                     ORDER BY seq LIMIT ?3"
                ),
                args![account, cursor, i64::from(limit) + 1],
            )?;
            let mut nodes: Vec<Node> = rows.iter().map(node_from_row).collect::<Result<_, _>>()?;
            let has_more = nodes.len() > limit as usize;
            nodes.truncate(limit as usize);
            let cursor = match nodes.last() {
                Some(n) => n.seq,
                None if has_more => cursor,
                None => cursor.max(current_cursor(db, account)?),
            };
            Ok(ChangesResponse {
                nodes,
                cursor,
                has_more,
            })
        })
    }

    fn current_cursor(&self, account: AccountKey) -> StoreResult<i64> {
        self.read(|db| current_cursor(db, account))
    }

    fn begin_history(&self, now: i64) -> StoreResult<()> {
        let floor = (now - START_MARGIN_SECS).saturating_mul(SEQ_PER_SEC);
        self.write(|db| {
            let high = db
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM accounts", args![])?
                .int(0)?;
            if high < floor {
                db.exec(
                    "INSERT INTO history_gaps (high, floor) VALUES (?1, ?2)",
                    args![high, floor],
                )?;
            }
            Ok(())
        })
    }

    fn node(&self, account: AccountKey, id: NodeId) -> StoreResult<Node> {
        self.read(|db| get_node(db, account, id))
    }

    fn mkdir(
        &self,
        account: AccountKey,
        parent: NodeId,
        name: &str,
        now: i64,
    ) -> StoreResult<Node> {
        valid_name(name)?;
        self.write(|db| {
            live_dir(db, account, parent)?;
            if let Some(existing) = live_child(db, account, parent, name)? {
                return match existing.kind {
                    NodeKind::Dir => Ok(existing),
                    NodeKind::File => Err(Conflict::FileInTheWay(name.to_string()).into()),
                };
            }
            let seq = next_seq(db, account, now)?;
            let id = db
                .query_one(
                    "INSERT INTO nodes (account, parent, name, kind, rev, size, hash, chunks, seq, mtime_ms)
                     VALUES (?1, ?2, ?3, 'dir', 1, 0, '', '[]', ?4, ?5) RETURNING id",
                    args![account, parent, name, seq, now * 1000],
                )?
                .int(0)?;
            get_node(db, account, id)
        })
    }

    fn commit(
        &self,
        account: AccountKey,
        device: DeviceId,
        req: &CommitRequest,
        now: i64,
    ) -> StoreResult<Node> {
        self.write(|db| commit_in(db, account, device, req, now, self.keep_versions))
    }

    fn commit_many(
        &self,
        account: AccountKey,
        device: DeviceId,
        reqs: &[CommitRequest],
        now: i64,
    ) -> StoreResult<Vec<StoreResult<Node>>> {
        self.write(|db| {
            let mut out = Vec::with_capacity(reqs.len());
            for req in reqs {
                // Each commit in a savepoint: a refused one leaves no trace
                // and does not take the others with it.
                db.batch("SAVEPOINT one_commit")?;
                let r = commit_in(db, account, device, req, now, self.keep_versions);
                if r.is_err() {
                    db.batch("ROLLBACK TO SAVEPOINT one_commit")?;
                }
                db.batch("RELEASE SAVEPOINT one_commit")?;
                match r {
                    // The database failing (a full disk) fails the batch.
                    Err(e) if !e.is_refusal() => return Err(e),
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
        now: i64,
    ) -> StoreResult<Node> {
        valid_name(name)?;
        self.write(|db| {
            let node = get_node(db, account, id)?;
            if node.deleted {
                return Err(Conflict::ItemDeleted.into());
            }
            if node.parent.is_none() {
                return Err(Invalid::MoveRoot.into());
            }
            if node.parent == Some(parent) && node.name == name {
                return Ok(node);
            }
            live_dir(db, account, parent)?;
            // A folder cannot move into itself or below itself.
            let mut up = Some(parent);
            while let Some(p) = up {
                if p == id {
                    return Err(Invalid::MoveIntoItself.into());
                }
                up = get_node(db, account, p)?.parent;
            }
            if live_child(db, account, parent, name)?.is_some() {
                return Err(Conflict::NameTaken(name.to_string()).into());
            }
            let seq = next_seq(db, account, now)?;
            db.exec(
                "UPDATE nodes SET parent = ?2, name = ?3, seq = ?4 WHERE id = ?1",
                args![id, parent, name, seq],
            )?;
            get_node(db, account, id)
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
        self.write(|db| {
            let node = get_node(db, account, id)?;
            if node.deleted {
                return Ok(node);
            }
            if node.parent.is_none() {
                return Err(Invalid::DeleteRoot.into());
            }
            if let Some(base) = req.base_rev {
                if node.kind == NodeKind::File && base != node.rev {
                    return Err(Conflict::ChangedSince(node.name.clone()).into());
                }
            }
            let subtree = "WITH RECURSIVE sub(id) AS (
                    SELECT CAST(?1 AS BIGINT)
                    UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent = sub.id WHERE n.deleted = 0)";
            if let Some(since) = req.unchanged_since {
                let changed = db
                    .query_opt(
                        &format!(
                            "{subtree} SELECT 1 FROM nodes
                             WHERE id IN (SELECT id FROM sub) AND id != ?1 AND seq > ?2 LIMIT 1"
                        ),
                        args![id, since],
                    )?
                    .is_some();
                if changed {
                    return Err(Conflict::ChangedInside(node.name.clone()).into());
                }
            }
            let ids: Vec<NodeId> = db
                .query(&format!("{subtree} SELECT id FROM sub"), args![id])?
                .iter()
                .map(|r| r.int(0))
                .collect::<Result<_, _>>()?;
            // The seq of the first row names this delete: what it removed is
            // one trash entry, restored together.
            let mut op = None;
            for nid in ids {
                let seq = next_seq(db, account, now)?;
                let op = *op.get_or_insert(seq);
                db.exec(
                    "UPDATE nodes SET deleted = 1, deleted_at = ?2, deleted_by = ?3, seq = ?4,
                     delete_op = ?5 WHERE id = ?1",
                    args![nid, now, device, seq, op],
                )?;
            }
            get_node(db, account, id)
        })
    }

    fn manifest(&self, account: AccountKey, id: NodeId) -> StoreResult<Manifest> {
        self.read(|db| {
            let r = db
                .query_opt(
                    "SELECT rev, size, hash, chunks, kind FROM nodes WHERE id = ?1 AND account = ?2",
                    args![id, account],
                )?
                .ok_or_else(not_found)?;
            if r.text(4)? != kind_str(NodeKind::File) {
                return Err(Invalid::FolderContent.into());
            }
            Ok(Manifest {
                node: id,
                rev: r.int(0)?,
                size: r.size(1)?,
                hash: r.text(2)?,
                chunks: serde_json::from_str(&r.text(3)?)
                    .map_err(|e| DbError::new(format!("a stored chunk list is damaged: {e}")))?,
            })
        })
    }

    fn versions(&self, account: AccountKey, id: NodeId) -> StoreResult<Vec<Version>> {
        self.read(|db| {
            get_node(db, account, id)?;
            let rows = db.query(
                "SELECT v.rev, v.size, v.hash, COALESCE(v.written_at, v.created_at), v.device,
                        COALESCE(d.name, '')
                 FROM versions v LEFT JOIN devices d ON d.id = v.device
                 WHERE v.node = ?1 ORDER BY v.rev DESC",
                args![id],
            )?;
            let list = rows
                .iter()
                .map(|r| {
                    Ok(Version {
                        rev: r.int(0)?,
                        size: r.size(1)?,
                        hash: r.text(2)?,
                        created_at: r.int(3)?,
                        device_id: r.opt_int(4)?.unwrap_or(0),
                        device_name: r.text(5)?,
                    })
                })
                .collect::<Result<_, DbError>>()?;
            Ok(list)
        })
    }

    fn trash(
        &self,
        account: AccountKey,
        query: &str,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<TrashItem>, u64)> {
        self.read(|db| restore::trash(db, account, query, offset, limit))
    }

    fn lookup(&self, account: AccountKey, path: &str) -> StoreResult<Node> {
        self.read(|db| restore::lookup(db, account, path))
    }

    fn restore(
        &self,
        account: AccountKey,
        device: DeviceId,
        req: &RestoreRequest,
        now: i64,
    ) -> StoreResult<RestoreResponse> {
        let keep = self.keep_versions;
        self.write(|db| restore::restore(db, account, device, req, now, keep))
    }

    fn purge_stale(&self, now: i64) -> StoreResult<u64> {
        self.write(|db| {
            let grants = db.exec(
                "DELETE FROM device_grants WHERE expires_at <= ?1",
                args![now],
            )?;
            let tokens = db.exec(
                "DELETE FROM tokens WHERE expires_at < ?1 AND EXISTS (
                    SELECT 1 FROM tokens newer WHERE newer.device = tokens.device
                    AND newer.kind = tokens.kind AND newer.expires_at > tokens.expires_at)",
                args![now],
            )?;
            let failures = db.exec(
                "DELETE FROM failed_attempts WHERE last_at < ?1",
                args![now - crate::throttle::FAILURES_KEPT_SECS],
            )?;
            Ok(grants + tokens + failures)
        })
    }

    fn purge_expired(&self, before: i64) -> StoreResult<(u64, u64)> {
        self.write(|db| restore::purge(db, before))
    }

    fn usage(&self, account: AccountKey) -> StoreResult<Usage> {
        self.read(|db| chunks::usage(db, account))
    }

    fn store_chunks(
        &self,
        account: AccountKey,
        chunks: &[ChunkRef],
        placed: &[PlacedChunk],
        now: i64,
    ) -> StoreResult<Vec<String>> {
        self.write(|db| chunks::store(db, account, chunks, placed, now))
    }

    fn chunk_places(
        &self,
        account: AccountKey,
        hashes: &[String],
    ) -> StoreResult<Vec<Option<ChunkPlace>>> {
        self.read(|db| chunks::places(db, account, hashes))
    }

    fn missing_chunks(&self, account: AccountKey, hashes: &[String]) -> StoreResult<Vec<String>> {
        self.read(|db| chunks::missing(db, account, hashes))
    }

    fn accounts_with_chunks(&self, after: AccountKey, limit: u32) -> StoreResult<Vec<AccountKey>> {
        self.read(|db| gc::accounts_with_chunks(db, after, limit))
    }

    fn collect_garbage(&self, account: AccountKey, pending_before: i64) -> StoreResult<Garbage> {
        self.write(|db| gc::collect(db, account, pending_before))
    }

    fn unnamed_objects(&self, objects: &[String]) -> StoreResult<Vec<String>> {
        self.read(|db| gc::unnamed(db, objects))
    }

    fn claim_job(&self, name: &str, now: i64, gap: i64) -> StoreResult<bool> {
        self.write(|db| {
            let claimed = db.exec(
                "INSERT INTO job_runs (name, last_run) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET last_run = ?2
                 WHERE job_runs.last_run <= ?2 - ?3",
                args![name, now, gap],
            )?;
            Ok(claimed == 1)
        })
    }

    fn shared(&self) -> bool {
        self.backend.shared()
    }

    fn announce(&self, account: AccountKey, cursor: i64) -> StoreResult<()> {
        Ok(self.backend.announce(account, cursor)?)
    }

    fn listen(&self, deliver: Deliver, stop: Arc<AtomicBool>) -> StoreResult<()> {
        Ok(self.backend.listen(deliver, stop)?)
    }
}
