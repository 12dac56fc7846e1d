//! An engine that starts on a folder its last pass left in sync plans over
//! what changed while no engine ran, not over the whole trees (issue 18: a
//! watching engine's start at a million files held a GB to plan over all
//! of them). It still reads the whole folder from disk, and what changed on
//! either side meanwhile reaches the other. Where anything wrote the state
//! database's trees or cursor since that pass (another program, a pass cut
//! short), the start plans over the whole trees, as before; so does the
//! next pass of an engine kept open while another program wrote. A real folder
//! on disk and a real state database; the service is the simulator's, in
//! process.

use std::path::Path;
use std::sync::Arc;

use nubo_engine::{Engine, Outcome};
use nubo_sim::clock::SimClock;
use nubo_sim::counting::CountingFs;
use nubo_sim::memfs::MemFs;
use nubo_sim::service::SimService;

const FILES: usize = 1_000;

struct Setup {
    dir: tempfile::TempDir,
    clock: Arc<SimClock>,
    service: Arc<SimService>,
    root: std::path::PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(SimClock::new(1_800_000_000));
        let service = Arc::new(SimService::new(clock.clone()).unwrap());
        let root = nubo_sim::pc::real_folder(dir.path(), FILES, 50);
        Setup {
            dir,
            clock,
            service,
            root,
        }
    }

    /// Home A's engine, as the app starts it: a new one on the same home.
    fn start_a(&self) -> Engine {
        let disk = Arc::new(CountingFs::new(&self.dir.path().join("trash")));
        let (service, clock, root) = (&self.service, &self.clock, &self.root);
        nubo_sim::pc::engine(service, clock, "a", disk, root, self.dir.path())
    }

    /// Another computer, B, on a disk of its own at `/b`.
    fn start_b(&self) -> (Engine, MemFs) {
        let root = Path::new(B_ROOT);
        let disk = nubo_sim::pc::disk(&self.clock, root);
        let b = nubo_sim::pc::engine(
            &self.service,
            &self.clock,
            "b",
            Arc::new(disk.clone()),
            root,
            self.dir.path(),
        );
        (b, disk)
    }
}

const B_ROOT: &str = "/b";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn in_sync(engine: &Engine) {
    let outcome = engine.sync_once(false).await.unwrap();
    assert!(matches!(outcome, Outcome::InSync), "{outcome:?}");
}

#[test]
fn a_start_after_a_pass_in_sync_plans_over_what_changed_meanwhile() {
    let s = Setup::new();
    let rt = runtime();
    rt.block_on(async {
        in_sync(&s.start_a()).await;
        // Another computer, B, syncs the folder and adds a file.
        let (b, b_disk) = s.start_b();
        let b_root = Path::new(B_ROOT);
        in_sync(&b).await;
        s.clock.advance_ms(3000);
        b_disk
            .write(&b_root.join("d7/from-b.txt"), b"from b".to_vec())
            .unwrap();
        in_sync(&b).await;
        // While A's app is closed, its user edits a file.
        std::fs::write(s.root.join("d3/f170.txt"), "edited while closed").unwrap();

        let a = s.start_a();
        in_sync(&a).await;
        assert!(
            a.planned_over() < 40,
            "the start planned over a handful of entries, not {}",
            a.planned_over()
        );
        assert_eq!(
            std::fs::read_to_string(s.root.join("d7/from-b.txt")).unwrap(),
            "from b",
            "B's new file reached A"
        );
        let on_service = s.service.tree();
        assert_eq!(
            on_service.get("d3/f170.txt").cloned().flatten().as_deref(),
            Some(&b"edited while closed"[..]),
            "A's edit reached the service"
        );
    });
}

#[test]
fn a_start_after_another_program_wrote_the_state_plans_over_everything() {
    let s = Setup::new();
    let rt = runtime();
    rt.block_on(async {
        let a = s.start_a();
        in_sync(&a).await;
        // Another program (the CLI, say) reads the feed into the same
        // state database while the app is closed.
        let cursor = a.db.cursor().unwrap();
        a.db.apply_changes(&[], cursor).unwrap();
        drop(a);

        let a = s.start_a();
        in_sync(&a).await;
        assert!(
            a.planned_over() > 3 * FILES,
            "the start planned over the whole trees: {}",
            a.planned_over()
        );
        // Left in sync again: the next start plans over what changed.
        drop(a);
        let a = s.start_a();
        in_sync(&a).await;
        assert!(a.planned_over() < 40, "{}", a.planned_over());
    });
}

#[test]
fn an_engine_kept_open_sees_what_another_program_read_meanwhile() {
    let s = Setup::new();
    let rt = runtime();
    rt.block_on(async {
        // The app's engine, in sync, lives on (paused, say).
        let app = s.start_a();
        in_sync(&app).await;
        // B deletes a folder of 50 files.
        let (b, b_disk) = s.start_b();
        let b_root = Path::new(B_ROOT);
        in_sync(&b).await;
        s.clock.advance_ms(3000);
        b_disk.remove_all(&b_root.join("d1")).unwrap();
        in_sync(&b).await;
        // Meanwhile `nubo sync` in a terminal reads the feed into A's state
        // database and is stopped before it plans.
        let cli = s.start_a();
        cli.pull().await.unwrap();
        drop(cli);

        in_sync(&app).await;
        assert!(
            !s.root.join("d1").exists(),
            "B's deletion reached A, though the feed's news were read by another program"
        );
    });
}
