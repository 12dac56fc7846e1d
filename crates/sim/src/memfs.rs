//! An in-memory file system with the semantics the engine relies on from a
//! real one: stat without following links, no-replace renames, a checked
//! place, temp files that stay behind after a crash, a trash that keeps what
//! it is given. Time comes from the simulation's clock.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nubo_engine::content::{self, Digest};
use nubo_engine::fs::{LocalFs, MadeDir, TempSink};
use nubo_engine::ignore_rules::IgnoreRules;
use nubo_engine::planner::Expect;
use nubo_engine::scanner::{rel_path, Walked, TEMP_PREFIX};
use nubo_engine::tree::{FileStat, Kind};

use crate::clock::SimClock;

#[derive(Debug, Clone)]
pub enum Entry {
    /// Folders have inodes too: a moved folder is found by its inode.
    Dir { inode: u64 },
    File {
        data: Vec<u8>,
        mtime_ns: i64,
        inode: u64,
    },
}

#[derive(Debug, Default)]
pub struct Inner {
    pub entries: BTreeMap<PathBuf, Entry>,
    /// What went to the trash: path and content of every file in it.
    pub trash: Vec<(PathBuf, Vec<u8>)>,
    next_inode: u64,
    next_temp: u64,
    /// Per mille of the engine's writes that fail as a full disk would.
    pub failing_writes: u64,
    /// xorshift state for those failures (seeded by the run).
    pub dice: u64,
}

#[derive(Clone)]
pub struct MemFs {
    pub inner: Arc<Mutex<Inner>>,
    clock: Arc<SimClock>,
}

fn not_found(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", p.display()),
    )
}

impl Inner {
    /// A write the engine asked for fails now and then, as on a full disk.
    fn disk_full(&mut self) -> io::Result<()> {
        if self.failing_writes == 0 {
            return Ok(());
        }
        self.dice ^= self.dice << 13;
        self.dice ^= self.dice >> 7;
        self.dice ^= self.dice << 17;
        if self.dice % 1000 < self.failing_writes {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on the simulated disk",
            ));
        }
        Ok(())
    }

    fn new_dir(&mut self) -> Entry {
        self.next_inode += 1;
        Entry::Dir {
            inode: self.next_inode,
        }
    }
}

impl MemFs {
    pub fn new(clock: Arc<SimClock>) -> Self {
        MemFs {
            inner: Arc::default(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A user (or the engine) writes a whole file; parents must exist.
    pub fn write(&self, path: &Path, data: Vec<u8>) -> io::Result<()> {
        let now = self.clock.now_ns();
        let mut g = self.lock();
        match path.parent().and_then(|p| g.entries.get(p)) {
            Some(Entry::Dir { .. }) => {}
            _ => return Err(not_found(path)),
        }
        if matches!(g.entries.get(path), Some(Entry::Dir { .. })) {
            return Err(io::Error::other("a folder is there"));
        }
        // An edit in place keeps the inode, as a real editor writing through
        // the same file would.
        let inode = match g.entries.get(path) {
            Some(Entry::File { inode, .. }) => *inode,
            _ => {
                g.next_inode += 1;
                g.next_inode
            }
        };
        g.entries.insert(
            path.to_path_buf(),
            Entry::File {
                data,
                mtime_ns: now,
                inode,
            },
        );
        Ok(())
    }

    pub fn read(&self, path: &Path) -> Option<Vec<u8>> {
        match self.lock().entries.get(path) {
            Some(Entry::File { data, .. }) => Some(data.clone()),
            _ => None,
        }
    }

    pub fn mkdir(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        if let Some(p) = path.parent() {
            if !matches!(g.entries.get(p), Some(Entry::Dir { .. })) {
                return Err(not_found(path));
            }
        }
        if g.entries.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "taken"));
        }
        let d = g.new_dir();
        g.entries.insert(path.to_path_buf(), d);
        Ok(())
    }

    /// Removes a file or a whole folder, as `rm -r` (not to the trash).
    pub fn remove_all(&self, path: &Path) {
        let mut g = self.lock();
        g.entries.retain(|p, _| !p.starts_with(path));
    }

