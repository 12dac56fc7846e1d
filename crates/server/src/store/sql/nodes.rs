//! Each account's node tree: folders and files with their content as a
//! chunk list, conditional commits (on the base revision, never a silent
//! overwrite), moves and deletes, and the change feed: every change takes
//! the account's next number (`next_seq`), and a cursor from a history this
//! database lost to a restore is refused (`check_history`).

use nubo_protocol::names::check_name;
use nubo_protocol::{
    ChangesResponse, CommitRequest, DeleteRequest, Manifest, Node, NodeId, NodeKind,
};

use super::chunks::{self, quota_check};
use super::{SqlStore, R};
use crate::store::db::{args, Backend, Db, DbError, Row};
use crate::store::{
    AccountKey, Conflict, DeviceId, Invalid, Nodes, NotFound, StoreError, StoreResult,
};

/// Change numbers are microseconds of the service's clock, or one more than
/// the last where that is not more: numbers never given out before a
/// restore from a backup are told from those given out after it.
const SEQ_PER_SEC: i64 = 1_000_000;

/// A change committing while another instance starts, its number taken
/// before the start's gap was written, may carry a number a little below
/// that start (its clock a little behind): the window it is given. A
/// service restored from a backup is down longer.
const START_MARGIN_SECS: i64 = 2;

pub(super) fn not_found() -> StoreError {
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

pub(super) fn kind_of(column: &str) -> NodeKind {
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

/// The account's next change-feed number: one more than the last, and at
/// least the clock's microseconds (`SEQ_PER_SEC`) and the floor of the
/// newest history gap (an instance started since with a clock ahead of
/// this one's). Its row update also serialises the account's writers
/// (across instances, on PostgreSQL).
pub(super) fn next_seq(db: &mut dyn Db, account: AccountKey, now: i64) -> R<i64> {
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

pub(super) fn get_node(db: &mut dyn Db, account: AccountKey, id: NodeId) -> R<Node> {
    let row = db.query_opt(
        &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?1 AND account = ?2"),
        args![id, account],
    )?;
    match row {
        Some(r) => Ok(node_from_row(&r)?),
        None => Err(not_found()),
    }
}

pub(super) fn live_dir(db: &mut dyn Db, account: AccountKey, id: NodeId) -> R<Node> {
    let node = get_node(db, account, id)?;
    if node.deleted {
        return Err(Conflict::ParentDeleted.into());
    }
    if node.kind != NodeKind::Dir {
        return Err(Conflict::ParentIsFile.into());
    }
    Ok(node)
}

pub(super) fn live_child(
    db: &mut dyn Db,
    account: AccountKey,
    parent: NodeId,
    name: &str,
) -> R<Option<Node>> {
    let row = db.query_opt(
        &format!(
            "SELECT {NODE_COLUMNS} FROM nodes
             WHERE account = ?1 AND parent = ?2 AND name = ?3 AND deleted = 0"
        ),
        args![account, parent, name],
    )?;
    Ok(row.map(|r| node_from_row(&r)).transpose()?)
}

pub(super) fn valid_name(name: &str) -> R<()> {
    check_name(name).map_err(|problem| StoreError::InvalidName {
        name: name.to_string(),
        problem,
    })
}

/// A file's content as a node row holds it.
pub(super) struct Content<'a> {
    pub(super) size: u64,
    pub(super) hash: &'a str,
    pub(super) chunks_json: &'a str,
    pub(super) mtime_ms: i64,
    pub(super) exec: bool,
}

/// Gives a file new content; the current content becomes a version (only the
/// newest `keep` are kept). The caller checked name, chunks and quota.
pub(super) fn replace_content(
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

pub(super) fn insert_file(
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

/// One commit inside a transaction: the rules of `Nodes::commit`.
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
pub(super) fn new_root(db: &mut dyn Db, account: AccountKey) -> R<NodeId> {
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

fn current_cursor(db: &mut dyn Db, account: AccountKey) -> R<i64> {
    Ok(db
        .query_one("SELECT seq FROM accounts WHERE id = ?1", args![account])?
        .int(0)?)
}

/// Refuses a feed position from a history this database does not have.
fn check_history(db: &mut dyn Db, account: AccountKey, positions: [i64; 2]) -> R<()> {
    let current = current_cursor(db, account)?;
    for p in positions {
        if p > current || in_history_gap(db, p)? {
            return Err(StoreError::HistoryRewound);
        }
    }
    Ok(())
}

impl<B: Backend> Nodes for SqlStore<B> {
    fn changes(
        &self,
        account: AccountKey,
        cursor: i64,
        known: i64,
        limit: u32,
    ) -> StoreResult<ChangesResponse> {
        self.read(|db| {
            check_history(db, account, [cursor, known])?;
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

    fn current_cursor(&self, account: AccountKey) -> StoreResult<i64> {
        self.read(|db| current_cursor(db, account))
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
}
