//! Bringing back what was deleted or overwritten. The service keeps the
//! trash and the versions and does the restore (never overwriting); this
//! module maps between paths on this computer and paths on the service, runs
//! many restores with progress, and leaves the download to the next sync pass.

use std::path::{Path, PathBuf};

use anyhow::Context;
use nubo_protocol::{Node, NodeId, NodeKind, RestoreRequest, RestoreResponse, TrashList, Version};
use serde::Serialize;

use crate::home::Config;
use crate::remote::RemoteError;
use crate::Engine;

/// `/Docs/report.txt` for a path inside a synced folder on this computer;
/// anything else is taken as a path on the service already.
pub fn service_path(config: &Config, input: &str) -> String {
    let as_local = std::path::absolute(Path::new(input)).ok();
    if let Some(local) = as_local {
        for f in &config.folders {
            if let Some(rel) = crate::scanner::rel_path(&f.local, &local) {
                return join_service(&f.remote, &rel);
            }
        }
    }
    format!("/{}", input.trim_matches('/'))
}

fn join_service(base: &str, rel: &str) -> String {
    let base = base.trim_end_matches('/');
    if rel.is_empty() {
        if base.is_empty() {
            "/".into()
        } else {
            base.into()
        }
    } else {
        format!("{base}/{rel}")
    }
}

/// Where a path on the service lands on this computer, if a folder syncs it.
pub fn local_path(config: &Config, service: &str) -> Option<PathBuf> {
    config
        .folders
        .iter()
        .filter_map(|f| {
            let base = f.remote.trim_end_matches('/');
            let rest = service.strip_prefix(base)?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            let rel = rest.trim_start_matches('/');
            let excluded = f
                .excluded
                .iter()
                .any(|e| rel == e || crate::tree::is_inside(rel, e));
            (!excluded).then(|| (base.len(), crate::os_names::join(&f.local, rel)))
        })
        // The most specific folder wins when folders nest on the service.
        .max_by_key(|(len, _)| *len)
        .map(|(_, p)| p)
}

fn remote_err(e: RemoteError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// One page of the trash, newest first.
pub async fn deleted(
    engine: &Engine,
    query: &str,
    offset: u32,
    limit: u32,
) -> anyhow::Result<TrashList> {
    engine
        .remote()
        .trash(query, offset, limit)
        .await
        .map_err(remote_err)
}

/// A file and the earlier versions the service keeps of it.
#[derive(Debug, Clone, Serialize)]
pub struct FileVersions {
    pub node: Node,
    pub path: String,
    pub versions: Vec<Version>,
}

pub async fn versions(engine: &Engine, path: &str) -> anyhow::Result<FileVersions> {
    let path = service_path(&engine.config, path);
    let node = engine.remote().lookup(&path).await.map_err(remote_err)?;
    if node.kind != NodeKind::File {
        anyhow::bail!("{path} is a folder; folders have no versions, only the files in them");
    }
    let versions = engine
        .remote()
        .versions(node.id)
        .await
        .map_err(remote_err)?
        .versions;
    Ok(FileVersions {
        node,
        path,
        versions,
    })
}

/// What to bring back.
#[derive(Debug, Clone)]
pub struct Target {
    pub node: NodeId,
    /// An earlier revision of a file; `None` for a deleted item as it was.
    pub rev: Option<i64>,
    /// Somewhere else on the service: an existing folder to put it in, or a
    /// new path.
    pub to: Option<String>,
    /// With `rev`: beside the current file instead of replacing it.
    pub as_copy: bool,
    /// For messages.
    pub label: String,
}

/// Progress of `restore_many`, one call per item.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreProgress {
    pub done: usize,
    pub total: usize,
    pub label: String,
    /// Where it is now on the service, or what went wrong.
    pub result: Result<RestoreResponse, String>,
}

/// The target of a path given by a person: a deleted item, or with
/// `version` an earlier version of a file (deleted or not).
pub async fn target_for_path(
    engine: &Engine,
    path: &str,
    version: Option<i64>,
    to: Option<&str>,
) -> anyhow::Result<Target> {
    let service = service_path(&engine.config, path);
    // A trash entry at exactly that path wins over a live file that took its
    // name since.
    let entry = match version {
        None => newest_entry_at(engine, &service).await?,
        Some(_) => None,
    };
    let node = match entry {
        Some(id) => id,
        None => {
            let node = engine.remote().lookup(&service).await.map_err(remote_err)?;
            if !node.deleted && version.is_none() {
                anyhow::bail!(
                    "{service} is not deleted. To bring back older content, pick a version: \
                     `nubo restore list --versions {path}` then `nubo restore {path} --version N`"
                );
            }
            node.id
        }
    };
    Ok(Target {
        node,
        rev: version,
        to: to.map(|t| service_path(&engine.config, t)),
        as_copy: false,
        label: service,
    })
}

async fn newest_entry_at(engine: &Engine, service: &str) -> anyhow::Result<Option<NodeId>> {
    let name = service.rsplit('/').next().unwrap_or_default();
    let mut offset = 0;
    loop {
        let page = engine
            .remote()
            .trash(name, offset, 500)
            .await
            .map_err(remote_err)?;
        if let Some(hit) = page.items.iter().find(|i| i.path == service) {
            return Ok(Some(hit.id));
        }
        offset += page.items.len() as u32;
        if page.items.is_empty() || u64::from(offset) >= page.total {
            return Ok(None);
        }
    }
}

async fn request_for(engine: &Engine, t: &Target) -> anyhow::Result<RestoreRequest> {
    let mut req = RestoreRequest {
        node: t.node,
        rev: t.rev,
        to_parent: None,
        to_name: None,
        as_copy: t.as_copy,
    };
    if let Some(to) = &t.to {
        let remote = engine.remote();
        match remote.lookup(to).await {
            Ok(n) if !n.deleted && n.kind == NodeKind::Dir => req.to_parent = Some(n.id),
            _ => {
                let (parent, name) = to
                    .rsplit_once('/')
                    .filter(|(_, n)| !n.is_empty())
                    .with_context(|| format!("{to} is not a path to restore to"))?;
                let parent_path = if parent.is_empty() { "/" } else { parent };
                let p = remote.lookup(parent_path).await.map_err(remote_err)?;
                if p.deleted || p.kind != NodeKind::Dir {
                    anyhow::bail!(
                        "cannot restore to {to}: the folder {parent_path} does not exist on the service"
                    );
                }
                req.to_parent = Some(p.id);
                req.to_name = Some(name.to_string());
            }
        }
    }
    Ok(req)
}

/// Restores each target in turn on the service, reporting after each. One
/// failure does not stop the rest. The files reach this computer with the
/// next sync pass.
pub async fn restore_many(
    engine: &Engine,
    targets: &[Target],
    progress: &mut (dyn FnMut(&RestoreProgress) + Send),
) -> Vec<RestoreProgress> {
    let mut out = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let result = match request_for(engine, t).await {
            Ok(req) => engine
                .remote()
                .restore(&req)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("{e:#}")),
        };
        let p = RestoreProgress {
            done: i + 1,
            total: targets.len(),
            label: t.label.clone(),
            result,
        };
        progress(&p);
        out.push(p);
    }
    out
}