    /// Every file under `root`: relative path -> content.
    pub fn files_under(&self, root: &Path) -> BTreeMap<String, Vec<u8>> {
        self.lock()
            .entries
            .iter()
            .filter_map(|(p, e)| match e {
                Entry::File { data, .. } => {
                    let rel = p.strip_prefix(root).ok()?.to_str()?.to_string();
                    Some((rel, data.clone()))
                }
                Entry::Dir { .. } => None,
            })
            .collect()
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.lock().entries.keys().cloned().collect()
    }

    /// Moves `from` and everything below it to `to`; `to` must be free.
    fn move_tree(g: &mut Inner, from: &Path, to: &Path) -> io::Result<()> {
        if !g.entries.contains_key(from) {
            return Err(not_found(from));
        }
        if g.entries.contains_key(to) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", to.display()),
            ));
        }
        if !matches!(
            to.parent().and_then(|p| g.entries.get(p)),
            Some(Entry::Dir { .. })
        ) {
            return Err(not_found(to));
        }
        if to.starts_with(from) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "into itself"));
        }
        let moved: Vec<PathBuf> = g
            .entries
            .range(from.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(from))
            .map(|(p, _)| p.clone())
            .collect();
        for p in moved {
            let e = g.entries.remove(&p).expect("listed above");
            let rest = p.strip_prefix(from).expect("inside");
            let target = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            g.entries.insert(target, e);
        }
        Ok(())
    }

    /// A user's rename or move (may fail when the target is taken).
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        Self::move_tree(&mut self.lock(), from, to)
    }
}

/// What `stat` says of an entry (no link is ever followed: there are none).
fn kind_and_stat(e: &Entry) -> (Kind, FileStat) {
    match e {
        Entry::Dir { inode } => (
            Kind::Dir,
            FileStat {
                size: 0,
                mtime_ns: 0,
                inode: *inode,
            },
        ),
        Entry::File {
            data,
            mtime_ns,
            inode,
        } => (
            Kind::File,
            FileStat {
                size: data.len() as u64,
                mtime_ns: *mtime_ns,
                inode: *inode,
            },
        ),
    }
}

struct MemTemp {
    fs: MemFs,
    path: PathBuf,
}

impl TempSink for MemTemp {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut g = self.fs.lock();
        g.disk_full()?;
        match g.entries.get_mut(&self.path) {
            Some(Entry::File { data, .. }) => {
                data.extend_from_slice(buf);
                Ok(())
            }
            _ => Err(not_found(&self.path)),
        }
    }
    fn set_modified(&mut self, mtime_ms: i64) -> io::Result<()> {
        let mut g = self.fs.lock();
        match g.entries.get_mut(&self.path) {
            Some(Entry::File { mtime_ns, .. }) => {
                *mtime_ns = mtime_ms * 1_000_000;
                Ok(())
            }
            _ => Err(not_found(&self.path)),
        }
    }
    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

impl LocalFs for MemFs {
    fn stat(&self, path: &Path) -> io::Result<Option<(Kind, FileStat)>> {
        Ok(self.lock().entries.get(path).map(kind_and_stat))
    }

    fn hash(&self, path: &Path) -> io::Result<String> {
        let data = self.read(path).ok_or_else(|| not_found(path))?;
        content::hash_reader(io::Cursor::new(data))
    }

    fn digest(&self, path: &Path) -> io::Result<Digest> {
        let data = self.read(path).ok_or_else(|| not_found(path))?;
        content::digest(io::Cursor::new(data))
    }

