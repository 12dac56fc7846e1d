//! Two homes on one machine behave as two PCs sharing one account through a
//! real service on 127.0.0.1. Each test asserts what the user would see on disk.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

#[test]
fn edits_renames_moves_and_deletes_reach_the_other_home() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));

    a.write("notes.txt", "first");
    a.write("photos/2026/beach.jpg", random_bytes(1, 300_000));
    a.write("photos/2026/hill.jpg", random_bytes(2, 5_000));
    a.write("docs/plan.md", "# plan");
    a.sync();
    b.sync();
    assert_eq!(a.files(), b.files());

    // Edit and rename on B, move a whole folder and delete on A.
    b.write("notes.txt", "second");
    std::fs::rename(b.path("docs/plan.md"), b.path("docs/plan-v2.md")).unwrap();
    b.sync();
    a.sync();
    std::fs::create_dir_all(a.path("archive")).unwrap();
    std::fs::rename(a.path("photos"), a.path("archive/photos")).unwrap();
    std::fs::remove_file(a.path("archive/photos/2026/hill.jpg")).unwrap();
    a.write("docs/new.txt", "new");
    a.sync();
    b.sync();

    let files = b.files();
    assert_eq!(files, a.files());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "archive/photos/2026/beach.jpg",
            "docs/new.txt",
            "docs/plan-v2.md",
            "notes.txt"
        ]
    );
    assert_eq!(files["notes.txt"], b"second");
    assert_eq!(
        files["archive/photos/2026/beach.jpg"],
        random_bytes(1, 300_000)
    );

    // The move went as a move: B's recent changes say so, and nothing was re-sent.
    let status = b.status_json();
    let used = status["storage"]["used_bytes"].as_u64().unwrap();
    let expected: usize = b.files().values().map(Vec::len).sum();
    assert_eq!(
        used as usize, expected,
        "status shows the storage the account uses"
    );
    assert!(
        b.ok(&["status"]).contains("storage: "),
        "and says it in words"
    );
    let recent = status["recent"].to_string();
    assert!(recent.contains(r#""kind":"moved_here""#), "{recent}");
    assert!(
        b.trash().contains(&"hill.jpg".to_string()),
        "the deleted photo is in B's OS trash: {:?}",
        b.trash()
    );
}

#[test]
fn both_sides_editing_one_file_keeps_both_versions() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("report.txt", "base");
    a.sync();
    b.sync();
    a.write("report.txt", "from A");
    b.write("report.txt", "from B");
    a.sync();
    b.sync();
    a.sync();

    let c = Client::new(&service, "pc-c");
    c.sync();
    for client in [&a, &b, &c] {
        let files = client.files();
        assert_eq!(files.len(), 2, "{}: {:?}", client.name, files.keys());
        assert_eq!(
            files["report.txt"], b"from A",
            "{}: the first commit stays in place",
            client.name
        );
        let (copy, content) = files
            .iter()
            .find(|(k, _)| k.as_str() != "report.txt")
            .unwrap();
        assert!(
            copy.starts_with("report (conflicted copy from pc-b ") && copy.ends_with(").txt"),
            "{copy}"
        );
        assert_eq!(content, b"from B");
    }
    let status = b.status_json();
    assert_eq!(
        status["conflicts"].as_array().unwrap().len(),
        1,
        "status lists the conflict: {status}"
    );
}

#[test]
fn identical_edits_on_both_sides_are_no_conflict() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("same.txt", "identical");
    b.write("same.txt", "identical");
    a.sync();
    b.sync();
    assert_eq!(b.files().len(), 1);
    assert!(b.status_json()["conflicts"].as_array().unwrap().is_empty());
}

#[test]
fn an_edit_beats_a_delete_and_deletions_go_to_the_trash() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("keep.txt", "v1");
    a.write("drop.txt", "bye");
    a.sync();
    b.sync();

    // A deletes keep.txt while B edits it: the edit survives everywhere.
    std::fs::remove_file(a.path("keep.txt")).unwrap();
    b.write("keep.txt", "v2 edited");
    a.sync();
    b.sync();
    a.sync();
    assert_eq!(a.read("keep.txt").as_deref(), Some(&b"v2 edited"[..]));
    assert_eq!(b.read("keep.txt").as_deref(), Some(&b"v2 edited"[..]));

    // B deletes an unchanged file: A's copy goes to A's OS trash, not away.
    std::fs::remove_file(b.path("drop.txt")).unwrap();
    b.sync();
    a.sync();
    assert!(a.read("drop.txt").is_none());
    assert_eq!(a.trash(), ["drop.txt"]);
    let trashed = std::fs::read(a.data_home.join("Trash/files/drop.txt")).unwrap();
    assert_eq!(trashed, b"bye");
}

