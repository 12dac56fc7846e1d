//! The app's view of the agreements and of the account itself, from the
//! engine's answers to the IPC types: "Privacy and legal" (every document
//! the service publishes, with this account's record), what cancelling
//! would delete, and the export with its progress.

use std::collections::BTreeMap;

use nubo_engine::account::{self, LegalView};
use nubo_engine::{Engine, Home};
use nubo_ipc::*;
use nubo_protocol::{AccountSummary, AgeConfirmation, AgreementDoc};

pub fn requirement(r: nubo_protocol::Requirement) -> Requirement {
    match r {
        nubo_protocol::Requirement::SignIn => Requirement::SignIn,
        nubo_protocol::Requirement::Sync => Requirement::Sync,
        nubo_protocol::Requirement::Optional => Requirement::Optional,
    }
}

/// The documents as shown, as the service takes them.
pub fn shown_items(shown: Vec<ShownDocument>) -> Vec<nubo_protocol::AcceptItem> {
    shown
        .into_iter()
        .map(|d| nubo_protocol::AcceptItem {
            id: d.id,
            version: d.version,
            locale: d.locale,
        })
        .collect()
}

fn titles_of(docs: &[AgreementDoc], id: &str, version: &str) -> BTreeMap<String, String> {
    docs.iter()
        .filter(|d| d.id == id && d.version == version)
        .map(|d| (d.locale.clone(), d.title.clone()))
        .collect()
}

fn record(view: &LegalView, id: &str) -> Option<LegalRecord> {
    let status = view.status.as_ref()?;
    let a = status.accepted.iter().rev().find(|a| a.id == id)?;
    Some(LegalRecord {
        kind: if a.declined {
            RecordKind::Declined
        } else if a.withdrawn {
            RecordKind::Withdrawn
        } else {
            RecordKind::Accepted
        },
        version: a.version.clone(),
        locale: a.locale.clone(),
        at: a.accepted_at,
        age: match a.age {
            AgeConfirmation::Adult => Age::Adult,
            AgeConfirmation::Guardian => Age::Guardian,
        },
        titles: titles_of(&view.versions, id, &a.version),
    })
}

/// Every document published now (the version in force), push terms
/// included, each with the account's latest record of it.
pub fn documents(view: &LegalView) -> Vec<LegalDocument> {
    let mut out: Vec<LegalDocument> = Vec::new();
    for d in view.published.iter().filter(|d| d.in_force) {
        if let Some(doc) = out.iter_mut().find(|x| x.id == d.id) {
            doc.titles.insert(d.locale.clone(), d.title.clone());
            doc.locales.push(d.locale.clone());
            continue;
        }
        let upcoming = view
            .published
            .iter()
            .filter(|u| u.id == d.id && !u.in_force && u.effective > d.effective)
            .map(|u| Upcoming {
                version: u.version.clone(),
                effective: u.effective.clone(),
            })
            .next();
        out.push(LegalDocument {
            id: d.id.clone(),
            titles: [(d.locale.clone(), d.title.clone())].into(),
            locales: vec![d.locale.clone()],
            version: d.version.clone(),
            effective: d.effective.clone(),
            required: requirement(d.required),
            record: record(view, &d.id),
            upcoming,
        });
    }
    out
}

pub async fn load(home: &Home, server: &str) -> anyhow::Result<Vec<LegalDocument>> {
    Ok(documents(&account::legal(home, server).await?))
}

/// What cancelling deletes; `synced_here` tells the top-level items this
/// computer keeps.
pub fn summary_view(s: &AccountSummary, synced_here: impl Fn(&str) -> bool) -> AccountSummaryView {
    AccountSummaryView {
        files: s.files,
        bytes: s.bytes,
        trash_files: s.trash_files,
        trash_bytes: s.trash_bytes,
        versions: s.versions,
        version_bytes: s.version_bytes,
        only_on_service: s
            .top
            .iter()
            .filter(|t| !synced_here(&t.name))
            .map(|t| WaitingFolder {
                path: format!("/{}", t.name),
                bytes: t.bytes,
            })
            .collect(),
    }
}

pub async fn export(
    engine: &Engine,
    dir: &std::path::Path,
    trash: bool,
    progress: impl Fn(&ExportProgressView),
) -> anyhow::Result<ExportSummary> {
    let report = nubo_engine::export::export(engine.remote().as_ref(), dir, trash, |p| {
        progress(&ExportProgressView {
            files_done: p.files_done,
            files_total: p.files_total,
            bytes_done: p.bytes_done,
            bytes_total: p.bytes_total,
            path: p.path.clone(),
        })
    })
    .await?;
    Ok(ExportSummary {
        files: report.files,
        unchanged: report.unchanged,
        skipped: report.skipped,
    })
}
