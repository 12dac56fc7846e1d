//! Garbage collection of chunks (ARCHITECTURE.md, "Chunks per account"):
//! one account at a time, inside one write transaction, its chunk rows
//! that nothing of the account names any more are deleted, and the
//! objects that no row of any account needs any more are handed back for
//! the chunk store to remove. A commit that meets a deleted row gets
//! `missing_chunks`, and its client uploads the chunk again.

use std::collections::{BTreeMap, HashSet};

use nubo_protocol::ChunkRef;

use super::{SqlStore, R};
use crate::store::db::{args, Backend, Db, DbError};
use crate::store::{AccountKey, ChunkGc, Garbage, StoreResult, StoredObject};

/// A chunk row found unreferenced (or erased with its account): its hash,
/// size and own object (none for a chunk stored before chunks were kept
/// per account).
pub(super) struct Dropped {
    hash: String,
    size: u64,
    object: Option<String>,
}

/// `ChunkGc::collect_garbage` inside its transaction.
pub(super) fn collect(db: &mut dyn Db, account: AccountKey, pending_before: i64) -> R<Garbage> {
    let referenced = referenced(db, account)?;
    let dropped = unreferenced(db, account, pending_before, &referenced)?;
    for d in &dropped {
        db.exec(
            "DELETE FROM account_chunks WHERE account = ?1 AND hash = ?2",
            args![account, &d.hash],
        )?;
    }
    let (mut objects, own_kept) = own_objects(db, &dropped)?;
    let (shared, shared_kept) = shared_objects(db, &dropped)?;
    objects.extend(shared);
    Ok(Garbage {
        chunks: dropped.len() as u64,
        objects,
        kept_bytes: own_kept + shared_kept,
    })
}

/// `ChunkGc::accounts_with_chunks`.
pub(super) fn accounts_with_chunks(
    db: &mut dyn Db,
    after: AccountKey,
    limit: u32,
) -> R<Vec<AccountKey>> {
    let rows = db.query(
        "SELECT id FROM accounts WHERE id > ?1
         AND EXISTS (SELECT 1 FROM account_chunks c WHERE c.account = accounts.id)
         ORDER BY id LIMIT ?2",
        args![after, limit],
    )?;
    Ok(rows.iter().map(|r| r.int(0)).collect::<Result<_, _>>()?)
}

/// Rows read at a time: an account's nodes, versions and chunk rows are
/// read in pages, so that a large account is never held whole in memory.
const PAGE: u32 = 1000;

/// The hashes named by the account's nodes (live or in the trash; a
/// purged one names none) and kept versions.
fn referenced(db: &mut dyn Db, account: AccountKey) -> R<HashSet<String>> {
    let mut hashes = HashSet::new();
    for sql in [
        "SELECT id, chunks FROM nodes WHERE account = ?1 AND kind = 'file' AND id > ?2
         ORDER BY id LIMIT ?3",
        "SELECT v.id, v.chunks FROM versions v JOIN nodes n ON n.id = v.node
         WHERE n.account = ?1 AND v.id > ?2 ORDER BY v.id LIMIT ?3",
    ] {
        let mut after = 0;
        loop {
            let rows = db.query(sql, args![account, after, PAGE])?;
            for row in &rows {
                let list: Vec<ChunkRef> = serde_json::from_str(&row.text(1)?)
                    .map_err(|e| DbError::new(format!("a stored chunk list is unreadable: {e}")))?;
                hashes.extend(list.into_iter().map(|c| c.hash));
            }
            match rows.last() {
                Some(last) if rows.len() == PAGE as usize => after = last.int(0)?,
                _ => break,
            }
        }
    }
    Ok(hashes)
}

/// The account's chunk rows not in `referenced`: committed ones, and
/// pending ones uploaded before `pending_before`.
fn unreferenced(
    db: &mut dyn Db,
    account: AccountKey,
    pending_before: i64,
    referenced: &HashSet<String>,
) -> R<Vec<Dropped>> {
    let mut dropped = Vec::new();
    let mut after = String::new();
    loop {
        let rows = db.query(
            "SELECT hash, size, object FROM account_chunks
             WHERE account = ?1 AND hash > ?2 AND (committed = 1 OR created_at < ?3)
             ORDER BY hash LIMIT ?4",
            args![account, after.as_str(), pending_before, PAGE],
        )?;
        for r in &rows {
            let hash = r.text(0)?;
            if !referenced.contains(&hash) {
                dropped.push(Dropped {
                    hash,
                    size: r.size(1)?,
                    object: r.opt_text(2)?,
                });
            }
        }
        match rows.last() {
            Some(last) if rows.len() == PAGE as usize => after = last.text(0)?,
            _ => break,
        }
    }
    Ok(dropped)
}