#[test]
fn a_file_rewritten_while_it_uploads_ends_with_its_final_content() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("big.bin", random_bytes(3, 48 << 20));
    // At 8 MB/s (after a first second's burst) the upload takes five
    // seconds at least, on any machine: the rewrite lands in its middle.
    a.set_config("upload_limit_kbps", 8000);
    let mut watcher = a
        .command(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Rewrite as soon as the first chunk has reached the service.
    assert!(wait_until(Duration::from_secs(60), || service
        .chunk_count()
        > 0));
    let last = random_bytes(4, 40 << 20);
    a.write("big.bin", &last);
    let synced = wait_until(Duration::from_secs(120), || {
        b.sync();
        b.read("big.bin").is_some_and(|c| c == last)
    });
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    assert!(synced, "B never saw the final content");
    assert_eq!(a.read("big.bin").unwrap(), last, "A's file is untouched");
    assert_eq!(
        b.files().len(),
        1,
        "no stray copies: {:?}",
        b.files().keys()
    );
    let versions: serde_json::Value =
        serde_json::from_str(&b.ok(&["restore", "list", "--versions", "/big.bin", "--json"]))
            .unwrap();
    assert!(
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["size"] != 48 << 20),
        "the first content was not rewritten mid-upload: it reached the service whole: {versions}"
    );
}

#[test]
fn changing_one_kib_in_a_large_file_sends_only_a_few_chunks() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    let mut data = random_bytes(5, 32 << 20);
    a.write("video.bin", &data);
    a.sync();
    b.sync();
    let first_version = service.chunk_files();
    let before = first_version.len();
    assert!(
        before >= 12,
        "a 32 MiB file is cut into many chunks, got {before}"
    );
    let mid = data.len() / 2;
    data.splice(mid..mid, [7u8; 1024]);
    a.write("video.bin", &data);
    a.sync();
    let sent = service.chunk_count() - before;
    assert!(
        (1..=3).contains(&sent),
        "{sent} new chunks were stored for a 1 KiB insertion"
    );
    // B holds the first version: it needs only the new chunks. Every other
    // chunk leaves the service, so fetching one would fail the download.
    for chunk in first_version {
        std::fs::remove_file(chunk).unwrap();
    }
    b.sync();
    assert_eq!(b.read("video.bin").unwrap(), data);
}

#[test]
fn wiping_the_remote_folder_pauses_and_keeps_local_files() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    for i in 0..20 {
        a.write(&format!("f{i}.txt"), format!("file {i}"));
    }
    a.sync();
    b.sync();
    // B empties its folder and insists; the service's copy is wiped.
    for f in b.files().keys() {
        std::fs::remove_file(b.path(f)).unwrap();
    }
    let out = b.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "B's own guard asks first");
    b.ok(&["sync", "--once", "--allow-mass-delete"]);

    let out = a.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "A pauses instead of deleting");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("would delete 20 files here") && msg.contains("--allow-mass-delete"),
        "{msg}"
    );
    assert_eq!(a.files().len(), 20, "every local file stays");
    let pauses = a.pauses();
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    assert_eq!(
        (&pauses[0]["kind"], &pauses[0]["local_files"]),
        (&serde_json::json!("mass_delete"), &serde_json::json!(20)),
        "a script reads the kind and its data: {pauses:?}"
    );
}

#[test]
fn agreements_gate_syncing_until_accepted() {
    let service = Service::start();
    let a = Client::signed_in(&service, "pc-a", "demo", "nubo-demo");
    a.ok(&["folder", "add", a.root.to_str().unwrap()]);
    a.write("x.txt", "x");
    let out = a.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("accept the service's agreements") && msg.contains("nubo agreements --accept"),
        "{msg}"
    );

    let list = a.ok(&["agreements", "--json"]);
    let docs: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(
        docs["documents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["accepted"] == false)
            .count(),
        3
    );
    let zh = a.ok(&["agreements", "--read", "terms", "--locale", "zh-CN"]);
    assert!(zh.contains("服务条款"));

    a.ok(&["agreements", "--accept", "--guardian"]);
    a.sync();
    let history = a.ok(&["agreements", "--history"]);
    assert!(
        history.contains("terms\tversion 2026-11-01\ten\tguardian"),
        "{history}"
    );
    let b = Client::new(&service, "pc-b");
    b.sync();
    assert_eq!(b.read("x.txt").as_deref(), Some(&b"x"[..]));
}

