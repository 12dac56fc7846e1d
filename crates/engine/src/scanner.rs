//! Builds the local tree from the folder: a parallel walk (`ignore`), then
//! hashing only what changed. A file whose size, mtime, change time and
//! inode match the last scan is not read again, unless its times were too
//! recent to trust (a write in the same clock tick would not have moved them).
//!
//! What could not be read, and what is there but cannot be synced (a
//! symbolic link, another synced folder's root, a folder whose disk went
//! away), is `blocked`: it keeps its last known entries, so that nothing the
//! walk could not see is ever read as deleted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use ignore::{WalkBuilder, WalkState};

use crate::db::DbResult;
use crate::fs::{kind_of, stat_of, LocalFs};
use crate::home::ROOT_MARKER;
use crate::ignore_rules::IgnoreRules;
use crate::problem::Problem;
use crate::temp_names::TempNames;
use crate::tree::{
    ancestors, file_name, inside, is_inside, parent, Blocked, FileStat, Kind, LocalEntry,
    ReadError, RelPath, Tree, Unsynced,
};

/// Hashes of files modified this close to the scan are not reused.
const RACY_NS: i64 = 2_000_000_000;

#[derive(Debug, Default)]
pub struct Scan {
    pub tree: Tree<LocalEntry>,
    /// Paths left as they were (with everything inside), and why.
    pub blocked: Tree<Blocked>,
    /// Entries left out, and why.
    pub skipped: Vec<Problem>,
    /// This home's temp files of downloads that never finished (a crash, a kill).
    pub leftovers: Vec<PathBuf>,
    /// The mount points inside the folder, to keep for the next scan: as
    /// the system lists them, but a mount point whose change is blocked
    /// stays as it was until its disk is back (or the user says it is gone
    /// for good). `None` where the system does not list mounts.
    pub mounts: Option<BTreeSet<RelPath>>,
}

pub const TEMP_PREFIX: &str = ".nubo-tmp-";

pub(crate) enum Found {
    Entry(RelPath, Kind, FileStat),
    Blocked(RelPath, Blocked),
    Skipped(Problem),
    Leftover(PathBuf),
}

/// What one walk of a folder found: entries not ignored (the walk's own
/// start left out), paths it could not read or that hold something
/// unsyncable, and files named like temp files (whether they are this
/// home's is the scanner's to decide).
#[derive(Debug, Default)]
pub struct Walked {
    pub found: Vec<(RelPath, Kind, FileStat)>,
    pub blocked: Vec<(RelPath, Blocked)>,
    pub skipped: Vec<Problem>,
    pub leftovers: Vec<PathBuf>,
}

impl Walked {
    fn take(&mut self, f: Found) {
        match f {
            Found::Entry(rel, kind, stat) => self.found.push((rel, kind, stat)),
            Found::Blocked(rel, why) => self.blocked.push((rel, why)),
            Found::Skipped(s) => self.skipped.push(s),
            Found::Leftover(p) => self.leftovers.push(p),
        }
    }
}

/// The path an error of the walk is about, and what went wrong.
fn error_at(e: &ignore::Error) -> Option<(&Path, ReadError)> {
    match e {
        ignore::Error::WithPath { path, err } => {
            let kind = err.io_error().map_or(ReadError::Other, ReadError::from);
            Some((path, kind))
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_at(err)
        }
        _ => None,
    }
}

/// What the walk makes of one entry it was given.
fn classify(
    root: &Path,
    entry: Result<ignore::DirEntry, ignore::Error>,
    stat_in: &mut StatIn,
) -> Option<Found> {
    let e = match entry {
        Ok(e) => e,
        Err(err) => {
            return Some(match error_at(&err).map(|(p, k)| (rel_path(root, p), k)) {
                Some((Some(rel), kind)) => Found::Blocked(rel, Blocked::Unreadable { error: kind }),
                // The start of the walk itself: the caller sees it unreadable.
                _ => {
                    tracing::warn!("could not read part of the folder: {err}");
                    Found::Skipped(Problem::UnreadablePart)
                }
            });
        }
    };
    if e.depth() == 0 {
        return None;
    }
    let Some(rel) = rel_path(root, e.path()) else {
        return Some(Found::Skipped(Problem::OutsideFolder {
            path: e.path().display().to_string(),
        }));
    };
    Some(match stat_in.stat(e.path()) {
        Err(err) => {
            let error = ReadError::from(&err);
            Found::Blocked(rel, Blocked::Unreadable { error })
        }
        Ok(what) => found_as(rel, what),
    })
}

/// What the file system says an entry is (links not followed).
type What = (Option<Kind>, bool, FileStat);

/// Stats the walk's entries (links not followed). On Linux, relative to
/// their folder's descriptor, opened once per folder: a stat by full path
/// looks up every name on the way (ten, ten folders deep), which was the
/// largest share of a no-change scan's CPU.
#[derive(Default)]
struct StatIn {
    #[cfg(target_os = "linux")]
    dir: Option<(PathBuf, std::os::fd::OwnedFd)>,
}

impl StatIn {
    #[cfg(target_os = "linux")]
    fn stat(&mut self, path: &Path) -> std::io::Result<What> {
        use rustix::fs::{AtFlags, FileType, Mode, OFlags};
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return std::fs::symlink_metadata(path).map(|m| what_of(&m));
        };
        let fd = match self.dir.take() {
            Some((d, fd)) if d == dir => fd,
            _ => {
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                rustix::fs::open(dir, flags, Mode::empty())?
            }
        };
        let st = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW);
        self.dir = Some((dir.to_path_buf(), fd));
        let st = st?;
        let ft = FileType::from_raw_mode(st.st_mode as _);
        let kind = match ft {
            FileType::Directory => Some(Kind::Dir),
            FileType::RegularFile => Some(Kind::File),
            _ => None,
        };
        let ns = |s: i64, n: i64| s * 1_000_000_000 + n;
        let stat = FileStat {
            size: if kind == Some(Kind::Dir) {
                0
            } else {
                st.st_size as u64
            },
            mtime_ns: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
            inode: st.st_ino as u64,
            ctime_ns: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
            dev: st.st_dev as u64,
            exec: kind == Some(Kind::File) && st.st_mode as u32 & 0o100 != 0,
        };
        Ok((kind, ft == FileType::Symlink, stat))
    }

    #[cfg(not(target_os = "linux"))]
    fn stat(&mut self, path: &Path) -> std::io::Result<What> {
        std::fs::symlink_metadata(path).map(|m| what_of(&m))
    }
}