/// The account's rows of chunks stored before chunks were kept per
/// account, which an erasure is about to delete.
pub(super) fn shared_rows(db: &mut dyn Db, account: AccountKey) -> R<Vec<Dropped>> {
    let rows = db.query(
        "SELECT hash, size FROM account_chunks WHERE account = ?1 AND object IS NULL",
        args![account],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Dropped {
                hash: r.text(0)?,
                size: r.size(1)?,
                object: None,
            })
        })
        .collect()
}

/// The own objects of dropped rows that no row names any more, and the
/// bytes of dropped rows whose object stays (a pack partly in use).
fn own_objects(db: &mut dyn Db, dropped: &[Dropped]) -> R<(Vec<StoredObject>, u64)> {
    let mut by_object: BTreeMap<&str, u64> = BTreeMap::new();
    for d in dropped {
        if let Some(object) = &d.object {
            *by_object.entry(object).or_default() += d.size;
        }
    }
    let (mut gone, mut kept_bytes) = (Vec::new(), 0);
    for (object, bytes) in by_object {
        if named(db, object)? {
            kept_bytes += bytes;
        } else {
            gone.push(StoredObject::Own(object.to_string()));
        }
    }
    Ok((gone, kept_bytes))
}

/// Whether a chunk row of any account names this own object.
fn named(db: &mut dyn Db, object: &str) -> R<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM account_chunks WHERE object = ?1 LIMIT 1",
            args![object],
        )?
        .is_some())
}

/// `ChunkGc::unnamed_objects`.
pub(super) fn unnamed(db: &mut dyn Db, objects: &[String]) -> R<Vec<String>> {
    let mut unnamed = Vec::new();
    for object in objects {
        if !named(db, object)? {
            unnamed.push(object.clone());
        }
    }
    Ok(unnamed)
}

/// The shared objects (stored before chunks were kept per account) of
/// dropped rows that no row of any account needs any more: a chunk alone,
/// or a pack once none of its chunks is needed (its `packed_chunks` rows
/// go with it); and the bytes of chunks no longer needed in packs that stay.
pub(super) fn shared_objects(db: &mut dyn Db, dropped: &[Dropped]) -> R<(Vec<StoredObject>, u64)> {
    let mut packs: BTreeMap<String, u64> = BTreeMap::new();
    let mut gone = Vec::new();
    for d in dropped.iter().filter(|d| d.object.is_none()) {
        if shared_needed(db, &d.hash)? {
            continue;
        }
        let pack = db.query_opt(
            "SELECT pack FROM packed_chunks WHERE hash = ?1",
            args![&d.hash],
        )?;
        match pack {
            Some(row) => *packs.entry(row.text(0)?).or_default() += d.size,
            None => gone.push(StoredObject::SharedChunk(d.hash.clone())),
        }
    }
    let mut kept_bytes = 0;
    for (pack, bytes) in packs {
        if pack_needed(db, &pack)? {
            kept_bytes += bytes;
        } else {
            db.exec("DELETE FROM packed_chunks WHERE pack = ?1", args![&pack])?;
            gone.push(StoredObject::SharedPack(pack));
        }
    }
    Ok((gone, kept_bytes))
}

/// Whether a row of any account still reads this chunk from its shared copy.
fn shared_needed(db: &mut dyn Db, hash: &str) -> R<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM account_chunks WHERE hash = ?1 AND object IS NULL LIMIT 1",
            args![hash],
        )?
        .is_some())
}

/// Whether a row of any account still reads a chunk of this shared pack.
fn pack_needed(db: &mut dyn Db, pack: &str) -> R<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM packed_chunks p JOIN account_chunks c
             ON c.hash = p.hash AND c.object IS NULL WHERE p.pack = ?1 LIMIT 1",
            args![pack],
        )?
        .is_some())
}

impl<B: Backend> ChunkGc for SqlStore<B> {
    fn accounts_with_chunks(&self, after: AccountKey, limit: u32) -> StoreResult<Vec<AccountKey>> {
        self.read(|db| accounts_with_chunks(db, after, limit))
    }

    fn collect_garbage(&self, account: AccountKey, pending_before: i64) -> StoreResult<Garbage> {
        self.write(|db| collect(db, account, pending_before))
    }

    fn unnamed_objects(&self, objects: &[String]) -> StoreResult<Vec<String>> {
        self.read(|db| unnamed(db, objects))
    }
}
