//! The first scan of a large folder, stopped midway (as a kill stops it),
//! loses none of the reading it finished: the next run reads only the files
//! the first did not, and tells how far its reading is as it goes (issue 18).
//! Counted through the engine's own `LocalFs` on a real folder on disk; the
//! service is the simulator's, in process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nubo_engine::engine::SyncEvent;
use nubo_engine::scanner::Reading;
use nubo_engine::Outcome;
use nubo_sim::clock::SimClock;
use nubo_sim::counting::CountingFs;
use nubo_sim::service::SimService;

const FILES: usize = 3_500;
/// A scan reads (and keeps) files in batches of this many.
const BATCH: usize = 1_000;

#[test]
fn a_first_scan_stopped_midway_is_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = nubo_sim::pc::real_folder(dir.path(), FILES, 100);
    let trash = dir.path().join("trash");

    // The first run: its scan is held once it has read a batch and a half.
    let stopped = Arc::new(CountingFs::holding_hashes_after(&trash, BATCH + BATCH / 2));
    let first = nubo_sim::pc::engine(&service, &clock, "a", stopped.clone(), &root, dir.path());
    let first_run = std::thread::spawn(move || {
        let rt = runtime();
        rt.block_on(first.sync_once(false)).map(|_| ())
    });
    assert!(
        wait_until(|| stopped.hashes_waiting() > 0),
        "the first scan reaches its second batch"
    );

    // The next run, on the same home, while the first stands still.
    let disk = Arc::new(CountingFs::new(&trash));
    let mut next = nubo_sim::pc::engine(&service, &clock, "a", disk.clone(), &root, dir.path());
    let told = reading_told(&mut next);
    let rt = runtime();
    let outcome = rt.block_on(next.sync_once(false)).unwrap();
    assert!(matches!(outcome, Outcome::InSync), "{outcome:?}");
    assert_eq!(
        service.tree().values().filter(|c| c.is_some()).count(),
        FILES,
        "every file reached the service"
    );
    assert_eq!(
        disk.hashes(),
        FILES - BATCH,
        "only what the first scan had not finished reading is read again"
    );

    let told = told.lock().unwrap().clone();
    let (first_told, last_told) = (told.first().unwrap(), told.last().unwrap());
    let to_read = (FILES - BATCH) as u64;
    assert_eq!((first_told.files_done, first_told.files), (0, to_read));
    assert_eq!(
        (last_told.files_done, last_told.bytes_done),
        (to_read, last_told.bytes),
        "the last word on reading is that it is done: {told:?}"
    );
    assert!(last_told.bytes > 0);
    assert!(
        told.windows(2)
            .all(|w| w[0].files_done < w[1].files_done && w[0].bytes_done <= w[1].bytes_done),
        "progress only goes forward: {told:?}"
    );

    stopped.let_go();
    first_run.join().unwrap().ok();
}

/// Another synced folder's root inside this one is left as it was: its
/// files are not read (nor kept as read, nor counted in the progress), and
/// nothing of it reaches the service.
#[test]
fn a_first_scan_reads_nothing_inside_another_synced_folder() {
    const PER_FOLDER: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = nubo_sim::pc::real_folder(dir.path(), FILES, PER_FOLDER);
    std::fs::write(
        root.join("d3").join(nubo_engine::home::ROOT_MARKER),
        "other",
    )
    .unwrap();
    let disk = Arc::new(CountingFs::new(&dir.path().join("trash")));
    let mut engine = nubo_sim::pc::engine(&service, &clock, "a", disk.clone(), &root, dir.path());
    let told = reading_told(&mut engine);
    let rt = runtime();
    rt.block_on(engine.sync_once(false)).unwrap();

    let outside = FILES - PER_FOLDER;
    assert_eq!(disk.hashes(), outside, "only the files outside d3 are read");
    let last = *told.lock().unwrap().last().unwrap();
    assert_eq!(
        (last.files_done, last.files),
        (outside as u64, outside as u64)
    );
    let tree = service.tree();
    assert_eq!(tree.values().filter(|c| c.is_some()).count(), outside);
    let of_d3: Vec<&String> = tree
        .keys()
        .filter(|p| *p == "d3" || p.starts_with("d3/"))
        .collect();
    assert!(of_d3.is_empty(), "{of_d3:?}");
}

/// A read that panics (a bug, not the disk) keeps its file alone from this
/// pass: the others are synced, the file is not taken for deleted, and the
/// next pass that reads it syncs it.
#[test]
fn a_read_that_panics_leaves_out_its_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = nubo_sim::pc::real_folder(dir.path(), FILES, 100);
    let trash = dir.path().join("trash");
    let rt = runtime();
    let synced = || service.tree().values().filter(|c| c.is_some()).count();

    let buggy = Arc::new(CountingFs::panicking_on(&trash, "f7.txt"));
    let first = nubo_sim::pc::engine(&service, &clock, "a", buggy, &root, dir.path());
    rt.block_on(first.sync_once(false)).unwrap();
    assert_eq!(synced(), FILES - 1, "every other file is synced");
    assert!(!service.tree().contains_key("d0/f7.txt"));
    drop(first);

    let disk = Arc::new(CountingFs::new(&trash));
    let next = nubo_sim::pc::engine(&service, &clock, "a", disk, &root, dir.path());
    rt.block_on(next.sync_once(false)).unwrap();
    assert_eq!(synced(), FILES);
    assert_eq!(service.tree()["d0/f7.txt"].as_deref(), Some(&b"file 7"[..]));
}

/// What `engine` tells of its reading, as it tells it.
fn reading_told(engine: &mut nubo_engine::engine::Engine) -> Arc<Mutex<Vec<Reading>>> {
    let told: Arc<Mutex<Vec<Reading>>> = Arc::default();
    let seen = told.clone();
    engine.set_observer(Arc::new(move |event| {
        if let SyncEvent::Reading(r) = event {
            seen.lock().unwrap().push(r);
        }
    }));
    told
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `check` every 10 ms for up to two minutes.
fn wait_until(check: impl Fn() -> bool) -> bool {
    for _ in 0..12_000 {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}
