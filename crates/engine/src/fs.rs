//! The local file system behind a trait, so that the executor can run against
//! a simulated one. `RealFs` is the one users have.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::content::{self, Digest};
use crate::ignore_rules::IgnoreRules;
use crate::planner::Expect;
use crate::scanner::Walked;
use crate::tree::{ContentHash, FileStat, Kind};

/// A file being downloaded, in the target's folder under a temp name
/// (`temp_names`).
pub trait TempSink: Send {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Gives the file the modification time it had where it was written
    /// (milliseconds since 1970), as rsync -a and Syncthing do.
    fn set_modified(&mut self, mtime_ms: i64) -> io::Result<()>;
    /// Whoever may read the file may run it too (`exec`), or nobody may.
    fn set_executable(&mut self, exec: bool) -> io::Result<()>;
    /// Flushes and fsyncs; the content is durable after this.
    fn finish(self: Box<Self>) -> io::Result<()>;
    fn path(&self) -> &Path;
    /// The file system the file is on, where `sync_filesystem` makes it
    /// durable with every other file written there after it was made;
    /// `None` where each file is `finish`ed alone.
    fn filesystem(&self) -> Option<u64> {
        None
    }
    /// Makes durable everything written on the file's file system, and
    /// fails if any write there failed since this file was made.
    fn sync_filesystem(&self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Makes every temp file durable: the answer for each, in the order given.
/// Where many were written on one file system that tells of a failed
/// write (`TempSink::filesystem`), one sync of that file system serves
/// them all: an fsync per file was a fifth of a download of 100,000 small
/// files. Where that sync fails, each of its files is finished alone,
/// which tells which one failed.
pub fn finish_all(temps: Vec<Box<dyn TempSink>>) -> Vec<io::Result<()>> {
    const TOGETHER: usize = 8;
    let mut by_fs: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    let mut alone = Vec::new();
    for (i, temp) in temps.iter().enumerate() {
        match temp.filesystem() {
            Some(fs) => by_fs.entry(fs).or_default().push(i),
            None => alone.push(i),
        }
    }
    let mut slots: Vec<Option<io::Result<()>>> = (0..temps.len()).map(|_| None).collect();
    for group in by_fs.into_values() {
        // The group's first file was made before any of the others was
        // written: a failed write of any of them is told to it.
        let synced = match group.len() >= TOGETHER {
            true => temps[group[0]].sync_filesystem(),
            false => Err(io::Error::from(io::ErrorKind::Unsupported)),
        };
        match synced {
            Ok(()) => group.iter().for_each(|&i| slots[i] = Some(Ok(()))),
            Err(e) => {
                if e.kind() != io::ErrorKind::Unsupported {
                    tracing::debug!(error = %e, "a file system's sync failed: each file alone");
                }
                alone.extend(group);
            }
        }
    }
    alone.sort_unstable();
    let mut temps: Vec<Option<Box<dyn TempSink>>> = temps.into_iter().map(Some).collect();
    let each = alone.iter().filter_map(|&i| temps[i].take()).collect();
    for (i, r) in alone.into_iter().zip(finish_each(each)) {
        slots[i] = Some(r);
    }
    // What was synced together is closed here.
    drop(temps);
    answers(slots)
}

/// Each temp file's answer; one never given is an error.
fn answers(slots: Vec<Option<io::Result<()>>>) -> Vec<io::Result<()>> {
    slots
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("a temp file was not finished"))))
        .collect()
}

/// Finishes (fsyncs) each temp file, several at once, so that the disk
/// commits them together.
fn finish_each(temps: Vec<Box<dyn TempSink>>) -> Vec<io::Result<()>> {
    const AT_ONCE: usize = 8;
    let threads = temps.len().min(AT_ONCE);
    let mut slots: Vec<Option<io::Result<()>>> = (0..temps.len()).map(|_| None).collect();
    let work = std::sync::Mutex::new(temps.into_iter().enumerate());
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let next = work.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some((i, temp)) = next else { break };
                let r = temp.finish();
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    answers(slots)
}