#[test]
fn a_folder_without_its_marker_is_not_read_as_deleted() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("one.txt", "1");
    a.sync();
    // An unmounted drive looks like an empty folder.
    std::fs::remove_file(a.path("one.txt")).unwrap();
    std::fs::remove_file(a.path(".nubo-root")).unwrap();
    let out = a.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("marker"));
    let b = Client::new(&service, "pc-b");
    b.sync();
    assert_eq!(
        b.read("one.txt").as_deref(),
        Some(&b"1"[..]),
        "the service kept the file"
    );
}

#[test]
fn upload_only_and_download_only_modes() {
    let service = Service::start();
    let backup = Client::for_account(
        &service,
        "backup",
        "demo",
        "nubo-demo",
        &["--mode", "upload-only"],
    );
    let mirror = Client::for_account(
        &service,
        "mirror",
        "demo",
        "nubo-demo",
        &["--mode", "download-only"],
    );
    backup.write("b.txt", "backed up");
    backup.sync();
    mirror.sync();
    assert_eq!(mirror.read("b.txt").as_deref(), Some(&b"backed up"[..]));
    mirror.write("local-only.txt", "stays here");
    mirror.sync();
    backup.sync();
    assert!(
        backup.read("local-only.txt").is_none(),
        "download-only sent nothing"
    );
    assert!(mirror.read("local-only.txt").is_some());
}

#[test]
fn a_corrupt_state_database_is_rebuilt_without_deleting_anything() {
    rebuilt_after(|db| std::fs::write(db, b"this is not a database").unwrap());
}

#[test]
fn a_truncated_state_database_is_rebuilt_without_deleting_anything() {
    // Cut mid-file, as a crash on a file system without ordered writes or a
    // full disk during a copy would leave it: the header still says SQLite.
    rebuilt_after(|db| {
        let len = std::fs::metadata(db).unwrap().len();
        assert!(
            len > 16 * 4096,
            "a database of {len} bytes is too small to cut"
        );
        let f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
        f.set_len(len / 2).unwrap();
    });
}

#[test]
fn a_state_database_with_a_damaged_page_is_rebuilt_without_deleting_anything() {
    rebuilt_after(|db| {
        use std::io::{Seek, SeekFrom, Write};
        let len = std::fs::metadata(db).unwrap().len();
        let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
        f.seek(SeekFrom::Start((len / 2) & !4095)).unwrap();
        f.write_all(&[0xA5; 4096]).unwrap();
    });
}

