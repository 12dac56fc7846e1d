//! One simulated run: N clients with in-memory folders, the in-process
//! service, random user actions and syncs, injected faults; then quiesce and
//! check the invariants. Everything random comes from the run's seed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use nubo_engine::planner::Mode;
use nubo_engine::{Config, Engine, FolderConfig, Home, Outcome};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::clock::{SimClock, SkewedClock};
use crate::invariants;
use crate::memfs::MemFs;
use crate::service::{Faults, SimRemote, SimService};

#[derive(Debug, Clone)]
pub struct Options {
    pub clients: usize,
    pub steps: usize,
    /// Lost requests, crashes and clock skew.
    pub faults: bool,
    /// Steps left out (by shrinking): each step draws from its own generator,
    /// so leaving one out changes nothing else the run draws.
    pub skip: BTreeSet<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 3,
            steps: 40,
            faults: true,
            skip: BTreeSet::new(),
        }
    }
}

/// A run that broke an invariant: its seed, what it did, and what broke.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    /// Random steps before quiescing: after `shrink`, the fewest that fail.
    pub steps: usize,
    /// Steps of those left out: after `shrink`, all that can be.
    pub skip: BTreeSet<usize>,
    pub log: Vec<String>,
    pub problem: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "seed {} broke an invariant: {}", self.seed, self.problem)?;
        let skip = if self.skip.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self.skip.iter().map(|s| s.to_string()).collect();
            format!(" --skip {}", list.join(","))
        };
        writeln!(
            f,
            "replay: cargo run -p nubo-sim -- --seed {} --steps {}{skip}",
            self.seed, self.steps
        )?;
        for l in &self.log {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

pub struct Client {
    pub name: String,
    pub fs: MemFs,
    pub root: PathBuf,
    pub faults: Arc<Faults>,
    home: Home,
    config: Config,
    device: i64,
    clock: Arc<SkewedClock>,
    pub engine: Option<Engine>,
    _dir: tempfile::TempDir,
}

impl Client {
    fn open(&mut self, service: &Arc<SimService>) -> anyhow::Result<()> {
        let remote = Arc::new(SimRemote {
            service: service.clone(),
            device: self.device,
            faults: self.faults.clone(),
        });
        self.engine = Some(Engine::with_parts(
            self.home.clone(),
            self.config.clone(),
            remote,
            Arc::new(self.fs.clone()),
            self.clock.clone(),
        )?);
        Ok(())
    }

    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("open")
    }
}

/// Names drawn from a small pool so that clients collide on purpose; two
/// spellings of "é" (NFC and NFD) and names differing only in case.
const NAMES: &[&str] = &[
    "a.txt",
    "b.txt",
    "A.txt",
    "notes.md",
    "caf\u{e9}.txt",
    "cafe\u{301}.txt",
    "data.bin",
];
const DIRS: &[&str] = &["docs", "docs/old", "photos", "Photos", "x"];

pub struct World {
    pub seed: u64,
    pub clock: Arc<SimClock>,
    pub service: Arc<SimService>,
    pub clients: Vec<Client>,
    pub log: Vec<String>,
    /// The step being played, for the log (`None` while settling).
    step: Option<usize>,
    /// Every content the service ever held: it must keep holding it (live,
    /// in its trash, or as a version).
    pub committed: HashSet<String>,
    /// What a sync lost: content on the client's disk before it that is
    /// neither on its disk, nor in its trash, nor on the service after.
    pub lost: Vec<String>,
    opts: Options,
}

