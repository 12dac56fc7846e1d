//! The agreement documents the service publishes, loaded from a folder
//! described by a `manifest.json` (the format of `shared/agreements/`), and
//! served byte for byte as they are.

use std::path::Path;

use anyhow::{bail, Context};
use nubo_protocol::{AcceptItem, Acceptance, AgreementDoc, PendingAgreement, Requirement};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct ManifestFile {
    documents: Vec<ManifestEntry>,
}

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    id: String,
    locale: String,
    file: String,
    title: String,
    version: String,
    effective: String,
    required: Requirement,
}

#[derive(Debug, Clone)]
struct Loaded {
    meta: AgreementDoc,
    body: String,
}

/// Why an acceptance cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptanceProblem {
    /// No such document, version or language is published.
    Unknown(AcceptItem),
    /// A newer version is in force: the user read an old one.
    Outdated(AcceptItem),
}

/// The documents of one `manifest.json`. A document may be listed in
/// several versions: each applies from its `effective` date, so a revision
/// is published ahead (announced) and required only from that date.
#[derive(Debug, Clone, Default)]
pub struct AgreementSet {
    docs: Vec<Loaded>,
}

/// The project's own short sample agreements, used by `nubo serve --demo`.
const SAMPLES: &[(&str, &str)] = &[
    ("manifest.json", include_str!("../agreements/manifest.json")),
    ("terms.en.md", include_str!("../agreements/terms.en.md")),
    (
        "terms.zh-CN.md",
        include_str!("../agreements/terms.zh-CN.md"),
    ),
    ("privacy.en.md", include_str!("../agreements/privacy.en.md")),
    (
        "privacy.zh-CN.md",
        include_str!("../agreements/privacy.zh-CN.md"),
    ),
    ("push.en.md", include_str!("../agreements/push.en.md")),
    ("push.zh-CN.md", include_str!("../agreements/push.zh-CN.md")),
];

/// The manifest's promises that the rest relies on: plain file names, and
/// the languages of one version agreeing on requirement and date.
fn check_entry(e: &ManifestEntry, docs: &[Loaded]) -> anyhow::Result<()> {
    if e.file.contains('/') || e.file.contains("..") {
        bail!(
            "agreement file {:?} must be a plain file name in the folder",
            e.file
        );
    }
    // Effective dates are compared as text with today's date: only
    // YYYY-MM-DD compares right.
    let is_date = e.effective.len() == 10
        && e.effective.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            _ => c.is_ascii_digit(),
        });
    if !is_date {
        bail!(
            "the effective date {:?} of {:?} is not YYYY-MM-DD",
            e.effective,
            e.id
        );
    }
    for d in docs.iter().filter(|d| d.meta.id == e.id) {
        if d.meta.required != e.required {
            bail!("the versions of {:?} disagree on when it is required", e.id);
        }
        if d.meta.version == e.version && d.meta.effective != e.effective {
            bail!(
                "the languages of {:?} version {} disagree on the effective date",
                e.id,
                e.version
            );
        }
        if d.meta.version == e.version && d.meta.locale == e.locale {
            bail!(
                "{:?} version {} in {} is listed twice",
                e.id,
                e.version,
                e.locale
            );
        }
    }
    Ok(())
}

