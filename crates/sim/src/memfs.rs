//! An in-memory file system with the semantics the engine relies on from a
//! real one: stat without following links, no-replace renames, a checked
//! place, temp files that stay behind after a crash, a trash that keeps what
//! it is given. Time comes from the simulation's clock.
//!
//! And what a real one does to a sync client that the happy path never
//! shows: folders and files the user cannot read (as after `chmod 000`),
//! symbolic links where the service wants to write, names and paths past
//! the system's limits, change times that programs cannot set back, and
//! folders that are other disks' mount points and go away.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nubo_engine::content::{self, Digest};
use nubo_engine::fs::{LocalFs, MadeDir, TempSink};
use nubo_engine::home::ROOT_MARKER;
use nubo_engine::ignore_rules::IgnoreRules;
use nubo_engine::planner::Expect;
use nubo_engine::scanner::{rel_path, Walked, TEMP_PREFIX};
use nubo_engine::tree::{parent, Blocked, ContentHash, FileStat, Kind, ReadError, Unsynced};

use crate::clock::SimClock;

/// Linux's limits: a name's bytes, and a path's.
pub const NAME_MAX: usize = 255;
pub const PATH_MAX: usize = 4096;
const ENAMETOOLONG: i32 = 36;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Folders have inodes too: a moved folder is found by its inode.
    Dir {
        inode: u64,
        dev: u64,
        /// Whether this user may list and enter it (`chmod 000` makes it not).
        readable: bool,
    },
    File {
        data: Vec<u8>,
        mtime_ns: i64,
        ctime_ns: i64,
        inode: u64,
        dev: u64,
        readable: bool,
    },
    /// A symbolic link: never followed, never synced.
    Symlink,
}

impl Entry {
    fn dev(&self) -> u64 {
        match self {
            Entry::Dir { dev, .. } | Entry::File { dev, .. } => *dev,
            Entry::Symlink => 0,
        }
    }

    fn set_dev(&mut self, to: u64) {
        match self {
            Entry::Dir { dev, .. } | Entry::File { dev, .. } => *dev = to,
            Entry::Symlink => {}
        }
    }
}

#[derive(Debug, Default)]
pub struct Inner {
    pub entries: BTreeMap<PathBuf, Entry>,
    /// What went to the trash: path and content of every file in it.
    pub trash: Vec<(PathBuf, Vec<u8>)>,
    next_inode: u64,
    next_dev: u64,
    /// Per mille of the engine's writes that fail as a full disk would.
    pub failing_writes: u64,
    /// xorshift state for those failures (seeded by the run).
    pub dice: u64,
    /// Disks unmounted, by mount point: their device and what they hold
    /// (paths relative to the mount point), put back on remount.
    pub unmounted: BTreeMap<PathBuf, (u64, Vec<(PathBuf, Entry)>)>,
    /// Devices of the folders that are mount points now.
    pub mounts: BTreeMap<PathBuf, u64>,
    /// A disk ejected while the folder is walked: unmounted as the next
    /// walk begins (after the engine read the mount table once).
    pub eject_on_walk: Option<PathBuf>,
    /// What a mount point's own folder holds while a disk is mounted over
    /// it (hidden, as on a real system): back when the disk goes.
    pub hidden_under: BTreeMap<PathBuf, Vec<(PathBuf, Entry)>>,
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

fn denied(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{}: permission denied", p.display()),
    )
}

fn too_long() -> io::Error {
    io::Error::from_raw_os_error(ENAMETOOLONG)
}

/// A path the system cannot take: a name over `NAME_MAX` bytes, or the
/// whole over `PATH_MAX`.
fn check_length(path: &Path) -> io::Result<()> {
    let long_name = path.components().any(|c| c.as_os_str().len() > NAME_MAX);
    if long_name || path.as_os_str().len() >= PATH_MAX {
        return Err(too_long());
    }
    Ok(())
}

