//! `nubo restore`: what one home deleted or overwrote, another brings back,
//! and every home gets it again through sync.

mod common;

use common::*;

fn json(out: String) -> serde_json::Value {
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_folder_of_100_files_deleted_on_one_home_is_restored_from_another() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    for i in 0..100 {
        a.write(
            &format!("Album/{:02}/photo-{i:03}.jpg", i % 7),
            random_bytes(i, 1000 + i as usize * 37),
        );
    }
    a.write("keep.txt", "not touched");
    a.sync();
    b.sync();
    let before = a.files();
    assert_eq!(b.files(), before);

    std::fs::remove_dir_all(a.path("Album")).unwrap();
    a.ok(&["sync", "--once", "--allow-mass-delete"]);
    // B's guard stops first; its user lets the delete through.
    let out = b.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    b.ok(&["sync", "--once", "--allow-mass-delete"]);
    assert!(b.read("Album/00/photo-000.jpg").is_none());

    // B sees one entry for the whole folder, with who deleted it.
    let list = json(b.ok(&["restore", "list", "--json"]));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["path"], "/Album");
    assert_eq!(items[0]["files"], 100);
    assert_eq!(items[0]["device_name"], "pc-a");
    let text = b.ok(&["restore", "list"]);
    assert!(
        text.contains("/Album") && text.contains("by pc-a"),
        "{text}"
    );

    // Named by its local path on B.
    let local = b.path("Album");
    let out = b.ok(&["restore", local.to_str().unwrap()]);
    assert!(out.contains("restored /Album (100 files)"), "{out}");
    assert_eq!(b.files(), before, "B has every byte back");
    a.sync();
    assert_eq!(a.files(), before, "and so does A, through sync");
    assert!(json(b.ok(&["restore", "list", "--json"]))["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_file_overwritten_three_times_gets_version_1_back() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    a.write("Docs/essay.txt", "version 1: the first draft");
    a.sync();
    for v in 2..=4 {
        a.write("Docs/essay.txt", format!("version {v}"));
        a.sync();
    }
    b.sync();
    assert_eq!(b.read("Docs/essay.txt").unwrap(), b"version 4");

    let v = json(b.ok(&["restore", "list", "--versions", "/Docs/essay.txt", "--json"]));
    let revs: Vec<i64> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rev"].as_i64().unwrap())
        .collect();
    assert_eq!(revs, [3, 2, 1]);
    assert_eq!(v["versions"][2]["device_name"], "pc-a");
    assert_eq!(v["versions"][2]["size"], 26);
    assert_eq!(v["version"], 1, "a versioned document");
    let at = v["versions"][2]["created_at"].as_str().unwrap();
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{at}: {e}"));

    b.ok(&["restore", "/Docs/essay.txt", "--version", "1"]);
    assert_eq!(
        b.read("Docs/essay.txt").unwrap(),
        b"version 1: the first draft"
    );
    a.sync();
    assert_eq!(
        a.read("Docs/essay.txt").unwrap(),
        b"version 1: the first draft"
    );
    // Version 4 was not lost: it is a version now.
    let v = json(a.ok(&["restore", "list", "--versions", "/Docs/essay.txt", "--json"]));
    assert_eq!(v["versions"][0]["rev"], 4);
    assert_eq!(v["versions"][0]["size"], 9);

    // A file that exists and is not deleted needs a version.
    let out = a.run(&["restore", "/Docs/essay.txt"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--versions"));
}

#[test]
fn a_restore_onto_a_taken_name_or_elsewhere_overwrites_nothing() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("plan.txt", "the old plan");
    a.sync();
    std::fs::remove_file(a.path("plan.txt")).unwrap();
    a.sync();
    a.write("plan.txt", "the new plan");
    a.sync();

    let out = a.ok(&["restore", "/plan.txt"]);
    assert!(out.contains("(restored "), "{out}");
    let files = a.files();
    assert_eq!(files["plan.txt"], b"the new plan");
    let restored: Vec<_> = files
        .iter()
        .filter(|(k, _)| k.starts_with("plan (restored ") && k.ends_with(").txt"))
        .collect();
    assert_eq!(restored.len(), 1, "{:?}", files.keys());
    assert_eq!(restored[0].1, b"the old plan");

    // An earlier version beside the file, in another folder.
    a.write("Old/.keep", "");
    a.sync();
    a.ok(&[
        "restore",
        "/plan.txt",
        "--version",
        "1",
        "--to",
        a.path("Old/first-plan.txt").to_str().unwrap(),
    ]);
    // Version 1 of the new plan.txt is its only content so far.
    assert_eq!(a.read("Old/first-plan.txt").unwrap(), b"the new plan");
    assert_eq!(a.read("plan.txt").unwrap(), b"the new plan");

    let out = a.run(&["restore", "/never-existed.txt"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing was ever at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
