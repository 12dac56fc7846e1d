//! A service restored from a backup tells a device that read a history it
//! lost, and only such a device: across two restores in a row, and never
//! for a change another instance made while this one started. The store
//! on a real SQLite file; a backup is a copy of that file and its log with
//! the service stopped, as the README tells an operator.

use std::path::Path;

use nubo_server::store::{Accounts, Nodes, SqliteStore, StoreError};

fn open(db: &Path, now: i64) -> SqliteStore {
    let store = SqliteStore::open(db, 50).unwrap();
    store.begin_history(now).unwrap();
    store
}

/// The database with its write-ahead log, as a copy of the service's data
/// folder holds it (the service stopped).
fn copy_database(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let (from, to) = (with_suffix(from, suffix), with_suffix(to, suffix));
        let _ = std::fs::remove_file(&to);
        if from.exists() {
            std::fs::copy(&from, &to).unwrap();
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

fn rewound<T>(r: Result<T, StoreError>) -> bool {
    match r {
        Ok(_) => false,
        Err(StoreError::HistoryRewound) => true,
        Err(e) => panic!("the store failed: {e:?}"),
    }
}

#[test]
fn a_second_restore_still_knows_the_history_the_first_one_lost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("meta.sqlite");
    let first_backup = dir.path().join("first.sqlite");
    let second_backup = dir.path().join("second.sqlite");

    let s = open(&db, 1_000);
    let acct = s.create_account("u", None, "x", 1 << 30, 1_000).unwrap();
    s.mkdir(acct.key, acct.root_id, "kept", 1_000).unwrap();
    drop(s);
    copy_database(&db, &first_backup);

    // A device reads a change the first restore will lose.
    let s = open(&db, 1_050);
    s.mkdir(acct.key, acct.root_id, "lost", 1_100).unwrap();
    let device_cursor = s.changes(acct.key, 0, 0, 100).unwrap().cursor;
    drop(s);

    // First restore; the service runs on and is backed up again.
    copy_database(&first_backup, &db);
    let s = open(&db, 1_200);
    s.mkdir(acct.key, acct.root_id, "after the first restore", 1_210)
        .unwrap();
    drop(s);
    copy_database(&db, &second_backup);

    // Second restore, from the copy made after the first one.
    copy_database(&second_backup, &db);
    let s = open(&db, 1_300);
    assert!(
        rewound(s.changes(acct.key, device_cursor, device_cursor, 100)),
        "the device's cursor from the history the first restore lost is taken as this history's"
    );
}

#[test]
fn a_restart_without_a_restore_keeps_every_device_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("meta.sqlite");
    let s = open(&db, 1_000);
    let acct = s.create_account("u", None, "x", 1 << 30, 1_000).unwrap();
    s.mkdir(acct.key, acct.root_id, "a", 1_010).unwrap();
    let mut cursor = s.changes(acct.key, 0, 0, 100).unwrap().cursor;
    drop(s);
    for start in [1_100, 1_101, 1_500] {
        let s = open(&db, start);
        let page = s.changes(acct.key, cursor, cursor, 100).unwrap();
        assert!(page.nodes.is_empty(), "{:?}", page.nodes);
        s.mkdir(acct.key, acct.root_id, &format!("b{start}"), start + 1)
            .unwrap();
        let newer = s.changes(acct.key, cursor, cursor, 100).unwrap();
        assert!(!rewound(s.changes(
            acct.key,
            newer.cursor,
            newer.cursor,
            100
        )));
        cursor = newer.cursor;
    }
}

/// Two instances on one database (PostgreSQL at scale; here two stores on
/// one SQLite file, the same SQL). Instance A's clock is 10 s behind B's
/// (or A's request read its clock 10 s before it committed): a change A
/// commits just after B started is still of this history.
#[test]
fn a_second_instance_does_not_call_a_live_change_a_rewind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("meta.sqlite");
    let a = open(&db, 1_000);
    let acct = a.create_account("u", None, "x", 1 << 30, 1_000).unwrap();
    a.mkdir(acct.key, acct.root_id, "old", 1_000).unwrap();
    let b = open(&db, 2_000);
    let n = a.mkdir(acct.key, acct.root_id, "new", 1_990).unwrap();
    let page = a.changes(acct.key, 0, 0, 100).unwrap();
    assert_eq!(page.cursor, n.seq);
    let on_b = b.changes(acct.key, page.cursor, page.cursor, 100);
    assert!(!rewound(on_b), "B says the service went back in time");
}
