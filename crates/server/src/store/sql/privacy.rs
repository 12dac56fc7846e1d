//! What the account lifecycle deletes, and what a person may see and change
//! about their account: the content deleted 30 days after freezing, the
//! personal rows erased at cancellation (what is kept, and why, is in the
//! README), a summary of what the account stores, and its password.

use nubo_protocol::{AccountSummary, TopItem};

use super::nodes::{kind_of, new_root};
use super::{gc, SqlStore, R};
use crate::store::db::{args, Backend, Db};
use crate::store::{AccountKey, Privacy, StoreResult, StoredObject};
use crate::throttle::{approver_key, login_key};

/// Deletes every file, folder, trash entry, version and chunk row of the
/// account. The objects of its own that the chunk rows named, and the
/// shared ones (stored before storage per account) that no account needs
/// any more.
fn drop_content(db: &mut dyn Db, account: AccountKey) -> R<Vec<StoredObject>> {
    let shared = gc::shared_rows(db, account)?;
    let own = db
        .query(
            "SELECT DISTINCT object FROM account_chunks WHERE account = ?1 AND object IS NOT NULL",
            args![account],
        )?
        .iter()
        .map(|r| r.text(0).map(StoredObject::Own))
        .collect::<Result<Vec<_>, _>>()?;
    for sql in [
        "DELETE FROM versions WHERE node IN (SELECT id FROM nodes WHERE account = ?1)",
        "UPDATE accounts SET root_id = NULL WHERE id = ?1",
        "DELETE FROM nodes WHERE account = ?1 AND parent IS NOT NULL",
        "DELETE FROM nodes WHERE account = ?1",
        "DELETE FROM account_chunks WHERE account = ?1",
    ] {
        db.exec(sql, args![account])?;
    }
    let (mut objects, _) = gc::shared_objects(db, &shared)?;
    objects.extend(own);
    Ok(objects)
}

/// 30 days after freezing: the content goes and every device is signed
/// out (a device still holding a token learns why); the account stays, and
/// a sign-in with the password starts it over, empty. The objects no row
/// needs any more (`drop_content`).
pub(super) fn delete_content(
    db: &mut dyn Db,
    account: AccountKey,
    now: i64,
) -> R<Vec<StoredObject>> {
    let objects = drop_content(db, account)?;
    new_root(db, account)?;
    db.exec(
        "UPDATE accounts SET content_deleted_at = ?2 WHERE id = ?1",
        args![account, now],
    )?;
    db.exec(
        "UPDATE devices SET revoked = 1 WHERE account = ?1",
        args![account],
    )?;
    Ok(objects)
}

/// Cancellation: the content, the devices' names, the phone number and the
/// password hash, pending device sign-ins, the failed sign-ins counted
/// under its account ID, phone number or key; the acceptances lose their
/// device. The row keeps the account ID (reserved) and when it was
/// cancelled; the token digests stay with the record of consent, so that a
/// device coming back learns that the account is gone. Its own chunk
/// objects are all under `accounts/<key>/`, which the caller removes; the
/// shared ones no account needs any more are returned.
pub(super) fn erase_account(
    db: &mut dyn Db,
    account: AccountKey,
    now: i64,
) -> R<Vec<StoredObject>> {
    let objects = drop_content(db, account)?;
    let shared = objects
        .into_iter()
        .filter(|o| !matches!(o, StoredObject::Own(_)))
        .collect();
    forget_failures(db, account)?;
    for sql in [
        "DELETE FROM device_grants WHERE account = ?1",
        "UPDATE devices SET revoked = 1, name = '', os = '', created_at = 0, last_seen = 0
         WHERE account = ?1",
        "UPDATE acceptances SET device = 0 WHERE account = ?1",
    ] {
        db.exec(sql, args![account])?;
    }
    db.exec(
        "UPDATE accounts SET phone = NULL, password_hash = '', quota_bytes = 0,
         created_at = ?2, last_used_at = ?2, deleted_at = COALESCE(deleted_at, ?2),
         content_deleted_at = COALESCE(content_deleted_at, ?2)
         WHERE id = ?1",
        args![account, now],
    )?;
    Ok(shared)
}

/// The failed sign-ins counted under the account's ID, phone number (as
/// typed at sign-in: `throttle::login_key`) and key (codes it approved).
fn forget_failures(db: &mut dyn Db, account: AccountKey) -> R<()> {
    let row = db.query_one(
        "SELECT account_id, phone FROM accounts WHERE id = ?1",
        args![account],
    )?;
    let mut subjects = vec![login_key(&row.text(0)?), approver_key(account)];
    if let Some(phone) = row.opt_text(1)? {
        subjects.push(login_key(&phone));
    }
    for subject in &subjects {
        db.exec(
            "DELETE FROM failed_attempts WHERE subject = ?1",
            args![subject.as_str()],
        )?;
    }
    Ok(())
}

