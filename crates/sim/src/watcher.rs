//! A watcher over a simulated disk, as a watching engine has one: what
//! changed in a folder since the last pass, named as the system's events
//! name it (a path made, changed or gone; a folder made is looked into),
//! with a real watcher's faults: events that arrive a pass late, events
//! lost, and a queue that overflows (the folder is then read whole). Lost
//! events are found by the engine's safety rescan, played now and then and
//! always when the run settles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nubo_engine::changes::Changes;
use nubo_engine::db::FolderId;
use nubo_engine::scanner::rel_path;
use nubo_engine::tree::{is_inside, RelPath};
use rand::rngs::StdRng;
use rand::Rng;

use crate::memfs::{Entry, MemFs};

pub struct SimWatcher {
    folder: FolderId,
    root: PathBuf,
    /// The folder as the last pass left it.
    seen: BTreeMap<PathBuf, Entry>,
    /// Events held back, for the next pass.
    late: Vec<(RelPath, bool)>,
    /// An event was lost since the folder was last read whole: the
    /// engine's view may miss a change until its next whole read.
    pub lost: bool,
}

impl SimWatcher {
    pub fn new(fs: &MemFs, folder: FolderId, root: &Path) -> Self {
        SimWatcher {
            folder,
            root: root.to_path_buf(),
            seen: folder_entries(fs, root),
            late: Vec::new(),
            lost: false,
        }
    }

    /// What the events since the last pass say; with `faults`, some come a
    /// pass late, some are lost, or the queue overflows. Lines for the log.
    pub fn events(&mut self, fs: &MemFs, faults: Option<&mut StdRng>) -> (Changes, Vec<String>) {
        let now = folder_entries(fs, &self.root);
        let mut events = std::mem::take(&mut self.late);
        events.extend(self.differences(&now));
        let mut changes = Changes::default();
        let mut log = Vec::new();
        let Some(rng) = faults else {
            for (path, deep) in events {
                changes.path(self.folder, path, deep);
            }
            return (changes, log);
        };
        if rng.gen_bool(0.05) {
            log.push("the watcher's queue overflows: the folder is read whole".into());
            self.read_whole();
            changes.folder(self.folder);
            return (changes, log);
        }
        if rng.gen_bool(0.05) {
            log.push("the daily rescan is due".into());
            self.read_whole();
            return (Changes::everything(), log);
        }
        for (path, deep) in events {
            match rng.gen_range(0..100) {
                0..=4 => {
                    log.push(format!("the event for {path} comes a pass late"));
                    self.late.push((path, deep));
                }
                5..=7 => {
                    log.push(format!("the event for {path} is lost"));
                    self.lost = true;
                }
                _ => changes.path(self.folder, path, deep),
            }
        }
        (changes, log)
    }

    /// The engine reads the folder whole this pass: what was lost or late
    /// is found.
    pub fn read_whole(&mut self) {
        self.late.clear();
        self.lost = false;
    }

    /// Whether every change since the last whole read has reached the
    /// engine: its view of the disk must then be the disk.
    pub fn faithful(&self) -> bool {
        !self.lost && self.late.is_empty()
    }

    /// The pass is over: what the disk holds now is what the next events
    /// are told against (the engine's own writes are no news to it).
    pub fn settle(&mut self, fs: &MemFs) {
        self.seen = folder_entries(fs, &self.root);
    }

    /// Every path made, changed or gone between `seen` and `now`; a folder
    /// that is new (or was something else) is to be looked into.
    fn differences(&self, now: &BTreeMap<PathBuf, Entry>) -> Vec<(RelPath, bool)> {
        let mut out = Vec::new();
        for (p, e) in now {
            let before = self.seen.get(p);
            if before != Some(e) {
                let made_dir = matches!(e, Entry::Dir { .. })
                    && !matches!(before, Some(Entry::Dir { inode, .. }) if Some(inode) == dir_inode(e));
                out.extend(rel_path(&self.root, p).map(|r| (r, made_dir)));
            }
        }
        for p in self.seen.keys().filter(|p| !now.contains_key(*p)) {
            out.extend(rel_path(&self.root, p).map(|r| (r, false)));
        }
        out.retain(|(r, _)| !r.is_empty());
        // What is inside a folder made or moved in has no events of its own
        // (its watch came after it): only the folder is named, to be looked into.
        let made: std::collections::BTreeSet<RelPath> = out
            .iter()
            .filter(|(_, deep)| *deep)
            .map(|(r, _)| r.clone())
            .collect();
        out.retain(|(r, _)| !made.iter().any(|d| is_inside(r, d)));
        out
    }
}

fn dir_inode(e: &Entry) -> Option<&u64> {
    match e {
        Entry::Dir { inode, .. } => Some(inode),
        _ => None,
    }
}

fn folder_entries(fs: &MemFs, root: &Path) -> BTreeMap<PathBuf, Entry> {
    let g = fs.inner.lock().unwrap_or_else(|p| p.into_inner());
    g.entries
        .range(root.to_path_buf()..)
        .take_while(|(p, _)| p.starts_with(root))
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect()
}