fn what_of(m: &std::fs::Metadata) -> What {
    (kind_of(m), m.file_type().is_symlink(), stat_of(m))
}

/// What an entry is, from its metadata (links not followed).
fn found_at(rel: RelPath, m: &std::fs::Metadata) -> Found {
    found_as(rel, what_of(m))
}

fn found_as(rel: RelPath, (kind, symlink, stat): What) -> Found {
    match kind {
        Some(kind) => Found::Entry(rel, kind, stat),
        None if symlink => Found::Blocked(
            rel,
            Blocked::InTheWay {
                what: Unsynced::Symlink,
            },
        ),
        None => Found::Blocked(
            rel,
            Blocked::InTheWay {
                what: Unsynced::Special,
            },
        ),
    }
}

/// What a walk of the real folder at `root` finds at `rel` alone (a folder
/// is not entered): its entry, why it is blocked, a leftover temp file, or
/// nothing where it is gone or ignored.
pub fn walk_one_disk(root: &Path, rel: &str, rules: &IgnoreRules) -> Walked {
    let mut walked = Walked::default();
    let path = crate::os_names::join(root, rel);
    let meta = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return walked,
        Err(e) => {
            let error = ReadError::from(&e);
            walked.take(Found::Blocked(
                rel.to_string(),
                Blocked::Unreadable { error },
            ));
            return walked;
        }
        Ok(m) => m,
    };
    let name = file_name(rel);
    if name.starts_with(TEMP_PREFIX) {
        walked.take(Found::Leftover(path));
        return walked;
    }
    if rules.is_ignored(rel, meta.is_dir()) {
        return walked;
    }
    if name == ROOT_MARKER && !parent(rel).is_empty() {
        walked.take(Found::Blocked(parent(rel).to_string(), Blocked::NestedRoot));
    }
    walked.take(found_at(rel.to_string(), &meta));
    walked
}

/// The walk of a real folder from `root/under` (`under` empty: the whole
/// folder), paths relative to `root`: parallel, never following links.
pub fn walk_disk(root: &Path, under: &str, rules: &IgnoreRules) -> Walked {
    let (tx, rx) = mpsc::channel::<Vec<Found>>();
    let filter_tx = tx.clone();
    let filter_rules = rules.clone();
    let filter_root = root.to_path_buf();
    let start = crate::os_names::join(root, under);
    let mut builder = WalkBuilder::new(&start);
    builder
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .threads(scan_threads())
        .filter_entry(move |e| {
            let name = e.file_name().to_str().unwrap_or_default();
            if name.starts_with(TEMP_PREFIX) {
                let _ = filter_tx.send(vec![Found::Leftover(e.path().to_path_buf())]);
                return false;
            }
            let rel = rel_path(&filter_root, e.path());
            if name == ROOT_MARKER && e.depth() > 0 {
                // Another synced folder's root inside this one.
                if let Some(dir) = rel.as_deref().map(parent).filter(|d| !d.is_empty()) {
                    let nested = Found::Blocked(dir.to_string(), Blocked::NestedRoot);
                    let _ = filter_tx.send(vec![nested]);
                }
            }
            match rel {
                Some(rel) => !filter_rules
                    .is_ignored_in_walk(&rel, e.file_type().is_some_and(|t| t.is_dir())),
                None => true,
            }
        });
    let walk_root = root.to_path_buf();
    let walk = move || {
        builder.build_parallel().run(|| {
            let mut batch = Batch::new(tx.clone());
            let root = walk_root.clone();
            let mut stat_in = StatIn::default();
            Box::new(move |entry| {
                if let Some(found) = classify(&root, entry, &mut stat_in) {
                    batch.push(found);
                }
                WalkState::Continue
            })
        });
        // The last senders (the walk's own, the filter's) go with it.
    };
    // Taken as they come: the channel holds a few, not the whole folder.
    let mut walked = Walked::default();
    std::thread::scope(|s| {
        s.spawn(walk);
        for f in rx.into_iter().flatten() {
            walked.take(f);
        }
    });
    walked
}

/// One walking thread's finds, sent a batch at a time (a send per entry
/// kept the receiving thread waking for each); the rest as the thread ends.
struct Batch {
    tx: mpsc::Sender<Vec<Found>>,
    found: Vec<Found>,
}

impl Batch {
    const LEN: usize = 512;

    fn new(tx: mpsc::Sender<Vec<Found>>) -> Self {
        Batch {
            tx,
            found: Vec::with_capacity(Self::LEN),
        }
    }

    fn push(&mut self, f: Found) {
        self.found.push(f);
        if self.found.len() == Self::LEN {
            let full = std::mem::replace(&mut self.found, Vec::with_capacity(Self::LEN));
            let _ = self.tx.send(full);
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if !self.found.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.found));
        }
    }
}

/// `path` relative to `root`, as the engine spells it: `/`-separated, each
/// name as the service spells it (`os_names`: a name that is not valid UTF-8
/// gets a reversible spelling). `None` outside `root`.
pub fn rel_path(root: &Path, path: &Path) -> Option<RelPath> {
    // The walk's paths are the root joined with names: most need no parsing
    // into components (which was a tenth of a no-change scan).
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let root = root.as_os_str().as_bytes();
        let rest = path
            .as_os_str()
            .as_bytes()
            .strip_prefix(root)
            .and_then(|r| match root.ends_with(b"/") {
                true => Some(r),
                // "/a/bc" is not inside "/a/b".
                false => r.strip_prefix(b"/"),
            });
        if let Some(rest) = rest {
            let plain = |part: &[u8]| !part.is_empty() && part != b"." && part != b"..";
            if !rest.is_empty() && rest.split(|b| *b == b'/').all(plain) {
                return Some(match std::str::from_utf8(rest) {
                    Ok(s) if !crate::os_names::needs_spelling(s) => s.to_string(),
                    _ => rest
                        .split(|b| *b == b'/')
                        .map(crate::os_names::encode)
                        .collect::<Vec<_>>()
                        .join("/"),
                });
            }
        }
    }
    let rel = path.strip_prefix(root).ok()?;
    let mut out = String::new();
    for part in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&crate::os_names::from_os(part.as_os_str()));
    }
    Some(out)
}

