//! The rules of DESIGN.md a run must end with, written once: every test of
//! the simulator checks exactly these.

use std::collections::{BTreeMap, BTreeSet};

use nubo_engine::content::hash_bytes;
use nubo_engine::ignore_rules::CachedRules;
use nubo_engine::tree::{ContentHash, Kind};

use crate::memfs::Entry;
use crate::world::{user_files, Client, World};

pub fn check(w: &World) -> Result<(), String> {
    same_tree_everywhere(w)?;
    nothing_written_is_lost(w)?;
    nothing_outside_the_roots(w)?;
    no_leftovers(w)?;
    database_matches_disk(w)?;
    usage_is_the_live_files(w)?;
    watching_clients_know_their_disks(w)?;
    Ok(())
}

/// A watching client told of every change since its last whole read knows
/// its disk after each pass as a whole read finds it (`World::sync`).
fn watching_clients_know_their_disks(w: &World) -> Result<(), String> {
    match w.stale.first() {
        Some(first) => Err(first.clone()),
        None => Ok(()),
    }
}

/// The account's used bytes (kept by the service's triggers, the quota's
/// measure) are exactly the sizes of its live files.
fn usage_is_the_live_files(w: &World) -> Result<(), String> {
    use nubo_server::store::ChunkRecords;
    let live: u64 = w
        .service
        .tree()
        .values()
        .flatten()
        .map(|c| c.len() as u64)
        .sum();
    let used = w
        .service
        .store()
        .used_bytes(w.service.account)
        .map_err(|e| e.to_string())?;
    if used != live {
        return Err(format!(
            "the service counts {used} bytes used, its live files hold {live}"
        ));
    }
    Ok(())
}

/// Folders of one client, relative to its root.
fn local_dirs(w: &World, c: usize) -> BTreeSet<String> {
    let root = w.client_root(c);
    w.clients[c]
        .fs
        .inner
        .lock()
        .unwrap()
        .entries
        .iter()
        .filter(|(p, e)| matches!(e, Entry::Dir { .. }) && p.starts_with(root) && *p != root)
        .map(|(p, _)| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Whether a client syncs `path` (a file unless `dir`): its own ignore
/// rules and exclusions say so (as its walk does), and the path fits its
/// disk's limit.
fn synced_by(c: &Client, rules: &mut CachedRules<'_>, path: &str, dir: bool) -> bool {
    let full = c.root.as_os_str().len() + 1 + path.len();
    !rules.is_ignored(path, dir) && full < crate::memfs::PATH_MAX
}

/// All clients and the service hold the same tree, each as far as it
/// syncs it (its own ignore rules and exclusions).
fn same_tree_everywhere(w: &World) -> Result<(), String> {
    let service = w.service.tree();
    for (i, c) in w.clients.iter().enumerate() {
        let rules = c.rules();
        let mut cached = rules.cached();
        let remote_files: BTreeMap<&String, &Vec<u8>> = service
            .iter()
            .filter_map(|(p, d)| Some((p, d.as_ref()?)))
            .filter(|(p, _)| synced_by(c, &mut cached, p, false))
            .collect();
        let remote_dirs: BTreeSet<&String> = service
            .iter()
            .filter(|(p, d)| d.is_none() && synced_by(c, &mut cached, p, true))
            .map(|(p, _)| p)
            .collect();
        let all_files = user_files(c);
        let files: BTreeMap<&String, &Vec<u8>> = all_files
            .iter()
            .filter(|(p, _)| synced_by(c, &mut cached, p, false))
            .collect();
        if files != remote_files {
            let here: BTreeSet<_> = files.keys().collect();
            let there: BTreeSet<_> = remote_files.keys().collect();
            let differ: Vec<_> = files
                .iter()
                .filter(|(p, d)| remote_files.get(*p).is_some_and(|r| r != *d))
                .map(|(p, _)| p)
                .collect();
            return Err(format!(
                "{} differs from the service: only here {:?}, only there {:?}, other content {:?}",
                c.name,
                here.difference(&there).collect::<Vec<_>>(),
                there.difference(&here).collect::<Vec<_>>(),
                differ
            ));
        }
        let all_dirs = local_dirs(w, i);
        let dirs: BTreeSet<&String> = all_dirs
            .iter()
            .filter(|p| synced_by(c, &mut cached, p, true))
            .collect();
        if dirs != remote_dirs {
            return Err(format!(
                "{}'s folders differ from the service's: here {dirs:?}, there {remote_dirs:?}",
                c.name
            ));
        }
    }
    Ok(())
}

/// No sync lost what was on its disk (checked after every sync, crashed or
/// not), and the service still holds everything it ever held (live, in its
/// trash, or as a version). What a user overwrites or deletes before it was
/// ever synced is the user's doing, not a loss.
fn nothing_written_is_lost(w: &World) -> Result<(), String> {
    if let Some(first) = w.lost.first() {
        return Err(format!("{first} ({} losses in all)", w.lost.len()));
    }
    let kept = w.service.kept_hashes();
    let gone: Vec<&String> = w.committed.iter().filter(|h| !kept.contains(*h)).collect();
    if gone.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the service lost {} contents it held: {gone:?}",
            gone.len()
        ))
    }
}

fn nothing_outside_the_roots(w: &World) -> Result<(), String> {
    for c in &w.clients {
        for p in c.fs.paths() {
            if !p.starts_with(&c.root) && !c.root.starts_with(&p) {
                return Err(format!(
                    "{} wrote outside its folder: {}",
                    c.name,
                    p.display()
                ));
            }
        }
    }
    Ok(())
}

fn no_leftovers(w: &World) -> Result<(), String> {
    for c in &w.clients {
        if let Some(p) = c.fs.paths().into_iter().find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| c.is_engine_temp(n))
        }) {
            return Err(format!("{} left a temp file: {}", c.name, p.display()));
        }
    }
    Ok(())
}

/// The merge base each client keeps is what is on its disk.
fn database_matches_disk(w: &World) -> Result<(), String> {
    for c in &w.clients {
        let synced = c
            .engine()
            .db
            .load_synced(1)
            .map_err(|e| format!("{}: {e:#}", c.name))?;
        let files = user_files(c);
        let rules = c.rules();
        let mut cached = rules.cached();
        let db_files: BTreeMap<&String, Option<ContentHash>> = synced
            .iter()
            .filter(|(p, s)| s.kind == Kind::File && synced_by(c, &mut cached, p, false))
            .map(|(p, s)| (p, s.hash))
            .collect();
        let disk_ref: BTreeMap<&String, Option<ContentHash>> = files
            .iter()
            .filter(|(p, _)| synced_by(c, &mut cached, p, false))
            .map(|(p, d)| (p, Some(hash_bytes(d))))
            .collect();
        if db_files != disk_ref {
            return Err(format!(
                "{}'s state database does not match its disk: db {:?}, disk {:?}",
                c.name,
                db_files.keys().collect::<Vec<_>>(),
                disk_ref.keys().collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}
