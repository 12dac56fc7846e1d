//! Agreement records beyond acceptances: declines, and the archive of every
//! published version of every document, so that the version a user accepted
//! can be shown again after the operator replaced it.

use nubo_protocol::{AcceptItem, AgreementDoc, Requirement};

use super::R;
use crate::store::db::{args, Db, DbError, Row};
use crate::store::{AccountKey, DeviceId};

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