/// What a scan starts from: the rules, the last scan's entries (whose
/// hashes are reused), the wall clock when it began (for the racy-time
/// rule), and how this home names its temp files.
pub struct ScanInput<'a> {
    pub rules: &'a IgnoreRules,
    pub previous: &'a Tree<LocalEntry>,
    pub now_ns: i64,
    pub temps: &'a TempNames,
    /// The mount points inside the folder as the last scan left them
    /// (`Scan::mounts`); `None` for the first scan.
    pub previous_mounts: Option<&'a BTreeSet<RelPath>>,
    /// Told after each batch of files read (hashed): the batch's entries,
    /// to be kept before the scan ends (a kill loses none of that reading),
    /// and how far the reading is.
    pub on_read: Option<&'a OnRead<'a>>,
}

/// What a scan tells as it reads: see `ScanInput::on_read`. The answer is
/// whether the entries were kept.
pub type OnRead<'a> = dyn Fn(&[(RelPath, LocalEntry)], Reading) -> bool + 'a;

/// How far a scan is in reading the files it has not seen as they are
/// (new or changed ones): counts and bytes, done and in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    pub files_done: u64,
    pub files: u64,
    pub bytes_done: u64,
    pub bytes: u64,
}

/// A batch of reading ends after this many files or bytes, whichever comes
/// first: what a kill can lose, and how often progress is told.
const READ_BATCH_FILES: usize = 1_000;
const READ_BATCH_BYTES: u64 = 64 << 20;

/// Scans the whole folder at `root`.
pub fn scan(fs: &dyn LocalFs, root: &Path, input: &ScanInput<'_>) -> Scan {
    scan_under(fs, root, "", input)
}

/// Scans `root/under` (`under` itself left out), paths relative to `root`,
/// so that the folder's ignore rules match as they do in a whole scan.
pub fn scan_under(fs: &dyn LocalFs, root: &Path, under: &str, input: &ScanInput<'_>) -> Scan {
    let walked = fs.walk(root, under, input.rules);
    let (mut scan, to_read) = sort_walked(walked, input);
    match fs.mount_points(root) {
        // Before any file is read: what a folder whose disk went away
        // holds now is not read.
        Some(now) => {
            let now: BTreeSet<RelPath> = now.iter().filter_map(|p| rel_path(root, p)).collect();
            let empty = BTreeSet::new();
            let before = input.previous_mounts.unwrap_or(&empty);
            let held = |p: &str| inside(input.previous, p).next().is_some();
            scan.mounts = Some(block_mount_changes(&mut scan, held, before, now, under));
            read_files(fs, root, &mut scan, to_read, input);
        }
        // No mount table: a folder's device tells instead, once its files
        // are read (a folder none of whose files could be read is as empty
        // as an unmounted one; what these block held nothing that was read).
        None => {
            read_files(fs, root, &mut scan, to_read, input);
            block_emptied_mounts(&mut scan, input.previous, under);
            let root_dev = fs.stat(root).ok().flatten().map(|(_, s)| s.dev);
            block_vanished_mounts(&mut scan, input.previous, under, root_dev);
        }
    }
    keep_what_is_blocked(&mut scan, input.previous);
    scan
}

/// The last scan's entries as the state database keeps them
/// (`db::StoredLocal`), read in path order a page at a time.
pub trait Stored {
    /// Up to `limit` entries after `after` ("" for the first), in path order.
    fn page(&self, after: &str, limit: usize) -> DbResult<Vec<(RelPath, LocalEntry)>>;
    /// Whether anything is stored inside `path`.
    fn holds_inside(&self, path: &str) -> DbResult<bool>;
}

/// A whole scan compared with the stored tree as it went: `scan.tree`
/// holds only the entries that came or changed, `before` the stored entry
/// of each path that changed or went. Every other stored entry is as the
/// folder is (or blocked, and kept as it was).
///
/// Files read beyond `keep_read` that `on_read` kept are in neither: the
/// state database has them already (a first scan of a million files
/// would hold them all), and `stored_as_read` says so.
#[derive(Debug, Default)]
pub struct ScanDiff {
    pub scan: Scan,
    pub before: Tree<LocalEntry>,
    pub stored_as_read: bool,
}

/// Files to read, with their stat as walked.
type ToRead = Vec<(RelPath, FileStat)>;

/// Stored entries read at a time by a whole scan.
const PAGE: usize = 4096;

/// Scans the whole folder at `root` against the stored tree, holding the
/// walk's list and what differs, never the stored tree or the new one
/// whole (at a million files each took some 200 MB). `input.previous` is
/// not read: `stored` is. `None` where the system lists no mounts: the
/// scan then needs the whole stored tree to tell a disk that went away
/// (`scan`).
pub fn scan_against(
    fs: &dyn LocalFs,
    root: &Path,
    input: &ScanInput<'_>,
    stored: &dyn Stored,
    keep_read: usize,
) -> DbResult<Option<ScanDiff>> {
    if fs.mount_points(root).is_none() {
        return Ok(None);
    }
    let walked = fs.walk(root, "", input.rules);
    // The mount table after the walk, as `scan` reads it: a disk that
    // went away while the walk ran is seen gone, not read as emptied.
    let Some(now) = fs.mount_points(root) else {
        return Ok(None);
    };
    let (mut scan, mut found) = take_walked(walked, input);
    // In reverse path order: taken from the back (`compare_with_stored`).
    found.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    found.dedup_by(|a, b| a.0 == b.0);
    // Before any file is read: what a folder whose disk went away holds
    // now is not read.
    let now: BTreeSet<RelPath> = now.iter().filter_map(|p| rel_path(root, p)).collect();
    let empty = BTreeSet::new();
    let before_mounts = input.previous_mounts.unwrap_or(&empty);
    let mut held = BTreeSet::new();
    for path in before_mounts.difference(&now) {
        if stored.holds_inside(path)? {
            held.insert(path.clone());
        }
    }
    let held = |p: &str| held.contains(p);
    scan.mounts = Some(block_mount_changes(&mut scan, held, before_mounts, now, ""));
    let (mut before, to_read) = compare_with_stored(&mut scan, found, stored, input.now_ns)?;
    let keep = Keep::UpTo(keep_read);
    let stored_as_read = read_changed(fs, root, &mut scan, &mut before, to_read, input, keep);
    top_blocked(&mut scan);
    if !scan.blocked.is_empty() {
        // What is blocked keeps its stored entries, and nothing found there.
        let blocked = &scan.blocked;
        scan.tree.retain(|p, _| blocked_above(blocked, p).is_none());
        before.retain(|p, _| blocked_above(blocked, p).is_none());
    }
    Ok(Some(ScanDiff {
        scan,
        before,
        stored_as_read,
    }))
}