impl AgreementSet {
    pub fn samples() -> Self {
        Self::from_files(|name| {
            SAMPLES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| text.to_string())
                .with_context(|| format!("sample agreement {name} is not built in"))
        })
        .expect("the built-in sample agreements are valid")
    }

    pub fn load_dir(dir: &Path) -> anyhow::Result<Self> {
        Self::from_files(|name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read agreement file {}", path.display()))
        })
        .with_context(|| format!("cannot load the agreements in {}", dir.display()))
    }

    fn from_files(read: impl Fn(&str) -> anyhow::Result<String>) -> anyhow::Result<Self> {
        let manifest: ManifestFile = serde_json::from_str(&read("manifest.json")?)
            .context("manifest.json is not a valid agreements manifest")?;
        let mut docs: Vec<Loaded> = Vec::new();
        for e in manifest.documents {
            check_entry(&e, &docs)?;
            let body = read(&e.file)?;
            docs.push(Loaded {
                meta: AgreementDoc {
                    id: e.id,
                    locale: e.locale,
                    title: e.title,
                    version: e.version,
                    effective: e.effective,
                    required: e.required,
                    in_force: false,
                },
                body,
            });
        }
        Ok(AgreementSet { docs })
    }

    /// Every published document, each version and language, marked when
    /// in force on `today`.
    pub fn list(&self, today: &str) -> Vec<AgreementDoc> {
        self.docs
            .iter()
            .map(|d| AgreementDoc {
                in_force: self.in_force(&d.meta.id, today) == Some(d.meta.version.as_str()),
                ..d.meta.clone()
            })
            .collect()
    }

    /// Every document with its text, to keep in the service's archive.
    pub fn texts(&self) -> impl Iterator<Item = (&AgreementDoc, &str)> {
        self.docs.iter().map(|d| (&d.meta, d.body.as_str()))
    }

    /// The version of `id` in force on `today` (`YYYY-MM-DD`): the one
    /// with the latest effective date not after today.
    pub fn in_force(&self, id: &str, today: &str) -> Option<&str> {
        self.docs
            .iter()
            .filter(|d| d.meta.id == id && d.meta.effective.as_str() <= today)
            .max_by(|a, b| a.meta.effective.cmp(&b.meta.effective))
            .map(|d| d.meta.version.as_str())
    }

    /// The text of `id` in `locale`: of `version`, else of the version in
    /// force (else of the first published, when none is in force yet).
    pub fn body(&self, id: &str, locale: &str, version: Option<&str>, today: &str) -> Option<&str> {
        let version = version.or_else(|| self.in_force(id, today)).or_else(|| {
            self.docs
                .iter()
                .find(|d| d.meta.id == id)
                .map(|d| d.meta.version.as_str())
        })?;
        self.docs
            .iter()
            .find(|d| d.meta.id == id && d.meta.locale == locale && d.meta.version == version)
            .map(|d| d.body.as_str())
    }

    /// The versions the account has not accepted, one entry per document
    /// version with all its languages: those in force (`pending`) when
    /// `upcoming` is false, else those announced for a later date.
    fn unaccepted(
        &self,
        accepted: &[Acceptance],
        today: &str,
        upcoming: bool,
    ) -> Vec<PendingAgreement> {
        let mut out: Vec<PendingAgreement> = Vec::new();
        for d in &self.docs {
            let wanted = if upcoming {
                d.meta.effective.as_str() > today
            } else {
                self.in_force(&d.meta.id, today) == Some(d.meta.version.as_str())
            };
            // The latest record for this version decides: a withdrawal
            // undoes an earlier consent, and a decline is no consent.
            let done = accepted
                .iter()
                .rev()
                .find(|a| a.id == d.meta.id && a.version == d.meta.version && !a.declined)
                .is_some_and(|a| !a.withdrawn);
            if !wanted || done {
                continue;
            }
            match out
                .iter_mut()
                .find(|p| p.id == d.meta.id && p.version == d.meta.version)
            {
                Some(p) => p.locales.push(d.meta.locale.clone()),
                None => out.push(PendingAgreement {
                    id: d.meta.id.clone(),
                    version: d.meta.version.clone(),
                    title: d.meta.title.clone(),
                    locales: vec![d.meta.locale.clone()],
                    required: d.meta.required,
                    effective: d.meta.effective.clone(),
                }),
            }
        }
        out
    }

    /// Documents whose version in force the account has not accepted
    /// (every requirement).
    pub fn pending(&self, accepted: &[Acceptance], today: &str) -> Vec<PendingAgreement> {
        self.unaccepted(accepted, today, false)
    }

    /// Revisions announced with a later effective date, not accepted yet.
    pub fn upcoming(&self, accepted: &[Acceptance], today: &str) -> Vec<PendingAgreement> {
        self.unaccepted(accepted, today, true)
    }

    pub fn required_pending(&self, accepted: &[Acceptance], today: &str) -> Vec<PendingAgreement> {
        let mut p = self.pending(accepted, today);
        p.retain(|p| p.required != Requirement::Optional);
        p
    }

    /// An acceptance must name a published document, version and language,
    /// of the version in force or one announced for later.
    pub fn check_acceptance(
        &self,
        item: &AcceptItem,
        today: &str,
    ) -> Result<(), AcceptanceProblem> {
        let doc = self.docs.iter().find(|d| {
            d.meta.id == item.id && d.meta.locale == item.locale && d.meta.version == item.version
        });
        let Some(doc) = doc else {
            return Err(AcceptanceProblem::Unknown(item.clone()));
        };
        let in_force = self.in_force(&item.id, today);
        let current = in_force == Some(doc.meta.version.as_str())
            || doc.meta.effective.as_str() > today
            || in_force.is_none();
        if current {
            Ok(())
        } else {
            Err(AcceptanceProblem::Outdated(item.clone()))
        }
    }
}

/// The agreements as currently published. A folder source is re-read when its
/// `manifest.json` changes, so an operator publishes a new version by
/// replacing the files; clients then get `agreements_required` until they
/// accept it. A manifest that does not load keeps the previous set in force.
/// When `manifest.json` was last seen changed (mtime, size), and the set then.
type Snapshot = (
    Option<(std::time::SystemTime, u64)>,
    std::sync::Arc<AgreementSet>,
);

pub struct Published {
    dir: Option<std::path::PathBuf>,
    current: std::sync::RwLock<Snapshot>,
}

