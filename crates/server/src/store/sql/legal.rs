//! Agreement records beyond acceptances: declines, and the archive of every
//! published version of every document, so that the version a user accepted
//! can be shown again after the operator replaced it.

use nubo_protocol::{AcceptItem, Acceptance, AgeConfirmation, AgreementDoc, Requirement};

use super::{SqlStore, R};
use crate::store::db::{args, Backend, Db, DbError, Row};
use crate::store::{AccountKey, DeviceId, Legal, StoreResult};

fn requirement_str(r: Requirement) -> &'static str {
    match r {
        Requirement::SignIn => "sign-in",
        Requirement::Sync => "sync",
        Requirement::Optional => "optional",
    }
}

fn requirement_of(text: &str) -> Requirement {
    match text {
        "sign-in" => Requirement::SignIn,
        "sync" => Requirement::Sync,
        _ => Requirement::Optional,
    }
}

const DOC_COLUMNS: &str = "doc_id, locale, title, version, effective, required";

fn doc_from_row(r: &Row) -> Result<AgreementDoc, DbError> {
    Ok(AgreementDoc {
        id: r.text(0)?,
        locale: r.text(1)?,
        title: r.text(2)?,
        version: r.text(3)?,
        effective: r.text(4)?,
        required: requirement_of(&r.text(5)?),
        in_force: false,
    })
}

/// Records that the user was shown these documents and declined them.
pub(super) fn record_declines(
    db: &mut dyn Db,
    account: AccountKey,
    device: DeviceId,
    items: &[AcceptItem],
    now: i64,
) -> R<()> {
    for item in items {
        db.exec(
            "INSERT INTO acceptances (account, doc_id, version, locale, age, device, accepted_at, declined)
             VALUES (?1, ?2, ?3, ?4, 'adult', ?5, ?6, 1)",
            args![account, &item.id, &item.version, &item.locale, device, now],
        )?;
    }
    Ok(())
}

/// Keeps each document version's text the first time it is published;
/// a text once kept is never changed.
pub(super) fn archive(db: &mut dyn Db, docs: &[(AgreementDoc, String)], now: i64) -> R<()> {
    for (d, body) in docs {
        db.exec(
            "INSERT INTO agreement_texts (doc_id, version, locale, title, effective, required, body, published_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
            args![&d.id, &d.version, &d.locale, &d.title, &d.effective, requirement_str(d.required), body, now],
        )?;
    }
    Ok(())
}

pub(super) fn archived_text(
    db: &mut dyn Db,
    id: &str,
    version: &str,
    locale: &str,
) -> R<Option<String>> {
    let row = db.query_opt(
        "SELECT body FROM agreement_texts WHERE doc_id = ?1 AND version = ?2 AND locale = ?3",
        args![id, version, locale],
    )?;
    Ok(row.map(|r| r.text(0)).transpose()?)
}

/// Every version of every document the service ever published.
pub(super) fn archived_docs(db: &mut dyn Db) -> R<Vec<AgreementDoc>> {
    let rows = db.query(
        &format!("SELECT {DOC_COLUMNS} FROM agreement_texts ORDER BY published_at, doc_id, version, locale"),
        args![],
    )?;
    Ok(rows.iter().map(doc_from_row).collect::<Result<_, _>>()?)
}

fn age_str(age: AgeConfirmation) -> &'static str {
    match age {
        AgeConfirmation::Adult => "adult",
        AgeConfirmation::Guardian => "guardian",
    }
}

impl<B: Backend> Legal for SqlStore<B> {
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

    fn record_declines(
        &self,
        account: AccountKey,
        device: DeviceId,
        items: &[AcceptItem],
        now: i64,
    ) -> StoreResult<()> {
        self.write(|db| record_declines(db, account, device, items, now))
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

    fn archive_agreements(&self, docs: &[(AgreementDoc, String)], now: i64) -> StoreResult<()> {
        self.write(|db| archive(db, docs, now))
    }

    fn archived_agreement(
        &self,
        id: &str,
        version: &str,
        locale: &str,
    ) -> StoreResult<Option<String>> {
        self.read(|db| archived_text(db, id, version, locale))
    }

    fn archived_agreements(&self) -> StoreResult<Vec<AgreementDoc>> {
        self.read(archived_docs)
    }
}