/// The walk's entries, sorted in reverse path order, against the stored
/// ones read in path order. A folder, or a file whose stat is as stored
/// (it keeps its hash), that is as stored is not kept again; what came or
/// changed goes into the scan's tree, and the stored entry of what went
/// or may have changed into `before`. The other files are returned, to
/// be read.
///
/// The walk's list is taken from its back and gives its memory back as it
/// goes: in a first scan every file is to be read, and the two lists
/// side by side were the scan's peak (a million entries: 80 MB each).
fn compare_with_stored(
    scan: &mut Scan,
    mut found: Vec<(RelPath, Kind, FileStat)>,
    stored: &dyn Stored,
    now_ns: i64,
) -> DbResult<(Tree<LocalEntry>, ToRead)> {
    let mut pages = Pages::new(stored);
    let mut before = Tree::new();
    let mut to_read = Vec::new();
    while let Some((rel, kind, stat)) = found.pop() {
        if found.capacity() > 2 * found.len() + PAGE {
            found.shrink_to_fit();
        }
        let mut prev = None;
        while let Some(order) = pages.front_cmp(&rel)? {
            let (path, entry) = pages.pop()?.expect("a front");
            if order == std::cmp::Ordering::Equal {
                prev = Some(entry);
                break;
            }
            gone(&mut before, &scan.blocked, path, entry);
        }
        let now = match (kind, &prev) {
            (Kind::Dir, _) => Some(LocalEntry {
                kind,
                stat,
                hash: None,
            }),
            (Kind::File, Some(p)) if reusable(p, &stat, now_ns) => {
                Some(LocalEntry { stat, ..p.clone() })
            }
            (Kind::File, _) => None,
        };
        match now {
            Some(e) if prev.as_ref() == Some(&e) => {}
            Some(e) => {
                if let Some(p) = prev {
                    before.insert(rel.clone(), p);
                }
                scan.tree.insert(rel, e);
            }
            None => {
                if let Some(p) = prev {
                    before.insert(rel.clone(), p);
                }
                to_read.push((rel, stat));
            }
        }
    }
    while let Some((path, entry)) = pages.pop()? {
        gone(&mut before, &scan.blocked, path, entry);
    }
    Ok((before, to_read))
}

/// A stored entry the walk did not find: gone, unless what is blocked
/// keeps it (a disk away keeps all it held, and is not gathered here).
fn gone(before: &mut Tree<LocalEntry>, blocked: &Tree<Blocked>, path: RelPath, e: LocalEntry) {
    if blocked.is_empty() || blocked_above(blocked, &path).is_none() {
        before.insert(path, e);
    }
}

/// Which files read a scan keeps in its tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    All,
    /// This many, and beyond them only those `on_read` did not keep.
    UpTo(usize),
}

/// Reads the files a scan could not take as stored (none inside what it
/// blocked) into its tree; one read as `before` has it (its times too
/// recent to trust) is no change, and one that cannot be read is blocked.
/// Where `keep` says so, one that `on_read` kept goes into neither the
/// tree nor `before`; the answer is whether any did.
fn read_changed(
    fs: &dyn LocalFs,
    root: &Path,
    scan: &mut Scan,
    before: &mut Tree<LocalEntry>,
    mut to_read: Vec<(RelPath, FileStat)>,
    input: &ScanInput<'_>,
    keep: Keep,
) -> bool {
    if !scan.blocked.is_empty() {
        to_read.retain(|(rel, _)| blocked_above(&scan.blocked, rel).is_none());
    }
    let mut kept = 0;
    let mut left_out = false;
    hash_all(fs, root, to_read, input.on_read, |read, stored| {
        for (rel, result) in read {
            match result {
                Ok(e) if before.get(&rel) == Some(&e) => {
                    before.remove(&rel);
                }
                Ok(_) if stored && matches!(keep, Keep::UpTo(most) if kept >= most) => {
                    before.remove(&rel);
                    left_out = true;
                }
                Ok(e) => {
                    scan.tree.insert(rel, e);
                    kept += 1;
                }
                Err(error) => {
                    scan.blocked.insert(rel, Blocked::Unreadable { error });
                }
            }
        }
    });
    left_out
}

/// The stored entries, a page at a time, in path order.
struct Pages<'a> {
    stored: &'a dyn Stored,
    page: std::collections::VecDeque<(RelPath, LocalEntry)>,
    after: RelPath,
    done: bool,
}

impl<'a> Pages<'a> {
    fn new(stored: &'a dyn Stored) -> Self {
        Pages {
            stored,
            page: Default::default(),
            after: RelPath::new(),
            done: false,
        }
    }

    fn fill(&mut self) -> DbResult<()> {
        if self.page.is_empty() && !self.done {
            let page = self.stored.page(&self.after, PAGE)?;
            self.done = page.len() < PAGE;
            if let Some((last, _)) = page.last() {
                self.after = last.clone();
            }
            self.page.extend(page);
        }
        Ok(())
    }

    /// How the next stored path compares with `path`, where it is not
    /// after it.
    fn front_cmp(&mut self, path: &str) -> DbResult<Option<std::cmp::Ordering>> {
        self.fill()?;
        Ok(self
            .page
            .front()
            .map(|(p, _)| p.as_str().cmp(path))
            .filter(|o| o.is_le()))
    }

    fn pop(&mut self) -> DbResult<Option<(RelPath, LocalEntry)>> {
        self.fill()?;
        Ok(self.page.pop_front())
    }
}

