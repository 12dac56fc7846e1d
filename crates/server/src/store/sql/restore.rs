//! The trash, restore and retention over the node table. A delete marks
//! nodes (`deleted`, `delete_op`) and keeps their content, so a restore is a
//! new change in the feed that makes them live again, or writes an old
//! version's chunks as new content. Nothing here overwrites: a taken name
//! becomes `name (restored DATE).ext`.

use std::collections::HashMap;

use nubo_protocol::names::restored_name;
use nubo_protocol::{Node, NodeId, NodeKind, RestoreRequest, RestoreResponse, TrashItem, Version};

use super::chunks::quota_check;
use super::nodes::{
    get_node, insert_file, kind_of, live_child, live_dir, next_seq, not_found, replace_content,
    valid_name, Content,
};
use super::{SqlStore, R};
use crate::store::db::{args, Backend, Db, DbError};
use crate::store::{
    AccountKey, Conflict, DeviceId, Invalid, NotFound, StoreError, StoreResult, Trash,
};

/// A deleted, not yet purged node, as the trash listing needs it.
struct Deleted {
    id: NodeId,
    parent: Option<NodeId>,
    name: String,
    kind: NodeKind,
    size: u64,
    deleted_at: i64,
    deleted_by: i64,
    device_name: String,
    op: i64,
}

/// `/a/b/c` for a node, following parents whether live or deleted.
pub(super) fn path_of(db: &mut dyn Db, account: AccountKey, id: NodeId) -> R<String> {
    let mut parts = Vec::new();
    let mut cur = Some(id);
    while let Some(n) = cur {
        let node = get_node(db, account, n)?;
        if node.parent.is_some() {
            parts.push(node.name);
        }
        cur = node.parent;
    }
    parts.reverse();
    Ok(format!("/{}", parts.join("/")))
}

/// The trash's entries, newest first. An entry is a deleted node whose parent
/// was not removed by the same delete; a query matches an entry by its name,
/// or by the name of anything that went with it.
pub(super) fn trash(
    db: &mut dyn Db,
    account: AccountKey,
    query: &str,
    offset: u32,
    limit: u32,
) -> R<(Vec<TrashItem>, u64)> {
    let rows: Vec<Deleted> = db
        .query(
            "SELECT n.id, n.parent, n.name, n.kind, n.size, n.deleted_at, COALESCE(n.deleted_by, 0),
                    COALESCE(d.name, ''), COALESCE(n.delete_op, n.seq)
             FROM nodes n LEFT JOIN devices d ON d.id = n.deleted_by
             WHERE n.account = ?1 AND n.deleted = 1 AND n.purged = 0",
            args![account],
        )?
        .iter()
        .map(|r| {
            Ok(Deleted {
                id: r.int(0)?,
                parent: r.opt_int(1)?,
                name: r.text(2)?,
                kind: kind_of(&r.text(3)?),
                size: r.size(4)?,
                deleted_at: r.opt_int(5)?.unwrap_or(0),
                deleted_by: r.int(6)?,
                device_name: r.text(7)?,
                op: r.int(8)?,
            })
        })
        .collect::<Result<_, DbError>>()?;
    let by_id: HashMap<NodeId, usize> = rows.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
    // Each deleted node's entry: walk up while the parent went in the same delete.
    let entry_of = |mut i: usize| {
        while let Some(&p) = rows[i].parent.as_ref().and_then(|p| by_id.get(p)) {
            if rows[p].op != rows[i].op {
                break;
            }
            i = p;
        }
        i
    };
    let needle = query.trim().to_lowercase();
    struct Tally {
        files: u64,
        size: u64,
        matches: bool,
    }
    let mut entries: HashMap<usize, Tally> = HashMap::new();
    for (i, d) in rows.iter().enumerate() {
        let e = entry_of(i);
        let t = entries.entry(e).or_insert(Tally {
            files: 0,
            size: 0,
            matches: false,
        });
        if d.kind == NodeKind::File {
            t.files += 1;
            t.size += d.size;
        }
        t.matches |= needle.is_empty() || d.name.to_lowercase().contains(&needle);
    }
    let mut hits: Vec<(usize, Tally)> = entries.into_iter().filter(|(_, t)| t.matches).collect();
    hits.sort_by_key(|(i, _)| {
        (
            std::cmp::Reverse(rows[*i].deleted_at),
            std::cmp::Reverse(rows[*i].id),
        )
    });
    let total = hits.len() as u64;
    let mut items = Vec::new();
    for (i, t) in hits.into_iter().skip(offset as usize).take(limit as usize) {
        let d = &rows[i];
        items.push(TrashItem {
            id: d.id,
            name: d.name.clone(),
            path: path_of(db, account, d.id)?,
            kind: d.kind,
            size: t.size,
            files: t.files,
            deleted_at: d.deleted_at,
            deleted_by: d.deleted_by,
            device_name: d.device_name.clone(),
        });
    }
    Ok((items, total))
}

