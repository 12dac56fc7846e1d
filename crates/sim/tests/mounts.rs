//! A disk mounted inside a synced folder that goes away: what it held is
//! never read as deleted, whatever the mount point holds afterwards and
//! whatever else the user confirms. The real engine over MemFs and the
//! in-process service.

use std::path::PathBuf;
use std::sync::Arc;

use nubo_engine::{Engine, Outcome, Pause};
use nubo_sim::clock::SimClock;
use nubo_sim::memfs::MemFs;
use nubo_sim::service::SimService;

struct Two {
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    clock: Arc<SimClock>,
    service: Arc<SimService>,
    root: PathBuf,
    a_disk: MemFs,
    a: Engine,
    b: Engine,
}

/// 30 files at the top, 12 on a disk mounted at `photos`, synced to B.
fn two_with_a_mount() -> Two {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimClock::new(1_800_000_000));
    let service = Arc::new(SimService::new(clock.clone()).unwrap());
    let root = PathBuf::from("/sim/Nubo");
    let a_disk = nubo_sim::pc::disk(&clock, &root);
    for i in 0..30 {
        a_disk
            .write(
                &root.join(format!("top-{i}.txt")),
                format!("top {i}").into_bytes(),
            )
            .unwrap();
    }
    a_disk.mkdir(&root.join("photos")).unwrap();
    for i in 0..12 {
        a_disk
            .write(
                &root.join(format!("photos/p-{i}.jpg")),
                format!("photo {i}").into_bytes(),
            )
            .unwrap();
    }
    a_disk.make_mount(&root.join("photos"), false).unwrap();
    let a = nubo_sim::pc::engine(
        &service,
        &clock,
        "a",
        Arc::new(a_disk.clone()),
        &root,
        dir.path(),
    );
    let b = nubo_sim::pc::engine(
        &service,
        &clock,
        "b",
        Arc::new(nubo_sim::pc::disk(&clock, &root)),
        &root,
        dir.path(),
    );
    rt.block_on(async {
        assert!(matches!(a.sync_once(false).await.unwrap(), Outcome::InSync));
        clock.advance_ms(3000);
        assert!(matches!(b.sync_once(false).await.unwrap(), Outcome::InSync));
    });
    assert_eq!(photos_on_service(&service), 12);
    Two {
        rt,
        _dir: dir,
        clock,
        service,
        root,
        a_disk,
        a,
        b,
    }
}

/// A's next pass pauses on the disk gone, and the service keeps its photos.
fn a_says_the_disk_is_gone_and_keeps_its_photos(t: &Two) {
    let outcome = t.rt.block_on(t.a.sync_once(false)).unwrap();
    assert!(
        matches!(&outcome, Outcome::Paused(p)
            if p.iter().any(|p| matches!(p, Pause::MountGone { path, .. } if path == "photos"))),
        "A says the disk is gone: {outcome:?}"
    );
    assert_eq!(
        photos_on_service(&t.service),
        12,
        "the disk's photos were deleted on the service"
    );
}

fn photos_on_service(service: &SimService) -> usize {
    service
        .tree()
        .iter()
        .filter(|(p, c)| p.starts_with("photos/") && c.is_some())
        .count()
}

/// The disk goes away and the mount point is not empty afterwards (the
/// folder underneath held a note, or a program wrote there meanwhile).
#[test]
fn an_unmounted_disk_over_a_non_empty_folder_is_not_read_as_deleted() {
    let t = two_with_a_mount();
    t.a_disk.unmount(&t.root.join("photos")).unwrap();
    t.a_disk
        .write(
            &t.root.join("photos/NOT-MOUNTED.txt"),
            b"the disk is not mounted".to_vec(),
        )
        .unwrap();
    t.clock.advance_ms(3000);
    a_says_the_disk_is_gone_and_keeps_its_photos(&t);
}

/// A mass delete the user confirms (for the files the pause counted) does
/// not also delete a disk that went away, which the pause never counted.
#[test]
fn confirming_a_mass_delete_does_not_delete_an_unmounted_disk() {
    let t = two_with_a_mount();
    t.a_disk.unmount(&t.root.join("photos")).unwrap();
    for i in 0..25 {
        t.a_disk
            .remove_all(&t.root.join(format!("top-{i}.txt")))
            .unwrap();
    }
    t.clock.advance_ms(3000);
    let outcome = t.rt.block_on(t.a.sync_once(false)).unwrap();
    let counted = match &outcome {
        Outcome::Paused(p) => p.iter().find_map(|p| match p {
            Pause::MassDelete { remote_files, .. } => Some(*remote_files),
            _ => None,
        }),
        _ => None,
    };
    eprintln!("A: {outcome:?}");
    assert_eq!(
        counted,
        Some(25),
        "the pause counts the 25 files the user removed"
    );
    // The user confirms the 25 deletions.
    t.clock.advance_ms(3000);
    let _ = t.rt.block_on(t.a.sync_once(true)).unwrap();
    t.clock.advance_ms(3000);
    let _ = t.rt.block_on(t.b.sync_once(false)).unwrap();
    assert_eq!(
        photos_on_service(&t.service),
        12,
        "the unmounted disk's photos went too, not counted in the pause"
    );
}

/// The disk is ejected while the folder is walked, after the mount table
/// was first read: the table as it is after the walk tells the scan, and
/// what the disk held is not read as deleted.
#[test]
fn a_disk_ejected_during_the_walk_is_not_read_as_deleted() {
    let t = two_with_a_mount();
    t.a_disk.inner.lock().unwrap().eject_on_walk = Some(t.root.join("photos"));
    t.clock.advance_ms(3000);
    a_says_the_disk_is_gone_and_keeps_its_photos(&t);
}
