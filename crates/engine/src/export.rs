//! `nubo export DIR`: the account's whole tree on the service (and, if
//! asked, its trash) copied into a local folder, with progress. Resumable:
//! a file already there with the same content is skipped, and a file is
//! written to a part file beside it, checked against its hash, then
//! renamed, so an interrupted export leaves no half file under a real
//! name. Nothing already in the folder with other content is overwritten.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nubo_protocol::names::check_name;
use nubo_protocol::{Node, NodeId, NodeKind};
use serde::Serialize;

use crate::remote::Remote;

/// Where the trash goes inside the export folder.
pub const TRASH_FOLDER: &str = "Trash (from Nubo)";
/// Chunks asked for in one request, at most (bytes).
const BATCH_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct ExportProgress {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// The file just done, relative to the export folder.
    pub path: String,
}

/// What an export did, and what it left out and why.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ExportReport {
    pub files: u64,
    pub bytes: u64,
    /// Files already in the folder with the same content (an earlier run).
    pub unchanged: u64,
    pub folders: u64,
    /// One sentence per item not written.
    pub skipped: Vec<String>,
}

/// One file or folder to write, relative to the export folder.
struct Item {
    rel: PathBuf,
    node: Node,
}

/// Every node of the account, as the change feed has them now.
async fn all_nodes(remote: &dyn Remote) -> anyhow::Result<HashMap<NodeId, Node>> {
    let mut nodes = HashMap::new();
    let mut cursor = 0;
    loop {
        let page = remote.changes(cursor, 0).await?;
        for n in page.nodes {
            nodes.insert(n.id, n);
        }
        cursor = page.cursor;
        if !page.has_more {
            return Ok(nodes);
        }
    }
}

/// The names from the top folder down to `id`, and whether any is deleted;
/// None when the chain does not reach `root`. Names are checked: nothing
/// from the service can point outside the export folder.
fn path_of(
    nodes: &HashMap<NodeId, Node>,
    root: NodeId,
    id: NodeId,
) -> Result<Option<(Vec<String>, bool)>, String> {
    let (mut names, mut deleted, mut cur) = (Vec::new(), false, id);
    for _ in 0..4096 {
        if cur == root {
            names.reverse();
            return Ok(Some((names, deleted)));
        }
        let Some(n) = nodes.get(&cur) else {
            return Ok(None);
        };
        check_name(&n.name).map_err(|p| format!("{:?} cannot be a file name here: {p}", n.name))?;
        names.push(n.name.clone());
        deleted |= n.deleted;
        cur = match n.parent {
            Some(p) => p,
            None => return Ok(None),
        };
    }
    Ok(None)
}

/// What to write: the live tree, and the trash under `TRASH_FOLDER` when
/// `trash`; folders first, then files, each sorted by path.
fn plan(
    nodes: &HashMap<NodeId, Node>,
    root: NodeId,
    trash: bool,
    report: &mut ExportReport,
) -> Vec<Item> {
    let mut items = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for n in nodes.values().filter(|n| n.id != root) {
        let (names, deleted) = match path_of(nodes, root, n.id) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(why) => {
                report.skipped.push(why);
                continue;
            }
        };
        if deleted && !trash {
            continue;
        }
        let mut rel: PathBuf = names.iter().collect();
        if deleted {
            rel = Path::new(TRASH_FOLDER).join(rel);
            // The same path deleted twice: both kept, told apart by id.
            if !taken.insert(rel.clone()) {
                let name = format!("{} ({})", names.last().cloned().unwrap_or_default(), n.id);
                rel.set_file_name(name);
            }
        }
        items.push(Item {
            rel,
            node: n.clone(),
        });
    }
    items.sort_by(|a, b| {
        (a.node.kind == NodeKind::File, &a.rel).cmp(&(b.node.kind == NodeKind::File, &b.rel))
    });
    items
}

fn same_content(path: &Path, size: u64, hash: &str) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() != size {
        return false;
    }
    let mut hasher = blake3::Hasher::new();
    match std::fs::File::open(path).and_then(|mut f| std::io::copy(&mut f, &mut hasher)) {
        Ok(_) => hasher.finalize().to_hex().as_str() == hash,
        Err(_) => false,
    }
}

/// Downloads one file into `target` through a part file beside it.
async fn download(remote: &dyn Remote, node: &Node, target: &Path) -> anyhow::Result<()> {
    let manifest = remote.manifest(node.id).await?;
    let listed: u64 = manifest.chunks.iter().map(|c| c.size).sum();
    if listed != manifest.size {
        anyhow::bail!("its content is no longer kept on the service");
    }
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let part = target.with_file_name(format!(".{name}.nubo-export-part"));
    let mut out =
        std::fs::File::create(&part).with_context(|| format!("cannot write {}", part.display()))?;
    let mut hasher = blake3::Hasher::new();
    let mut batch: Vec<String> = Vec::new();
    let mut batch_bytes = 0;
    let chunks = &manifest.chunks;
    for (i, c) in chunks.iter().enumerate() {
        batch.push(c.hash.clone());
        batch_bytes += c.size;
        let last = i + 1 == chunks.len();
        if !last && batch_bytes + chunks[i + 1].size <= BATCH_BYTES {
            continue;
        }
        for bytes in remote.get_chunks(&batch).await? {
            hasher.update(&bytes);
            out.write_all(&bytes)?;
        }
        batch.clear();
        batch_bytes = 0;
    }
    out.sync_all()?;
    drop(out);
    if hasher.finalize().to_hex().as_str() != manifest.hash {
        let _ = std::fs::remove_file(&part);
        anyhow::bail!("its content did not match its hash; try again");
    }
    std::fs::rename(&part, target)
        .with_context(|| format!("cannot move the download into {}", target.display()))?;
    Ok(())
}

/// Copies the account's tree (and its trash, when `trash`) into `dir`,
/// calling `progress` after each file.
pub async fn export(
    remote: &dyn Remote,
    dir: &Path,
    trash: bool,
    mut progress: impl FnMut(&ExportProgress),
) -> anyhow::Result<ExportReport> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let root = remote.account().await?.root_id;
    let nodes = all_nodes(remote).await?;
    let mut report = ExportReport::default();
    let items = plan(&nodes, root, trash, &mut report);
    let files: Vec<&Item> = items
        .iter()
        .filter(|i| i.node.kind == NodeKind::File)
        .collect();
    let mut p = ExportProgress {
        files_done: 0,
        files_total: files.len() as u64,
        bytes_done: 0,
        bytes_total: files.iter().map(|i| i.node.size).sum(),
        path: String::new(),
    };
    for item in items.iter().filter(|i| i.node.kind == NodeKind::Dir) {
        std::fs::create_dir_all(dir.join(&item.rel))
            .with_context(|| format!("cannot create {}", dir.join(&item.rel).display()))?;
        report.folders += 1;
    }
    for item in files {
        let target = dir.join(&item.rel);
        let shown = item.rel.display().to_string();
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if same_content(&target, item.node.size, &item.node.hash) {
            report.unchanged += 1;
        } else if std::fs::symlink_metadata(&target).is_ok() {
            report.skipped.push(format!(
                "{shown}: something else is already there; it was kept"
            ));
        } else {
            match download(remote, &item.node, &target).await {
                Ok(()) => {
                    report.files += 1;
                    report.bytes += item.node.size;
                }
                Err(e) => report.skipped.push(format!("{shown}: {e:#}")),
            }
        }
        p.files_done += 1;
        p.bytes_done += item.node.size;
        p.path = shown;
        progress(&p);
    }
    Ok(report)
}
