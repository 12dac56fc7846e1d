//! Names the service sends are untrusted. A service (or a database) that
//! sends names meant to escape the folder must not get a byte written
//! outside it; the refusals are shown to the user.

mod common;

use common::*;
use rusqlite::params;

/// The service's own database, opened beside it.
fn service_db(service: &Service) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(service.data.join("meta.sqlite")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db
}

/// Puts nodes straight into the service's database, as a compromised or
/// buggy service would send them. Each copies the content of `template`.
fn inject(service: &Service, nodes: &[(&str, Option<&str>, &str)], template: &str) {
    let db = service_db(service);
    let (account, root): (i64, i64) = db
        .query_row(
            "SELECT id, root_id FROM accounts WHERE account_id = 'demo'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (size, hash, chunks): (i64, String, String) = db
        .query_row(
            "SELECT size, hash, chunks FROM nodes WHERE name = ?1 AND deleted = 0",
            [template],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let mut ids = std::collections::HashMap::new();
    for (name, parent, kind) in nodes {
        let parent_id = parent.map_or(root, |p| ids[p]);
        let seq: i64 = db
            .query_row(
                "UPDATE accounts SET seq = seq + 1 WHERE id = ?1 RETURNING seq",
                [account],
                |r| r.get(0),
            )
            .unwrap();
        let (s, h, c) = if *kind == "file" {
            (size, hash.clone(), chunks.clone())
        } else {
            (0, String::new(), "[]".into())
        };
        db.execute(
            "INSERT INTO nodes (account, parent, name, kind, rev, size, hash, chunks, seq, mtime_ms) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, 0)",
            params![account, parent_id, name, kind, s, h, c, seq],
        )
        .unwrap();
        ids.insert(*name, db.last_insert_rowid());
    }
}

#[test]
fn names_that_escape_the_folder_are_refused_and_reported() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("good.txt", "good content");
    // Windows could not hold this name; Linux can, so here it syncs.
    a.write("CON", "a Linux-only name");
    a.sync();
    inject(
        &service,
        &[
            ("../escaped.txt", None, "file"),
            ("a/b", None, "file"),
            ("/tmp/absolute.txt", None, "file"),
            ("nul\0byte", None, "file"),
            ("..", None, "dir"),
            ("inside-dotdot.txt", Some(".."), "file"),
        ],
        "good.txt",
    );

    let b = Client::new(&service, "pc-b");
    let sandbox = b.root.parent().unwrap().to_path_buf();
    let beside = || -> Vec<_> {
        walk_files(&sandbox)
            .into_iter()
            .filter(|p| !p.starts_with(&b.root) && !p.starts_with(&b.home))
            .collect()
    };
    let before = beside();
    b.sync();
    let files: Vec<String> = b.files().into_keys().collect();
    assert_eq!(files, ["CON", "good.txt"]);
    assert_eq!(beside(), before, "something was written beside the folder");
    assert!(!std::path::Path::new("/tmp/absolute.txt").exists());
    let status = b.status_json();
    let problems = status["problems"].as_array().unwrap();
    assert_eq!(
        problems.len(),
        5,
        "each bad name is reported once: {problems:?}"
    );
    assert!(
        problems.iter().all(|p| p["kind"] == "refused_name"),
        "{problems:?}"
    );
}

/// A content hash from the service that is not one (a damaged or hostile
/// service) is refused as a bad name is: reported, the file neither
/// fetched nor read as deleted, everything else synced.
#[test]
fn a_hash_that_is_not_one_is_refused_and_reported() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("good.txt", "good content");
    a.sync();
    inject(&service, &[("bad.txt", None, "file")], "good.txt");
    let db = service_db(&service);
    db.execute(
        "UPDATE nodes SET hash = 'NOT-A-HASH' WHERE name = 'bad.txt'",
        [],
    )
    .unwrap();

    let b = Client::new(&service, "pc-b");
    b.sync();
    let files: Vec<String> = b.files().into_keys().collect();
    assert_eq!(files, ["good.txt"]);
    let status = b.status_json();
    let problems = status["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["kind"], "bad_hash", "{problems:?}");
    assert_eq!(problems[0]["path"], "bad.txt", "{problems:?}");
    // Refused, not deleted: the service still lists it.
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM nodes WHERE name = 'bad.txt' AND deleted = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 1);
}