pub trait LocalFs: Send + Sync {
    /// Without following symlinks; `None` when nothing is there.
    fn stat(&self, path: &Path) -> io::Result<Option<(Kind, FileStat)>>;
    fn hash(&self, path: &Path) -> io::Result<ContentHash>;
    fn digest(&self, path: &Path) -> io::Result<Digest>;
    fn read_at(&self, path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates the temp file `path` (never over anything already there).
    fn create_temp(&self, path: &Path) -> io::Result<Box<dyn TempSink>>;
    /// Moves a finished temp file onto `target`, only if `target` is still as
    /// expected; `ErrorKind::AlreadyExists` when it is not.
    fn place(&self, temp: &Path, target: &Path, expect: &Expect) -> io::Result<()>;
    /// Renames without ever replacing what is at `to`.
    fn rename_new(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// To the OS trash (or the home's holding folder where there is none).
    fn trash(&self, path: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Every entry under `root/under` (`under` empty: the whole folder) the
    /// rules do not ignore, paths relative to `root`.
    fn walk(&self, root: &Path, under: &str, rules: &IgnoreRules) -> Walked;
    /// What `walk` would find at `root/path` alone, a folder not entered:
    /// nothing where it is gone or ignored.
    fn walk_one(&self, root: &Path, path: &str, rules: &IgnoreRules) -> Walked;
    /// Makes one folder, without ever passing through a symbolic link.
    fn make_dir(&self, path: &Path) -> io::Result<MadeDir>;
    /// Whether `root/rel` is a folder reached without passing through a
    /// symbolic link, told in one step; `false` where that is not known
    /// (each folder on the way is then looked at with `make_dir`).
    fn is_dir_beneath(&self, root: &Path, rel: &Path) -> bool {
        let _ = (root, rel);
        false
    }
    /// A small file whole (the root marker, `.nuboignore`).
    fn read_small(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The mount points strictly inside `root` (another disk, a bind
    /// mount, a tmpfs): how a subfolder whose disk went away is told from
    /// one the user emptied. `None` where the system does not say.
    fn mount_points(&self, root: &Path) -> Option<BTreeSet<PathBuf>> {
        let _ = root;
        None
    }

    /// Bytes this user may still write on the disk holding `dir`; `None`
    /// where that cannot be known (downloads then stop only at a full disk).
    fn available_space(&self, dir: &Path) -> io::Result<Option<u64>> {
        let _ = dir;
        Ok(None)
    }
}

/// What `make_dir` found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadeDir {
    /// The folder is there (made now or before).
    Ready,
    /// A symbolic link is in the way: writing through it could leave the root.
    Symlink,
    /// A file is in the way.
    File,
}

pub struct RealFs {
    /// Where deletions go when the OS trash cannot take them.
    pub fallback_trash: PathBuf,
}

pub fn stat_of(meta: &fs::Metadata) -> FileStat {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileStat {
            size: if meta.is_dir() { 0 } else { meta.size() },
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            inode: meta.ino(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            dev: meta.dev(),
            exec: meta.is_file() && meta.mode() & 0o100 != 0,
        }
    }
    #[cfg(not(unix))]
    {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        FileStat {
            size: if meta.is_dir() { 0 } else { meta.len() },
            mtime_ns,
            ..FileStat::default()
        }
    }
}

pub fn kind_of(meta: &fs::Metadata) -> Option<Kind> {
    if meta.is_dir() {
        Some(Kind::Dir)
    } else if meta.is_file() {
        Some(Kind::File)
    } else {
        None
    }
}

struct RealTemp {
    file: File,
    path: PathBuf,
}

impl TempSink for RealTemp {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }
    fn set_modified(&mut self, mtime_ms: i64) -> io::Result<()> {
        // Before 1970 too (a scanned photo's date, say).
        let offset = std::time::Duration::from_millis(mtime_ms.unsigned_abs());
        let at = if mtime_ms >= 0 {
            std::time::UNIX_EPOCH + offset
        } else {
            std::time::UNIX_EPOCH - offset
        };
        self.file.set_modified(at)
    }
    fn set_executable(&mut self, exec: bool) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mut perms = self.file.metadata()?.permissions();
            let mode = perms.mode();
            let mode = if exec {
                mode | (mode & 0o444) >> 2
            } else {
                mode & !0o111
            };
            perms.set_mode(mode);
            self.file.set_permissions(perms)
        }
        #[cfg(not(unix))]
        {
            let _ = exec;
            Ok(())
        }
    }
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.file.sync_all()
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn filesystem(&self) -> Option<u64> {
        syncs_together(&self.file)
    }
    /// Twice: ext4 without a journal writes its inode tables after the
    /// cache flush of a sync (the block device is written last), and the
    /// second sync's flush is what makes them durable. Elsewhere the second
    /// finds nothing to write.
    #[cfg(target_os = "linux")]
    fn sync_filesystem(&self) -> io::Result<()> {
        rustix::fs::syncfs(&self.file)?;
        Ok(rustix::fs::syncfs(&self.file)?)
    }
}

impl LocalFs for RealFs {
    fn available_space(&self, dir: &Path) -> io::Result<Option<u64>> {
        fs4::available_space(dir).map(Some)
    }

