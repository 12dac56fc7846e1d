//! The real disk behind the engine's own `LocalFs`, counting what the
//! engine asks of it, for tests that assert what a round costs (stats and
//! reads) rather than how long it takes. It can also hold every hash of a
//! file's content after the first so many until let go: a scan stopped at a
//! known point, as a kill would stop it, or panic on one file's read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use nubo_engine::fs::{LocalFs, MadeDir, RealFs, TempSink};
use nubo_engine::ignore_rules::IgnoreRules;
use nubo_engine::planner::Expect;
use nubo_engine::scanner::Walked;
use nubo_engine::tree::{ContentHash, FileStat, Kind};

/// The real disk, counting what the engine asks of it: every entry a
/// walk stats, every single stat, every read of a file's content.
pub struct CountingFs {
    disk: RealFs,
    stats: AtomicUsize,
    reads: AtomicUsize,
    hashes: AtomicUsize,
    /// Hashes after this many wait while `held` is true.
    hold_after: Option<usize>,
    held: Mutex<bool>,
    let_go: Condvar,
    /// Hashes waiting now.
    waiting: AtomicUsize,
    /// A hash of a file of this name panics (a bug, not the disk).
    panic_on: Option<String>,
}

impl CountingFs {
    /// The real disk; `trash` is where files go where the system has no trash.
    pub fn new(trash: &Path) -> CountingFs {
        CountingFs {
            disk: RealFs {
                fallback_trash: trash.to_path_buf(),
            },
            stats: AtomicUsize::new(0),
            reads: AtomicUsize::new(0),
            hashes: AtomicUsize::new(0),
            hold_after: None,
            held: Mutex::new(true),
            let_go: Condvar::new(),
            waiting: AtomicUsize::new(0),
            panic_on: None,
        }
    }

    /// The same, panicking in every hash of a file named `name`.
    pub fn panicking_on(trash: &Path, name: &str) -> CountingFs {
        CountingFs {
            panic_on: Some(name.to_string()),
            ..CountingFs::new(trash)
        }
    }

    /// The same, holding every hash after the first `n` until `let_go`.
    pub fn holding_hashes_after(trash: &Path, n: usize) -> CountingFs {
        CountingFs {
            hold_after: Some(n),
            ..CountingFs::new(trash)
        }
    }

    /// How many hashes are held now.
    pub fn hashes_waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Lets every held hash go on (they fail: the disk "went away"), and
    /// holds none from now on.
    pub fn let_go(&self) {
        *self.held.lock().unwrap() = false;
        self.let_go.notify_all();
    }

    /// Files whose content was hashed (read whole to learn their hash).
    pub fn hashes(&self) -> usize {
        self.hashes.load(Ordering::SeqCst)
    }

    /// Waits while this hash is to be held; `Err` once let go.
    fn hold(&self) -> std::io::Result<()> {
        let n = self.hashes.fetch_add(1, Ordering::SeqCst);
        if self.hold_after.is_none_or(|after| n < after) {
            return Ok(());
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut held = self.held.lock().unwrap();
        while *held {
            held = self.let_go.wait(held).unwrap();
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        Err(std::io::Error::other("let go"))
    }

    /// Stats (a walk's entries each count one) and reads of content so far.
    pub fn counts(&self) -> (usize, usize) {
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
        if let Some(name) = &self.panic_on {
            if path.file_name().is_some_and(|n| n == name.as_str()) {
                panic!("a bug met while reading {}", path.display());
            }
        }
        self.hold()?;
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
