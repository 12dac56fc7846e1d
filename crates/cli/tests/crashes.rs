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

/// A's uploads and B's downloads during the kill rounds: at most 1 MB at
/// once (the limit's one second of burst), then 1 MB a second.
const KILL_ROUNDS_KBPS: u64 = 1000;

/// 3 MB of new files before each kill round: a run limited as above needs
/// two seconds for them at least, on any machine, and every kill comes
/// within 220 ms. Files of 300 kB, so that a run still finishes some.
fn new_files(client: &Client, dir: &str, round: u64) {
    for k in 0..10 {
        client.write(
            &format!("{dir}r{round:02}-{k}.bin"),
            random_bytes(5000 + round * 10 + k, 300_000),
        );
    }
}

#[test]
fn fifty_kills_during_a_large_sync_lose_and_duplicate_nothing() {
    const SEED: u64 = 0x6e75626f;
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    // A third PC, never killed, adds new files for each of B's runs.
    let c = Client::for_account(
        &service,
        "pc-c",
        "demo",
        "nubo-demo",
        &["--remote", "/from-c", "--mode", "two-way"],
    );
    for i in 0..200 {
        a.write(
            &format!("set/{:02}/file-{i:03}.bin", i % 13),
            random_bytes(1000 + i, 2_000 + (i as usize * 7919) % 300_000),
        );
    }
    a.write("set/large-1.bin", random_bytes(1, 20 << 20));
    a.write("set/large-2.bin", random_bytes(2, 12 << 20));
    a.set_config("upload_limit_kbps", KILL_ROUNDS_KBPS);
    b.set_config("download_limit_kbps", KILL_ROUNDS_KBPS);
    let mut moments = Moments(SEED);
    let mut finished = Vec::new();
    let mut log = Vec::new();
    for round in 0..50 {
        // Uploads on A and downloads on B both get cut.
        let client = if round % 2 == 0 {
            // The user keeps working on A: every run has something to do.
            new_files(&a, "more/", round);
            a.write(
                &format!("set/{:02}/file-{:03}.bin", round % 13, round * 4),
                random_bytes(9000 + round, 40_000),
            );
            &a
        } else {
            new_files(&c, "", round);
            c.sync();
            &b
        };
        let delay = moments.next_ms();
        let mut child = client.command(&["sync", "--once"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if let Some(status) = child.try_wait().unwrap() {
            finished.push(format!("round {round} ({}: {status})", client.name));
        }
        let _ = child.kill(); // SIGKILL: no cleanup runs
        let _ = child.wait();
        log.push(format!("{}@{delay}ms", client.name));
    }
    assert!(
        finished.is_empty(),
        "syncs ended before their kill (seed {SEED:#x}): {}",
        finished.join(", ")
    );
    let from_c = c.files();
    let mut expected = a.files();
    expected.retain(|path, _| !path.starts_with("from-c/"));
    expected.extend(
        from_c
            .iter()
            .map(|(p, d)| (format!("from-c/{p}"), d.clone())),
    );
    a.set_config("upload_limit_kbps", 0);
    b.set_config("download_limit_kbps", 0);
    a.sync();
    b.sync();
    a.sync();
    c.sync();
    let moments = log.join(" ");
    assert_eq!(
        a.files(),
        expected,
        "A lost or gained something; kills: {moments}"
    );
    assert_eq!(b.files(), expected, "B differs from A; kills: {moments}");
    assert_eq!(
        c.files(),
        from_c,
        "C lost or gained something; kills: {moments}"
    );
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
    // At 4 MB/s (after a first second's burst) the upload takes eight
    // seconds at least, on any machine: the service dies once it holds a
    // third of it, with some files committed perhaps and others not yet.
    a.set_config("upload_limit_kbps", 4000);
    let mut upload = a.command(&["sync", "--once"]).spawn().unwrap();
    let stored = || -> u64 {
        let files = service.chunk_files();
        files
            .iter()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum()
    };
    assert!(
        wait_until(Duration::from_secs(60), || stored() >= 12 << 20),
        "the service did not receive a third of the upload within a minute"
    );
    let cut = upload.try_wait().unwrap().is_none();
    service.restart_hard(&["--demo"]);
    // It fails, or finishes once the service is back: either way, the next
    // passes must converge.
    let _ = upload.wait().unwrap();
    assert!(
        cut,
        "the upload had finished before the service died; the test did not test"
    );

    // Back up: the next pass finishes, nothing twice on the service.
    a.set_config("upload_limit_kbps", 0);
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

/// A first sync of many files killed midway goes on where it stopped: the
/// next run reads none of the files again (the first finished its scan and
/// kept every hash) and uploads only what the first had not, as its
/// progress lines (`--progress`) say.
#[test]
fn a_killed_first_sync_goes_on_where_it_stopped() {
    const FILES: usize = 2_048;
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    for i in 0..FILES {
        a.write(
            &format!("many/{:02}/f{i:04}.bin", i % 32),
            random_bytes(70_000 + i as u64, 2_000),
        );
    }
    // 4 MB at 256 kB/s: 16 s on any machine; a batch of 256 files, 2 s.
    a.set_config("upload_limit_kbps", 256);
    let mut first = a.command(&["sync", "--once"]).spawn().unwrap();
    let state = rusqlite::Connection::open(a.home.join("state.sqlite")).unwrap();
    let uploaded = || -> usize {
        state
            .query_row("SELECT count(*) FROM synced WHERE kind = 'file'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0) as usize
    };
    assert!(
        wait_until(Duration::from_secs(120), || uploaded() > 0),
        "a first batch of uploads is recorded"
    );
    let done_before_kill = uploaded();
    first.kill().unwrap(); // SIGKILL: no cleanup runs
    first.wait().unwrap();
    assert!(done_before_kill < FILES, "the kill came before the end");

    a.set_config("upload_limit_kbps", 0);
    let out = a
        .command(&["sync", "--once", "--progress"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{said}");
    assert!(
        !said.lines().any(|l| l.starts_with("reading ")),
        "no file is read again: {said}"
    );
    let to_send: usize = said
        .lines()
        .find_map(|l| l.strip_prefix("syncing 0/"))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a line says what is left to sync: {said}"));
    assert!(
        to_send <= FILES - done_before_kill,
        "{to_send} files sent again where {done_before_kill} of {FILES} were done: {said}"
    );
    assert!(
        said.lines()
            .any(|l| l.starts_with(&format!("synced {to_send}/{to_send} files"))),
        "and says when it is done: {said}"
    );
    b.sync();
    assert_eq!(b.files(), a.files(), "every file reached the other home");
}