#[test]
fn a_state_database_that_cannot_be_written_is_a_local_problem_not_offline() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("one.txt", "1");
    a.sync();
    // A real SQLite failure in the real file: every write of the feed's
    // cursor is refused, as a read-only or broken disk would refuse it.
    let conn = rusqlite::Connection::open(a.home.join("state.sqlite")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON meta WHEN NEW.key = 'cursor'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    drop(conn);
    let out = a.run(&["sync", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("state database") && !err.contains("reach"),
        "{err}"
    );
    let failure = a.status_json()["last_pass"]["outcome"]["failure"].clone();
    assert_eq!(failure["kind"], "local_database", "{failure}");
    assert_eq!(
        a.read("one.txt").as_deref(),
        Some(&b"1"[..]),
        "nothing lost"
    );
}

/// A's state database is damaged by `damage` (after a clean stop) while A's
/// copy of one file also changes; the next sync must notice, set it aside,
/// rebuild from the disk and the service, and lose or duplicate nothing.
fn rebuilt_after(damage: fn(&std::path::Path)) {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("same.txt", "unchanged");
    a.write("edited.txt", "v1");
    a.write("deleted-elsewhere.txt", "still wanted here?");
    // Enough rows for a database of many pages.
    for i in 0..300 {
        a.write(&format!("many/file-{i:03}.txt"), format!("file {i}"));
    }
    a.sync();
    b.sync();
    std::fs::remove_file(b.path("deleted-elsewhere.txt")).unwrap();
    b.sync();

    // The WAL is folded in at a clean stop; only the main file remains.
    for f in ["state.sqlite-wal", "state.sqlite-shm"] {
        assert!(!a.home.join(f).exists(), "{f} left after a clean stop");
    }
    let db = a.home.join("state.sqlite");
    damage(&db);
    // Reading the status says so and leaves the file where it is: only the
    // sync loop sets it aside.
    let damaged = std::fs::read(&db).unwrap();
    let status = a.status_json();
    assert_eq!(status["database"]["kind"], "damaged", "{status}");
    assert!(a.ok(&["status"]).contains("state database"));
    // A change outside the sync loop refuses it, and leaves it too.
    let out = a.run(&["folder", "exclude", "/nothing-here"]);
    assert!(
        !out.status.success(),
        "an exclusion over a damaged database"
    );
    // The account's devices need only the service: listed, the file untouched.
    assert!(a.ok(&["devices"]).contains("pc-a\t"));
    // Every other command that is not the sync loop and reads the database
    // says what is wrong and leaves the file where it is.
    for command in [
        &["restore", "list"][..],
        &["agreements"],
        &["agreements", "--history"],
    ] {
        let out = a.run(command);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command:?} over a damaged database");
        assert!(
            err.contains("state database") && err.contains("damaged"),
            "{command:?} says what is wrong: {err}"
        );
    }
    assert_eq!(
        std::fs::read(&db).unwrap(),
        damaged,
        "status and the other commands left it as it was"
    );
    let aside = |home: &std::path::Path| {
        std::fs::read_dir(home)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains("corrupt"))
    };
    assert!(!aside(&a.home), "nothing was set aside before the sync");
    a.write("edited.txt", "v2 from A");
    a.sync();

    let files = a.files();
    assert_eq!(files["same.txt"], b"unchanged");
    assert_eq!(
        files.len(),
        303 + 1,
        "{:?}",
        files.keys().take(5).collect::<Vec<_>>()
    );
    assert_eq!(
        files["deleted-elsewhere.txt"], b"still wanted here?",
        "nothing is deleted while rebuilding"
    );
    let copies: Vec<_> = files
        .iter()
        .filter(|(k, _)| k.starts_with("edited (conflicted copy"))
        .collect();
    assert_eq!(copies.len(), 1, "{:?}", files.keys());
    assert_eq!(copies[0].1, b"v2 from A");
    assert_eq!(files["edited.txt"], b"v1");
    assert_eq!(a.status_json()["notice"]["kind"], "database_rebuilt");
    assert!(
        aside(&a.home),
        "the damaged database is kept for inspection"
    );
    b.sync();
    assert_eq!(b.files(), files);
}

/// Access tokens live this long in the test below. Not one second: a token
/// made just before its expiry second ticks over lives a moment only, and
/// the client tries twice, so on a loaded machine two tokens could die
/// before a request of a burst of retries is read.
const TOKEN_LIFE: Duration = Duration::from_secs(3);

/// Long enough that the last access token has expired.
fn expire() {
    std::thread::sleep(TOKEN_LIFE + Duration::from_millis(500));
}

#[test]
fn expired_access_tokens_are_refreshed_even_by_concurrent_transfers() {
    let ttl = TOKEN_LIFE.as_secs().to_string();
    let service = Service::start_with(&["--demo", "--access-ttl", &ttl]);
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    // 126 MB at 20 MB/s (after a first second's burst) take five seconds at
    // least, on any machine: the transfers are still going when the service
    // stalls.
    a.set_config("upload_limit_kbps", 20_000);
    b.set_config("download_limit_kbps", 20_000);
    for i in 0..40 {
        a.write(&format!("f{i}.bin"), random_bytes(1000 + i, 3 << 20));
    }
    expire();
    sync_through_a_stall(&a, &service, || service.chunk_count() > 0);
    expire();
    sync_through_a_stall(&b, &service, || !temp_files(&b.root).is_empty());
    assert_eq!(b.files(), a.files());
    assert_eq!(b.files().len(), 40);
    // The rotated tokens were kept: a later run signs in with them.
    expire();
    a.write("later.txt", "later");
    a.sync();
}

/// The app and a `nubo` command on one home at once, both signed in with
/// the tokens the home kept (here two engines of one home in the test's
/// process, as two processes hold them). The first to need a refresh spends
/// the refresh token; the second must take over its new tokens, not send
/// the spent one, which the service takes for a stolen token and answers
/// by signing the device out.
#[test]
fn two_processes_on_one_home_refresh_without_signing_the_device_out() {
    let ttl = TOKEN_LIFE.as_secs().to_string();
    let service = Service::start_with(&["--demo", "--access-ttl", &ttl]);
    let a = Client::new(&service, "pc-a");
    let home = nubo_engine::Home::new(a.home.clone()).unwrap();
    let app = nubo_engine::Engine::open(home.clone()).unwrap();
    let command = nubo_engine::Engine::open(home).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    expire();
    rt.block_on(app.remote().account())
        .expect("the app refreshes its expired sign-in");
    rt.block_on(command.remote().account())
        .expect("the command, holding the spent refresh token, was refused");
    // The device is still signed in, for both and for the next command.
    expire();
    rt.block_on(app.remote().account())
        .expect("the app was signed out");
    a.write("after.txt", "still signed in");
    a.sync();
}