impl Inner {
    /// Everything inside the folder `dir` (not `dir` itself), by its path
    /// from `dir`: what a disk mounted there holds, or what it hides.
    fn held_in(&self, dir: &Path) -> Vec<(PathBuf, Entry)> {
        self.entries
            .range(dir.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(dir))
            .filter(|(p, _)| *p != dir)
            .map(|(p, e)| {
                (
                    p.strip_prefix(dir).expect("inside").to_path_buf(),
                    e.clone(),
                )
            })
            .collect()
    }

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

    fn inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.next_inode
    }

    fn new_dir(&mut self, dev: u64) -> Entry {
        Entry::Dir {
            inode: self.inode(),
            dev,
            readable: true,
        }
    }

    /// The device a new entry in `dir` lands on.
    fn dev_of(&self, dir: &Path) -> u64 {
        self.entries.get(dir).map_or(0, Entry::dev)
    }

    /// Whether this user may reach `path`: every folder above it must be
    /// one they can enter, and the path must fit the system's limits.
    fn reach(&self, path: &Path) -> io::Result<()> {
        check_length(path)?;
        for a in path.ancestors().skip(1) {
            if let Some(Entry::Dir {
                readable: false, ..
            }) = self.entries.get(a)
            {
                return Err(denied(path));
            }
        }
        Ok(())
    }

    /// `reach`, and the folder `path` goes in is a folder (not a link).
    fn reach_in_dir(&self, path: &Path) -> io::Result<()> {
        self.reach(path)?;
        match path.parent().and_then(|p| self.entries.get(p)) {
            Some(Entry::Dir { readable: true, .. }) => Ok(()),
            Some(Entry::Dir {
                readable: false, ..
            }) => Err(denied(path)),
            _ => Err(not_found(path)),
        }
    }

    fn readable_file(&self, path: &Path) -> io::Result<&Vec<u8>> {
        self.reach(path)?;
        match self.entries.get(path) {
            Some(Entry::File {
                data,
                readable: true,
                ..
            }) => Ok(data),
            Some(Entry::File { .. }) => Err(denied(path)),
            _ => Err(not_found(path)),
        }
    }

    /// Anything at or inside `path` this user could not remove (`rm -r`
    /// stops at a folder it cannot read).
    fn locked_inside(&self, path: &Path) -> bool {
        self.entries
            .range(path.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(path))
            .any(|(_, e)| {
                matches!(
                    e,
                    Entry::Dir {
                        readable: false,
                        ..
                    }
                )
            })
    }

    /// Moves `from` and everything below it to `to`; `to` must be free.
    fn move_tree(&mut self, from: &Path, to: &Path, now: i64) -> io::Result<()> {
        self.reach(from)?;
        self.reach_in_dir(to)?;
        if !self.entries.contains_key(from) {
            return Err(not_found(from));
        }
        if self.entries.contains_key(to) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", to.display()),
            ));
        }
        if to.starts_with(from) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "into itself"));
        }
        let moved: Vec<PathBuf> = self
            .entries
            .range(from.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(from))
            .map(|(p, _)| p.clone())
            .collect();
        for p in moved {
            let mut e = self.entries.remove(&p).expect("listed above");
            // A rename changes the moved entry's change time, as on ext4.
            if p == from {
                if let Entry::File { ctime_ns, .. } = &mut e {
                    *ctime_ns = now;
                }
            }
            let rest = p.strip_prefix(from).expect("inside");
            let target = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            self.entries.insert(target, e);
        }
        Ok(())
    }
}

