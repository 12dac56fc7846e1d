//! Real processes, real faults: `nubo sync` killed with SIGKILL at 50
//! pseudo-random moments of a large two-home sync, then left to finish.

mod common;

use std::time::Duration;

use common::*;

/// Delays from a fixed seed, so a failure names moments that can be replayed.
struct Moments(u64);
impl Moments {
    fn next_ms(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        10 + (self.0 >> 33) % 210
    }
}

#[test]
fn fifty_kills_during_a_large_sync_lose_and_duplicate_nothing() {
    const SEED: u64 = 0x6e75626f;
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    for i in 0..200 {
        a.write(
            &format!("set/{:02}/file-{i:03}.bin", i % 13),
            random_bytes(1000 + i, 2_000 + (i as usize * 7919) % 300_000),
        );
    }
    a.write("set/large-1.bin", random_bytes(1, 20 << 20));
    a.write("set/large-2.bin", random_bytes(2, 12 << 20));
    let mut moments = Moments(SEED);
    let mut interrupted = 0;
    let mut log = Vec::new();
    for round in 0..50 {
        // Uploads on A and downloads on B both get cut.
        let client = if round % 2 == 0 { &a } else { &b };
        // The user keeps working on A: every run has something to do.
        a.write(
            &format!("more/r{round:02}.bin"),
            random_bytes(5000 + round, 2_500_000),
        );
        a.write(
            &format!("set/{:02}/file-{:03}.bin", round % 13, round * 4),
            random_bytes(9000 + round, 40_000),
        );
        let delay = moments.next_ms();
        let mut child = client.command(&["sync", "--once"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill(); // SIGKILL: no cleanup runs
        let _ = child.wait();
        log.push(format!("{}@{delay}ms", client.name));
    }
    assert!(
        interrupted >= 15,
        "only {interrupted} of 50 kills landed mid-sync (seed {SEED:#x}); the test did not test"
    );
    let expected = a.files();
    a.sync();
    b.sync();
    a.sync();
    let moments = log.join(" ");
    assert_eq!(
        a.files(),
        expected,
        "A lost or gained something; kills: {moments}"
    );
    assert_eq!(b.files(), expected, "B differs from A; kills: {moments}");
    assert!(
        temp_files(&a.root).is_empty() && temp_files(&b.root).is_empty(),
        "unfinished downloads left behind; kills: {moments}"
    );
    assert!(
        a.status_json()["conflicts"].as_array().unwrap().is_empty()
            && b.status_json()["conflicts"].as_array().unwrap().is_empty(),
        "a crash made a conflict copy; kills: {moments}"
    );
}

#[test]
fn the_service_killed_mid_upload_and_restarted_loses_and_doubles_nothing() {
    let mut service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    for i in 0..12 {
        a.write(
            &format!("big/part-{i:02}.bin"),
            random_bytes(300 + i, 3 << 20),
        );
    }
    let expected = a.files();
    let mut upload = a.command(&["sync", "--once"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let cut = upload.try_wait().unwrap().is_none();
    service.restart_hard(&["--demo"]);
    // It fails, or finishes if no request was in flight at the moment:
    // either way, the next passes must converge.
    let _ = upload.wait().unwrap();
    assert!(
        cut,
        "the upload had finished before the service died; the test did not test"
    );

    // Back up: the next pass finishes, nothing twice on the service.
    a.sync();
    b.sync();
    assert_eq!(b.files(), expected);
    let listed = b.ok(&["restore", "list", "--json"]);
    assert!(
        listed.contains("\"total\": 0"),
        "nothing was deleted or replaced: {listed}"
    );
    assert!(temp_files(&b.root).is_empty());
}
