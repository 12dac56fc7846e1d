//! A pass always ends (DESIGN.md rule 15), even when the disk keeps
//! something else than what the engine did: found with names that are not
//! UTF-8, whose folder was made under the wrong bytes, so that the same
//! folder was planned and "made" ten thousand times in one pass. A disk
//! that does that on purpose (through the engine's `LocalFs`) must end the
//! pass with the folder held back and reported, and everything else synced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nubo_engine::fs::{LocalFs, MadeDir, TempSink};
use nubo_engine::ignore_rules::IgnoreRules;
use nubo_engine::planner::Expect;
use nubo_engine::scanner::Walked;
use nubo_engine::tree::{ContentHash, FileStat, Kind};
use nubo_engine::Outcome;
use nubo_sim::clock::SimClock;
use nubo_sim::memfs::MemFs;
use nubo_sim::service::SimService;

/// MemFs, but a folder named `odd` is made as `odd-elsewhere`.
struct MisplacingFs(MemFs);

impl LocalFs for MisplacingFs {
    fn stat(&self, path: &Path) -> std::io::Result<Option<(Kind, FileStat)>> {
        self.0.stat(path)
    }
    fn hash(&self, path: &Path) -> std::io::Result<ContentHash> {
        self.0.hash(path)
    }
    fn digest(&self, path: &Path) -> std::io::Result<nubo_engine::content::Digest> {
        self.0.digest(path)
    }
    fn read_at(&self, path: &Path, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        self.0.read_at(path, offset, len)
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.0.create_dir_all(path)
    }
    fn create_temp(&self, path: &Path) -> std::io::Result<Box<dyn TempSink>> {
        self.0.create_temp(path)
    }
    fn place(&self, temp: &Path, target: &Path, expect: &Expect) -> std::io::Result<()> {
        self.0.place(temp, target, expect)
    }
    fn rename_new(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.0.rename_new(from, to)
    }
    fn trash(&self, path: &Path) -> std::io::Result<()> {
        self.0.trash(path)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.0.remove_file(path)
    }
    fn walk(&self, root: &Path, under: &str, rules: &IgnoreRules) -> Walked {
        self.0.walk(root, under, rules)
    }
    fn walk_one(&self, root: &Path, path: &str, rules: &IgnoreRules) -> Walked {
        self.0.walk_one(root, path, rules)
    }
    fn make_dir(&self, path: &Path) -> std::io::Result<MadeDir> {
        if path.file_name().is_some_and(|n| n == "odd") {
            let elsewhere = path.with_file_name("odd-elsewhere");
            let _ = self.0.make_dir(&elsewhere)?;
            return Ok(MadeDir::Ready);
        }
        self.0.make_dir(path)
    }
    fn read_small(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.0.read_small(path)
    }
}

#[test]
fn a_folder_the_disk_does_not_keep_ends_the_pass_held_back() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = PathBuf::from("/sim/Nubo");
    let a_disk = nubo_sim::pc::disk(&clock, &root);
    a_disk.mkdir(&root.join("odd")).unwrap();
    a_disk
        .write(&root.join("odd/in.txt"), b"inside".to_vec())
        .unwrap();
    a_disk
        .write(&root.join("plain.txt"), b"plain".to_vec())
        .unwrap();
    let a = nubo_sim::pc::engine(&service, &clock, "a", Arc::new(a_disk), &root, dir.path());
    let b_disk = nubo_sim::pc::disk(&clock, &root);
    let b = nubo_sim::pc::engine(
        &service,
        &clock,
        "b",
        Arc::new(MisplacingFs(b_disk.clone())),
        &root,
        dir.path(),
    );
    rt.block_on(async {
        assert!(matches!(a.sync_once(false).await.unwrap(), Outcome::InSync));
        clock.advance_ms(3000);
        let outcome = b.sync_once(false).await.unwrap();
        assert!(matches!(outcome, Outcome::InSync), "{outcome:?}");
    });
    assert_eq!(
        b_disk.read(&root.join("plain.txt")).as_deref(),
        Some(&b"plain"[..])
    );
    assert!(
        b.held_back() > 0,
        "the folder that does not take is held back"
    );
    let problems = b.db.problems().unwrap();
    assert!(
        problems.iter().any(|p| matches!(
            p,
            nubo_engine::problem::Problem::Failing {
                error: nubo_engine::problem::OpFailure::DidNotTake,
                ..
            }
        )),
        "{problems:?}"
    );
}
