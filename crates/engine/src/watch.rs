//! What wakes the sync loop: file-system events (notify, a watch per
//! folder) and the service's push channel. Each event's paths are noted as
//! `Changes` for the next pass, which reads only those from disk; an
//! overflowed queue, an error of the watcher, or more paths than
//! `changes::MAX_PATHS` make the folder read whole. Folders the system has
//! no watch left for are counted; the loop then scans periodically.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::Sender;

use crate::changes::Changes;
use crate::db::FolderId;
use crate::engine::Wake;
use crate::home::FolderConfig;
use crate::ignore_rules::IGNORE_FILE;
use crate::remote::HttpRemote;

/// Keeps the watchers alive while held; says how many folders could not
/// be watched (the system's limit on watches reached).
pub struct Watchers {
    folders: Vec<FolderWatch>,
}

struct FolderWatch {
    _watcher: Arc<Mutex<notify::RecommendedWatcher>>,
    unwatched: Arc<Unwatched>,
}

/// The folders the system refused a watch.
#[derive(Default)]
struct Unwatched(Mutex<std::collections::HashSet<PathBuf>>);

impl Unwatched {
    fn add(&self, dir: &Path) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dir.to_path_buf());
    }

    /// How many, of those still there.
    fn count(&self) -> usize {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        set.retain(|d| d.is_dir());
        set.len()
    }
}

impl Watchers {
    /// Folders (directories inside the synced folders) no watch covers:
    /// their changes are only seen by the loop's periodic scans.
    pub fn unwatched(&self) -> usize {
        self.folders.iter().map(|f| f.unwatched.count()).sum()
    }
}

/// Watches every folder the sync covers, one watch per directory (those
/// the ignore rules leave out are not watched), adding watches for folders
/// made later. A watch the system refuses (its limit, `max_user_watches`,
/// reached) is counted, not fatal: `Watchers::unwatched`.
pub fn watch_folders(
    folders: &[FolderConfig],
    wake: Sender<Wake>,
    pending: Arc<Mutex<Changes>>,
) -> notify::Result<Watchers> {
    let mut out = Vec::new();
    for f in folders {
        let unwatched = Arc::new(Unwatched::default());
        let (made_tx, made_rx) = std::sync::mpsc::channel::<PathBuf>();
        let tx = wake.clone();
        let (noted, folder_id, root) = (pending.clone(), f.id, f.local.clone());
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            note_event(&noted, folder_id, &root, &res);
            if let Ok(e) = &res {
                for p in to_watch(&root, e) {
                    let _ = made_tx.send(p);
                }
            }
            if is_relevant(&res) {
                tracing::debug!("woken by {res:?}");
                let _ = tx.try_send(Wake::LocalChange);
            }
        })?;
        let watcher = Arc::new(Mutex::new(watcher));
        let rules = crate::ignore_rules::IgnoreRules::load(&f.local, &f.excluded);
        watch_tree(&watcher, &f.local, &f.local, &rules, &unwatched);
        // New folders get their watches off the watcher's own thread (its
        // handler must not call into it); then the loop looks once more,
        // for what was written in them before their watch was there.
        let (w, count, folder) = (watcher.clone(), unwatched.clone(), f.clone());
        let (wake_again, noted) = (wake.clone(), pending.clone());
        std::thread::spawn(move || {
            for made in made_rx {
                let rules = crate::ignore_rules::IgnoreRules::load(&folder.local, &folder.excluded);
                // Never through a link: its watch would be its target's,
                // and the target's events would then be told under the
                // link's name.
                let is_dir = std::fs::symlink_metadata(&made).is_ok_and(|m| m.is_dir());
                if is_dir && watch_tree(&w, &folder.local, &made, &rules, &count) {
                    match crate::scanner::rel_path(&folder.local, &made) {
                        Some(rel) if !rel.is_empty() => lock(&noted).path(folder.id, rel, true),
                        _ => {}
                    }
                    let _ = wake_again.try_send(Wake::NewFolderWatched);
                }
            }
        });
        out.push(FolderWatch {
            _watcher: watcher,
            unwatched,
        });
    }
    Ok(Watchers { folders: out })
}

