//! The round that follows an initial sync plans over what is left to
//! decide, not over the whole trees again (issue 18: at a million files,
//! that second round held the three trees of a million entries each, the
//! initial sync's peak). What a plan did is recorded on every side as it
//! goes, and a node this home wrote comes back in the feed as it stored
//! it: neither is news. (A plan that wrote fewer than
//! `changes::MAX_PATHS` paths has them read again and decided again, by
//! focus, within `focus::MAX_ENTRIES`; this is the case beyond, where the
//! folder is read whole again and what differs is decided.) A real folder
//! on disk and a real state database; the service is the simulator's, in
//! process.

use std::path::Path;
use std::sync::Arc;

use nubo_engine::{Engine, Outcome};
use nubo_sim::clock::SimClock;
use nubo_sim::counting::CountingFs;
use nubo_sim::service::SimService;

const FILES: usize = nubo_engine::changes::MAX_PATHS + 500;

/// The entries each round of the engine's last pass planned over.
fn rounds(engine: &Engine) -> Vec<usize> {
    engine.rounds_planned_over().clone()
}

#[test]
fn the_round_after_an_initial_sync_plans_over_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = nubo_sim::pc::real_folder(dir.path(), FILES, 50);
    let disk = Arc::new(CountingFs::new(&dir.path().join("trash")));
    let a = nubo_sim::pc::engine(&service, &clock, "a", disk, &root, dir.path());
    let b_root = Path::new("/b");
    let b_disk = nubo_sim::pc::disk(&clock, b_root);
    let b_fs = Arc::new(b_disk.clone());
    let b = nubo_sim::pc::engine(&service, &clock, "b", b_fs, b_root, dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (who, engine) in [("A, uploading", &a), ("B, downloading", &b)] {
            let outcome = engine.sync_once(false).await.unwrap();
            assert!(matches!(outcome, Outcome::InSync), "{who}: {outcome:?}");
            let rounds = rounds(engine);
            let (first, then) = rounds.split_first().expect("a round");
            assert!(
                *first > FILES,
                "{who}: the first round saw every file: {rounds:?}"
            );
            assert!(
                !then.is_empty(),
                "{who}: a round checked the first: {rounds:?}"
            );
            assert!(
                then.iter().all(|n| *n < 40),
                "{who}: the rounds after the first planned over a handful of entries: {rounds:?}"
            );
        }
        // And the files are there.
        let on_service = service.tree();
        assert_eq!(on_service.values().filter(|v| v.is_some()).count(), FILES);
        for (path, content) in on_service
            .iter()
            .filter_map(|(p, c)| Some((p, c.as_ref()?)))
        {
            let here = b_disk.read(&b_root.join(path));
            assert_eq!(here.as_ref(), Some(content), "{path} on B");
        }
    });
}
