//! No file lost outside the simulator's world (issue 15): two homes on one
//! real service, real `nubo` processes, and the situations that lose files
//! in sync clients' trackers: folders the user cannot read (as a normal
//! user: root reads everything, so those clients drop to `nobody` with
//! setpriv), symbolic links in the way, folders replaced by files, ignore
//! rules, held-back folders, long names, the engine's own names, mounts
//! that go away, nested folders, edits that keep size and mtime.
//!
//! Run as root in a mount namespace of their own, as `make test` does:
//! `scripts/with-mount-namespace.sh cargo test -p nubo-cli --test lost_files -- --ignored`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const NOBODY: u32 = 65534;

fn assert_root() {
    let uid = effective_uid();
    assert_eq!(
        uid, 0,
        "these tests drop to a normal user and mount file systems: run them as root under \
         scripts/with-mount-namespace.sh, as `make test` does"
    );
}

/// The effective uid, from /proc (no libc call needed).
fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// A copy of the `nubo` binary a normal user may run (the build folder is
/// usually under /root, which only root can enter).
fn binary_for_anyone(dir: &Path) -> PathBuf {
    let to = dir.join("nubo");
    if !to.exists() {
        std::fs::copy(BIN, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    to
}

/// A client whose `nubo` runs as the normal user `nobody`: what it cannot
/// read, it cannot read.
struct AsUser {
    client: Client,
    bin: PathBuf,
}

impl AsUser {
    fn new(service: &Service, name: &str, bins: &Path) -> AsUser {
        assert_root();
        let client = Client::new(service, name);
        // Everything of this home goes to the user; its temp folder opens.
        let top = client.home.parent().unwrap().to_path_buf();
        std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = Command::new("chown")
            .args(["-R", &format!("{NOBODY}:{NOBODY}")])
            .arg(&top)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        AsUser {
            bin: binary_for_anyone(bins),
            client,
        }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let c = &self.client;
        Command::new("setpriv")
            .args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "--",
            ])
            .arg(&self.bin)
            .arg("--home")
            .arg(&c.home)
            .args(args)
            .env("XDG_DATA_HOME", &c.data_home)
            .env("HOME", c.home.parent().unwrap())
            .env("NUBO_TOKEN_STORE", "file")
            .env("NUBO_DEVICE_NAME", &c.name)
            .output()
            .unwrap()
    }

    /// `nubo sync --once` as the user; it must end well. Returns stderr.
    fn sync(&self) -> String {
        let out = self.run(&["sync", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "{}: sync failed: {err}",
            self.client.name
        );
        err
    }

    fn write(&self, rel: &str, content: &[u8]) {
        self.client.write(rel, content);
        chown(&self.client.path(rel));
        let mut p = self.client.path(rel);
        while p.pop() && p != self.client.root {
            chown(&p);
        }
    }
}

fn chown(p: &Path) {
    std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What the service holds, as a home that has just synced it sees it.
fn service_files(service: &Service) -> std::collections::BTreeMap<String, Vec<u8>> {
    let view = Client::new(service, "observer");
    view.sync();
    view.files()
}

fn trash_count(c: &Client) -> usize {
    c.trash().len()
}

/// Case 1: A synced folder that becomes unreadable is not read as deleted: the
/// service keeps its files, the other PC keeps them (nothing in its trash),
/// the sync ends well and says what it left alone; once readable again,
/// it syncs as before.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn an_unreadable_folder_is_not_deleted_anywhere() {
    let service = Service::start();
    let bins = tempfile::tempdir().unwrap();
    chmod(bins.path(), 0o755);
    let a = AsUser::new(&service, "pc-a", bins.path());
    let b = Client::new(&service, "pc-b");
    for f in ["d/one.txt", "d/two.txt", "d/sub/three.txt"] {
        a.write(f, f.as_bytes());
    }
    a.sync();
    b.sync();
    assert_eq!(b.files().len(), 3);

    chmod(&a.client.path("d"), 0o000);
    let said = a.sync();
    assert!(
        said.contains("\"d\" cannot be read (permission denied)"),
        "the sync says what it left alone: {said}"
    );
    b.write("elsewhere.txt", "b goes on");
    b.sync();
    assert_eq!(b.files().len(), 4, "B lost nothing: {:?}", b.files().keys());
    assert_eq!(trash_count(&b), 0, "nothing went to B's trash");
    let status = a.run(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("cannot be read"));
    a.sync();
    assert!(
        a.client.path("elsewhere.txt").exists(),
        "the rest of the folder still syncs"
    );

    chmod(&a.client.path("d"), 0o755);
    a.write("d/four.txt", b"readable again");
    a.sync();
    b.sync();
    assert_eq!(
        b.read("d/four.txt").as_deref(),
        Some(&b"readable again"[..])
    );
    assert_eq!(b.files().len(), 5);
}

/// Case 1, the other way in: a rename makes a synced tree's paths longer than
/// the system takes; what the walk cannot reach is left as it was, never
/// deleted.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn paths_grown_past_the_limit_are_not_deleted() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    let root_len = a.root.as_os_str().len();
    // Deep enough that renaming the top folder from "t" to 250 bytes takes
    // the deepest file past PATH_MAX (4096), and no further.
    let level = "l".repeat(200);
    let mut deep = String::from("t");
    while root_len + deep.len() + 1 + level.len() + 10 < 4000 {
        deep = format!("{deep}/{level}");
    }
    a.write(&format!("{deep}/deep.txt"), "far down");
    a.write("t/near.txt", "near the top");
    a.sync();
    b.sync();
    assert_eq!(service_files(&service).len(), 2);
    let long = "T".repeat(250);
    std::fs::rename(a.path("t"), a.path(&long)).unwrap();
    let out = a.run(&["sync", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("path is too long"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing went to the service's trash: the deep file was not deleted
    // (a fresh home could not hold its path either, so it is not fetched).
    let trash = b.ok(&["restore", "list", "--json"]);
    assert!(trash.contains("\"total\": 0"), "{trash}");
    b.sync();
    assert_eq!(trash_count(&b), 0);
}

/// Case 2: B has an unsynced symbolic link where A renames a file to: the move
/// cannot be done on B. B keeps the file where it was, says why once, and
/// everything else still syncs both ways.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_move_onto_a_link_blocks_nothing_else() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("f.txt", "the file");
    a.sync();
    b.sync();
    std::os::unix::fs::symlink("/etc/hostname", b.path("g.txt")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), b.path("h")).unwrap();
    std::fs::rename(a.path("f.txt"), a.path("g.txt")).unwrap();
    a.write("h/into-the-link.txt", "must not land outside B's folder");
    a.sync();
    for round in 0..3 {
        b.write(&format!("from-b-{round}.txt"), "b");
        let out = b.run(&["sync", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "round {round}: {err}");
        assert!(err.contains("\"g.txt\" is a symbolic link"), "{err}");
        a.write(&format!("from-a-{round}.txt"), "a");
        a.sync();
    }
    b.sync();
    assert_eq!(
        b.read("f.txt").as_deref(),
        Some(&b"the file"[..]),
        "kept where it was"
    );
    for round in 0..3 {
        assert!(b.path(&format!("from-a-{round}.txt")).exists());
        assert!(a.path(&format!("from-b-{round}.txt")).exists());
    }
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "nothing written through the link"
    );
    assert_eq!(
        std::fs::read_link(b.path("g.txt")).unwrap(),
        Path::new("/etc/hostname")
    );
    assert_eq!(trash_count(&b), 0);
}

/// Case 3: A folder replaced by a file on one side while the other adds a file
/// in it: both are kept, one under a conflict name, whoever syncs first.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_folder_replaced_by_a_file_while_changed_keeps_both() {
    for a_first in [true, false] {
        let service = Service::start();
        let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
        a.write("d/x.txt", "x");
        a.sync();
        b.sync();
        std::fs::remove_dir_all(a.path("d")).unwrap();
        a.write("d", "now a file");
        b.write("d/y.txt", "new in the folder");
        let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
        first.sync();
        second.sync();
        first.sync();
        second.sync();
        let files = service_files(&service);
        let contents: Vec<&[u8]> = files.values().map(Vec::as_slice).collect();
        assert!(
            contents.contains(&&b"now a file"[..]) && contents.contains(&&b"new in the folder"[..]),
            "a first: {a_first}; both kept: {:?}",
            files.keys()
        );
        assert!(
            files.keys().any(|k| k.contains("(conflicted copy")),
            "{:?}",
            files.keys()
        );
        assert_eq!(a.files(), b.files(), "a first: {a_first}");
    }
}