/// What a walk found, sorted: folders, and files whose stat is as the last
/// scan left them (they keep their hash), go into the scan's tree; the
/// other files are returned, to be read.
fn sort_walked(walked: Walked, input: &ScanInput<'_>) -> (Scan, Vec<(RelPath, FileStat)>) {
    let (mut scan, found) = take_walked(walked, input);
    let mut to_read: Vec<(RelPath, FileStat)> = Vec::new();
    for (rel, kind, stat) in found {
        match kind {
            Kind::Dir => {
                scan.tree.insert(
                    rel,
                    LocalEntry {
                        kind,
                        stat,
                        hash: None,
                    },
                );
            }
            Kind::File => match input.previous.get(&rel) {
                Some(p) if reusable(p, &stat, input.now_ns) => {
                    // The stat as it is now (a stored one may lack the
                    // change time).
                    scan.tree.insert(rel, LocalEntry { stat, ..p.clone() });
                }
                _ => to_read.push((rel, stat)),
            },
        }
    }
    (scan, to_read)
}

/// Whether a file last seen as `prev` and found with `stat` keeps its
/// hash: every field of the stat alike, and its times not so recent that
/// a write in the same tick could hide.
fn reusable(prev: &LocalEntry, stat: &FileStat, now_ns: i64) -> bool {
    prev.kind == Kind::File
        && prev.stat.unchanged_as(stat)
        && stat.mtime_ns.max(stat.ctime_ns) < now_ns - RACY_NS
}

/// What a walk found, as a scan begins with it: what it blocked, left out
/// and left over (this home's temp files), and the entries.
fn take_walked(walked: Walked, input: &ScanInput<'_>) -> (Scan, Vec<(RelPath, Kind, FileStat)>) {
    let Walked {
        found,
        blocked,
        skipped,
        leftovers,
    } = walked;
    let mut scan = Scan {
        skipped,
        leftovers: leftovers
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| input.temps.is_ours(n))
            })
            .collect(),
        ..Scan::default()
    };
    scan.blocked.extend(blocked);
    (scan, found)
}

/// Reads `to_read` (on several threads) into the scan's tree; a file that
/// cannot be read is blocked. None inside what the scan has blocked is
/// read: it keeps its last entries (`keep_what_is_blocked`), so reading it
/// would be lost work, and `on_read` would keep rows the scan then drops.
fn read_files(
    fs: &dyn LocalFs,
    root: &Path,
    scan: &mut Scan,
    to_read: Vec<(RelPath, FileStat)>,
    input: &ScanInput<'_>,
) {
    // Nothing stored to compare with: every file read goes into the tree.
    read_changed(fs, root, scan, &mut Tree::new(), to_read, input, Keep::All);
}

/// What a round found again at the paths the watcher named, in a folder
/// whose last scan is `input.previous`: each replaced path's entry (and,
/// where `whole`, everything inside it) is to be replaced by what
/// `scan.tree` holds there. Mount points are not looked at: a round whose
/// mount table changed scans the whole folder.
#[derive(Debug, Default)]
pub struct Rescan {
    pub replaced: Vec<Replaced>,
    pub scan: Scan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub path: RelPath,
    /// Everything inside it was looked at too (or is gone with it).
    pub whole: bool,
}

/// The same folder, whose times alone moved (something inside it came,
/// went or was renamed: each of those is a path of its own). The planner
/// decides a folder by its kind and identity, never by its times; after
/// an initial download every folder's times moved (20,000 at a million
/// files), which would plan the next round over everything.
fn same_folder(before: &LocalEntry, now: &LocalEntry) -> bool {
    let (b, n) = (&before.stat, &now.stat);
    before.kind == Kind::Dir
        && now.kind == Kind::Dir
        && (b.inode, b.dev, b.exec) == (n.inode, n.dev, n.exec)
}

/// What a whole scan found unlike what the last one knew: each path whose
/// entry came, went or changed. `None` where what is blocked changed (a
/// folder freed decides what waited for it, wherever that is: such rounds
/// are planned whole), or beyond `max` paths (too much changed to be worth
/// planning apart).
pub fn replaced_between(
    previous: &Tree<LocalEntry>,
    scan: &Scan,
    blocked_before: &Tree<Blocked>,
    max: usize,
) -> Option<Vec<Replaced>> {
    if *blocked_before != scan.blocked {
        return None;
    }
    let mut out = Vec::new();
    let mut before = previous.iter().peekable();
    let mut now = scan.tree.iter().peekable();
    loop {
        let b = before.peek().copied();
        let n = now.peek().copied();
        let path = match (b, n) {
            (None, None) => break,
            (Some((b, _)), None) => {
                before.next();
                Some(b)
            }
            (None, Some((n, _))) => {
                now.next();
                Some(n)
            }
            (Some((b, be)), Some((n, ne))) => match b.cmp(n) {
                std::cmp::Ordering::Less => {
                    before.next();
                    Some(b)
                }
                std::cmp::Ordering::Greater => {
                    now.next();
                    Some(n)
                }
                std::cmp::Ordering::Equal => {
                    before.next();
                    now.next();
                    (be != ne && !same_folder(be, ne)).then_some(b)
                }
            },
        };
        if let Some(path) = path {
            out.push(Replaced {
                path: path.clone(),
                whole: false,
            });
        }
        if out.len() > max {
            return None;
        }
    }
    (out.len() <= max).then_some(out)
}