impl World {
    pub fn new(seed: u64, opts: Options) -> anyhow::Result<World> {
        let mut rng = StdRng::seed_from_u64(seed);
        let clock = Arc::new(SimClock::new(1_800_000_000));
        let service = Arc::new(SimService::new(clock.clone())?);
        let mut clients = Vec::new();
        for i in 0..opts.clients {
            let name = format!("pc-{i}");
            let dir = tempfile::tempdir()?;
            let home = Home::new(dir.path().join("home"))?;
            let root = PathBuf::from(format!("/sim/{name}/Nubo"));
            let fs = MemFs::new(clock.clone());
            nubo_engine::fs::LocalFs::create_dir_all(&fs, &root)?;
            fs.write(&root.join(nubo_engine::home::ROOT_MARKER), b"sim".to_vec())?;
            let config = Config {
                folders: vec![FolderConfig {
                    id: 1,
                    local: root.clone(),
                    remote: "/".into(),
                    mode: Mode::TwoWay,
                    marker: "sim".into(),
                    excluded: Vec::new(),
                    confirmed: Vec::new(),
                    paused: false,
                }],
                // One transfer at a time: a batch runs in one order, so a
                // seed replays exactly.
                parallel_transfers: 1,
                ..Config::default()
            };
            let skew = if opts.faults {
                rng.gen_range(-3600..3600)
            } else {
                0
            };
            let faults = Arc::new(Faults::new(StdRng::seed_from_u64(rng.gen())));
            let mut c = Client {
                device: service.device(&name),
                name,
                fs,
                root,
                faults,
                home,
                config,
                clock: Arc::new(SkewedClock {
                    clock: clock.clone(),
                    skew_secs: skew,
                }),
                engine: None,
                _dir: dir,
            };
            c.open(&service)?;
            clients.push(c);
        }
        Ok(World {
            seed,
            clock,
            service,
            clients,
            log: Vec::new(),
            step: None,
            committed: HashSet::new(),
            lost: Vec::new(),
            opts,
        })
    }

    /// One line of what the run did, marked with its step.
    fn note(&mut self, line: String) {
        let mark = match self.step {
            Some(s) => format!("{s:3}"),
            None => "  -".to_string(),
        };
        self.log.push(format!("{mark} {line}"));
    }

    /// One thing a user does on one client's folder.
    fn user_action(&mut self, c: usize, rng: &mut StdRng) {
        let root = self.clients[c].root.clone();
        let existing: Vec<PathBuf> = self.clients[c]
            .fs
            .paths()
            .into_iter()
            .filter(|p| {
                p.starts_with(&root) && *p != root && !p.ends_with(nubo_engine::home::ROOT_MARKER)
            })
            .collect();
        let fs = self.clients[c].fs.clone();
        let pick = rng.gen_range(0..100);
        let what = if pick < 30 || existing.is_empty() {
            let rel = random_path(rng);
            let p = root.join(&rel);
            if let Some(parent) = p.parent() {
                let _ = nubo_engine::fs::LocalFs::create_dir_all(&fs, parent);
            }
            let data = content(rng);
            let h = nubo_engine::content::hash_bytes(&data)[..8].to_string();
            let ok = fs.write(&p, data).is_ok();
            format!("write {rel} [{h}]{}", if ok { "" } else { " (refused)" })
        } else {
            let target = existing.choose(rng).expect("not empty").clone();
            let rel = target.strip_prefix(&root).unwrap().display().to_string();
            match pick {
                30..=49 => match fs.read(&target) {
                    Some(mut old) => {
                        let extra = content(rng);
                        if rng.gen_bool(0.5) {
                            old.extend(extra);
                        } else {
                            old.truncate(old.len() / 2);
                        }
                        let h = nubo_engine::content::hash_bytes(&old)[..8].to_string();
                        let _ = fs.write(&target, old);
                        format!("edit {rel} [{h}]")
                    }
                    None => format!("nothing to edit in {rel}"),
                },
                50..=64 => {
                    let ok = fs.remove_all(&target).is_ok();
                    format!("delete {rel}{}", if ok { "" } else { " (refused)" })
                }
                65..=84 => {
                    let to_rel = random_path(rng);
                    let to = root.join(&to_rel);
                    if let Some(parent) = to.parent() {
                        let _ = nubo_engine::fs::LocalFs::create_dir_all(&fs, parent);
                    }
                    let ok = fs.rename(&target, &to).is_ok();
                    format!(
                        "move {rel} -> {to_rel}{}",
                        if ok { "" } else { " (refused)" }
                    )
                }
                _ => {
                    // Case-only rename of the last component.
                    let name = target.file_name().unwrap().to_string_lossy().to_string();
                    let flipped: String = name
                        .chars()
                        .map(|ch| {
                            if ch.is_lowercase() {
                                ch.to_ascii_uppercase()
                            } else {
                                ch.to_ascii_lowercase()
                            }
                        })
                        .collect();
                    let to = target.with_file_name(&flipped);
                    let ok = fs.rename(&target, &to).is_ok();
                    format!(
                        "case-rename {rel} -> {flipped}{}",
                        if ok { "" } else { " (refused)" }
                    )
                }
            }
        };
        self.note(format!("{}: {what}", self.clients[c].name));
    }