/// A watch on `start` and every folder in it the rules do not ignore (as
/// the scan's walk sees them); the folders the system refuses a watch are
/// counted in `unwatched`. Whether any watch was added.
fn watch_tree(
    watcher: &Mutex<notify::RecommendedWatcher>,
    root: &Path,
    start: &Path,
    rules: &crate::ignore_rules::IgnoreRules,
    unwatched: &Unwatched,
) -> bool {
    // `start` itself too: the walk below never filters where it begins.
    if let Some(rel) = crate::scanner::rel_path(root, start) {
        if rules.cached().is_ignored(&rel, true) {
            return false;
        }
    }
    let filter_root = root.to_path_buf();
    let filter_rules = rules.clone();
    let dirs = ignore::WalkBuilder::new(start)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .filter_entry(move |e| {
            e.file_type().is_some_and(|t| t.is_dir())
                && crate::scanner::rel_path(&filter_root, e.path())
                    .is_none_or(|rel| !filter_rules.is_ignored_in_walk(&rel, true))
        })
        .build()
        .filter_map(Result::ok);
    let mut w = watcher.lock().unwrap_or_else(|p| p.into_inner());
    let mut added = false;
    for dir in dirs {
        match w.watch(dir.path(), RecursiveMode::NonRecursive) {
            Ok(()) => added = true,
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                unwatched.add(dir.path());
            }
            // Gone meanwhile, or unreadable: the scan says so.
            Err(e) => tracing::debug!("no watch on {}: {e}", dir.path().display()),
        }
    }
    added
}

/// What an event says may need a watch: a folder made, moved in, or
/// whose permissions changed (a folder that could not be read had none);
/// the whole folder again when its ignore file changed (what it no longer
/// ignores has none).
fn to_watch(root: &Path, e: &notify::Event) -> Vec<PathBuf> {
    use notify::event::{CreateKind, EventKind, ModifyKind};
    match e.kind {
        EventKind::Create(CreateKind::Folder)
        | EventKind::Modify(ModifyKind::Name(_))
        | EventKind::Modify(ModifyKind::Metadata(_)) => e.paths.clone(),
        _ if e.paths.iter().any(|p| *p == root.join(IGNORE_FILE)) => vec![root.to_path_buf()],
        _ => Vec::new(),
    }
}

/// Whether an event is a read, which changes nothing; a file written
/// through a mapping says so only when it is closed.
fn is_read(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    matches!(kind, EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write))
}

fn lock(pending: &Mutex<Changes>) -> std::sync::MutexGuard<'_, Changes> {
    pending.lock().unwrap_or_else(|p| p.into_inner())
}

/// Notes what an event says changed in the folder at `root`: its paths
/// (what is inside too, for a folder made or moved in), or the whole
/// folder where events were lost.
fn note_event(
    pending: &Mutex<Changes>,
    folder: FolderId,
    root: &Path,
    res: &notify::Result<notify::Event>,
) {
    use notify::event::{EventKind, ModifyKind};
    let event = match res {
        Ok(e) if !e.need_rescan() => e,
        // An overflowed queue, or the watcher's own failure.
        _ => return lock(pending).folder(folder),
    };
    if is_read(&event.kind) {
        return;
    }
    let deep = matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_)) | EventKind::Any
    );
    let mut pending = lock(pending);
    for p in &event.paths {
        match crate::scanner::rel_path(root, p) {
            Some(rel) if !rel.is_empty() => pending.path(folder, rel, deep),
            // The folder itself: its root is checked each pass.
            Some(_) => {}
            None => pending.folder(folder),
        }
    }
}

/// Whether a file-system event may mean a change to sync.
fn is_relevant(res: &notify::Result<notify::Event>) -> bool {
    match res {
        // Opening and reading (the scanner's own walk among them) changes
        // nothing; waking on it would rescan for ever.
        Ok(e) if is_read(&e.kind) => false,
        // The engine's own files (temp downloads, the marker) are not news.
        Ok(e) => {
            e.paths.is_empty()
                || !e.paths.iter().all(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(".nubo") && n != IGNORE_FILE)
                })
        }
        // An error, an overflowed queue among them: rescan to be sure.
        Err(_) => true,
    }
}

/// Follows the push channel for ever, reconnecting with backoff; polling
/// covers the gaps. `up` says whether the channel is open (the service's
/// first event arrives as soon as it is), so the loop polls only without it.
pub async fn follow_push(http: Arc<HttpRemote>, wake: Sender<Wake>, up: Arc<AtomicBool>) {
    let mut backoff = crate::backoff::Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<i64>(16);
        let forward = {
            let wake = wake.clone();
            let up = up.clone();
            async move {
                while rx.recv().await.is_some() {
                    up.store(true, Ordering::SeqCst);
                    if wake.send(Wake::Push).await.is_err() {
                        return;
                    }
                }
            }
        };
        let (res, _) = tokio::join!(http.follow_events(tx), forward);
        // Wake the loop once when an open channel closes, so that it polls
        // again while the channel is down; failed reconnects do not.
        if up.swap(false, Ordering::SeqCst) && wake.send(Wake::PushClosed).await.is_err() {
            return;
        }
        if wake.is_closed() {
            return;
        }
        if let Err(e) = res {
            tracing::info!("push channel closed ({e}); polling until it is back");
        }
        tokio::time::sleep(backoff.failed()).await;
    }
}