impl MemFs {
    pub fn new(clock: Arc<SimClock>) -> Self {
        let fs = MemFs {
            inner: Arc::default(),
            clock,
        };
        fs.lock().next_dev = 1;
        fs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A user (or the engine) writes a whole file; parents must exist.
    pub fn write(&self, path: &Path, data: Vec<u8>) -> io::Result<()> {
        let now = self.clock.now_ns();
        let mut g = self.lock();
        g.reach_in_dir(path)?;
        // An edit in place keeps the inode, as a real editor writing through
        // the same file would.
        let inode = match g.entries.get(path) {
            Some(Entry::File {
                readable: false, ..
            }) => return Err(denied(path)),
            Some(Entry::File { inode, .. }) => *inode,
            Some(_) => return Err(io::Error::other("something else is there")),
            None => g.inode(),
        };
        let dev = g.dev_of(path.parent().expect("inside a folder"));
        g.entries.insert(
            path.to_path_buf(),
            Entry::File {
                data,
                mtime_ns: now,
                ctime_ns: now,
                inode,
                dev,
                readable: true,
            },
        );
        Ok(())
    }

    /// A tool that edits a file and sets its modification time back (or
    /// two writes within the clock's tick): same size, same mtime, new
    /// content. Only the change time tells.
    pub fn write_keeping_mtime(&self, path: &Path, data: Vec<u8>) -> io::Result<()> {
        let now = self.clock.now_ns();
        let mut g = self.lock();
        g.reach(path)?;
        match g.entries.get_mut(path) {
            Some(Entry::File {
                data: old,
                ctime_ns,
                readable: true,
                ..
            }) if old.len() == data.len() => {
                *old = data;
                *ctime_ns = now;
                Ok(())
            }
            _ => Err(io::Error::other("not a readable file of that size")),
        }
    }

    pub fn read(&self, path: &Path) -> Option<Vec<u8>> {
        self.lock().readable_file(path).ok().cloned()
    }

    pub fn mkdir(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.reach_in_dir(path)?;
        if g.entries.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "taken"));
        }
        let dev = g.dev_of(path.parent().expect("inside a folder"));
        let d = g.new_dir(dev);
        g.entries.insert(path.to_path_buf(), d);
        Ok(())
    }

    /// Removes a file or a whole folder, as `rm -r` (not to the trash);
    /// refused where the user cannot read.
    pub fn remove_all(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.reach(path)?;
        if g.locked_inside(path) {
            return Err(denied(path));
        }
        g.entries.retain(|p, _| !p.starts_with(path));
        Ok(())
    }

    /// `ln -s`: a link where nothing is.
    pub fn symlink(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.reach_in_dir(path)?;
        if g.entries.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "taken"));
        }
        g.entries.insert(path.to_path_buf(), Entry::Symlink);
        Ok(())
    }

    /// Every symbolic link, for the user's cleanup at the end.
    pub fn links(&self) -> Vec<PathBuf> {
        self.lock()
            .entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Symlink))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// `rm` of a link.
    pub fn remove_link(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.reach(path)?;
        match g.entries.get(path) {
            Some(Entry::Symlink) => {
                g.entries.remove(path);
                Ok(())
            }
            _ => Err(not_found(path)),
        }
    }

    /// `chmod 000` (false) or back (true) on a folder or file.
    pub fn set_readable(&self, path: &Path, to: bool) -> io::Result<()> {
        let now = self.clock.now_ns();
        let mut g = self.lock();
        g.reach(path)?;
        match g.entries.get_mut(path) {
            Some(Entry::Dir { readable, .. }) => *readable = to,
            Some(Entry::File {
                readable, ctime_ns, ..
            }) => {
                *readable = to;
                *ctime_ns = now;
            }
            _ => return Err(not_found(path)),
        }
        Ok(())
    }

    /// Every folder and file the user cannot read, for healing at the end.
    pub fn unreadable(&self) -> Vec<PathBuf> {
        self.lock()
            .entries
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Entry::Dir {
                        readable: false,
                        ..
                    } | Entry::File {
                        readable: false,
                        ..
                    }
                )
            })
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Makes the folder `dir` the mount point of a disk of its own, holding
    /// what it holds now (as if it always had); `bind` keeps the device, as
    /// a bind mount of a folder on the same disk does.
    pub fn make_mount(&self, dir: &Path, bind: bool) -> io::Result<()> {
        let mut g = self.lock();
        g.reach(dir)?;
        if !matches!(g.entries.get(dir), Some(Entry::Dir { .. })) || g.locked_inside(dir) {
            return Err(io::Error::other("not a folder this user can read"));
        }
        let dev = if bind {
            g.dev_of(dir)
        } else {
            g.next_dev += 1;
            g.next_dev
        };
        let inside: Vec<PathBuf> = g
            .entries
            .range(dir.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(dir))
            .map(|(p, _)| p.clone())
            .collect();
        for p in inside {
            if let Some(e) = g.entries.get_mut(&p) {
                e.set_dev(dev);
            }
        }
        g.mounts.insert(dir.to_path_buf(), dev);
        Ok(())
    }

    /// The disk mounted at `dir` goes away: what it held goes with it, and
    /// `dir` is an empty folder of the disk around it.
    pub fn unmount(&self, dir: &Path) -> io::Result<()> {
        let mut g = self.lock();
        let dev = g
            .mounts
            .remove(dir)
            .ok_or_else(|| io::Error::other("not a mount point"))?;
        let held = g.held_in(dir);
        g.entries.retain(|p, _| !p.starts_with(dir) || p == dir);
        let around = dir.parent().map_or(0, |p| g.dev_of(p));
        let fresh = g.new_dir(around);
        g.entries.insert(dir.to_path_buf(), fresh);
        // The folder underneath shows again, with whatever it held.
        for (rel, e) in g.hidden_under.remove(dir).unwrap_or_default() {
            g.entries.insert(dir.join(rel), e);
        }
        g.unmounted.insert(dir.to_path_buf(), (dev, held));
        Ok(())
    }

    /// The disk comes back: mounted at `dir` again, over whatever the
    /// folder held meanwhile (hidden until it goes again).
    pub fn remount(&self, dir: &Path) -> io::Result<()> {
        let mut g = self.lock();
        let (dev, held) = g
            .unmounted
            .remove(dir)
            .ok_or_else(|| io::Error::other("nothing unmounted there"))?;
        if !matches!(g.entries.get(dir), Some(Entry::Dir { .. })) {
            return Err(io::Error::other("the mount point is not a folder now"));
        }
        // What the folder holds now goes under the disk, hidden.
        let under = g.held_in(dir);
        g.hidden_under.insert(dir.to_path_buf(), under);
        g.entries.retain(|p, _| !p.starts_with(dir) || p == dir);
        let root = Entry::Dir {
            inode: g.inode(),
            dev,
            readable: true,
        };
        g.entries.insert(dir.to_path_buf(), root);
        for (rel, e) in held {
            g.entries.insert(dir.join(rel), e);
        }
        g.mounts.insert(dir.to_path_buf(), dev);
        Ok(())
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
                _ => None,
            })
            .collect()
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.lock().entries.keys().cloned().collect()
    }

    /// A user's rename or move (may fail when the target is taken).
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let now = self.clock.now_ns();
        self.lock().move_tree(from, to, now)
    }
}

