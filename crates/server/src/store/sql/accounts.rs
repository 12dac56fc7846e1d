//! Accounts, their devices, and the devices' tokens: kept as digests only;
//! a refresh token is spent in the transaction that stores its successors.

use super::nodes::new_root;
use super::{SqlStore, R};
use crate::store::db::{args, Backend, Db, DbError, Row};
use crate::store::{
    AccountKey, AccountRow, Accounts, Conflict, DeviceId, DeviceRow, NewTokens, Rotation, SignOut,
    StoreError, StoreResult, TokenKind, TokenOwner,
};

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

/// `Accounts::rotate_refresh` inside its transaction. The spent token's
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

/// A new password hash; the devices named by `sign_out` are signed out.
fn set_password(db: &mut dyn Db, account: AccountKey, hash: &str, sign_out: SignOut) -> R<()> {
    db.exec(
        "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
        args![account, hash],
    )?;
    let keep = match sign_out {
        SignOut::Nobody => return Ok(()),
        SignOut::AllBut(device) => device,
        SignOut::Everyone => -1,
    };
    db.exec(
        "DELETE FROM tokens WHERE device IN
         (SELECT id FROM devices WHERE account = ?1 AND id != ?2)",
        args![account, keep],
    )?;
    db.exec(
        "UPDATE devices SET revoked = 1 WHERE account = ?1 AND id != ?2",
        args![account, keep],
    )?;
    Ok(())
}

impl<B: Backend> Accounts for SqlStore<B> {
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

    fn revoke_device(&self, device: DeviceId) -> StoreResult<()> {
        self.write(|db| revoke(db, device))
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

    fn set_password(
        &self,
        account: AccountKey,
        password_hash: &str,
        sign_out: SignOut,
    ) -> StoreResult<()> {
        self.write(|db| set_password(db, account, password_hash, sign_out))
    }
}
