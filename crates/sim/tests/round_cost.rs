//! A watching engine pays for what changed, not for what exists (issue 18):
//! after one file changes in a synced tree, the pass that syncs it makes
//! the same number of stats and reads of the disk whether the tree holds
//! 1,000 files or 4,000. Counted through the engine's own `LocalFs`, on a
//! real folder on disk; the service is the simulator's, in process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use nubo_engine::changes::Changes;
use nubo_engine::fs::{LocalFs, MadeDir, RealFs, TempSink};
use nubo_engine::ignore_rules::IgnoreRules;
use nubo_engine::planner::Expect;
use nubo_engine::scanner::Walked;
use nubo_engine::tree::{ContentHash, FileStat, Kind};
use nubo_engine::Outcome;
use nubo_sim::clock::SimClock;
use nubo_sim::service::SimService;

/// The real disk, counting what the engine asks of it: every entry a
/// walk stats, every single stat, every read of a file's content.
struct CountingFs {
    disk: RealFs,
    stats: AtomicUsize,
    reads: AtomicUsize,
}

impl CountingFs {
    fn counts(&self) -> (usize, usize) {
        (
            self.stats.load(Ordering::SeqCst),
            self.reads.load(Ordering::SeqCst),
        )
    }

    fn stat_n(&self, n: usize) {
        self.stats.fetch_add(n, Ordering::SeqCst);
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
}

fn entries(w: &Walked) -> usize {
    w.found.len() + w.blocked.len() + w.leftovers.len()
}

impl LocalFs for CountingFs {
    fn stat(&self, path: &Path) -> std::io::Result<Option<(Kind, FileStat)>> {
        self.stat_n(1);
        self.disk.stat(path)
    }
    fn hash(&self, path: &Path) -> std::io::Result<ContentHash> {
        self.read();
        self.disk.hash(path)
    }
    fn digest(&self, path: &Path) -> std::io::Result<nubo_engine::content::Digest> {
        self.read();
        self.disk.digest(path)
    }
    fn read_at(&self, path: &Path, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        self.read();
        self.disk.read_at(path, offset, len)
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.disk.create_dir_all(path)
    }
    fn create_temp(&self, path: &Path) -> std::io::Result<Box<dyn TempSink>> {
        self.disk.create_temp(path)
    }
    fn place(&self, temp: &Path, target: &Path, expect: &Expect) -> std::io::Result<()> {
        self.disk.place(temp, target, expect)
    }
    fn rename_new(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.disk.rename_new(from, to)
    }
    fn trash(&self, path: &Path) -> std::io::Result<()> {
        self.disk.trash(path)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.disk.remove_file(path)
    }
    fn walk(&self, root: &Path, under: &str, rules: &IgnoreRules) -> Walked {
        let walked = self.disk.walk(root, under, rules);
        self.stat_n(1 + entries(&walked));
        walked
    }
    fn walk_one(&self, root: &Path, path: &str, rules: &IgnoreRules) -> Walked {
        self.stat_n(1);
        self.disk.walk_one(root, path, rules)
    }
    fn make_dir(&self, path: &Path) -> std::io::Result<MadeDir> {
        self.disk.make_dir(path)
    }
    fn read_small(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.read();
        self.disk.read_small(path)
    }
    fn mount_points(&self, root: &Path) -> Option<std::collections::BTreeSet<PathBuf>> {
        self.disk.mount_points(root)
    }
    fn available_space(&self, dir: &Path) -> std::io::Result<Option<u64>> {
        self.disk.available_space(dir)
    }
}

/// What a watching engine reads from disk to sync one changed file in a
/// synced tree of `files` files (in folders of 50): (stats, reads), and the
/// same for a pass that reads the folder whole.
fn cost_of_one_change(files: usize) -> ((usize, usize), (usize, usize)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = dir.path().join("Nubo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join(nubo_engine::home::ROOT_MARKER), "sim").unwrap();
    for i in 0..files {
        let folder = root.join(format!("d{}", i / 50));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("f{i}.txt")), format!("file {i}")).unwrap();
    }
    let disk = Arc::new(CountingFs {
        disk: RealFs {
            fallback_trash: dir.path().join("trash"),
        },
        stats: AtomicUsize::new(0),
        reads: AtomicUsize::new(0),
    });
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
        let watched = (after.0 - before.0, after.1 - before.1);
        let whole_before = disk.counts();
        engine.sync_once(false).await.unwrap();
        let whole_after = disk.counts();
        let whole = (
            whole_after.0 - whole_before.0,
            whole_after.1 - whole_before.1,
        );
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
        small.0 < 20 && small.1 < 20,
        "a handful of stats and reads: {small:?}"
    );
    // What is counted is what a whole read pays for every file.
    assert!(
        small_whole.0 > 1_000 && large_whole.0 > 4_000,
        "{small_whole:?} {large_whole:?}"
    );
}