/// What `stat` says of an entry (no link is ever followed); `None` for a
/// link, as `RealFs` says of anything that is neither file nor folder.
fn kind_and_stat(e: &Entry) -> Option<(Kind, FileStat)> {
    match e {
        Entry::Dir { inode, dev, .. } => Some((
            Kind::Dir,
            FileStat {
                inode: *inode,
                dev: *dev,
                ..FileStat::default()
            },
        )),
        Entry::File {
            data,
            mtime_ns,
            ctime_ns,
            inode,
            dev,
            ..
        } => Some((
            Kind::File,
            FileStat {
                size: data.len() as u64,
                mtime_ns: *mtime_ns,
                inode: *inode,
                ctime_ns: *ctime_ns,
                dev: *dev,
                // The simulated disk keeps no permission bits.
                exec: false,
            },
        )),
        Entry::Symlink => None,
    }
}

struct MemTemp {
    fs: MemFs,
    path: PathBuf,
}

impl TempSink for MemTemp {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let now = self.fs.clock.now_ns();
        let mut g = self.fs.lock();
        g.disk_full()?;
        match g.entries.get_mut(&self.path) {
            Some(Entry::File { data, ctime_ns, .. }) => {
                data.extend_from_slice(buf);
                *ctime_ns = now;
                Ok(())
            }
            _ => Err(not_found(&self.path)),
        }
    }
    fn set_modified(&mut self, mtime_ms: i64) -> io::Result<()> {
        let now = self.fs.clock.now_ns();
        let mut g = self.fs.lock();
        match g.entries.get_mut(&self.path) {
            Some(Entry::File {
                mtime_ns, ctime_ns, ..
            }) => {
                *mtime_ns = mtime_ms * 1_000_000;
                *ctime_ns = now;
                Ok(())
            }
            _ => Err(not_found(&self.path)),
        }
    }
    fn set_executable(&mut self, _exec: bool) -> io::Result<()> {
        // No permission bits here; the real disk's are tested end to end
        // (crates/cli/tests/lost_files.rs).
        Ok(())
    }
    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

