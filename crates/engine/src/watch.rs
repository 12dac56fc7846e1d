//! What wakes the sync loop: file-system events (notify) and the service's
//! push channel. Any event means "rescan and replan": a full scan only reads
//! what changed, so an overflowed or coalesced event loses nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::Sender;

use crate::engine::Wake;
use crate::home::FolderConfig;
use crate::remote::HttpRemote;

/// Keeps the watchers alive while held.
pub struct Watchers {
    _inner: Vec<notify::RecommendedWatcher>,
}

pub fn watch_folders(folders: &[FolderConfig], wake: Sender<Wake>) -> notify::Result<Watchers> {
    let mut inner = Vec::new();
    for f in folders {
        let tx = wake.clone();
        let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if is_relevant(&res) {
                tracing::debug!("woken by {res:?}");
                let _ = tx.try_send(Wake::LocalChange);
            }
        })?;
        if let Err(e) = w.watch(&f.local, RecursiveMode::Recursive) {
            tracing::warn!(
                "cannot watch {} ({e}); changes there are seen at the next poll",
                f.local.display()
            );
            continue;
        }
        inner.push(w);
    }
    Ok(Watchers { _inner: inner })
}

/// Whether a file-system event may mean a change to sync.
fn is_relevant(res: &notify::Result<notify::Event>) -> bool {
    match res {
        // Opening and reading (the scanner's own walk among them) changes
        // nothing; waking on it would rescan for ever.
        Ok(e) if matches!(e.kind, notify::EventKind::Access(_)) => false,
        // The engine's own files (temp downloads, the marker) are not news.
        Ok(e) => {
            e.paths.is_empty()
                || !e.paths.iter().all(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(".nubo"))
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
    let mut backoff = Duration::from_secs(1);
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
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}