/// `sync --once` on `c`, which must succeed; once its transfers have
/// `begun`, the service stalls until the access token has expired, with two
/// requests at least waiting on it: they meet the expiry at once.
fn sync_through_a_stall(c: &Client, service: &Service, begun: impl Fn() -> bool) {
    let sync = c.command(&["sync", "--once"]).spawn().unwrap();
    let transferring = wait_until(Duration::from_secs(60), begun);
    let stalled = transferring && freeze_with_requests_waiting(service);
    if stalled {
        expire();
        service.thaw();
    }
    let out = sync.wait_with_output().unwrap();
    assert!(transferring, "{}: the transfers never began", c.name);
    assert!(stalled, "{}: no two requests waited on the service", c.name);
    assert!(
        out.status.success(),
        "{}: {}",
        c.name,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Freezes the service with two requests at least waiting on it. One it
/// read before it froze waits for an answer instead, holding its transfer
/// back, so with fewer it thaws a moment and tries again (for a minute).
fn freeze_with_requests_waiting(service: &Service) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        service.freeze();
        if wait_until(Duration::from_secs(1), || service.waiting_requests() >= 2) {
            return true;
        }
        service.thaw();
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn an_excluded_folder_stays_on_the_service_and_comes_back_when_included() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("photos/2020/beach.jpg", random_bytes(7, 50_000));
    a.write("photos/2021/hill.jpg", random_bytes(8, 50_000));
    a.write("docs/plan.md", "plan");
    a.sync();
    b.sync();

    // An unsynced change inside blocks the exclusion: nothing may be lost.
    b.write("photos/2020/new-here.txt", "not on the service yet");
    let out = b.run(&["folder", "exclude", "/photos/2020"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not synced yet"));
    b.sync();

    b.ok(&["folder", "exclude", "/photos/2020"]);
    assert!(
        b.read("photos/2020/beach.jpg").is_none(),
        "the excluded folder left this PC"
    );
    assert_eq!(b.trash(), ["2020"], "its copy is in the OS trash");
    // Changes to it on the service do not come down; nothing is deleted there.
    a.write("photos/2020/beach.jpg", "edited on A");
    a.sync();
    b.sync();
    assert!(!b.path("photos/2020").exists());
    a.sync();
    assert_eq!(
        a.read("photos/2020/new-here.txt").as_deref(),
        Some(&b"not on the service yet"[..])
    );
    assert_eq!(
        a.read("photos/2020/beach.jpg").as_deref(),
        Some(&b"edited on A"[..])
    );
    assert!(b.ok(&["folder", "list"]).contains("excluded: photos/2020"));

    b.ok(&["folder", "include", "/photos/2020"]);
    b.sync();
    assert_eq!(b.files(), a.files());
}

#[test]
fn a_large_new_folder_on_the_service_waits_for_a_yes() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    // B's threshold: 1 MB (the default is 1 GB).
    b.set_config("large_folder_bytes", 1_000_000);

    a.write("small.txt", "small");
    a.write("videos/one.bin", random_bytes(11, 800_000));
    a.write("videos/two.bin", random_bytes(12, 800_000));
    a.write("notes/n.txt", "fine");
    a.sync();
    let out = b.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "B waits for a decision");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("/videos") && msg.contains("nubo folder include /videos"),
        "{msg}"
    );
    assert_eq!(
        msg.matches("/videos on the service").count(),
        1,
        "said once: {msg}"
    );
    assert!(!b.path("videos").exists(), "nothing of it came down");
    assert_eq!(
        b.read("small.txt").as_deref(),
        Some(&b"small"[..]),
        "the rest synced"
    );
    assert_eq!(b.read("notes/n.txt").as_deref(), Some(&b"fine"[..]));
    // What the app lists with its "Download it" button.
    let waiting = b.pauses();
    assert_eq!(waiting[0]["kind"], "large_folder", "{waiting:?}");
    assert_eq!(waiting[0]["remote_path"], "/videos", "{waiting:?}");
    assert!(waiting[0]["bytes"].as_u64().unwrap() > 1_000_000);

    b.ok(&["folder", "include", "/videos"]);
    b.sync();
    assert_eq!(b.pauses(), Vec::<serde_json::Value>::new());
    assert_eq!(b.files(), a.files());
    // Once here, it is an ordinary folder: growing it asks nothing.
    a.write("videos/three.bin", random_bytes(13, 900_000));
    a.sync();
    b.sync();
    assert_eq!(b.files(), a.files());
}