    fn contents_of(&self, c: usize) -> HashSet<String> {
        let cl = &self.clients[c];
        // The user's files: not the engine's marker or unfinished downloads.
        let mut out: HashSet<String> = cl
            .fs
            .files_under(&cl.root)
            .iter()
            .filter(|(p, _)| !p.rsplit('/').next().is_some_and(|n| n.starts_with(".nubo")))
            .map(|(_, d)| nubo_engine::content::hash_bytes(d))
            .collect();
        out.extend(
            cl.fs
                .inner
                .lock()
                .unwrap()
                .trash
                .iter()
                .map(|(_, d)| nubo_engine::content::hash_bytes(d)),
        );
        out
    }

    /// Nothing that was on the disk before a sync may be gone after it
    /// (unless the service or the trash has it): the user did nothing meanwhile.
    fn check_sync_kept(&mut self, c: usize, before: &HashSet<String>) {
        let kept = self.service.kept_hashes();
        let after = self.contents_of(c);
        for h in before {
            if !after.contains(h) && !kept.contains(h) {
                self.lost.push(format!(
                    "{} lost content {} in step {}",
                    self.clients[c].name,
                    &h[..8],
                    self.log.len()
                ));
            }
        }
        self.committed.extend(kept);
    }

    /// One `sync_once` on a client, which may crash on the way; a crashed
    /// client restarts from its state database.
    async fn sync(&mut self, c: usize, allow_mass_delete: bool) -> anyhow::Result<Option<Outcome>> {
        let before = self.contents_of(c);
        let faults = self.clients[c].faults.clone();
        let outcome = {
            let engine = self.clients[c].engine();
            tokio::select! {
                r = engine.sync_once(allow_mass_delete) => Some(r),
                _ = faults.crash_signal.notified() => None,
            }
        };
        let name = self.clients[c].name.clone();
        self.check_sync_kept(c, &before);
        match outcome {
            None => {
                self.note(format!(
                    "{name}: crashed mid-sync; restarts from its database"
                ));
                faults.crashed.store(false, Ordering::SeqCst);
                faults.crash_in.store(0, Ordering::SeqCst);
                self.clients[c].engine = None;
                let service = self.service.clone();
                self.clients[c].open(&service)?;
                Ok(None)
            }
            Some(Ok(o)) => {
                self.note(format!("{name}: sync -> {}", describe(&o)));
                Ok(Some(o))
            }
            Some(Err(e)) => {
                self.note(format!("{name}: sync failed: {e:#}"));
                Ok(None)
            }
        }
    }

    /// The random part of the run.
    pub async fn play(&mut self) -> anyhow::Result<()> {
        for step in 0..self.opts.steps {
            if self.opts.skip.contains(&step) {
                continue;
            }
            self.step = Some(step);
            let mut rng = step_rng(self.seed, step);
            let c = rng.gen_range(0..self.clients.len());
            self.clock.advance_ms(rng.gen_range(1..5000));
            if rng.gen_bool(0.55) {
                self.user_action(c, &mut rng);
            } else {
                if self.opts.faults {
                    let f = &self.clients[c].faults;
                    *f.rng.lock().unwrap() = StdRng::seed_from_u64(rng.gen());
                    f.lost_before
                        .store(if rng.gen_bool(0.3) { 80 } else { 0 }, Ordering::SeqCst);
                    f.lost_after
                        .store(if rng.gen_bool(0.3) { 80 } else { 0 }, Ordering::SeqCst);
                    let crash = if rng.gen_bool(0.2) {
                        rng.gen_range(2..30)
                    } else {
                        0
                    };
                    f.crash_in.store(crash, Ordering::SeqCst);
                    let mut disk = self.clients[c].fs.inner.lock().unwrap();
                    disk.failing_writes = if rng.gen_bool(0.2) { 150 } else { 0 };
                    disk.dice = rng.gen::<u64>() | 1;
                }
                self.sync(c, false).await?;
                self.clients[c].faults.quiet();
                self.clients[c].fs.inner.lock().unwrap().failing_writes = 0;
            }
        }
        self.step = None;
        Ok(())
    }