/// Looks again at `changed` only (`true`: and at everything inside, where
/// it is a folder), in path order, so a folder is looked at before what it
/// holds and what a new, gone or blocked folder holds is taken with it. A
/// folder already known (same inode) is entered only when asked: what
/// changed in it has events of its own. A path inside one `blocked` (by an
/// earlier scan) is looked at from the blocked folder down; one inside a
/// folder the last scan did not know, from that folder down.
pub fn rescan(
    fs: &dyn LocalFs,
    root: &Path,
    changed: &std::collections::BTreeMap<RelPath, bool>,
    blocked: &Tree<Blocked>,
    input: &ScanInput<'_>,
) -> Rescan {
    let mut todo: std::collections::BTreeMap<RelPath, bool> = std::collections::BTreeMap::new();
    for (path, deep) in changed {
        // Inside a folder named like a temp file, which no walk enters.
        if ancestors(path).any(|a| file_name(a).starts_with(TEMP_PREFIX)) {
            continue;
        }
        match blocked_above(blocked, path) {
            Some(top) => {
                todo.insert(top.to_string(), true);
            }
            None => {
                let d = todo.entry(path.clone()).or_insert(false);
                *d |= *deep;
                // A folder above it the last scan did not know (its event
                // lost): looked at too, and into.
                for dir in ancestors(path) {
                    if input.previous.contains_key(dir) {
                        break;
                    }
                    todo.entry(dir.to_string()).or_insert(false);
                }
            }
        }
    }
    let mut walked = Walked::default();
    let mut replaced: Vec<Replaced> = Vec::new();
    let mut taken: std::collections::HashSet<RelPath> = std::collections::HashSet::new();
    for (path, deep) in todo {
        if ancestors(&path).any(|a| taken.contains(a)) {
            continue;
        }
        let one = fs.walk_one(root, &path, input.rules);
        let enter = match one.found.as_slice() {
            [(_, Kind::Dir, stat)] if one.blocked.iter().all(|(p, _)| *p != path) => {
                deep || !input
                    .previous
                    .get(&path)
                    .is_some_and(|p| p.kind == Kind::Dir && p.stat.inode == stat.inode)
            }
            _ => false,
        };
        let is_dir = matches!(one.found.as_slice(), [(_, Kind::Dir, _)]);
        let whole = enter || !is_dir;
        merge(&mut walked, one);
        if enter {
            merge(&mut walked, fs.walk(root, &path, input.rules));
        }
        if whole {
            taken.insert(path.clone());
        }
        replaced.push(Replaced { path, whole });
    }
    let (mut scan, to_read) = sort_walked(walked, input);
    read_files(fs, root, &mut scan, to_read, input);
    keep_what_is_blocked(&mut scan, input.previous);
    // A folder blocked from inside (another root's marker) is replaced
    // whole: it keeps what it held.
    for top in scan.blocked.keys() {
        if !replaced
            .iter()
            .any(|r| r.whole && (*top == r.path || is_inside(top, &r.path)))
        {
            replaced.push(Replaced {
                path: top.clone(),
                whole: true,
            });
        }
    }
    Rescan { replaced, scan }
}

/// The highest path of `blocked` at or above `path`.
pub fn blocked_above<'a>(blocked: &'a Tree<Blocked>, path: &str) -> Option<&'a str> {
    let mut found = None;
    let mut p = path;
    loop {
        if let Some((k, _)) = blocked.get_key_value(p) {
            found = Some(k.as_str());
        }
        if p.is_empty() {
            return found;
        }
        p = parent(p);
    }
}

fn merge(into: &mut Walked, from: Walked) {
    into.found.extend(from.found);
    into.blocked.extend(from.blocked);
    into.skipped.extend(from.skipped);
    into.leftovers.extend(from.leftovers);
}

/// A folder that was a mount point and is not one now (its disk
/// unmounted, even a bind mount of the same disk, even if something is in
/// the folder now): what it held is not read as deleted. Blocked like a
/// missing root until the disk is back, or until the user says the change
/// is meant (`Engine::forget_mount`). A disk mounted over a folder is
/// simply what the folder holds from then on (what it hides reads as
/// deleted, behind the mass-delete guard). Returns the mount points to
/// keep.
fn block_mount_changes(
    scan: &mut Scan,
    held_something: impl Fn(&str) -> bool,
    before: &BTreeSet<RelPath>,
    now: BTreeSet<RelPath>,
    under: &str,
) -> BTreeSet<RelPath> {
    let mut keep = now.clone();
    for path in before.difference(&now) {
        let held_something = held_something(path);
        let ours = under.is_empty() || is_inside(path, under);
        if held_something && ours {
            scan.blocked.insert(path.clone(), Blocked::MountChanged);
            // The change waits: the mount point is kept as it was.
            keep.insert(path.clone());
        }
    }
    keep
}

/// A folder on another device than it was, and empty where it held
/// entries: a disk unmounted (or an empty one mounted over it). Blocked
/// like a missing root, so that its files are not read as deleted.
fn block_emptied_mounts(scan: &mut Scan, previous: &Tree<LocalEntry>, under: &str) {
    let emptied: Vec<RelPath> = scan
        .tree
        .iter()
        .filter(|(path, e)| {
            e.kind == Kind::Dir
                && previous.get(*path).is_some_and(|p| {
                    p.kind == Kind::Dir && p.stat.dev != 0 && p.stat.dev != e.stat.dev
                })
                && inside(&scan.tree, path).next().is_none()
                && inside(previous, path).next().is_some()
        })
        .map(|(p, _)| p.clone())
        .collect();
    for path in emptied {
        if under.is_empty() || is_inside(&path, under) {
            scan.blocked.insert(path, Blocked::MountChanged);
        }
    }
}

/// A folder that was a mount point (on another device than the folder
/// around it) and is gone: its disk went away and the empty folder left was
/// removed or renamed. Blocked like a missing root; a user who means it
/// confirms (`--allow-mass-delete`).
fn block_vanished_mounts(
    scan: &mut Scan,
    previous: &Tree<LocalEntry>,
    under: &str,
    root_dev: Option<u64>,
) {
    let gone: Vec<RelPath> = previous
        .iter()
        .filter(|(path, e)| {
            let around = match parent(path) {
                "" => root_dev,
                dir => previous.get(dir).map(|d| d.stat.dev),
            };
            e.kind == Kind::Dir
                && e.stat.dev != 0
                && around.is_some_and(|d| d != 0 && d != e.stat.dev)
                && (under.is_empty() || is_inside(path, under))
                && !scan.tree.contains_key(*path)
        })
        .map(|(p, _)| p.clone())
        .collect();
    for path in gone {
        scan.blocked.entry(path).or_insert(Blocked::MountChanged);
    }
}