    fn mount_points(&self, root: &Path) -> Option<BTreeSet<PathBuf>> {
        let table = fs::read_to_string("/proc/self/mountinfo").ok()?;
        Some(mounts_inside(&table, root))
    }

    fn stat(&self, path: &Path) -> io::Result<Option<(Kind, FileStat)>> {
        match fs::symlink_metadata(path) {
            Ok(m) => Ok(kind_of(&m).map(|k| (k, stat_of(&m)))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn hash(&self, path: &Path) -> io::Result<ContentHash> {
        content::hash_reader(File::open(path)?)
    }

    fn digest(&self, path: &Path) -> io::Result<Digest> {
        // No BufReader: the cut reads into its own buffer in large reads.
        content::digest(File::open(path)?)
    }

    fn read_at(&self, path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len).read_to_end(&mut buf)?;
        if buf.len() as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was read",
            ));
        }
        Ok(buf)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn create_temp(&self, path: &Path) -> io::Result<Box<dyn TempSink>> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Box::new(RealTemp {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn place(&self, temp: &Path, target: &Path, expect: &Expect) -> io::Result<()> {
        match expect {
            Expect::Absent => self.rename_new(temp, target),
            Expect::Present(want) => match self.stat(target)? {
                // The change time too: an edit that put size and
                // modification time back is still an edit.
                Some((Kind::File, now)) if now == **want => fs::rename(temp, target),
                _ => Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the local file changed while its new version was downloaded",
                )),
            },
        }
    }