#[test]
fn a_download_limit_holds_transfers_back() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    b.set_config("download_limit_kbps", 1000);
    let data = random_bytes(21, 3_000_000);
    a.write("three-mb.bin", &data);
    a.sync();
    // 3 MB at 1 MB/s with one second of burst cannot take less than 2 s: a
    // lower bound, which no slow machine can break, only a limit not applied.
    let started = std::time::Instant::now();
    b.sync();
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(b.read("three-mb.bin").unwrap(), data);
}

#[test]
fn a_paused_folder_is_left_alone_until_resumed() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("one.txt", "1");
    a.sync();
    b.sync();
    let root = a.root.to_str().unwrap().to_string();
    a.ok(&["folder", "pause", &root]);
    a.write("two.txt", "2");
    std::fs::remove_file(a.path("one.txt")).unwrap();
    a.sync();
    b.sync();
    assert_eq!(
        b.read("one.txt").as_deref(),
        Some(&b"1"[..]),
        "nothing left a paused folder"
    );
    assert!(b.read("two.txt").is_none());
    assert!(a.ok(&["status"]).contains(", paused)"));
    a.ok(&["folder", "resume", &root]);
    a.sync();
    b.sync();
    assert_eq!(b.files(), a.files());
    // And the mode can change: download-only sends nothing more.
    a.ok(&["folder", "mode", &root, "download-only"]);
    a.write("three.txt", "3");
    a.sync();
    b.sync();
    assert!(b.read("three.txt").is_none());
}

#[test]
fn a_device_signed_out_remotely_stops_and_keeps_its_files() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    a.write("shared.txt", "hello");
    a.sync();
    b.sync();
    let list: serde_json::Value = serde_json::from_str(&a.ok(&["devices", "--json"])).unwrap();
    let names: Vec<(&str, bool)> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["current"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("pc-a", true), ("pc-b", false)]);
    let b_id = list["devices"][1]["id"].as_i64().unwrap().to_string();
    a.ok(&["devices", "--revoke", &b_id]);

    let out = b.run(&["sync", "--once"]);
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("sign in again"), "{msg}");
    assert_eq!(
        b.read("shared.txt").as_deref(),
        Some(&b"hello"[..]),
        "its files stay"
    );
    // Another account's device cannot be signed out from here: it does not exist for A.
    let out = a.run(&["devices", "--revoke", "999999"]);
    assert!(!out.status.success());
    // Signing in again resumes.
    let again = Client::signed_in(&service, "pc-b", "demo", "nubo-demo");
    drop(again);
    let list: serde_json::Value = serde_json::from_str(&a.ok(&["devices", "--json"])).unwrap();
    assert_eq!(
        list["devices"].as_array().unwrap().len(),
        2,
        "the revoked device is gone from the list; a new sign-in is listed"
    );
}

#[test]
fn a_downloaded_file_keeps_the_time_it_was_last_modified() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    // 2020-01-02 03:04:05.678 UTC, on a small file (sent in a batch) and on
    // one of several chunks (sent alone).
    let then = std::time::UNIX_EPOCH + Duration::from_millis(1_577_934_245_678);
    a.write("small.txt", "small");
    a.write("large.bin", random_bytes(3, 700_000));
    for name in ["small.txt", "large.bin"] {
        let f = std::fs::File::options()
            .write(true)
            .open(a.path(name))
            .unwrap();
        f.set_modified(then).unwrap();
    }
    a.sync();
    b.sync();
    assert_eq!(a.files(), b.files());
    for name in ["small.txt", "large.bin"] {
        let got = std::fs::metadata(b.path(name)).unwrap().modified().unwrap();
        assert_eq!(got, then, "{name} on B has the time it had on A");
    }
    // Nothing goes back up from B: the old time is the file's, not an edit.
    b.sync();
    let recent = b.status_json()["recent"].clone();
    let actions: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["change"]["kind"].as_str().unwrap())
        .collect();
    assert!(!actions.is_empty());
    assert!(
        actions.iter().all(|a| *a == "downloaded"),
        "B only downloaded: {actions:?}"
    );
}
