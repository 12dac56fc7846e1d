//! Storage full: the service refuses an upload past the quota with its own
//! error; the client keeps syncing everything else, says how full it is, and
//! uploads the rest by itself once space is freed.

mod common;

use common::*;

#[test]
fn past_the_quota_the_rest_still_syncs_and_uploads_resume_when_space_frees() {
    // The demo account gets the service's default quota: 100 kB here.
    let service = Service::start_with(&["--demo", "--default-quota", "100000"]);
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    a.write("old.bin", random_bytes(1, 60_000));
    a.sync();
    b.sync();

    a.write("new.bin", random_bytes(2, 60_000));
    a.write("note.txt", "small enough");
    let out = a.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "paused, not failed");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("storage on the service is full") && msg.contains("60.0 kB of 100.0 kB used"),
        "{msg}"
    );
    // Everything that fits went on: the small file up, B's change down.
    b.write("from-b.txt", "downloads go on");
    b.sync();
    let out = a.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(a.read("from-b.txt").unwrap(), b"downloads go on");
    b.sync();
    assert_eq!(b.read("note.txt").unwrap(), b"small enough");
    assert!(b.read("new.bin").is_none());

    // Freeing space (a delete, which still syncs) lets the upload through.
    std::fs::remove_file(a.path("old.bin")).unwrap();
    a.sync();
    b.sync();
    assert_eq!(b.files(), a.files());
    assert!(b.read("old.bin").is_none());
}
