//! A watching engine that reads again only what its watcher named keeps
//! what it knows of the rest (issue 18): a folder that becomes another
//! synced folder's root while watched keeps its last known entries, so
//! that when it is this folder's own again nothing in it is read again and
//! nothing of it leaves the service. Counted through the engine's own
//! `LocalFs` on a real folder on disk; the service is the simulator's, in
//! process.

use std::sync::Arc;

use nubo_engine::changes::Changes;
use nubo_engine::home::ROOT_MARKER;
use nubo_engine::Outcome;
use nubo_sim::clock::SimClock;
use nubo_sim::counting::CountingFs;
use nubo_sim::service::SimService;

const FILES: usize = 1_000;
const PER_FOLDER: usize = 100;

#[test]
fn a_folder_blocked_and_freed_while_watched_is_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = nubo_sim::pc::real_folder(dir.path(), FILES, PER_FOLDER);
    let disk = Arc::new(CountingFs::new(&dir.path().join("trash")));
    let engine = nubo_sim::pc::engine(&service, &clock, "a", disk.clone(), &root, dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let marker = format!("d3/{ROOT_MARKER}");
    // As a watcher names a folder moved in: look inside too.
    let named = |path: &str| {
        let mut changes = Changes::default();
        changes.path(1, path.to_string(), true);
        changes
    };
    rt.block_on(async {
        assert!(matches!(
            engine.sync_once(false).await.unwrap(),
            Outcome::InSync
        ));
        let synced = service.tree();
        let in_d3 = |tree: &std::collections::BTreeMap<String, Option<Vec<u8>>>| {
            tree.keys().filter(|p| p.starts_with("d3/")).count()
        };
        assert_eq!(in_d3(&synced), PER_FOLDER);

        // d3 becomes the root of another synced folder: left alone.
        clock.advance_ms(3000);
        std::fs::write(root.join(&marker), "another folder").unwrap();
        engine.sync_changed(false, named("d3")).await.unwrap();
        assert_eq!(
            in_d3(&service.tree()),
            PER_FOLDER,
            "left alone, not deleted"
        );

        // It is this folder's own again: what it held is known as it was.
        clock.advance_ms(3000);
        std::fs::remove_file(root.join(&marker)).unwrap();
        let hashed = disk.hashes();
        let outcome = engine.sync_changed(false, named("d3")).await.unwrap();
        assert!(matches!(outcome, Outcome::InSync), "{outcome:?}");
        assert_eq!(
            disk.hashes() - hashed,
            0,
            "no file of d3 is read again: their entries were kept"
        );
        assert_eq!(service.tree(), synced, "nothing changed on the service");
    });
}