/// Case 4: Deleting a folder deletes only what the deleting PC had: files its
/// ignore rules leave out, a subfolder it excluded, stay on the service
/// and on the other PC.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_folder_delete_spares_what_the_pc_never_had() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write(".nuboignore", "*.log\n");
    a.write("d/a.txt", "a");
    a.sync();
    b.sync();
    b.write("d/server.log", "only B syncs logs");
    b.write("d/keep/k.txt", "excluded on A");
    b.sync();
    a.sync();
    a.ok(&["folder", "exclude", "/d/keep"]);
    a.sync();
    std::fs::remove_dir_all(a.path("d")).unwrap();
    a.sync();
    b.sync();
    assert_eq!(
        b.read("d/server.log").as_deref(),
        Some(&b"only B syncs logs"[..])
    );
    assert_eq!(
        b.read("d/keep/k.txt").as_deref(),
        Some(&b"excluded on A"[..])
    );
    assert!(b.read("d/a.txt").is_none(), "what A had is deleted");
    assert_eq!(b.trash(), ["a.txt"]);
}

/// Case 5: A synced folder moved on B into a new folder too large for A to take
/// unasked: A waits for the user and keeps the folder where it was.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn moving_into_a_held_back_folder_trashes_nothing() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.set_config("large_folder_bytes", 1_000_000);
    b.write("X/x.txt", "known");
    b.sync();
    a.sync();
    b.write("N/big.bin", random_bytes(5, 2_000_000));
    std::fs::rename(b.path("X"), b.path("N/X")).unwrap();
    b.sync();
    let out = a.run(&["sync", "--once"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("new folder /N"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(a.read("X/x.txt").as_deref(), Some(&b"known"[..]));
    assert_eq!(trash_count(&a), 0);
    a.ok(&["folder", "include", "/N"]);
    a.sync();
    assert_eq!(a.read("N/X/x.txt").as_deref(), Some(&b"known"[..]));
    assert!(a.read("X/x.txt").is_none());
    assert_eq!(a.files(), b.files());
    assert_eq!(trash_count(&a), 0, "it moved, nothing was deleted");
}

/// Case 6: Ignore rules that name a folder (`d/*.log`) do not block deleting
/// that folder when the other PC deleted it; what they kept out goes to the
/// trash with it, and the recent changes say so.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn ignore_rules_with_a_folder_do_not_block_its_delete() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("d/a.txt", "a");
    a.sync();
    b.write(".nuboignore", "d/*.log\n");
    b.sync();
    b.write("d/build.log", "B's own");
    std::fs::remove_dir_all(a.path("d")).unwrap();
    a.sync();
    b.sync();
    assert!(!b.path("d").exists());
    let mut trash = b.trash();
    trash.sort();
    assert_eq!(trash, ["d"]);
    let recent = b.status_json()["recent"].to_string();
    assert!(recent.contains("d/build.log"), "{recent}");
}

/// Case 7: A conflict on a name near the limit resolves: the conflict copy's
/// name is shortened to fit.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_conflict_on_a_long_name_resolves() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    let name = format!("{}.txt", "n".repeat(246));
    assert_eq!(name.len(), 250);
    a.write(&name, "first");
    a.sync();
    b.sync();
    a.write(&name, "A's edit");
    b.write(&name, "B's edit");
    a.sync();
    b.sync();
    a.sync();
    let files = b.files();
    assert_eq!(files.len(), 2, "{:?}", files.keys());
    assert!(files.keys().all(|k| k.len() <= 255));
    assert_eq!(a.files(), files);
}