/// Accounts last used at `before` or earlier whose content is still there.
pub(super) fn to_empty(db: &mut dyn Db, before: i64) -> R<Vec<AccountKey>> {
    let rows = db.query(
        "SELECT id FROM accounts WHERE deleted_at IS NULL AND last_used_at <= ?1
         AND (content_deleted_at IS NULL OR content_deleted_at < last_used_at)",
        args![before],
    )?;
    Ok(rows.iter().map(|r| r.int(0)).collect::<Result<_, _>>()?)
}

/// Accounts not cancelled, last used at `before` or earlier.
pub(super) fn to_cancel(db: &mut dyn Db, before: i64) -> R<Vec<AccountKey>> {
    let rows = db.query(
        "SELECT id FROM accounts WHERE deleted_at IS NULL AND last_used_at <= ?1",
        args![before],
    )?;
    Ok(rows.iter().map(|r| r.int(0)).collect::<Result<_, _>>()?)
}

/// The records of consent of accounts cancelled before `before`, and their
/// devices' token digests (kept until then so that a device coming back
/// learns that the account is gone). How many records.
pub(super) fn expire_records(db: &mut dyn Db, before: i64) -> R<u64> {
    let n = db.exec(
        "DELETE FROM acceptances WHERE account IN
         (SELECT id FROM accounts WHERE deleted_at IS NOT NULL AND deleted_at < ?1)",
        args![before],
    )?;
    db.exec(
        "DELETE FROM tokens WHERE device IN (SELECT d.id FROM devices d
         JOIN accounts a ON a.id = d.account WHERE a.deleted_at IS NOT NULL AND a.deleted_at < ?1)",
        args![before],
    )?;
    Ok(n)
}

pub(super) fn summary(db: &mut dyn Db, account: AccountKey) -> R<AccountSummary> {
    let live = db.query_one(
        "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM nodes
         WHERE account = ?1 AND kind = 'file' AND deleted = 0",
        args![account],
    )?;
    let trash = db.query_one(
        "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM nodes
         WHERE account = ?1 AND kind = 'file' AND deleted = 1 AND purged = 0",
        args![account],
    )?;
    let versions = db.query_one(
        "SELECT COUNT(*), CAST(COALESCE(SUM(v.size), 0) AS BIGINT) FROM versions v
         JOIN nodes n ON n.id = v.node WHERE n.account = ?1",
        args![account],
    )?;
    let account_row = db.query_one(
        "SELECT root_id, pending_bytes FROM accounts WHERE id = ?1",
        args![account],
    )?;
    let root = account_row.int(0)?;
    // One walk of the live tree, each node carrying its top-level ancestor.
    let rows = db.query(
        "WITH RECURSIVE sub(id, top) AS (
             SELECT id, id FROM nodes WHERE account = ?1 AND parent = ?2 AND deleted = 0
             UNION ALL
             SELECT n.id, sub.top FROM nodes n JOIN sub ON n.parent = sub.id WHERE n.deleted = 0)
         SELECT t.name, t.kind, COUNT(f.id), CAST(COALESCE(SUM(f.size), 0) AS BIGINT)
         FROM sub JOIN nodes t ON t.id = sub.top
         LEFT JOIN nodes f ON f.id = sub.id AND f.kind = 'file'
         GROUP BY sub.top, t.name, t.kind
         ORDER BY 4 DESC, 1 LIMIT 100",
        args![account, root],
    )?;
    let top = rows
        .iter()
        .map(|r| {
            Ok(TopItem {
                name: r.text(0)?,
                kind: kind_of(&r.text(1)?),
                files: r.size(2)?,
                bytes: r.size(3)?,
            })
        })
        .collect::<Result<Vec<_>, crate::store::db::DbError>>()?;
    Ok(AccountSummary {
        files: live.size(0)?,
        bytes: live.size(1)?,
        trash_files: trash.size(0)?,
        trash_bytes: trash.size(1)?,
        versions: versions.size(0)?,
        version_bytes: versions.size(1)?,
        pending_bytes: account_row.size(1)?,
        top,
    })
}

impl<B: Backend> Privacy for SqlStore<B> {
    fn delete_account(&self, account: AccountKey, now: i64) -> StoreResult<Vec<StoredObject>> {
        let shared = self.write(|db| erase_account(db, account, now))?;
        self.backend.scrub()?;
        Ok(shared)
    }

    fn delete_content(&self, account: AccountKey, now: i64) -> StoreResult<Vec<StoredObject>> {
        let objects = self.write(|db| delete_content(db, account, now))?;
        self.backend.scrub()?;
        Ok(objects)
    }

    fn accounts_to_empty(&self, before: i64) -> StoreResult<Vec<AccountKey>> {
        self.read(|db| to_empty(db, before))
    }

    fn accounts_to_cancel(&self, before: i64) -> StoreResult<Vec<AccountKey>> {
        self.read(|db| to_cancel(db, before))
    }

    fn expire_records(&self, before: i64) -> StoreResult<u64> {
        self.write(|db| expire_records(db, before))
    }

    fn account_summary(&self, account: AccountKey) -> StoreResult<AccountSummary> {
        self.read(|db| summary(db, account))
    }
}