    fn rename_new(&self, from: &Path, to: &Path) -> io::Result<()> {
        // A hard link fails atomically when the name is taken, so nothing is
        // ever replaced; for folders (or file systems without links) the
        // check and the rename are two steps.
        if fs::symlink_metadata(from)?.is_file() {
            match fs::hard_link(from, to) {
                Ok(()) => return fs::remove_file(from),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
                Err(_) => {}
            }
        }
        if fs::symlink_metadata(to).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", to.display()),
            ));
        }
        fs::rename(from, to)
    }

    fn trash(&self, path: &Path) -> io::Result<()> {
        match trash::delete(path) {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(
                    "the OS trash refused {}: {e}; keeping it in {}",
                    path.display(),
                    self.fallback_trash.display()
                );
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let dir = self.fallback_trash.join(stamp.to_string());
                fs::create_dir_all(&dir)?;
                let name = path.file_name().unwrap_or_default();
                fs::rename(path, dir.join(name))
            }
        }
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn walk(&self, root: &Path, under: &str, rules: &IgnoreRules) -> Walked {
        crate::scanner::walk_disk(root, under, rules)
    }

    fn walk_one(&self, root: &Path, path: &str, rules: &IgnoreRules) -> Walked {
        crate::scanner::walk_one_disk(root, path, rules)
    }

    fn make_dir(&self, path: &Path) -> io::Result<MadeDir> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => Ok(MadeDir::Ready),
            Ok(m) if m.file_type().is_symlink() => Ok(MadeDir::Symlink),
            Ok(_) => Ok(MadeDir::File),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(path) {
                Ok(()) => Ok(MadeDir::Ready),
                // Made meanwhile by someone else: look again.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    match fs::symlink_metadata(path) {
                        Ok(m) if m.is_dir() => Ok(MadeDir::Ready),
                        Ok(m) if m.file_type().is_symlink() => Ok(MadeDir::Symlink),
                        _ => Ok(MadeDir::File),
                    }
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    #[cfg(target_os = "linux")]
    fn is_dir_beneath(&self, root: &Path, rel: &Path) -> bool {
        use rustix::fs::{open, openat2, Mode, OFlags, ResolveFlags};
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let Ok(root) = open(root, flags, Mode::empty()) else {
            return false;
        };
        // A link anywhere on the way fails the open (ELOOP), as does a
        // file (ENOTDIR), a missing folder, or a kernel before 5.6.
        let beneath = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH;
        openat2(&root, rel, flags, Mode::empty(), beneath).is_ok()
    }

    fn read_small(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }
}

/// ext4 (and ext2 and ext3, which share its number), XFS, Btrfs and
/// tmpfs, by their `statfs` magic numbers. Not F2FS: its sync answers
/// success without a checkpoint where checkpoints are off or failed.
#[cfg(target_os = "linux")]
const LOCAL_FILE_SYSTEMS: [u32; 4] = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994];

/// The device of `file`'s file system, where `syncfs` makes every file
/// written there durable and tells of any failed write since the file was
/// opened: from Linux 5.17 (5.8 reports failed write-back, 5.17 a failed
/// journal commit too), on the local file systems whose sync writes data,
/// metadata and the disk's cache (a network or FUSE file system may not).
#[cfg(target_os = "linux")]
fn syncs_together(file: &File) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    use std::sync::OnceLock;
    static TELLS_FAILURES: OnceLock<bool> = OnceLock::new();
    let tells = TELLS_FAILURES.get_or_init(|| {
        let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        kernel_at_least(&release, (5, 17))
    });
    // (32 bits wide where the field is, and a sign where it is not.)
    let kind = rustix::fs::fstatfs(file).ok()?.f_type as u32;
    let local = LOCAL_FILE_SYSTEMS.contains(&kind);
    (*tells && local)
        .then(|| file.metadata().ok().map(|m| m.dev()))
        .flatten()
}

#[cfg(not(target_os = "linux"))]
fn syncs_together(_: &File) -> Option<u64> {
    None
}

/// Whether a kernel release ("6.1.0-13-amd64") is `at_least` (major, minor).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn kernel_at_least(release: &str, at_least: (u32, u32)) -> bool {
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= at_least,
        _ => false,
    }
}

/// The mount points strictly inside `root`, from the text of
/// `/proc/self/mountinfo` (its fifth field, with `\NNN` octal escapes).
pub fn mounts_inside(mountinfo: &str, root: &Path) -> BTreeSet<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_octal(field)))
        .filter(|p| p.starts_with(root) && p != root)
        .collect()
}

