//! Each account's chunks (`account_chunks`): one row per chunk an account
//! uploaded, with the size the service measured, when it came, whether a
//! commit has named it yet, and where the account's own copy lies. What
//! the quota counts comes from here and from the live files (`Usage`); a
//! later garbage collection finds an account's unreferenced chunks here
//! (ARCHITECTURE.md, "Chunks per account").

use std::collections::{HashMap, HashSet};

use nubo_protocol::ChunkRef;

use super::{SqlStore, R};
use crate::store::db::{args, Backend, Db, Row};
use crate::store::{
    AccountKey, ChunkPlace, ChunkRecords, Invalid, ObjectRange, PlacedChunk, StoreError,
    StoreResult, Usage,
};

pub(super) fn usage(db: &mut dyn Db, account: AccountKey) -> R<Usage> {
    let row = db.query_one(
        "SELECT quota_bytes, used_bytes, pending_bytes FROM accounts WHERE id = ?1",
        args![account],
    )?;
    Ok(Usage {
        quota: row.size(0)?,
        files: row.size(1)?,
        pending: row.size(2)?,
    })
}

/// Refuses live files of `adding` bytes to the account while `freeing` go.
pub(super) fn quota_check(
    db: &mut dyn Db,
    account: AccountKey,
    adding: u64,
    freeing: u64,
) -> R<()> {
    Ok(usage(db, account)?.check_files(adding, freeing)?)
}

/// The account's row of a chunk: (size, committed).
fn row_of(db: &mut dyn Db, account: AccountKey, hash: &str) -> R<Option<(u64, bool)>> {
    let row = db.query_opt(
        "SELECT size, committed FROM account_chunks WHERE account = ?1 AND hash = ?2",
        args![account, hash],
    )?;
    Ok(row
        .map(|r| Ok::<_, crate::store::db::DbError>((r.size(0)?, r.flag(1)?)))
        .transpose()?)
}

pub(super) fn missing(db: &mut dyn Db, account: AccountKey, hashes: &[String]) -> R<Vec<String>> {
    let mut seen = HashSet::with_capacity(hashes.len());
    let mut missing = Vec::new();
    for h in hashes {
        if seen.insert(h.as_str()) && row_of(db, account, h)?.is_none() {
            missing.push(h.clone());
        }
    }
    Ok(missing)
}

/// `ChunkRecords::store_chunks` inside its transaction.
pub(super) fn store(
    db: &mut dyn Db,
    account: AccountKey,
    chunks: &[ChunkRef],
    placed: &[PlacedChunk],
    now: i64,
) -> R<Vec<String>> {
    let places: HashMap<&str, &ObjectRange> =
        placed.iter().map(|p| (p.hash.as_str(), &p.at)).collect();
    let mut seen = HashSet::with_capacity(chunks.len());
    let mut new = Vec::new();
    for c in chunks {
        if seen.insert(c.hash.as_str()) && row_of(db, account, &c.hash)?.is_none() {
            new.push(c);
        }
    }
    usage(db, account)?.check_upload(new.iter().map(|c| c.size).sum())?;
    let mut recorded = Vec::with_capacity(new.len());
    for c in new {
        let at = places.get(c.hash.as_str());
        let added = db.exec(
            "INSERT INTO account_chunks (account, hash, size, created_at, committed, object, object_start)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6) ON CONFLICT DO NOTHING",
            args![
                account,
                &c.hash,
                c.size,
                now,
                at.map(|a| a.object.as_str()),
                at.map_or(0, |a| a.start)
            ],
        )?;
        if added == 1 {
            recorded.push(c.hash.clone());
        }
    }
    Ok(recorded)
}

/// Checks a commit's chunk list against what the account stored: every
/// chunk uploaded, each of the size the service measured; and marks them
/// named by a commit (no longer pending). Inside the commit's transaction,
/// so a refused commit marks nothing.
pub(super) fn claim(db: &mut dyn Db, account: AccountKey, chunks: &[ChunkRef]) -> R<()> {
    let mut sizes: HashMap<&str, Option<u64>> = HashMap::with_capacity(chunks.len());
    let mut missing = Vec::new();
    for c in chunks {
        if sizes.contains_key(c.hash.as_str()) {
            continue;
        }
        let row = row_of(db, account, &c.hash)?;
        match row {
            None => missing.push(c.hash.clone()),
            Some((_, false)) => {
                db.exec(
                    "UPDATE account_chunks SET committed = 1 WHERE account = ?1 AND hash = ?2",
                    args![account, &c.hash],
                )?;
            }
            Some((_, true)) => {}
        }
        sizes.insert(&c.hash, row.map(|(size, _)| size));
    }
    if !missing.is_empty() {
        return Err(StoreError::MissingChunks(missing));
    }
    for c in chunks {
        if let Some(Some(stored)) = sizes.get(c.hash.as_str()) {
            if *stored != c.size {
                return Err(Invalid::ChunkSize {
                    hash: c.hash.clone(),
                    stored: *stored,
                    claimed: c.size,
                }
                .into());
            }
        }
    }
    Ok(())
}

/// `ChunkRecords::chunk_places`.
pub(super) fn places(
    db: &mut dyn Db,
    account: AccountKey,
    hashes: &[String],
) -> R<Vec<Option<ChunkPlace>>> {
    let mut out = Vec::with_capacity(hashes.len());
    for h in hashes {
        let row = db.query_opt(
            "SELECT c.size, c.object, c.object_start, p.pack, p.pack_start
             FROM account_chunks c LEFT JOIN packed_chunks p ON c.object IS NULL AND p.hash = c.hash
             WHERE c.account = ?1 AND c.hash = ?2",
            args![account, h],
        )?;
        out.push(row.map(|r| place_of(h, &r)).transpose()?);
    }
    Ok(out)
}

fn place_of(hash: &str, r: &Row) -> R<ChunkPlace> {
    let size = r.size(0)?;
    Ok(match r.opt_text(1)? {
        Some(object) => ChunkPlace::Own(ObjectRange {
            object,
            start: r.size(2)?,
            size,
        }),
        None => ChunkPlace::Shared {
            hash: hash.to_string(),
            pack: match r.opt_text(3)? {
                Some(pack) => Some((pack, r.size(4)?)),
                None => None,
            },
            size,
        },
    })
}

fn used_bytes(db: &mut dyn Db, account: AccountKey) -> R<u64> {
    Ok(db
        .query_one(
            "SELECT used_bytes FROM accounts WHERE id = ?1",
            args![account],
        )?
        .size(0)?)
}

impl<B: Backend> ChunkRecords for SqlStore<B> {
    fn usage(&self, account: AccountKey) -> StoreResult<Usage> {
        self.read(|db| usage(db, account))
    }

    fn used_bytes(&self, account: AccountKey) -> StoreResult<u64> {
        self.read(|db| used_bytes(db, account))
    }

    fn store_chunks(
        &self,
        account: AccountKey,
        chunks: &[ChunkRef],
        placed: &[PlacedChunk],
        now: i64,
    ) -> StoreResult<Vec<String>> {
        self.write(|db| store(db, account, chunks, placed, now))
    }

    fn chunk_places(
        &self,
        account: AccountKey,
        hashes: &[String],
    ) -> StoreResult<Vec<Option<ChunkPlace>>> {
        self.read(|db| places(db, account, hashes))
    }

    fn missing_chunks(&self, account: AccountKey, hashes: &[String]) -> StoreResult<Vec<String>> {
        self.read(|db| missing(db, account, hashes))
    }
}