/// Case 8: A user's own file named like the engine's temp files is never
/// removed (the engine removes only temp files it made itself).
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_users_file_named_like_a_temp_file_stays() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    for name in [
        ".nubo-tmp-notes.txt",
        ".nubo-tmp-0123456789abcdef0123456789abcdef",
    ] {
        std::fs::write(a.path(name), "mine").unwrap();
    }
    a.sync();
    a.sync();
    for name in [
        ".nubo-tmp-notes.txt",
        ".nubo-tmp-0123456789abcdef0123456789abcdef",
    ] {
        assert_eq!(a.read(name).as_deref(), Some(&b"mine"[..]), "{name}");
    }
}

/// Case 9: A synced folder replaced by a link to elsewhere while B changes files
/// in it: A writes nothing through the link, keeps the service's content,
/// says so, and is not stuck.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_folder_replaced_by_a_link_keeps_the_services_content() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("d/one.txt", "one");
    a.write("d/two.txt", "two");
    a.sync();
    b.sync();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(a.path("d")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), a.path("d")).unwrap();
    b.write("d/one.txt", "one, edited on B");
    b.sync();
    for _ in 0..2 {
        let out = a.run(&["sync", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("\"d\" is a symbolic link"), "{err}");
    }
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    b.sync();
    assert_eq!(
        b.read("d/one.txt").as_deref(),
        Some(&b"one, edited on B"[..])
    );
    assert_eq!(b.read("d/two.txt").as_deref(), Some(&b"two"[..]));
    assert_eq!(trash_count(&b), 0);
}