/// What a walk makes of one entry; whether it enters it (a folder not
/// ignored, readable, with a name this system can hold).
fn walk_entry(
    out: &mut Walked,
    root: &Path,
    p: &Path,
    e: &Entry,
    ignored: impl Fn(&str, bool) -> bool,
) -> bool {
    let Some(rel) = rel_path(root, p) else {
        return true;
    };
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // Named like a temp file: a leftover if it is this home's, and never
    // entered (as the real walk).
    if name.starts_with(TEMP_PREFIX) {
        out.leftovers.push(p.to_path_buf());
        return false;
    }
    if name == ROOT_MARKER {
        let dir = parent(&rel);
        if !dir.is_empty() {
            out.blocked.push((dir.to_string(), Blocked::NestedRoot));
        }
    }
    if check_length(p).is_err() {
        out.blocked.push((
            rel,
            Blocked::Unreadable {
                error: ReadError::NameTooLong,
            },
        ));
        return false;
    }
    let is_dir = matches!(e, Entry::Dir { .. });
    if ignored(&rel, is_dir) {
        return false;
    }
    match (e, kind_and_stat(e)) {
        (Entry::Symlink, _) | (_, None) => out.blocked.push((
            rel,
            Blocked::InTheWay {
                what: Unsynced::Symlink,
            },
        )),
        (
            Entry::Dir {
                readable: false, ..
            },
            Some((kind, stat)),
        ) => {
            out.found.push((rel.clone(), kind, stat));
            out.blocked.push((
                rel,
                Blocked::Unreadable {
                    error: ReadError::PermissionDenied,
                },
            ));
            return false;
        }
        (_, Some((kind, stat))) => out.found.push((rel, kind, stat)),
    }
    true
}

impl LocalFs for MemFs {
    fn stat(&self, path: &Path) -> io::Result<Option<(Kind, FileStat)>> {
        let g = self.lock();
        g.reach(path)?;
        Ok(g.entries.get(path).and_then(kind_and_stat))
    }

    fn hash(&self, path: &Path) -> io::Result<ContentHash> {
        let data = self.lock().readable_file(path)?.clone();
        content::hash_reader(io::Cursor::new(data))
    }

    fn digest(&self, path: &Path) -> io::Result<Digest> {
        let data = self.lock().readable_file(path)?.clone();
        content::digest(io::Cursor::new(data))
    }

    fn read_at(&self, path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let g = self.lock();
        let data = g.readable_file(path)?;
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
        g.reach(path)?;
        // The first disk, unless a folder on the way says otherwise.
        let mut dev = 1;
        for a in path.ancestors().collect::<Vec<_>>().into_iter().rev() {
            match g.entries.get(a) {
                Some(Entry::Dir { dev: d, .. }) => dev = *d,
                Some(_) => return Err(io::Error::other("something else is in the way")),
                None => {
                    let d = g.new_dir(dev);
                    g.entries.insert(a.to_path_buf(), d);
                }
            }
        }
        Ok(())
    }

