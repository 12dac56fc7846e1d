//! The agreement documents the service publishes, loaded from a folder
//! described by a `manifest.json` (the format of `shared/agreements/`), and
//! served byte for byte as they are.

use std::collections::BTreeMap;
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
        let mut docs = Vec::new();
        let mut per_id: BTreeMap<String, (String, Requirement)> = BTreeMap::new();
        for e in manifest.documents {
            if e.file.contains('/') || e.file.contains("..") {
                bail!(
                    "agreement file {:?} must be a plain file name in the folder",
                    e.file
                );
            }
            if let Some((v, r)) = per_id.get(&e.id) {
                if *v != e.version || *r != e.required {
                    bail!(
                        "the languages of {:?} disagree on version or requirement",
                        e.id
                    );
                }
            }
            per_id.insert(e.id.clone(), (e.version.clone(), e.required));
            let body = read(&e.file)?;
            docs.push(Loaded {
                meta: AgreementDoc {
                    id: e.id,
                    locale: e.locale,
                    title: e.title,
                    version: e.version,
                    effective: e.effective,
                    required: e.required,
                },
                body,
            });
        }
        Ok(AgreementSet { docs })
    }

    pub fn list(&self) -> Vec<AgreementDoc> {
        self.docs.iter().map(|d| d.meta.clone()).collect()
    }

    pub fn body(&self, id: &str, locale: &str) -> Option<&str> {
        self.docs
            .iter()
            .find(|d| d.meta.id == id && d.meta.locale == locale)
            .map(|d| d.body.as_str())
    }

    /// Current documents (every requirement) whose version the account has not accepted.
    pub fn pending(&self, accepted: &[Acceptance]) -> Vec<PendingAgreement> {
        let mut out: Vec<PendingAgreement> = Vec::new();
        for d in &self.docs {
            // The latest record for this version decides: a withdrawal
            // undoes an earlier consent.
            let done = accepted
                .iter()
                .rev()
                .find(|a| a.id == d.meta.id && a.version == d.meta.version)
                .is_some_and(|a| !a.withdrawn);
            if done {
                continue;
            }
            match out.iter_mut().find(|p| p.id == d.meta.id) {
                Some(p) => p.locales.push(d.meta.locale.clone()),
                None => out.push(PendingAgreement {
                    id: d.meta.id.clone(),
                    version: d.meta.version.clone(),
                    title: d.meta.title.clone(),
                    locales: vec![d.meta.locale.clone()],
                    required: d.meta.required,
                }),
            }
        }
        out
    }

    pub fn required_pending(&self, accepted: &[Acceptance]) -> Vec<PendingAgreement> {
        let mut p = self.pending(accepted);
        p.retain(|p| p.required != Requirement::Optional);
        p
    }

    /// An acceptance must name a document, version and language that exist now.
    pub fn check_acceptance(&self, item: &AcceptItem) -> Result<(), String> {
        match self
            .docs
            .iter()
            .find(|d| d.meta.id == item.id && d.meta.locale == item.locale)
        {
            None => Err(format!(
                "there is no agreement {:?} in {:?}",
                item.id, item.locale
            )),
            Some(d) if d.meta.version != item.version => Err(format!(
                "version {} of {:?} is not current; read version {} and accept that",
                item.version, item.id, d.meta.version
            )),
            Some(_) => Ok(()),
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

    #[test]
    fn samples_cover_both_languages() {
        let set = AgreementSet::samples();
        for doc in set.list() {
            assert!(
                set.body(&doc.id, "en").is_some(),
                "{} lacks English",
                doc.id
            );
            assert!(
                set.body(&doc.id, "zh-CN").is_some(),
                "{} lacks Chinese",
                doc.id
            );
        }
        let pending = set.required_pending(&[]);
        assert_eq!(
            pending.len(),
            2,
            "terms and privacy are required: {pending:?}"
        );
    }

    #[test]
    fn loads_the_shared_agreements_unchanged() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/agreements");
        if !dir.exists() {
            eprintln!("SKIPPED: {} is absent on this machine", dir.display());
            return;
        }
        let set = AgreementSet::load_dir(&dir).unwrap();
        let on_disk =
            std::fs::read_to_string(dir.join("cloud-service-agreement.zh-CN.md")).unwrap();
        assert_eq!(
            set.body("cloud-service-agreement", "zh-CN"),
            Some(on_disk.as_str())
        );
        let ids: Vec<String> = set
            .required_pending(&[])
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
