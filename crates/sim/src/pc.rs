//! One simulated PC for the simulator's own tests: a disk in memory with
//! a synced folder's root, and the real engine on it against the service
//! in process (no faults, no clock skew).

use std::path::Path;
use std::sync::Arc;

use nubo_engine::fs::LocalFs;
use nubo_engine::planner::Mode;
use nubo_engine::{Config, Engine, FolderConfig, Home};
use rand::SeedableRng;

use crate::clock::{SimClock, SkewedClock};
use crate::memfs::MemFs;
use crate::service::{Faults, SimRemote, SimService};

/// The one folder a simulated PC syncs: `root`, two-way, with the whole
/// service.
pub fn folder(root: &Path) -> FolderConfig {
    FolderConfig {
        id: 1,
        local: root.to_path_buf(),
        remote: "/".into(),
        mode: Mode::TwoWay,
        marker: "sim".into(),
        excluded: Vec::new(),
        confirmed: Vec::new(),
        paused: false,
    }
}

/// A disk holding an empty synced folder at `root` (its marker written).
pub fn disk(clock: &Arc<SimClock>, root: &Path) -> MemFs {
    let fs = MemFs::new(clock.clone());
    fs.create_dir_all(root).unwrap();
    fs.write(&root.join(nubo_engine::home::ROOT_MARKER), b"sim".to_vec())
        .unwrap();
    fs
}

/// A synced folder on the real disk at `dir/Nubo` (its marker written)
/// holding `files` small files, `per_folder` to a folder: `d{k}/f{i}.txt`,
/// each saying `file {i}`. Returns the folder's root.
pub fn real_folder(dir: &Path, files: usize, per_folder: usize) -> std::path::PathBuf {
    let root = dir.join("Nubo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join(nubo_engine::home::ROOT_MARKER), "sim").unwrap();
    for i in 0..files {
        let folder = root.join(format!("d{}", i / per_folder));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("f{i}.txt")), format!("file {i}")).unwrap();
    }
    root
}

/// The engine of PC `name` (its home in `dir`) syncing `root` on `fs`,
/// one transfer at a time.
pub fn engine(
    service: &Arc<SimService>,
    clock: &Arc<SimClock>,
    name: &str,
    fs: Arc<dyn LocalFs>,
    root: &Path,
    dir: &Path,
) -> Engine {
    let config = Config {
        folders: vec![folder(root)],
        parallel_transfers: 1,
        ..Config::default()
    };
    engine_with(service, clock, name, fs, config, dir)
}

/// The engine of PC `name` (its home in `dir`) with its own settings.
pub fn engine_with(
    service: &Arc<SimService>,
    clock: &Arc<SimClock>,
    name: &str,
    fs: Arc<dyn LocalFs>,
    config: Config,
    dir: &Path,
) -> Engine {
    let home = Home::new(dir.join(name)).unwrap();
    let remote = Arc::new(SimRemote {
        service: service.clone(),
        device: service.device(name),
        faults: Arc::new(Faults::new(rand::rngs::StdRng::seed_from_u64(1))),
    });
    let clock = Arc::new(SkewedClock {
        clock: clock.clone(),
        skew_secs: 0,
    });
    Engine::with_parts(home, config, remote, fs, clock).unwrap()
}
