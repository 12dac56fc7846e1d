//! What a simulated user does to one client's folder: the everyday (write,
//! edit, delete, move, case-only rename) and the odd things that lose files
//! in sync clients' trackers (issue 15): folders and files made unreadable
//! and readable again, links where the service wants to write, folders
//! replaced by files and back, `.nuboignore` rules changing, folders
//! excluded and included, disks mounted inside the folder going away and
//! coming back, files named like the engine's own, edits that keep size and
//! modification time, folders held back for their size let in.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use nubo_engine::fs::LocalFs;
use nubo_engine::home::ROOT_MARKER;

use crate::memfs::MemFs;

/// Names drawn from a small pool so that clients collide on purpose; two
/// spellings of "é" (NFC and NFD), names differing only in case, and a
/// name near the system's 255-byte limit (so a conflict copy must shorten it).
pub const NAMES: &[&str] = &[
    "a.txt",
    "b.txt",
    "A.txt",
    "notes.md",
    "caf\u{e9}.txt",
    "cafe\u{301}.txt",
    "data.bin",
    LONG_NAME,
];
const LONG_NAME: &str = "a-name-that-is-long-enough-that-a-conflict-copy-of-it-must-be-shortened-to-fit-the-limit-of-two-hundred-and-fifty-five-bytes-that-file-systems-set-for-one-name-and-then-some-more-words-to-get-there-in-the-end-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789.txt";
const DIRS: &[&str] = &["docs", "docs/old", "photos", "Photos", "x"];

/// Lines a `.nuboignore` is made of: plain, anchored, with a folder in them,
/// and a re-inclusion.
const IGNORE_LINES: &[&str] = &[
    "*.md",
    "docs/*.bin",
    "x/",
    "/a.txt",
    "!notes.md",
    "**/old",
    "Photos",
];

pub fn random_path(rng: &mut StdRng) -> String {
    let name = *NAMES.choose(rng).expect("names");
    if rng.gen_bool(0.4) {
        name.to_string()
    } else {
        format!("{}/{name}", DIRS.choose(rng).expect("dirs"))
    }
}

pub fn random_dir(rng: &mut StdRng) -> &'static str {
    DIRS.choose(rng).expect("dirs")
}

pub fn content(rng: &mut StdRng) -> Vec<u8> {
    let len = match rng.gen_range(0..10) {
        0 => 0,
        1..=7 => rng.gen_range(1..200),
        _ => rng.gen_range(1000..300_000),
    };
    let mut v = vec![0u8; len];
    rng.fill(&mut v[..]);
    v
}

fn short_hash(data: &[u8]) -> String {
    nubo_engine::content::hash_bytes(data).to_string()[..8].to_string()
}

fn refused(ok: bool) -> &'static str {
    if ok {
        ""
    } else {
        " (refused)"
    }
}

/// One client's folder, for a user's hands.
pub struct Folder<'a> {
    pub fs: &'a MemFs,
    pub root: &'a Path,
}