/// Every blocked path keeps what the last scan knew of it and of
/// everything inside it, and nothing this scan found there: its merge base
/// stays, and the state database keeps it for when it can be read again.
fn keep_what_is_blocked(scan: &mut Scan, previous: &Tree<LocalEntry>) {
    for top in &top_blocked(scan) {
        let drop: Vec<RelPath> = scan
            .tree
            .get_key_value(top.as_str())
            .map(|(k, _)| k.clone())
            .into_iter()
            .chain(inside(&scan.tree, top).map(|(k, _)| k.clone()))
            .collect();
        for p in drop {
            scan.tree.remove(&p);
        }
        let kept = previous
            .get_key_value(top.as_str())
            .into_iter()
            .chain(inside(previous, top));
        for (p, e) in kept {
            scan.tree.insert(p.clone(), e.clone());
        }
    }
}

/// Leaves only the blocked paths no blocked folder covers, and returns them.
fn top_blocked(scan: &mut Scan) -> Vec<RelPath> {
    // A blocked folder covers what is blocked inside it.
    let covered = |path: &str| {
        let mut p = path;
        while !p.is_empty() {
            p = parent(p);
            if scan.blocked.contains_key(p) {
                return true;
            }
        }
        false
    };
    let tops: Vec<RelPath> = scan
        .blocked
        .keys()
        .filter(|p| !covered(p))
        .cloned()
        .collect();
    scan.blocked.retain(|p, _| tops.binary_search(p).is_ok());
    tops
}

/// Hashes files on several threads, in batches (see `READ_BATCH_FILES`),
/// handing each batch's results to `each` as it is done: each result is
/// its entry, or what kept the file from being read. Where there is more
/// than one batch (or more bytes than a batch holds), `on_read` is told
/// after each (a small reading is kept and told by the scan's end), and
/// `each` whether it kept the batch's entries.
fn hash_all(
    fs: &dyn LocalFs,
    root: &Path,
    to_hash: Vec<(RelPath, FileStat)>,
    on_read: Option<&OnRead<'_>>,
    mut each: impl FnMut(Vec<(RelPath, Result<LocalEntry, ReadError>)>, bool),
) {
    let bytes_of = |files: &[(RelPath, FileStat)]| {
        files
            .iter()
            .fold(0u64, |sum, (_, s)| sum.saturating_add(s.size))
    };
    let mut reading = Reading {
        files: to_hash.len() as u64,
        bytes: bytes_of(&to_hash),
        ..Reading::default()
    };
    // One large file alone is told too: it may take minutes to read.
    let on_read =
        on_read.filter(|_| batch_len(&to_hash) < to_hash.len() || reading.bytes > READ_BATCH_BYTES);
    if let Some(tell) = on_read {
        tell(&[], reading);
    }
    let mut rest = &to_hash[..];
    while !rest.is_empty() {
        let (batch, after) = rest.split_at(batch_len(rest));
        rest = after;
        let done = hash_batch(fs, root, batch);
        reading.files_done += batch.len() as u64;
        reading.bytes_done = reading.bytes_done.saturating_add(bytes_of(batch));
        let kept = on_read.is_some_and(|tell| {
            let read: Vec<(RelPath, LocalEntry)> = done
                .iter()
                .filter_map(|(p, r)| Some((p.clone(), r.as_ref().ok()?.clone())))
                .collect();
            tell(&read, reading)
        });
        each(done, kept);
    }
}

/// How many of `files` the next batch takes: up to `READ_BATCH_FILES`, and
/// no more bytes than `READ_BATCH_BYTES` (at least one file).
fn batch_len(files: &[(RelPath, FileStat)]) -> usize {
    let mut bytes = 0u64;
    let fit = files
        .iter()
        .take(READ_BATCH_FILES)
        .take_while(|(_, s)| {
            bytes += s.size;
            bytes <= READ_BATCH_BYTES
        })
        .count();
    fit.max(1)
}

/// How many threads a walk, and the reading of a batch, use: one a core,
/// up to eight.
fn scan_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8)
}

/// Hashes one batch, each worker taking the next file not yet taken.
fn hash_batch(
    fs: &dyn LocalFs,
    root: &Path,
    batch: &[(RelPath, FileStat)],
) -> Vec<(RelPath, Result<LocalEntry, ReadError>)> {
    let workers = scan_threads().min(batch.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((rel, stat)) = batch.get(i) else {
                return out;
            };
            let path = crate::os_names::join(root, rel);
            // A read that panics (a bug, not the disk) blocks its file
            // alone, which keeps its last entry; the others are read.
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                hash_one(fs, &path, stat)
            }))
            .unwrap_or(Err(ReadError::Other));
            out.push((i, (rel.clone(), read)));
        }
    };
    let mut done: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(take)).collect();
        handles
            .into_iter()
            // A worker that panicked must not leave its files out of the
            // tree (they would read as deleted): its panic goes on.
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    // In the order given, whichever worker read what.
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

fn hash_one(fs: &dyn LocalFs, path: &Path, stat: &FileStat) -> Result<LocalEntry, ReadError> {
    let hash = fs.hash(path).map_err(|e| ReadError::from(&e))?;
    // Re-stat: a file written while it was hashed is hashed again next
    // scan, never trusted half-read.
    let after = fs.stat(path).ok().flatten().map(|(_, s)| s);
    let stat = if after == Some(*stat) {
        *stat
    } else {
        FileStat {
            mtime_ns: 0,
            ..*stat
        }
    };
    Ok(LocalEntry {
        kind: Kind::File,
        stat,
        hash: Some(hash),
    })
}

#[cfg(test)]
mod tests {
    use super::rel_path;
    use std::path::Path;

