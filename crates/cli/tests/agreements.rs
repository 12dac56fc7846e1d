//! Agreements over time: a new version published on a running service pauses
//! every client (nothing deleted, nothing uploaded) until it is accepted;
//! declining signs out and keeps the files.

mod common;

use std::path::Path;

use common::*;

/// A copy of the sample agreements the test can publish new versions into.
fn agreements_dir(root: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/agreements");
    let dir = root.join("published");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    dir
}

/// Publishes `version` of the terms, as an operator replacing the files would.
fn publish_terms(dir: &Path, version: &str) {
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for d in manifest["documents"].as_array_mut().unwrap() {
        if d["id"] == "terms" {
            d["version"] = version.into();
            d["effective"] = version.into();
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

#[test]
fn a_new_version_pauses_sync_until_accepted_and_declining_keeps_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = agreements_dir(tmp.path());
    let service = Service::start_with(&["--demo", "--agreements", dir.to_str().unwrap()]);
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    a.write("before.txt", "synced under the old terms");
    a.sync();
    b.sync();

    publish_terms(&dir, "2027-01-01");
    a.write("after.txt", "waits for the new terms");
    let out = a.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "paused, not failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agreements") && err.contains("2027-01-01"),
        "{err}"
    );
    let state = a.status_json()["state"].as_str().unwrap().to_string();
    assert!(state.contains("2027-01-01"), "status says so: {state}");
    assert!(a.read("before.txt").is_some() && a.read("after.txt").is_some());
    let pending = a.ok(&["agreements"]);
    assert!(pending.contains("2027-01-01"), "{pending}");

    // B declines the new version: signed out, nothing synced, files kept.
    let out = b.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        b.read("after.txt").is_none(),
        "nothing came down before accepting"
    );
    let out = b.ok(&["agreements", "--decline"]);
    assert!(out.contains("signed out"), "{out}");
    assert_eq!(b.read("before.txt").unwrap(), b"synced under the old terms");
    let out = b.run(&["sync", "--once"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nubo login"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(b.read("before.txt").unwrap(), b"synced under the old terms");

    // Acceptance is the account's: once accepted on A, A syncs again.
    a.ok(&["agreements", "--accept"]);
    a.sync();
    let history = a.ok(&["agreements", "--history"]);
    assert!(
        history.contains("terms\tversion 2026-11-01")
            && history.contains("terms\tversion 2027-01-01"),
        "both acceptances kept locally: {history}"
    );
}