    /// Faults off; everyone syncs until a whole round changes nothing.
    pub async fn quiesce(&mut self) -> anyhow::Result<()> {
        for c in &self.clients {
            c.faults.quiet();
        }
        for _ in 0..12 {
            let before = self.service_cursor();
            let mut all_in_sync = true;
            for c in 0..self.clients.len() {
                self.clock.advance_ms(3000);
                // The user confirms any mass delete: the run's actions meant it.
                match self.sync(c, true).await? {
                    Some(Outcome::InSync) => {}
                    _ => all_in_sync = false,
                }
            }
            // A whole round in which nobody changed the service, and every
            // client in sync with all of it: settled.
            let after = self.service_cursor();
            let caught_up = self
                .clients
                .iter()
                .all(|c| c.engine().db.cursor().unwrap_or(-1) == after);
            // An operation held back after failing is not settled: with the
            // faults off, its next try must succeed.
            let none_held = self.clients.iter().all(|c| c.engine().held_back() == 0);
            if all_in_sync && before == after && caught_up && none_held {
                return Ok(());
            }
        }
        anyhow::bail!("the clients never settled")
    }

    fn service_cursor(&self) -> i64 {
        use nubo_server::store::MetaStore;
        self.service
            .store
            .current_cursor(self.service.account)
            .expect("the service store reads")
    }

    pub fn check(&self) -> Result<(), String> {
        invariants::check(self)
    }

    pub fn client_root(&self, c: usize) -> &Path {
        &self.clients[c].root
    }
}

/// Step `step`'s own generator: the same whatever other steps do.
fn step_rng(seed: u64, step: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn random_path(rng: &mut StdRng) -> String {
    let name = *NAMES.choose(rng).expect("names");
    if rng.gen_bool(0.4) {
        name.to_string()
    } else {
        format!("{}/{name}", DIRS.choose(rng).expect("dirs"))
    }
}

fn content(rng: &mut StdRng) -> Vec<u8> {
    let len = match rng.gen_range(0..10) {
        0 => 0,
        1..=7 => rng.gen_range(1..200),
        _ => rng.gen_range(1000..300_000),
    };
    let mut v = vec![0u8; len];
    rng.fill(&mut v[..]);
    v
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::InSync => "in sync".into(),
        Outcome::Paused(p) => format!(
            "paused ({})",
            p.iter().map(|p| p.kind()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Runs one seed to the end and checks it.
pub fn run(seed: u64, opts: &Options) -> Result<Vec<String>, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut world = match World::new(seed, opts.clone()) {
        Ok(w) => w,
        Err(e) => {
            return Err(Failure {
                seed,
                steps: opts.steps,
                skip: opts.skip.clone(),
                log: Vec::new(),
                problem: format!("setup failed: {e:#}"),
            })
        }
    };
    let played = rt.block_on(async {
        world.play().await?;
        world.quiesce().await
    });
    let problem = match played {
        Err(e) => Some(format!("{e:#}")),
        Ok(()) => world.check().err(),
    };
    match problem {
        None => Ok(world.log),
        Some(problem) => Err(Failure {
            seed,
            steps: opts.steps,
            skip: opts.skip.clone(),
            log: world.log,
            problem,
        }),
    }
}

/// A shorter replay of a failing seed: first the shortest prefix of its
/// steps that still fails, then every step of that prefix that can be left
/// out while it still fails (each step draws from its own generator, so the
/// others do the same as before; what they act on may differ, which is why
/// each removal is checked by running again).
pub fn shrink(failure: Failure, opts: &Options) -> Failure {
    let mut best = failure;
    for steps in 0..best.steps {
        let shorter = Options {
            steps,
            ..opts.clone()
        };
        if let Err(f) = run(best.seed, &shorter) {
            best = f;
            break;
        }
    }
    loop {
        let mut smaller = false;
        for step in (0..best.steps).rev() {
            if best.skip.contains(&step) {
                continue;
            }
            let mut skip = best.skip.clone();
            skip.insert(step);
            let fewer = Options {
                steps: best.steps,
                skip,
                ..opts.clone()
            };
            if let Err(f) = run(best.seed, &fewer) {
                best = f;
                smaller = true;
            }
        }
        if !smaller {
            return best;
        }
    }
}

/// Paths and contents of one client's folder, without the engine's marker.
pub fn user_files(c: &Client) -> BTreeMap<String, Vec<u8>> {
    let mut f = c.fs.files_under(&c.root);
    f.remove(nubo_engine::home::ROOT_MARKER);
    f
}