fn unescape_octal(field: &str) -> std::ffi::OsString {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        std::ffi::OsString::from_vec(out)
    }
    #[cfg(not(unix))]
    {
        String::from_utf8_lossy(&out).into_owned().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp file whose file system's sync can be made to fail: a disk
    /// error the real one cannot be made to produce.
    struct Temp {
        filesystem: Option<u64>,
        sync_fails: bool,
        finish_fails: bool,
        log: Log,
        path: PathBuf,
    }

    /// What the temps were asked to do, in turn.
    type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

    impl TempSink for Temp {
        fn write_all(&mut self, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
        fn set_modified(&mut self, _: i64) -> io::Result<()> {
            Ok(())
        }
        fn set_executable(&mut self, _: bool) -> io::Result<()> {
            Ok(())
        }
        fn finish(self: Box<Self>) -> io::Result<()> {
            self.did("fsync", self.finish_fails)
        }
        fn path(&self) -> &Path {
            &self.path
        }
        fn filesystem(&self) -> Option<u64> {
            self.filesystem
        }
        fn sync_filesystem(&self) -> io::Result<()> {
            self.did("syncfs", self.sync_fails)
        }
    }

    impl Temp {
        /// Logs `what` was asked of this file; the disk's error if it `fails`.
        fn did(&self, what: &str, fails: bool) -> io::Result<()> {
            let line = format!("{what} {}", self.path.display());
            self.log.lock().unwrap().push(line);
            match fails {
                true => Err(io::Error::other("EIO")),
                false => Ok(()),
            }
        }
    }

    /// Temps named 0, 1, ... each on the file system given (`None`: one
    /// that cannot sync together), the ones in `failing` failing their
    /// own fsync, and each file system in `bad` failing its sync.
    fn temps(on: &[Option<u64>], failing: &[usize], bad: &[u64]) -> (Vec<Box<dyn TempSink>>, Log) {
        let log = std::sync::Arc::default();
        let temps = (on.iter().enumerate())
            .map(|(i, &filesystem)| {
                Box::new(Temp {
                    filesystem,
                    sync_fails: filesystem.is_some_and(|f| bad.contains(&f)),
                    finish_fails: failing.contains(&i),
                    log: std::sync::Arc::clone(&log),
                    path: PathBuf::from(i.to_string()),
                }) as Box<dyn TempSink>
            })
            .collect();
        (temps, log)
    }

    fn sorted(log: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
        let mut log = log.lock().unwrap().clone();
        log.sort();
        log
    }

    /// Which of `done` failed.
    fn failed(done: &[io::Result<()>]) -> Vec<usize> {
        (done.iter().enumerate())
            .filter(|(_, r)| r.is_err())
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn many_files_on_one_file_system_are_made_durable_by_one_sync_of_it() {
        // Eight on file system 1 around two on 2 and one that cannot sync
        // together, whose own fsync fails.
        let f = Some(1);
        let on = [f, f, f, f, Some(2), f, f, f, f, None, Some(2)];
        let (t, log) = temps(&on, &[9], &[]);
        let done = finish_all(t);
        assert_eq!(done.len(), 11);
        assert_eq!(failed(&done), [9], "each answer in its file's place");
        // File system 1's first file syncs it; the two on 2 and the one
        // alone are each fsynced.
        assert_eq!(sorted(&log), ["fsync 10", "fsync 4", "fsync 9", "syncfs 0"]);
    }

    #[test]
    fn a_few_files_on_a_file_system_are_each_fsynced() {
        let (t, log) = temps(&[Some(3); 7], &[], &[]);
        assert!(finish_all(t).iter().all(|r| r.is_ok()));
        let want: Vec<String> = (0..7).map(|i| format!("fsync {i}")).collect();
        assert_eq!(sorted(&log), want);
    }

    #[test]
    fn where_a_file_systems_sync_fails_each_of_its_files_is_finished_alone() {
        let (t, log) = temps(&[Some(7); 9], &[4], &[7]);
        let done = finish_all(t);
        assert_eq!(failed(&done), [4], "only the file whose own write failed");
        let mut want: Vec<String> = (0..9).map(|i| format!("fsync {i}")).collect();
        want.push("syncfs 0".into());
        want.sort();
        assert_eq!(sorted(&log), want);
    }

    #[test]
    fn a_kernel_release_is_compared_by_major_and_minor() {
        assert!(kernel_at_least("6.18.44-fc-v1300\n", (5, 8)));
        assert!(kernel_at_least("5.8.0", (5, 8)));
        assert!(kernel_at_least("5.10.0-28-amd64", (5, 8)));
        assert!(!kernel_at_least("5.4.0-150-generic", (5, 8)));
        assert!(!kernel_at_least("4.19.0", (5, 8)));
        assert!(!kernel_at_least("", (5, 8)));
    }

    /// Real temp files in two folders of a real disk: each finishes with
    /// its bytes, and where the disk's sync tells of failed writes they
    /// say which file system they are on.
    #[cfg(target_os = "linux")]
    #[test]
    fn real_temp_files_finished_together_keep_their_bytes() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let real = RealFs {
            fallback_trash: dir.path().join("trash"),
        };
        let kind = rustix::fs::statfs(dir.path()).unwrap().f_type as u32;
        let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let syncs = LOCAL_FILE_SYSTEMS.contains(&kind) && kernel_at_least(&release, (5, 17));
        let device = fs::metadata(dir.path()).unwrap().dev();
        let mut temps = vec![];
        for i in 0..20 {
            let sub = dir.path().join(format!("d{}", i % 2));
            fs::create_dir_all(&sub).unwrap();
            let mut t = real.create_temp(&sub.join(format!("f{i}"))).unwrap();
            t.write_all(format!("file {i}").as_bytes()).unwrap();
            assert_eq!(t.filesystem(), syncs.then_some(device), "fs type {kind:x}");
            temps.push(t);
        }
        assert!(finish_all(temps).iter().all(|r| r.is_ok()));
        for i in 0..20 {
            let path = dir.path().join(format!("d{}/f{i}", i % 2));
            assert_eq!(fs::read_to_string(path).unwrap(), format!("file {i}"));
        }
    }

    #[test]
    fn mount_points_inside_a_folder_from_mountinfo() {
        let table = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                     40 22 0:35 / /home/u/Nubo/photos rw - tmpfs tmpfs rw\n\
                     41 22 8:1 /src /home/u/Nubo/my\\040disk rw - ext4 /dev/sda1 rw\n\
                     42 22 0:36 / /home/u/Nubo rw - tmpfs tmpfs rw\n\
                     43 22 0:37 / /home/u/Nubo2/x rw - tmpfs tmpfs rw\n";
        let got = mounts_inside(table, Path::new("/home/u/Nubo"));
        let want: BTreeSet<PathBuf> = ["/home/u/Nubo/photos", "/home/u/Nubo/my disk"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
    }

    /// The one-step look a download takes before writing into a folder:
    /// a folder passed through a link, a file in the way and a missing
    /// folder are all "not known", which sends the executor to look at each
    /// folder on the way (and refuse the link).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_beneath_the_root_is_known_only_without_links_on_the_way() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("a/b/c")).unwrap();
        fs::create_dir_all(elsewhere.path().join("c")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join("a/link")).unwrap();
        fs::write(root.path().join("a/file"), "x").unwrap();
        let real = RealFs {
            fallback_trash: root.path().join("trash"),
        };
        let beneath = |rel: &str| real.is_dir_beneath(root.path(), Path::new(rel));
        assert!(beneath("a/b/c"));
        assert!(beneath("a"));
        assert!(!beneath("a/link"), "a link to a folder");
        assert!(!beneath("a/link/c"), "a folder through a link");
        assert!(!beneath("a/file"));
        assert!(!beneath("a/b/missing"));
        assert!(!beneath("../"), "outside the root");
        assert!(!beneath("/"), "an absolute path");
    }
}