    fn create_temp(&self, path: &Path) -> io::Result<Box<dyn TempSink>> {
        let now = self.clock.now_ns();
        let mut g = self.lock();
        g.reach_in_dir(path)?;
        if g.entries.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "taken"));
        }
        let inode = g.inode();
        let dev = g.dev_of(path.parent().expect("inside a folder"));
        g.entries.insert(
            path.to_path_buf(),
            Entry::File {
                data: Vec::new(),
                mtime_ns: now,
                ctime_ns: now,
                inode,
                dev,
                readable: true,
            },
        );
        Ok(Box::new(MemTemp {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn place(&self, temp: &Path, target: &Path, expect: &Expect) -> io::Result<()> {
        let now = self.clock.now_ns();
        let mut g = self.lock();
        g.disk_full()?;
        g.reach_in_dir(target)?;
        match expect {
            Expect::Absent => g.move_tree(temp, target, now),
            Expect::Present(want) => match g.entries.get(target).and_then(kind_and_stat) {
                Some((Kind::File, now_stat)) if now_stat == **want => {
                    let mut e = g.entries.remove(temp).ok_or_else(|| not_found(temp))?;
                    if let Entry::File { ctime_ns, .. } = &mut e {
                        *ctime_ns = now;
                    }
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
        let now = self.clock.now_ns();
        let mut g = self.lock();
        g.disk_full()?;
        g.move_tree(from, to, now)
    }

    fn trash(&self, path: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.reach(path)?;
        if !g.entries.contains_key(path) {
            return Err(not_found(path));
        }
        // The trash takes a folder whole, readable or not: it is a rename.
        let gone: Vec<PathBuf> = g
            .entries
            .range(path.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, _)| p.clone())
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
        g.reach(path)?;
        match g.entries.get(path) {
            Some(Entry::File { .. }) => {
                g.entries.remove(path);
                Ok(())
            }
            Some(_) => Err(io::Error::other("not a file")),
            None => Err(not_found(path)),
        }
    }

    fn walk(&self, root: &Path, under: &str, rules: &IgnoreRules) -> Walked {
        let eject = self.lock().eject_on_walk.take();
        if let Some(dir) = eject {
            self.unmount(&dir).expect("a disk mounted there");
        }
        let g = self.lock();
        let start = if under.is_empty() {
            root.to_path_buf()
        } else {
            root.join(under)
        };
        let mut out = Walked::default();
        // Folders not entered: ignored, unreadable, too long, other roots.
        let mut pruned: Vec<PathBuf> = Vec::new();
        for (p, e) in g.entries.range(start.clone()..) {
            if !p.starts_with(&start) {
                break;
            }
            if *p == start || pruned.iter().any(|x| p.starts_with(x)) {
                continue;
            }
            let enter = walk_entry(&mut out, root, p, e, |rel, is_dir| {
                rules.is_ignored_in_walk(rel, is_dir)
            });
            if !enter {
                pruned.push(p.clone());
            }
        }
        out
    }

    fn walk_one(&self, root: &Path, path: &str, rules: &IgnoreRules) -> Walked {
        let g = self.lock();
        let p = root.join(path);
        let mut out = Walked::default();
        if let Err(e) = g.reach(&p) {
            if e.kind() != io::ErrorKind::NotFound {
                let error = ReadError::from(&e);
                out.blocked
                    .push((path.to_string(), Blocked::Unreadable { error }));
            }
            return out;
        }
        if let Some(e) = g.entries.get(&p) {
            walk_entry(&mut out, root, &p, e, |rel, is_dir| {
                rules.is_ignored(rel, is_dir)
            });
        }
        out
    }

    fn make_dir(&self, path: &Path) -> io::Result<MadeDir> {
        let mut g = self.lock();
        g.reach(path)?;
        match g.entries.get(path) {
            Some(Entry::Dir { .. }) => Ok(MadeDir::Ready),
            Some(Entry::File { .. }) => Ok(MadeDir::File),
            Some(Entry::Symlink) => Ok(MadeDir::Symlink),
            None => {
                g.reach_in_dir(path)?;
                let dev = g.dev_of(path.parent().expect("inside a folder"));
                let d = g.new_dir(dev);
                g.entries.insert(path.to_path_buf(), d);
                Ok(MadeDir::Ready)
            }
        }
    }

    fn read_small(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.lock().readable_file(path).cloned()
    }

    fn mount_points(&self, root: &Path) -> Option<std::collections::BTreeSet<PathBuf>> {
        Some(
            self.lock()
                .mounts
                .keys()
                .filter(|p| p.starts_with(root) && *p != root)
                .cloned()
                .collect(),
        )
    }
}