    /// The walk's stat (relative to each folder's descriptor on Linux) says
    /// of every entry what a stat by its full path says: a changed device
    /// or time would read a whole tree as changed, or a mount as gone.
    #[test]
    fn the_walk_sees_each_entry_as_a_stat_by_path_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::write(root.join("a/b/c/deep.txt"), "deep").unwrap();
        std::fs::write(root.join("top.txt"), "").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let run = root.join("a/run.sh");
            std::fs::write(&run, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::symlink("top.txt", root.join("a/link")).unwrap();
        }
        let rules = crate::ignore_rules::IgnoreRules::load(root, &[]);
        let walked = super::walk_disk(root, "", &rules);
        let mut found = walked.found.clone();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<&str> = found.iter().map(|(p, _, _)| p.as_str()).collect();
        assert!(names.contains(&"a/b/c/deep.txt"), "{names:?}");
        for (rel, kind, stat) in &found {
            let m = std::fs::symlink_metadata(root.join(rel)).unwrap();
            assert_eq!(Some(*kind), crate::fs::kind_of(&m), "{rel}");
            assert_eq!(*stat, crate::fs::stat_of(&m), "{rel}");
        }
        #[cfg(unix)]
        {
            assert!(found.iter().any(|(p, _, s)| p == "a/run.sh" && s.exec));
            let link = walked.blocked.iter().find(|(p, _)| p == "a/link");
            assert!(
                matches!(link, Some((_, super::Blocked::InTheWay { .. }))),
                "{:?}",
                walked.blocked
            );
        }
    }

    /// A whole scan that reads more files than a round over what changed
    /// takes holds only that many: the rest were stored as read. Where
    /// they could not be stored, it holds them all.
    #[test]
    fn a_whole_scan_holds_only_a_few_of_the_files_it_stored_as_read() {
        use crate::tree::{Kind, LocalEntry, RelPath};
        struct NothingStored;
        impl super::Stored for NothingStored {
            fn page(&self, _: &str, _: usize) -> crate::db::DbResult<Vec<(RelPath, LocalEntry)>> {
                Ok(Vec::new())
            }
            fn holds_inside(&self, _: &str) -> crate::db::DbResult<bool> {
                Ok(false)
            }
        }
        const FILES: usize = 2 * super::READ_BATCH_FILES + 500;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Nubo");
        for i in 0..FILES {
            let folder = root.join(format!("d{}", i / 100));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(format!("f{i}")), format!("{i}")).unwrap();
        }
        let fs = crate::fs::RealFs {
            fallback_trash: dir.path().join("trash"),
        };
        let rules = crate::ignore_rules::IgnoreRules::load(&root, &[]);
        let temps = crate::temp_names::TempNames::new([7; 32]);
        for can_store in [true, false] {
            let stored = std::cell::RefCell::new(Vec::new());
            let on_read = |read: &[(RelPath, LocalEntry)], _| {
                stored
                    .borrow_mut()
                    .extend(read.iter().map(|(p, _)| p.clone()));
                can_store
            };
            let no_tree = crate::tree::Tree::new();
            let input = super::ScanInput {
                rules: &rules,
                previous: &no_tree,
                now_ns: i64::MAX,
                temps: &temps,
                previous_mounts: None,
                on_read: Some(&on_read),
            };
            let diff = super::scan_against(&fs, &root, &input, &NothingStored, 10)
                .unwrap()
                .expect("this system lists its mounts");
            let files = (diff.scan.tree.values())
                .filter(|e| e.kind == Kind::File)
                .count();
            assert_eq!(stored.borrow().len(), FILES, "every file read was told");
            assert!(diff.before.is_empty());
            match can_store {
                true => {
                    assert_eq!(files, 10, "held beyond the few");
                    assert!(diff.stored_as_read);
                }
                false => {
                    assert_eq!(files, FILES, "a file not stored was not held");
                    assert!(!diff.stored_as_read);
                }
            }
        }
    }

    #[test]
    fn rel_paths_of_walked_entries() {
        let cases = [
            ("/home/u/Nubo", "/home/u/Nubo/a/b.txt", Some("a/b.txt")),
            ("/home/u/Nubo/", "/home/u/Nubo/a", Some("a")),
            ("/home/u/Nubo", "/home/u/Nubo", Some("")),
            ("/home/u/Nubo", "/home/u/Nubo2/a", None),
            ("/home/u/Nubo", "/home/u/Nubo/./a", Some("a")),
            ("/home/u/./Nubo", "/home/u/Nubo/a", Some("a")),
            ("/home/u/Nubo", "/elsewhere/a", None),
        ];
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = std::ffi::OsStr::from_bytes(b"/home/u/Nubo/d\xff/caf\xe9");
            let rel = rel_path(Path::new("/home/u/Nubo"), Path::new(odd)).unwrap();
            assert_eq!(
                rel,
                format!(
                    "{}/{}",
                    crate::os_names::encode(b"d\xff"),
                    crate::os_names::encode(b"caf\xe9")
                )
            );
            assert_eq!(
                crate::os_names::join(Path::new("/home/u/Nubo"), &rel).as_os_str(),
                odd
            );
        }
        for (root, path, want) in cases {
            assert_eq!(
                rel_path(Path::new(root), Path::new(path)).as_deref(),
                want,
                "{path} under {root}"
            );
        }
    }

    /// After a download the folders' times have moved (a file came in
    /// each): that is no path to plan over, but a folder replaced by
    /// another (a new inode), a file whose stat moved, or one that came
    /// are.
    #[test]
    fn a_folder_whose_times_alone_moved_is_not_replaced() {
        use super::{replaced_between, Scan};
        use crate::tree::{FileStat, Kind, LocalEntry, Tree};
        let entry = |kind, inode, mtime_ns| LocalEntry {
            kind,
            stat: FileStat {
                inode,
                mtime_ns,
                ctime_ns: mtime_ns,
                ..FileStat::default()
            },
            hash: None,
        };
        let tree_of = |entries: Vec<(&str, LocalEntry)>| -> Tree<LocalEntry> {
            (entries.into_iter())
                .map(|(p, e)| (p.to_string(), e))
                .collect()
        };
        let before = tree_of(vec![
            ("photos", entry(Kind::Dir, 2, 10)),
            ("photos/a.jpg", entry(Kind::File, 3, 10)),
            ("music", entry(Kind::Dir, 4, 10)),
        ]);
        let tree = tree_of(vec![
            ("photos", entry(Kind::Dir, 2, 20)),
            ("photos/a.jpg", entry(Kind::File, 3, 20)),
            ("photos/b.jpg", entry(Kind::File, 5, 20)),
            ("music", entry(Kind::Dir, 6, 20)),
        ]);
        let scan = Scan {
            tree,
            ..Scan::default()
        };
        let replaced = replaced_between(&before, &scan, &Tree::new(), 100).unwrap();
        let paths: Vec<&str> = replaced.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["music", "photos/a.jpg", "photos/b.jpg"]);
    }
}
