//! Whether an open checks the state database whole.
//!
//! `PRAGMA quick_check` reads every page: about a second at a million
//! files, paid by every `nubo` command and every `sync --once`. So a clean
//! close leaves a seal beside the database: the file as it was left, and
//! when it was last checked whole. A writable open takes the seal away
//! (a crash leaves none), and trusts the file without the check while it is
//! as sealed and the check is less than a day old.
//!
//! Anything else checks: a crash (no seal), another program's write or a
//! copy over the file while no process of this home had it open (its
//! identity, size or times differ), another process that has it open (its
//! write-ahead log is there), a day gone by, or damage found since. Damage
//! found by any process (a failed check, `StateDb::distrust`) leaves a
//! mark beside the file that no close seals over, until a check passes or
//! the sync loop sets the file aside. A close seals only the file its open
//! checked (a file renamed over it meanwhile is not); one written over in
//! place while open is not told from this program's own writes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How old a whole check may be for an open to trust the file without one.
pub(super) const CHECK_EVERY_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Seal {
    file: FileId,
    /// When the database was last checked whole (Unix seconds).
    checked_at: i64,
}

/// The database file as a clean close left it: any write, copy or
/// replacement since changes one of these (the change time cannot be set
/// back by a program).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileId {
    #[cfg(unix)]
    fn of(db: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(db).ok()?;
        let ns = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    }

    /// Elsewhere no change time to trust: every open checks, as before
    /// seals.
    #[cfg(not(unix))]
    fn of(_db: &Path) -> Option<Self> {
        None
    }
}

fn seal_path(db: &Path) -> PathBuf {
    db.with_extension("sqlite-seal")
}

/// Where SQLite keeps the file's log: its name with `-wal`.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn suspect_path(db: &Path) -> PathBuf {
    db.with_extension("sqlite-suspect")
}

/// The file the open found (device and inode): what its close may seal.
pub(super) fn identity(db: &Path) -> Option<(u64, u64)> {
    FileId::of(db).map(|f| (f.dev, f.ino))
}

/// Damage was found: no open trusts the file, no close seals it, until a
/// check passes (`cleared`) or the file is set aside.
pub(super) fn suspect(db: &Path) {
    if let Err(e) = std::fs::write(suspect_path(db), b"") {
        tracing::warn!("cannot mark the state database as damaged: {e}");
    }
}

/// A whole check passed, or the file was set aside.
pub(super) fn cleared(db: &Path) {
    let _ = std::fs::remove_file(suspect_path(db));
}

/// The seal a clean close left, removed: from here until this open's
/// clean close, a crash leaves none.
pub(super) fn take(db: &Path) -> Option<Seal> {
    let seal = peek(db);
    let _ = std::fs::remove_file(seal_path(db));
    seal
}

/// The seal a clean close left, left where it is (a read-only open).
pub(super) fn peek(db: &Path) -> Option<Seal> {
    let text = std::fs::read(seal_path(db)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// When the database was last checked whole, if the file may be taken
/// without a check now (`now`: Unix seconds).
pub(super) fn trusted(seal: Option<Seal>, db: &Path, now: i64) -> Option<i64> {
    let seal = seal?;
    if std::fs::exists(suspect_path(db)).unwrap_or(true) {
        return None;
    }
    let fresh = (0..CHECK_EVERY_SECS).contains(&(now - seal.checked_at));
    let in_use = std::fs::metadata(wal_path(db)).is_ok_and(|m| m.len() > 0);
    (fresh && !in_use && FileId::of(db) == Some(seal.file)).then_some(seal.checked_at)
}

/// After the last connection of this process closed: seals the file as it
/// is, if it is the file this open checked (`opened`), no damage is marked,
/// and no other process still has it open (its log is there; its own close
/// seals it). Best effort: without a seal the next open checks.
pub(super) fn leave(db: &Path, checked_at: i64, opened: Option<(u64, u64)>) {
    let suspected = std::fs::exists(suspect_path(db)).unwrap_or(true);
    if suspected || std::fs::exists(wal_path(db)).unwrap_or(true) {
        return;
    }
    let Some(file) = FileId::of(db).filter(|f| Some((f.dev, f.ino)) == opened) else {
        return;
    };
    let seal = Seal { file, checked_at };
    let text = serde_json::to_vec(&seal).expect("a seal serialises");
    let temp = db.with_extension("sqlite-seal.new");
    let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, seal_path(db)));
    if let Err(e) = written {
        tracing::debug!("cannot seal the state database: {e}");
        let _ = std::fs::remove_file(&temp);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sealed(checked_at: i64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.sqlite");
        std::fs::write(&db, b"pages").unwrap();
        leave(&db, checked_at, identity(&db));
        (dir, db)
    }

    #[test]
    fn a_file_as_sealed_is_trusted_for_a_day_after_its_check() {
        let (_dir, db) = sealed(1_000);
        let seal = peek(&db);
        assert_eq!(trusted(seal, &db, 1_000), Some(1_000));
        assert_eq!(
            trusted(seal, &db, 1_000 + CHECK_EVERY_SECS - 1),
            Some(1_000)
        );
        assert_eq!(trusted(seal, &db, 1_000 + CHECK_EVERY_SECS), None);
        assert_eq!(trusted(seal, &db, 999), None, "a clock set back");
        assert_eq!(trusted(None, &db, 1_000), None, "no seal: a crash");
    }

    #[test]
    fn a_file_written_since_its_seal_is_not_trusted() {
        let (_dir, db) = sealed(1_000);
        let seal = peek(&db);
        std::fs::write(&db, b"pagez").unwrap();
        assert_eq!(trusted(seal, &db, 1_000), None);
    }

    #[test]
    fn a_file_another_process_has_open_is_not_trusted_nor_sealed() {
        let (_dir, db) = sealed(1_000);
        let seal = take(&db);
        assert!(peek(&db).is_none(), "taken");
        std::fs::write(wal_path(&db), b"frames").unwrap();
        assert_eq!(trusted(seal, &db, 1_000), None);
        leave(&db, 1_000, identity(&db));
        assert!(peek(&db).is_none(), "its last close seals it");
    }

    #[test]
    fn a_file_marked_damaged_or_replaced_while_open_is_not_sealed() {
        let (_dir, db) = sealed(1_000);
        let opened = identity(&db);
        let seal = take(&db);
        suspect(&db);
        assert_eq!(trusted(seal, &db, 1_000), None, "damage found elsewhere");
        leave(&db, 1_000, opened);
        assert!(peek(&db).is_none(), "no seal over damage");
        cleared(&db);
        let copy = db.with_extension("copy");
        std::fs::write(&copy, b"another file").unwrap();
        std::fs::rename(&copy, &db).unwrap();
        leave(&db, 1_000, opened);
        assert!(
            peek(&db).is_none(),
            "a file renamed over it is not the one checked"
        );
        leave(&db, 1_000, identity(&db));
        assert!(peek(&db).is_some());
    }
}