    fn read_at(&self, path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let data = self.read(path).ok_or_else(|| not_found(path))?;
        let (start, end) = (offset as usize, (offset + len) as usize);
        if end > data.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was read",
            ));
        }
        Ok(data[start..end].to_vec())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        for a in path.ancestors().collect::<Vec<_>>().into_iter().rev() {
            match g.entries.get(a) {
                Some(Entry::Dir { .. }) => {}
                Some(Entry::File { .. }) => return Err(io::Error::other("a file is in the way")),
                None => {
                    let d = g.new_dir();
                    g.entries.insert(a.to_path_buf(), d);
                }
            }
        }
        Ok(())
    }

    fn create_temp(&self, dir: &Path) -> io::Result<Box<dyn TempSink>> {
        let now = self.clock.now_ns();
        let mut g = self.lock();
        if !matches!(g.entries.get(dir), Some(Entry::Dir { .. })) {
            return Err(not_found(dir));
        }
        g.next_temp += 1;
        g.next_inode += 1;
        let path = dir.join(format!("{TEMP_PREFIX}{:016x}", g.next_temp));
        let inode = g.next_inode;
        g.entries.insert(
            path.clone(),
            Entry::File {
                data: Vec::new(),
                mtime_ns: now,
                inode,
            },
        );
        Ok(Box::new(MemTemp {
            fs: self.clone(),
            path,
        }))
    }

    fn place(&self, temp: &Path, target: &Path, expect: &Expect) -> io::Result<()> {
        let mut g = self.lock();
        g.disk_full()?;
        match expect {
            Expect::Absent => Self::move_tree(&mut g, temp, target),
            Expect::Present(want) => match g.entries.get(target) {
                Some(Entry::File {
                    data,
                    mtime_ns,
                    inode,
                }) if data.len() as u64 == want.size
                    && *mtime_ns == want.mtime_ns
                    && *inode == want.inode =>
                {
                    let e = g.entries.remove(temp).ok_or_else(|| not_found(temp))?;
                    g.entries.insert(target.to_path_buf(), e);
                    Ok(())
                }
                _ => Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the local file changed while its new version was downloaded",
                )),
            },
        }
    }

    fn rename_new(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.disk_full()?;
        Self::move_tree(&mut g, from, to)
    }

    fn trash(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        if !g.entries.contains_key(path) {
            return Err(not_found(path));
        }
        let gone: Vec<PathBuf> = g
            .entries
            .keys()
            .filter(|p| p.starts_with(path))
            .cloned()
            .collect();
        for p in gone {
            if let Some(Entry::File { data, .. }) = g.entries.remove(&p) {
                g.trash.push((p, data));
            }
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        match g.entries.get(path) {
            Some(Entry::File { .. }) => {
                g.entries.remove(path);
                Ok(())
            }
            Some(Entry::Dir { .. }) => Err(io::Error::other("a folder")),
            None => Err(not_found(path)),
        }
    }

    fn walk(&self, root: &Path, rules: &IgnoreRules) -> Walked {
        let g = self.lock();
        let mut out = Walked::default();
        let mut pruned: Vec<PathBuf> = Vec::new();
        for (p, e) in g.entries.range(root.to_path_buf()..) {
            if !p.starts_with(root) {
                break;
            }
            if p == root || pruned.iter().any(|x| p.starts_with(x)) {
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with(TEMP_PREFIX) {
                out.leftovers.push(p.clone());
                continue;
            }
            let Some(rel) = rel_path(root, p) else {
                continue;
            };
            let is_dir = matches!(e, Entry::Dir { .. });
            if rules.is_ignored_in_walk(&rel, is_dir) {
                pruned.push(p.clone());
                continue;
            }
            let (kind, stat) = kind_and_stat(e);
            out.found.push((rel, kind, stat));
        }
        out
    }

    fn make_dir(&self, path: &Path) -> io::Result<MadeDir> {
        let mut g = self.lock();
        match g.entries.get(path) {
            Some(Entry::Dir { .. }) => Ok(MadeDir::Ready),
            Some(Entry::File { .. }) => Ok(MadeDir::File),
            None => {
                if !matches!(
                    path.parent().and_then(|p| g.entries.get(p)),
                    Some(Entry::Dir { .. })
                ) {
                    return Err(not_found(path));
                }
                let d = g.new_dir();
                g.entries.insert(path.to_path_buf(), d);
                Ok(MadeDir::Ready)
            }
        }
    }

    fn read_small(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read(path).ok_or_else(|| not_found(path))
    }
}
