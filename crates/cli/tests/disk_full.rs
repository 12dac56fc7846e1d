//! A full disk, for real: a small tmpfs under a client's folder, and under
//! the service's data. Either way the user gets a sentence saying which disk
//! and what waits, everything else still syncs, nothing is lost or left half
//! written, and syncing resumes by itself once there is room again.
//!
//! Mounting needs root or a mount namespace of its own, so `make test` runs
//! these through `scripts/with-mount-namespace.sh`.

mod common;

use common::*;

const MB: u64 = 1_000_000;

#[test]
#[ignore = "mounts a tmpfs: run by `make test` through scripts/with-mount-namespace.sh"]
fn a_full_disk_here_keeps_the_rest_syncing_and_downloads_resume_when_space_returns() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    let b = Client::signed_in(&service, "pc-b", "demo", "nubo-demo");
    b.ok(&["agreements", "--accept", "--adult"]);
    let disk = SmallDisk::mount(&b.root, 8 * MB);
    b.write("mine.txt", "written on B before it ran out of room");
    let root = b.root.to_str().unwrap().to_string();
    b.ok(&["folder", "add", &root, "--mode", "two-way"]);
    b.set_config("keep_free_mb", 1);

    // 12 MB for an 8 MB disk.
    for i in 0..4 {
        a.write(&format!("big-{i}.bin"), random_bytes(i, 3 * MB as usize));
    }
    a.write("small.txt", "fits anywhere");
    a.sync();

    let out = b.run(&["sync", "--once"]);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "paused, not failed: {msg}");
    assert!(
        msg.contains("this computer's disk is too full")
            && msg.contains("wait to be downloaded")
            && msg.contains("resume by themselves"),
        "{msg}"
    );
    // What fits came down whole, what does not is not there at all, B's own
    // file went up, and the disk keeps the room it was asked to keep.
    let here = b.files();
    let bigs: Vec<_> = here.keys().filter(|k| k.starts_with("big-")).collect();
    assert!(!bigs.is_empty() && bigs.len() < 4, "{bigs:?}");
    assert_eq!(b.read("small.txt").unwrap(), b"fits anywhere");
    assert!(temp_files(&b.root).is_empty(), "{:?}", temp_files(&b.root));
    let free = fs_available(&b.root);
    assert!(free >= MB - 64 * 1024, "only {free} bytes left free");
    a.sync();
    for (k, v) in &here {
        assert_eq!(a.read(k).as_ref(), Some(v), "{k} on B differs from A");
    }
    assert_eq!(
        a.read("mine.txt").unwrap(),
        b"written on B before it ran out of room"
    );

    // The status says it too, for anyone who was not watching the terminal.
    let status = b.ok(&["status"]);
    assert!(status.contains("disk is too full"), "{status}");

    disk.grow(64 * MB);
    b.sync();
    assert_eq!(b.files(), a.files());
    assert!(temp_files(&b.root).is_empty());
}

#[test]
#[ignore = "mounts a tmpfs: run by `make test` through scripts/with-mount-namespace.sh"]
fn a_full_disk_on_the_service_refuses_whole_writes_and_uploads_resume_when_it_has_room() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let disk = SmallDisk::mount(&data, 6 * MB);
    let service = Service::start_in(dir, data.clone(), &["--demo"]);
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    b.write("from-b.txt", "B's note");
    b.sync();

    for i in 0..4 {
        a.write(
            &format!("big-{i}.bin"),
            random_bytes(10 + i, 2 * MB as usize),
        );
    }
    let out = a.run(&["sync", "--once"]);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "paused, not failed: {msg}");
    assert!(
        msg.contains("the service's disk is full") && msg.contains("not your storage plan"),
        "{msg}"
    );
    // Downloads went on; nothing of A's was touched.
    assert_eq!(a.read("from-b.txt").unwrap(), b"B's note");
    for i in 0..4 {
        assert_eq!(
            a.read(&format!("big-{i}.bin")).unwrap().len(),
            2 * MB as usize
        );
    }
    // The service holds only whole chunks: no half-written object left
    // (an account's chunk is `<hash>.<nonce>`, its pack `<nonce>`).
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    for f in walk_files(&data.join("chunks")) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let whole = match name.split_once('.') {
            Some((hash, nonce)) => hex(hash, 64) && hex(nonce, 32),
            None => hex(&name, 32),
        };
        assert!(whole, "a stray file in the chunk store: {}", f.display());
    }
    // Files that made it are whole on B.
    b.sync();
    for (k, v) in b.files() {
        assert_eq!(a.read(&k), Some(v), "{k}");
    }

    disk.grow(64 * MB);
    a.sync();
    b.sync();
    assert_eq!(b.files(), a.files());
    assert_eq!(b.files().len(), 5);
}

fn fs_available(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
