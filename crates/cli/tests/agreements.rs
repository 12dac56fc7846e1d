//! Agreements over time: a new version published on a running service pauses
//! every client (nothing deleted, nothing uploaded) until it is accepted;
//! declining signs out, keeps the files and is recorded on the service; a
//! revision with a future date is announced and syncing goes on; accepting
//! shows each document and never assumes an age.

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

/// Publishes `version` of the terms in force from `effective`, as an
/// operator replacing the files would; with `keep_old`, the version in
/// force stays listed beside it (a revision announced ahead).
fn publish_terms(dir: &Path, version: &str, effective: &str, keep_old: bool) {
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let docs = manifest["documents"].as_array_mut().unwrap();
    let mut revised: Vec<serde_json::Value> = docs
        .iter()
        .filter(|d| d["id"] == "terms")
        .cloned()
        .collect();
    for d in &mut revised {
        d["version"] = version.into();
        d["effective"] = effective.into();
    }
    if !keep_old {
        docs.retain(|d| d["id"] != "terms");
    }
    docs.extend(revised);
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

    publish_terms(&dir, "2027-01-01", "2026-12-01", false);
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

    // The decline is on the service's record, seen from A.
    let docs: serde_json::Value = serde_json::from_str(&a.ok(&["agreements", "--json"])).unwrap();
    let terms = docs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "terms")
        .unwrap();
    assert_eq!(terms["record"]["declined"], true, "{terms}");
    assert_eq!(terms["record"]["version"], "2027-01-01", "{terms}");

    // Acceptance is the account's: once accepted on A, A syncs again.
    a.ok(&["agreements", "--accept", "--adult"]);
    a.sync();
    let history = a.ok(&["agreements", "--history"]);
    assert!(
        history.contains("terms\tversion 2026-11-01")
            && history.contains("terms\tversion 2027-01-01"),
        "both acceptances kept locally: {history}"
    );
}

#[test]
fn a_revision_with_a_future_date_is_announced_and_syncing_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = agreements_dir(tmp.path());
    let service = Service::start_with(&["--demo", "--agreements", dir.to_str().unwrap()]);
    let a = Client::new(&service, "pc-a");
    publish_terms(&dir, "2099-01-01", "2099-01-01", true);
    let list = a.ok(&["agreements"]);
    assert!(
        list.contains("new terms take effect on 2099-01-01"),
        "{list}"
    );
    a.write("still.txt", "syncs under the terms in force");
    a.sync();
    let status = a.ok(&["status"]);
    assert!(
        status.contains("new terms take effect on 2099-01-01"),
        "{status}"
    );
}

#[test]
fn accepting_shows_each_document_and_never_assumes_an_age() {
    let service = Service::start();
    let c = Client::signed_in(&service, "pc-c", "demo", "nubo-demo");
    // Not a terminal, no --adult or --guardian: nothing is accepted.
    let out = c.run(&["agreements", "--accept"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("--adult") && err.contains("--guardian"),
        "{err}"
    );
    // Each document was saved, and its path printed, before asking.
    for id in ["terms", "privacy"] {
        let line = said
            .lines()
            .find(|l| l.contains(&format!("/{id}.")))
            .unwrap_or_else(|| panic!("{id}: {said}"));
        let path = line.rsplit(": ").next().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(!text.is_empty(), "{path}");
    }
    assert!(c.ok(&["agreements"]).contains("PENDING"));
    let out = c.ok(&["agreements", "--accept", "--guardian"]);
    assert!(
        out.contains("accepted terms") && out.contains("guardian"),
        "{out}"
    );
}