/// The node at `/a/b/c`: the live one, or else the one deleted last.
pub(super) fn lookup(db: &mut dyn Db, account: AccountKey, path: &str) -> R<Node> {
    let root = db
        .query_one("SELECT root_id FROM accounts WHERE id = ?1", args![account])?
        .int(0)?;
    let mut node = get_node(db, account, root)?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let row = db.query_opt(
            "SELECT id FROM nodes WHERE account = ?1 AND parent = ?2 AND name = ?3
             ORDER BY deleted, deleted_at DESC, id DESC LIMIT 1",
            args![account, node.id, part],
        )?;
        let Some(row) = row else {
            return Err(NotFound::Path(path.to_string()).into());
        };
        node = get_node(db, account, row.int(0)?)?;
    }
    Ok(node)
}

/// `name`, or the first `name (restored DATE[ n]).ext` that is free in `parent`.
fn free_name(
    db: &mut dyn Db,
    account: AccountKey,
    parent: NodeId,
    name: &str,
    kind: NodeKind,
    now: i64,
) -> R<String> {
    if live_child(db, account, parent, name)?.is_none() {
        return Ok(name.to_string());
    }
    let date = crate::clock::date(now);
    for n in 1.. {
        let candidate = restored_name(name, kind == NodeKind::Dir, &date, n);
        // Never a name that clients would refuse.
        valid_name(&candidate)?;
        if live_child(db, account, parent, &candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    unreachable!("some counter is free")
}

/// Makes a deleted folder live again (itself only, not what it held), after
/// its parents, so that something inside it can come back to its old place.
/// A folder of that name created since is used instead.
fn revive_dir(db: &mut dyn Db, account: AccountKey, id: NodeId, now: i64) -> R<NodeId> {
    let node = get_node(db, account, id)?;
    if !node.deleted {
        return Ok(live_dir(db, account, id)?.id);
    }
    let parent = revive_dir(db, account, node.parent.ok_or_else(not_found)?, now)?;
    if let Some(existing) = live_child(db, account, parent, &node.name)? {
        if existing.kind == NodeKind::Dir {
            return Ok(existing.id);
        }
    }
    let name = free_name(db, account, parent, &node.name, NodeKind::Dir, now)?;
    undelete(db, account, id, Some((parent, &name)), now)?;
    Ok(id)
}

fn undelete(
    db: &mut dyn Db,
    account: AccountKey,
    id: NodeId,
    place: Option<(NodeId, &str)>,
    now: i64,
) -> R<()> {
    let seq = next_seq(db, account, now)?;
    // One statement: the live-name index must see the new place and the
    // undelete together.
    let (parent, name) = match place {
        Some((p, n)) => (Some(p), Some(n)),
        None => (None, None),
    };
    db.exec(
        "UPDATE nodes SET deleted = 0, deleted_at = NULL, deleted_by = NULL, delete_op = NULL,
         purged = 0, seq = ?2, parent = COALESCE(?3, parent), name = COALESCE(?4, name)
         WHERE id = ?1",
        args![id, seq, parent, name],
    )?;
    Ok(())
}

/// Where a restore goes: the folder asked for, or the old parent (revived).
fn destination(
    db: &mut dyn Db,
    account: AccountKey,
    node: &Node,
    req: &RestoreRequest,
    now: i64,
) -> R<(NodeId, String)> {
    let parent = match req.to_parent {
        Some(p) => live_dir(db, account, p)?.id,
        None => revive_dir(db, account, node.parent.ok_or_else(not_found)?, now)?,
    };
    let name = req.to_name.clone().unwrap_or_else(|| node.name.clone());
    valid_name(&name)?;
    let name = free_name(db, account, parent, &name, node.kind, now)?;
    Ok((parent, name))
}

fn gone(node: &Node) -> StoreError {
    NotFound::Purged(node.name.clone()).into()
}

fn purged(db: &mut dyn Db, id: NodeId) -> R<bool> {
    Ok(db
        .query_one("SELECT purged FROM nodes WHERE id = ?1", args![id])?
        .flag(0)?)
}

pub(super) fn restore(
    db: &mut dyn Db,
    account: AccountKey,
    device: DeviceId,
    req: &RestoreRequest,
    now: i64,
    keep: u32,
) -> R<RestoreResponse> {
    let node = get_node(db, account, req.node)?;
    if node.parent.is_none() {
        return Err(Invalid::RestoreRoot.into());
    }
    let (id, files) = match req.rev {
        None => restore_deleted(db, account, &node, req, now)?,
        Some(rev) => (
            restore_version(db, account, device, &node, rev, req, now, keep)?,
            1,
        ),
    };
    Ok(RestoreResponse {
        node: get_node(db, account, id)?,
        path: path_of(db, account, id)?,
        files,
    })
}

/// A deleted node and everything the same delete removed below it.
fn restore_deleted(
    db: &mut dyn Db,
    account: AccountKey,
    node: &Node,
    req: &RestoreRequest,
    now: i64,
) -> R<(NodeId, u64)> {
    if !node.deleted {
        return Err(Conflict::NotDeleted(node.name.clone()).into());
    }
    if purged(db, node.id)? {
        return Err(gone(node));
    }
    // Parents before children, so the feed never names a parent it has not shown.
    let subtree: Vec<(NodeId, String, u64)> = db
        .query(
            "WITH RECURSIVE sub(id, depth) AS (
                SELECT CAST(?1 AS BIGINT), 0
                UNION ALL SELECT n.id, sub.depth + 1 FROM nodes n JOIN sub ON n.parent = sub.id
                WHERE n.deleted = 1 AND n.purged = 0
                  AND n.delete_op = (SELECT delete_op FROM nodes WHERE id = ?1))
             SELECT n.id, n.kind, n.size FROM sub JOIN nodes n ON n.id = sub.id
             ORDER BY sub.depth, n.id",
            args![node.id],
        )?
        .iter()
        .map(|r| Ok((r.int(0)?, r.text(1)?, r.size(2)?)))
        .collect::<Result<_, DbError>>()?;
    let files = subtree.iter().filter(|(_, k, _)| k == "file").count() as u64;
    let bytes: u64 = subtree
        .iter()
        .filter(|(_, k, _)| k == "file")
        .map(|(_, _, s)| *s)
        .sum();
    quota_check(db, account, bytes, 0)?;
    let (parent, name) = destination(db, account, node, req, now)?;
    for (i, (id, _, _)) in subtree.iter().enumerate() {
        let place = (i == 0).then_some((parent, name.as_str()));
        undelete(db, account, *id, place, now)?;
    }
    Ok((node.id, files))
}

/// An earlier revision of a file: as its current content, as a copy beside
/// it, or (for a deleted file) back in its place with that content.
#[allow(clippy::too_many_arguments)]
fn restore_version(
    db: &mut dyn Db,
    account: AccountKey,
    device: DeviceId,
    node: &Node,
    rev: i64,
    req: &RestoreRequest,
    now: i64,
    keep: u32,
) -> R<NodeId> {
    if node.kind != NodeKind::File {
        return Err(Invalid::FolderVersions.into());
    }
    let row = if rev == node.rev {
        if purged(db, node.id)? {
            return Err(gone(node));
        }
        db.query_one(
            "SELECT size, hash, chunks FROM nodes WHERE id = ?1",
            args![node.id],
        )?
    } else {
        db.query_opt(
            "SELECT size, hash, chunks FROM versions WHERE node = ?1 AND rev = ?2",
            args![node.id, rev],
        )?
        .ok_or_else(|| {
            StoreError::from(NotFound::Revision {
                name: node.name.clone(),
                rev,
            })
        })?
    };
    let (hash, chunks_json) = (row.text(1)?, row.text(2)?);
    let content = Content {
        size: row.size(0)?,
        hash: &hash,
        chunks_json: &chunks_json,
        mtime_ms: now * 1000,
        // Versions keep no exec bit of their own: the file's stays.
        exec: node.exec,
    };
    let copy = req.as_copy || req.to_parent.is_some() || req.to_name.is_some();
    if copy {
        quota_check(db, account, content.size, 0)?;
        let (parent, name) = destination(db, account, node, req, now)?;
        return insert_file(db, account, device, parent, &name, &content, now);
    }
    if node.deleted {
        if purged(db, node.id)? {
            return Err(gone(node));
        }
        quota_check(db, account, content.size, 0)?;
        let (parent, name) = destination(db, account, node, req, now)?;
        undelete(db, account, node.id, Some((parent, &name)), now)?;
    } else {
        quota_check(db, account, content.size, node.size)?;
    }
    if node.hash != hash {
        replace_content(db, account, device, node.id, &content, now, keep)?;
    }
    Ok(node.id)
}

/// The retention job: empties trash entries deleted before `before` and drops
/// versions replaced before it. Returns (nodes purged, versions dropped).
pub(super) fn purge(db: &mut dyn Db, before: i64) -> R<(u64, u64)> {
    let nodes = db.exec(
        "UPDATE nodes SET purged = 1, chunks = '[]'
         WHERE deleted = 1 AND purged = 0 AND deleted_at < ?1",
        args![before],
    )?;
    let versions = db.exec(
        "DELETE FROM versions WHERE created_at < ?1
         OR node IN (SELECT id FROM nodes WHERE purged = 1)",
        args![before],
    )?;
    Ok((nodes, versions))
}

impl<B: Backend> Trash for SqlStore<B> {
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
        self.read(|db| trash(db, account, query, offset, limit))
    }

    fn lookup(&self, account: AccountKey, path: &str) -> StoreResult<Node> {
        self.read(|db| lookup(db, account, path))
    }

    fn restore(
        &self,
        account: AccountKey,
        device: DeviceId,
        req: &RestoreRequest,
        now: i64,
    ) -> StoreResult<RestoreResponse> {
        let keep = self.keep_versions;
        self.write(|db| restore(db, account, device, req, now, keep))
    }

    fn purge_expired(&self, before: i64) -> StoreResult<(u64, u64)> {
        self.write(|db| purge(db, before))
    }
}