/// Case 10: A subfolder that is a mount point holds some of the folder's files
/// (too few for the mass-delete guard); the disk is unmounted: nothing is
/// deleted anywhere, the sync pauses and says why, and confirming a mass
/// delete does not change that; with the disk back, it syncs on; and when
/// the user says the disk is gone for good (`folder forget-mount`), its
/// files are deleted everywhere (into the trash).
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn an_unmounted_subfolder_is_not_read_as_deleted() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    for i in 0..30 {
        a.write(&format!("top-{i}.txt"), format!("top {i}"));
    }
    let disk = SmallDisk::mount(&a.path("photos"), 10 << 20);
    for i in 0..12 {
        a.write(&format!("photos/p-{i}.jpg"), format!("photo {i}"));
    }
    a.sync();
    b.sync();
    assert_eq!(b.files().len(), 42);
    drop(disk);
    let out = a.run(&["sync", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was another disk's mount point"), "{err}");
    b.sync();
    assert_eq!(b.files().len(), 42, "nothing deleted on B");
    assert_eq!(trash_count(&b), 0);
    // Confirming an unrelated mass delete does not take the disk's files
    // with it: the mount has a confirmation of its own.
    let out = a.run(&["sync", "--once", "--allow-mass-delete"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("forget-mount"));
    b.sync();
    assert_eq!(b.files().len(), 42, "nothing deleted on B");
    // The disk comes back, with its files: nothing to do.
    let disk = SmallDisk::mount(&a.path("photos"), 10 << 20);
    for i in 0..12 {
        a.write(&format!("photos/p-{i}.jpg"), format!("photo {i}"));
    }
    a.sync();
    b.sync();
    assert_eq!(b.files().len(), 42);
    assert_eq!(trash_count(&b), 0);
    // It goes again, and the user says it is gone for good: its files go,
    // here they were already, and on B to the trash.
    drop(disk);
    a.sync_allowing_pause();
    let photos = a.path("photos");
    a.ok(&["folder", "forget-mount", photos.to_str().unwrap()]);
    a.sync();
    b.sync();
    assert_eq!(b.files().len(), 30);
    assert_eq!(trash_count(&b), 12);
}

/// Copies a folder and all it holds (`cp -a`).
fn copy_tree(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Case 11: the service's data folder is put back to an older copy. Both
/// homes notice (one by a cursor ahead of the service, the other by a
/// cursor from a history the service lost, after the first wrote to it),
/// rebuild without deleting anything, and send back what the service lost.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_service_restored_from_a_backup_loses_nothing() {
    let mut service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("kept.txt", "from before the backup");
    a.write("edited.txt", "first version");
    a.sync();
    b.sync();
    let backup = tempfile::tempdir().unwrap();
    let copy = backup.path().join("data");
    service.stopped_while(&["--demo"], |data| copy_tree(data, &copy));

    a.write("after.txt", "written after the backup");
    a.write("edited.txt", "second version");
    std::fs::rename(a.path("kept.txt"), a.path("renamed.txt")).unwrap();
    a.sync();
    b.sync();
    b.write("from-b.txt", "B's, after the backup");
    b.sync();
    let everything = b.files();
    assert_eq!(everything.len(), 4, "{:?}", everything.keys());

    // The operator puts the copy back; the service is down a few seconds.
    service.stopped_while(&["--demo"], |data| {
        std::fs::remove_dir_all(data).unwrap();
        copy_tree(&copy, data);
        std::thread::sleep(std::time::Duration::from_secs(3));
    });
    b.write("b-again.txt", "B's first change after the restore");
    b.sync();
    a.sync();
    b.sync();
    for c in [&a, &b] {
        let notice = c.status_json()["notice"].clone();
        assert_eq!(notice["kind"], "service_rewound", "{}: {notice}", c.name);
        assert_eq!(trash_count(c), 0, "{}: nothing went to the trash", c.name);
    }
    let on_service = service_files(&service);
    let contents: Vec<&Vec<u8>> = on_service.values().collect();
    for (path, content) in &everything {
        assert!(
            contents.contains(&content),
            "{path} is back on the service: {:?}",
            on_service.keys()
        );
    }
    assert_eq!(a.files(), b.files());
    assert_eq!(on_service, a.files());
}

/// Case 12: A folder inside or around one that a Nubo home syncs is refused,
/// across homes.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn nested_folders_are_refused_across_homes() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("inner/file.txt", "x");
    let second = Client::signed_in(&service, "second", "demo", "nubo-demo");
    second.ok(&["agreements", "--accept", "--adult"]);
    let inside = a.path("inner");
    let out = second.run(&["folder", "add", inside.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("which Nubo already syncs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let around = a.root.parent().unwrap();
    let out = second.run(&["folder", "add", around.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("which Nubo already syncs"));

    // A synced folder moved into another one: the walk stops at its marker;
    // nothing of it is uploaded by the outer one, which says so.
    let other = Client::new(&service, "pc-other");
    other.write("theirs.txt", "synced by the other folder");
    other.sync();
    a.sync();
    copy_tree(&other.root, &a.path("moved-in"));
    let out = a.run(&["sync", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("\"moved-in\" is another synced folder"),
        "{err}"
    );
    let on_service = service_files(&service);
    assert!(
        !on_service.keys().any(|k| k.starts_with("moved-in")),
        "{:?}",
        on_service.keys()
    );
}

/// Case 13: An edit that keeps size and modification time is still seen, and a
/// later edit from the other PC does not replace it unseen.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn an_edit_that_keeps_size_and_mtime_is_seen() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("doc.txt", "version one");
    // Written an hour ago: its size and mtime are trusted, not re-read.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(a.path("doc.txt"))
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    a.sync();
    b.sync();
    let before = std::fs::metadata(a.path("doc.txt")).unwrap();
    std::fs::write(a.path("doc.txt"), "version two").unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(a.path("doc.txt"))
        .unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    assert_eq!(
        std::fs::metadata(a.path("doc.txt")).unwrap().len(),
        before.len()
    );
    a.sync();
    b.sync();
    assert_eq!(b.read("doc.txt").as_deref(), Some(&b"version two"[..]));
}

/// Smaller: a modification time before 1970 is kept.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn a_time_before_1970_is_kept() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("old.txt", "scanned in");
    let when = std::time::UNIX_EPOCH - std::time::Duration::from_secs(86_400 * 365 * 3);
    std::fs::File::options()
        .write(true)
        .open(a.path("old.txt"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    a.sync();
    b.sync();
    let got = std::fs::metadata(b.path("old.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(got, when);
}

/// Smaller: the exec bit is kept: a script made executable on A runs on B,
/// set or cleared later by `chmod` alone (same content), and a file that
/// never had it does not get it.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn the_exec_bit_is_kept() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |c: &Client, rel: &str| {
        std::fs::metadata(c.path(rel)).unwrap().permissions().mode() & 0o777
    };
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("run.sh", "#!/bin/sh\necho hi\n");
    a.write("notes.txt", "plain");
    chmod(&a.path("run.sh"), 0o755);
    a.sync();
    b.sync();
    assert_eq!(mode(&b, "run.sh") & 0o111, 0o111, "B's copy cannot be run");
    assert_eq!(
        mode(&b, "notes.txt") & 0o111,
        0,
        "B's plain file became executable"
    );
    // chmod alone, on B this time: the same content, another bit.
    chmod(&b.path("run.sh"), 0o644);
    chmod(&b.path("notes.txt"), 0o700);
    b.sync();
    a.sync();
    assert_eq!(
        mode(&a, "run.sh") & 0o111,
        0,
        "A's script kept its exec bit"
    );
    assert_eq!(
        mode(&a, "notes.txt") & 0o100,
        0o100,
        "A's notes did not get it"
    );
    assert_eq!(
        a.read("run.sh").as_deref(),
        Some(&b"#!/bin/sh\necho hi\n"[..])
    );
}

/// Smaller: names that are not valid UTF-8 (legal on Linux) sync, and the
/// other PC gets the very same bytes; a valid name holding the reserved
/// characters of their spelling is not mistaken for one.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn names_that_are_not_utf8_sync_as_the_same_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    let latin1 = OsStr::from_bytes(b"caf\xe9 (latin-1).txt");
    let folder = OsStr::from_bytes(b"dir-\xff\xfe");
    std::fs::write(a.root.join(latin1), "latin-1 name").unwrap();
    std::fs::create_dir(a.root.join(folder)).unwrap();
    std::fs::write(a.root.join(folder).join("inner.txt"), "inside").unwrap();
    a.write(
        "plain \u{10FC80}.txt",
        "a valid name with a reserved character",
    );
    a.write(
        "caf\u{e9} (latin-1).txt",
        "the UTF-8 spelling of the same word",
    );
    a.sync();
    b.sync();
    assert_eq!(std::fs::read(b.root.join(latin1)).unwrap(), b"latin-1 name");
    assert_eq!(
        std::fs::read(b.root.join(folder).join("inner.txt")).unwrap(),
        b"inside"
    );
    assert_eq!(
        b.read("plain \u{10FC80}.txt").as_deref(),
        Some(&b"a valid name with a reserved character"[..])
    );
    assert_eq!(
        b.read("caf\u{e9} (latin-1).txt").as_deref(),
        Some(&b"the UTF-8 spelling of the same word"[..])
    );
    let mut names: Vec<Vec<u8>> = std::fs::read_dir(&b.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .filter(|n| !n.starts_with(b".nubo"))
        .collect();
    names.sort();
    let mut want: Vec<Vec<u8>> = vec![
        latin1.as_bytes().to_vec(),
        folder.as_bytes().to_vec(),
        "plain \u{10FC80}.txt".as_bytes().to_vec(),
        "caf\u{e9} (latin-1).txt".as_bytes().to_vec(),
    ];
    want.sort();
    assert_eq!(names, want);
    // Deleted on B: gone on A too, into its trash.
    std::fs::remove_file(b.root.join(latin1)).unwrap();
    b.sync();
    a.sync();
    assert!(!a.root.join(latin1).exists());
    assert_eq!(trash_count(&a), 1);
}

/// Case 10 with a bind mount from the same file system (`mount --bind
/// ~/photos ~/Nubo/photos`), which the issue names: the mount point keeps
/// the device of the folder around it, so only the system's mount table
/// tells that it went away.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn an_unmounted_bind_mount_is_not_read_as_deleted() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    for i in 0..30 {
        a.write(&format!("top-{i}.txt"), format!("top {i}"));
    }
    // The source lies next to the home, on the same file system.
    let source = a.home.parent().unwrap().join("photos-source");
    std::fs::create_dir_all(&source).unwrap();
    for i in 0..12 {
        std::fs::write(source.join(format!("p-{i}.jpg")), format!("photo {i}")).unwrap();
    }
    std::fs::create_dir_all(a.path("photos")).unwrap();
    let bind = |args: &[&str]| {
        let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let target = a.path("photos");
    bind(&[
        "mount",
        "--bind",
        source.to_str().unwrap(),
        target.to_str().unwrap(),
    ]);
    a.sync();
    b.sync();
    assert_eq!(b.files().len(), 42);
    bind(&["umount", target.to_str().unwrap()]);
    let out = a.run(&["sync", "--once"]);
    eprintln!("A: {}", String::from_utf8_lossy(&out.stderr));
    b.sync();
    assert_eq!(
        b.files().len(),
        42,
        "B lost the bind mount's files (its trash: {:?})",
        b.trash()
    );
}

/// The longest names a disk holds, of bytes that are not UTF-8 (each takes
/// 4 bytes in the service's spelling): they reach the other PC too.
#[test]
#[ignore = "needs root and its own mount namespace: see the module's doc"]
fn the_longest_names_that_are_not_utf8_sync_too() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    let mut file = vec![0xe9u8; 251];
    file.extend_from_slice(b".txt");
    let (file, folder) = (
        OsString::from_vec(file),
        OsString::from_vec(vec![0xff; 255]),
    );
    std::fs::write(a.root.join(&file), "a long latin-1 name").unwrap();
    std::fs::create_dir(a.root.join(&folder)).unwrap();
    std::fs::write(a.root.join(&folder).join(&file), "inside").unwrap();
    a.sync();
    b.sync();
    assert_eq!(
        std::fs::read(b.root.join(&file)).unwrap(),
        b"a long latin-1 name"
    );
    assert_eq!(
        std::fs::read(b.root.join(&folder).join(&file)).unwrap(),
        b"inside"
    );
}