impl Folder<'_> {
    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(self.root).unwrap().display().to_string()
    }

    /// What the user could pick: everything in the folder but its marker.
    fn existing(&self) -> Vec<PathBuf> {
        self.fs
            .paths()
            .into_iter()
            .filter(|p| p.starts_with(self.root) && p != self.root && !p.ends_with(ROOT_MARKER))
            .collect()
    }

    /// An everyday action; a sentence of what was done.
    pub fn everyday(&self, rng: &mut StdRng) -> String {
        let existing = self.existing();
        let pick = rng.gen_range(0..100);
        if pick < 30 || existing.is_empty() {
            return self.write_new(rng);
        }
        let target = existing.choose(rng).expect("not empty").clone();
        let rel = self.rel(&target);
        match pick {
            30..=49 => match self.fs.read(&target) {
                Some(mut old) => {
                    let extra = content(rng);
                    if rng.gen_bool(0.5) {
                        old.extend(extra);
                    } else {
                        old.truncate(old.len() / 2);
                    }
                    let h = short_hash(&old);
                    let _ = self.fs.write(&target, old);
                    format!("edit {rel} [{h}]")
                }
                None => format!("nothing to edit in {rel}"),
            },
            50..=64 => {
                let ok = self.fs.remove_all(&target).is_ok();
                format!("delete {rel}{}", refused(ok))
            }
            65..=84 => {
                let to_rel = random_path(rng);
                let to = self.root.join(&to_rel);
                if let Some(parent) = to.parent() {
                    let _ = self.fs.create_dir_all(parent);
                }
                let ok = self.fs.rename(&target, &to).is_ok();
                format!("move {rel} -> {to_rel}{}", refused(ok))
            }
            _ => {
                // Case-only rename of the last component.
                let name = target.file_name().unwrap().to_string_lossy().to_string();
                let flipped: String = name
                    .chars()
                    .map(|ch| {
                        if ch.is_lowercase() {
                            ch.to_ascii_uppercase()
                        } else {
                            ch.to_ascii_lowercase()
                        }
                    })
                    .collect();
                let to = target.with_file_name(&flipped);
                let ok = self.fs.rename(&target, &to).is_ok();
                format!("case-rename {rel} -> {flipped}{}", refused(ok))
            }
        }
    }

    fn write_new(&self, rng: &mut StdRng) -> String {
        let rel = random_path(rng);
        let p = self.root.join(&rel);
        if let Some(parent) = p.parent() {
            let _ = self.fs.create_dir_all(parent);
        }
        let data = content(rng);
        let h = short_hash(&data);
        let ok = self.fs.write(&p, data).is_ok();
        format!("write {rel} [{h}]{}", refused(ok))
    }

    /// An odd thing a user does (or that happens to their disk).
    pub fn odd(&self, rng: &mut StdRng) -> String {
        let existing = self.existing();
        match rng.gen_range(0..9) {
            0 => self.toggle_readable(rng, &existing),
            1 => self.link_in_the_way(rng),
            2 => self.replace_kind(rng, &existing),
            3 => self.rewrite_ignore_file(rng),
            4 => self.mount_change(rng, &existing),
            5 => self.engine_like_name(rng),
            6 => self.edit_keeping_mtime(rng, &existing),
            7 => self.rename_to_long(rng, &existing),
            _ => self.write_new(rng),
        }
    }

    /// `chmod 000` on a folder or file, or back.
    fn toggle_readable(&self, rng: &mut StdRng, existing: &[PathBuf]) -> String {
        let locked = self.fs.unreadable();
        if !locked.is_empty() && rng.gen_bool(0.5) {
            let p = locked.choose(rng).expect("not empty");
            let ok = self.fs.set_readable(p, true).is_ok();
            return format!("chmod back {}{}", self.rel(p), refused(ok));
        }
        match existing.choose(rng) {
            Some(p) => {
                let ok = self.fs.set_readable(p, false).is_ok();
                format!("chmod 000 {}{}", self.rel(p), refused(ok))
            }
            None => "nothing to chmod".into(),
        }
    }

    /// A symbolic link where a file of the service's may want to go; now
    /// and then replacing what is there (a synced folder, say).
    fn link_in_the_way(&self, rng: &mut StdRng) -> String {
        let rel = if rng.gen_bool(0.5) {
            random_path(rng)
        } else {
            random_dir(rng).to_string()
        };
        let p = self.root.join(&rel);
        if let Some(parent) = p.parent() {
            let _ = self.fs.create_dir_all(parent);
        }
        if rng.gen_bool(0.5) {
            let _ = self.fs.remove_all(&p);
        }
        let ok = self.fs.symlink(&p).is_ok();
        format!("ln -s elsewhere {rel}{}", refused(ok))
    }

    /// A folder replaced by a file of the same name, or a file by a folder.
    fn replace_kind(&self, rng: &mut StdRng, existing: &[PathBuf]) -> String {
        let Some(p) = existing.choose(rng) else {
            return "nothing to replace".into();
        };
        let rel = self.rel(p);
        if self.fs.remove_all(p).is_err() {
            return format!("replace {rel} (refused)");
        }
        let data = content(rng);
        let h = short_hash(&data);
        if self.fs.write(p, data.clone()).is_ok() && rng.gen_bool(0.5) {
            return format!("replace {rel} with a file [{h}]");
        }
        let _ = self.fs.remove_all(p);
        let _ = self.fs.mkdir(p);
        let ok = self.fs.write(&p.join("inside.txt"), data).is_ok();
        format!(
            "replace {rel} with a folder holding inside.txt [{h}]{}",
            refused(ok)
        )
    }

    /// A new `.nuboignore` of a few lines, or none.
    fn rewrite_ignore_file(&self, rng: &mut StdRng) -> String {
        let p = self.root.join(nubo_engine::ignore_rules::IGNORE_FILE);
        if rng.gen_bool(0.25) {
            let _ = self.fs.remove_all(&p);
            return "remove .nuboignore".into();
        }
        let n = rng.gen_range(1..=3);
        let lines: Vec<&str> = IGNORE_LINES.choose_multiple(rng, n).copied().collect();
        let text = lines.join("\n");
        let ok = self.fs.write(&p, text.clone().into_bytes()).is_ok();
        format!(".nuboignore: {text:?}{}", refused(ok))
    }

    /// A folder becomes another disk's mount point; a mounted disk goes
    /// away; an unmounted one comes back.
    fn mount_change(&self, rng: &mut StdRng, existing: &[PathBuf]) -> String {
        let (mounted, unmounted) = {
            let g = self.fs.inner.lock().unwrap();
            (
                g.mounts.keys().cloned().collect::<Vec<_>>(),
                g.unmounted.keys().cloned().collect::<Vec<_>>(),
            )
        };
        if let Some(p) = unmounted.choose(rng).filter(|_| rng.gen_bool(0.6)) {
            let ok = self.fs.remount(p).is_ok();
            return format!("mount the disk at {} again{}", self.rel(p), refused(ok));
        }
        if let Some(p) = mounted.choose(rng).filter(|_| rng.gen_bool(0.6)) {
            let ok = self.fs.unmount(p).is_ok();
            return format!("the disk at {} goes away{}", self.rel(p), refused(ok));
        }
        let dirs: Vec<&PathBuf> = existing
            .iter()
            .filter(|p| {
                self.fs
                    .stat(p)
                    .ok()
                    .flatten()
                    .is_some_and(|(k, _)| k == nubo_engine::tree::Kind::Dir)
            })
            .collect();
        match dirs.choose(rng) {
            Some(p) => {
                let bind = rng.gen_bool(0.5);
                let ok = self.fs.make_mount(p, bind).is_ok();
                let what = if bind {
                    "a bind mount of the same disk"
                } else {
                    "another disk's mount point"
                };
                format!("{} is {what} now{}", self.rel(p), refused(ok))
            }
            None => "no folder to mount at".into(),
        }
    }

    /// A file of the user's with a name like the engine's temp files.
    fn engine_like_name(&self, rng: &mut StdRng) -> String {
        let dir = if rng.gen_bool(0.5) {
            String::new()
        } else {
            format!("{}/", random_dir(rng))
        };
        let name = if rng.gen_bool(0.5) {
            ".nubo-tmp-notes.txt".to_string()
        } else {
            format!(".nubo-tmp-{:032x}", rng.gen::<u128>())
        };
        let rel = format!("{dir}{name}");
        let p = self.root.join(&rel);
        if let Some(parent) = p.parent() {
            let _ = self.fs.create_dir_all(parent);
        }
        let data = content(rng);
        let h = short_hash(&data);
        let ok = self.fs.write(&p, data).is_ok();
        format!("write {rel} [{h}]{}", refused(ok))
    }

    /// An edit that puts size and modification time back.
    fn edit_keeping_mtime(&self, rng: &mut StdRng, existing: &[PathBuf]) -> String {
        let files: Vec<&PathBuf> = existing
            .iter()
            .filter(|p| self.fs.read(p).is_some_and(|d| !d.is_empty()))
            .collect();
        let Some(p) = files.choose(rng) else {
            return "no file to edit in place".into();
        };
        let len = self.fs.read(p).map_or(0, |d| d.len());
        let mut data = vec![0u8; len];
        rng.fill(&mut data[..]);
        let h = short_hash(&data);
        let ok = self.fs.write_keeping_mtime(p, data).is_ok();
        format!(
            "edit {} keeping size and mtime [{h}]{}",
            self.rel(p),
            refused(ok)
        )
    }

    /// A folder renamed to a name near the limit.
    fn rename_to_long(&self, rng: &mut StdRng, existing: &[PathBuf]) -> String {
        let Some(p) = existing.choose(rng) else {
            return "nothing to rename".into();
        };
        let to = self.root.join(LONG_NAME);
        let ok = self.fs.rename(p, &to).is_ok();
        format!("move {} -> {LONG_NAME}{}", self.rel(p), refused(ok))
    }

    /// The user's cleanup before the end: everything readable again, links
    /// removed, every disk mounted back.
    pub fn heal(&self) -> Vec<String> {
        let mut done = Vec::new();
        for p in self.fs.unreadable() {
            let _ = self.fs.set_readable(&p, true);
            done.push(format!("chmod back {}", self.rel(&p)));
        }
        let unmounted: Vec<PathBuf> = self
            .fs
            .inner
            .lock()
            .unwrap()
            .unmounted
            .keys()
            .cloned()
            .collect();
        for p in unmounted {
            // The mount point may be gone meanwhile: the user makes it again.
            if self.fs.stat(&p).ok().flatten().is_none() {
                let _ = self.fs.create_dir_all(&p);
            }
            let ok = self.fs.remount(&p).is_ok();
            done.push(format!(
                "mount the disk at {} again{}",
                self.rel(&p),
                refused(ok)
            ));
        }
        for p in self.fs.links() {
            let _ = self.fs.remove_link(&p);
            done.push(format!("rm link {}", self.rel(&p)));
        }
        done
    }
}