fn stamp(dir: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(dir.join("manifest.json")).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Published {
    pub fn fixed(set: AgreementSet) -> Self {
        Published {
            dir: None,
            current: std::sync::RwLock::new((None, std::sync::Arc::new(set))),
        }
    }

    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        let seen = stamp(dir);
        let set = AgreementSet::load_dir(dir)?;
        Ok(Published {
            dir: Some(dir.to_path_buf()),
            current: std::sync::RwLock::new((seen, std::sync::Arc::new(set))),
        })
    }

    /// The set in force now (one `stat` per call for a folder source).
    pub fn get(&self) -> std::sync::Arc<AgreementSet> {
        let Some(dir) = &self.dir else {
            return self
                .current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .1
                .clone();
        };
        let now = stamp(dir);
        {
            let cur = self.current.read().unwrap_or_else(|p| p.into_inner());
            if cur.0 == now {
                return cur.1.clone();
            }
        }
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        match AgreementSet::load_dir(dir) {
            Ok(set) => {
                tracing::info!("published agreements reloaded from {}", dir.display());
                *cur = (now, std::sync::Arc::new(set));
            }
            Err(e) => {
                tracing::error!("{e:#}; the previous agreements stay in force");
                cur.0 = now;
            }
        }
        cur.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: &str = "2026-11-23";

    #[test]
    fn samples_cover_both_languages() {
        let set = AgreementSet::samples();
        for doc in set.list(TODAY) {
            for locale in ["en", "zh-CN"] {
                assert!(
                    set.body(&doc.id, locale, None, TODAY).is_some(),
                    "{} lacks {locale}",
                    doc.id
                );
            }
        }
        let pending = set.required_pending(&[], TODAY);
        assert_eq!(
            pending.len(),
            2,
            "terms and privacy are required: {pending:?}"
        );
    }

    fn accepted(id: &str, version: &str) -> Acceptance {
        Acceptance {
            id: id.into(),
            version: version.into(),
            locale: "en".into(),
            accepted_at: 0,
            age: nubo_protocol::AgeConfirmation::Adult,
            device_id: 1,
            withdrawn: false,
            declined: false,
        }
    }

    /// A revision published ahead of its effective date is announced, and
    /// only required from that date; the version in force stays accepted.
    #[test]
    fn a_revision_applies_from_its_effective_date() {
        let manifest = r#"{"documents": [
            {"id": "terms", "locale": "en", "file": "t1.md", "title": "Terms", "version": "1", "effective": "2026-01-01", "required": "sign-in"},
            {"id": "terms", "locale": "en", "file": "t2.md", "title": "Terms", "version": "2", "effective": "2027-01-01", "required": "sign-in"}
        ]}"#;
        let set = AgreementSet::from_files(|name| {
            Ok(match name {
                "manifest.json" => manifest.to_string(),
                other => format!("text of {other}"),
            })
        })
        .unwrap();
        let mine = [accepted("terms", "1")];
        assert_eq!(set.in_force("terms", TODAY), Some("1"));
        assert!(set.required_pending(&mine, TODAY).is_empty());
        let next = set.upcoming(&mine, TODAY);
        assert_eq!(next.len(), 1);
        assert_eq!(
            (next[0].version.as_str(), next[0].effective.as_str()),
            ("2", "2027-01-01")
        );
        assert_eq!(set.body("terms", "en", None, TODAY), Some("text of t1.md"));
        assert_eq!(
            set.body("terms", "en", Some("2"), TODAY),
            Some("text of t2.md")
        );
        // From its date on, version 2 is required, and version 1 can no
        // longer be accepted.
        let later = "2027-01-01";
        let pending = set.required_pending(&mine, later);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].version, "2");
        let old = AcceptItem {
            id: "terms".into(),
            version: "1".into(),
            locale: "en".into(),
        };
        assert_eq!(
            set.check_acceptance(&old, later),
            Err(AcceptanceProblem::Outdated(old.clone()))
        );
        assert_eq!(set.check_acceptance(&old, TODAY), Ok(()));
        // Accepted early, it is never asked for again.
        let both = [accepted("terms", "1"), accepted("terms", "2")];
        assert!(set.upcoming(&both, TODAY).is_empty());
        assert!(set.required_pending(&both, later).is_empty());
    }

    #[test]
    fn loads_the_shared_agreements_unchanged() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/agreements");
        assert!(
            dir.join("manifest.json").exists(),
            "{} is missing: the shared real-world agreements must sit beside the repository (../shared/agreements)",
            dir.display()
        );
        let set = AgreementSet::load_dir(&dir).unwrap();
        let on_disk =
            std::fs::read_to_string(dir.join("cloud-service-agreement.zh-CN.md")).unwrap();
        assert_eq!(
            set.body("cloud-service-agreement", "zh-CN", None, TODAY),
            Some(on_disk.as_str())
        );
        let ids: Vec<String> = set
            .required_pending(&[], TODAY)
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(
            ids,
            [
                "account-user-agreement",
                "privacy-policy",
                "cloud-service-agreement"
            ]
        );
    }
}
