//! A watching engine pays for what changed, not for what exists (issue 18):
//! after one file changes in a synced tree, the pass that syncs it makes
//! the same number of stats and reads of the disk whether the tree holds
//! 1,000 files or 4,000, and plans over the same few entries of its trees
//! (what changed and its neighbours, read from the state database by
//! index), where a pass that reads the folder whole plans over all of
//! them. Counted through the engine's own `LocalFs` and its
//! `planned_over`, on a real folder on disk; the service is the
//! simulator's, in process.

use std::collections::BTreeMap;
use std::sync::Arc;

use nubo_engine::changes::Changes;
use nubo_engine::Outcome;
use nubo_sim::clock::SimClock;
use nubo_sim::counting::CountingFs;
use nubo_sim::service::SimService;

/// What one pass costs: stats and reads of the disk, and the most entries
/// of the three trees a round planned over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cost {
    stats: usize,
    reads: usize,
    planned_over: usize,
}

/// What a watching engine pays to sync one changed file in a synced tree
/// of `files` files (in folders of 50), and what a pass that reads the
/// folder whole pays.
fn cost_of_one_change(files: usize) -> (Cost, Cost) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = nubo_sim::pc::real_folder(dir.path(), files, 50);
    let disk = Arc::new(CountingFs::new(&dir.path().join("trash")));
    let engine = nubo_sim::pc::engine(&service, &clock, "a", disk.clone(), &root, dir.path());
    rt.block_on(async {
        assert!(matches!(
            engine.sync_once(false).await.unwrap(),
            Outcome::InSync
        ));
        clock.advance_ms(3000);
        let changed = "d3/f170.txt";
        std::fs::write(root.join(changed), "changed").unwrap();
        let mut changes = Changes::default();
        changes.path(1, changed.to_string(), false);
        let before = disk.counts();
        let outcome = engine.sync_changed(false, changes).await.unwrap();
        assert!(matches!(outcome, Outcome::InSync), "{outcome:?}");
        let after = disk.counts();
        let on_service: BTreeMap<String, Option<Vec<u8>>> = service.tree();
        assert_eq!(
            on_service.get(changed).cloned().flatten().as_deref(),
            Some(&b"changed"[..]),
            "the change reached the service"
        );
        let watched = Cost {
            stats: after.0 - before.0,
            reads: after.1 - before.1,
            planned_over: engine.planned_over(),
        };
        let whole_before = disk.counts();
        engine.look_at_everything();
        engine
            .sync_changed(false, Changes::default())
            .await
            .unwrap();
        let whole_after = disk.counts();
        let whole = Cost {
            stats: whole_after.0 - whole_before.0,
            reads: whole_after.1 - whole_before.1,
            planned_over: engine.planned_over(),
        };
        (watched, whole)
    })
}

#[test]
fn one_changed_file_costs_the_same_in_a_small_tree_and_a_large_one() {
    let (small, small_whole) = cost_of_one_change(1_000);
    let (large, large_whole) = cost_of_one_change(4_000);
    eprintln!("one change: {small:?} {large:?}; whole: {small_whole:?} {large_whole:?}");
    assert_eq!(
        small, large,
        "stats and reads for one change: {small:?} with 1,000 files, {large:?} with 4,000"
    );
    assert!(
        small.stats < 20 && small.reads < 20 && small.planned_over < 40,
        "a handful of stats, reads and entries: {small:?}"
    );
    // What is counted is what a whole read pays for every file (three
    // trees of every file and folder, to plan over).
    assert!(
        small_whole.stats > 1_000 && large_whole.stats > 4_000,
        "{small_whole:?} {large_whole:?}"
    );
    assert!(
        small_whole.planned_over > 3 * 1_000 && large_whole.planned_over > 3 * 4_000,
        "{small_whole:?} {large_whole:?}"
    );
}
