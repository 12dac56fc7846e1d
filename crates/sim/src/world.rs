//! One simulated run: N clients with in-memory folders, the in-process
//! service, random user actions and syncs, injected faults; then quiesce and
//! check the invariants. Everything random comes from the run's seed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use nubo_engine::changes::{Changes, Look};
use nubo_engine::report::PassOutcome;
use nubo_engine::{Config, Engine, Home, Outcome, Pause};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use nubo_engine::ignore_rules::IgnoreRules;
use nubo_engine::temp_names::TempNames;

use crate::actions::{self, Folder};
use crate::clock::{SimClock, SkewedClock};
use crate::invariants;
use crate::memfs::MemFs;
use crate::service::{Backup, Faults, SimRemote, SimService};
use crate::watcher::SimWatcher;

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
    /// Watching clients read only what their watcher names each pass;
    /// the others read their folder whole, as `nubo sync --once` does.
    pub watcher: Option<SimWatcher>,
    /// How many entries of each side a slice of its first sync holds.
    slice: usize,
    _dir: tempfile::TempDir,
}

impl Client {
    fn open(&mut self, service: &Arc<SimService>) -> anyhow::Result<()> {
        let remote = Arc::new(SimRemote {
            service: service.clone(),
            device: self.device,
            faults: self.faults.clone(),
        });
        let mut engine = Engine::with_parts(
            self.home.clone(),
            self.config.clone(),
            remote,
            Arc::new(self.fs.clone()),
            self.clock.clone(),
        )?;
        // Every round planned over what changed is planned over the whole
        // trees too: the two plans must agree.
        engine.check_focus(true);
        engine.set_slice_entries(self.slice);
        self.engine = Some(engine);
        Ok(())
    }

    pub fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("open")
    }

    pub fn folder(&self) -> Folder<'_> {
        Folder {
            fs: &self.fs,
            root: &self.root,
        }
    }

    /// Changes the client's settings, as the CLI or the app would: the
    /// engine starts again with them.
    fn reconfigure(
        &mut self,
        service: &Arc<SimService>,
        change: impl FnOnce(&mut Config),
    ) -> anyhow::Result<()> {
        change(&mut self.config);
        self.engine = None;
        self.open(service)
    }

    /// New folders on the service held back for their size, as the engine
    /// last said (their paths on the service).
    fn waiting_folders(&self) -> Vec<String> {
        let last = self.engine().db.last_pass().ok().flatten();
        let Some(PassOutcome::Paused { pauses }) = last.map(|p| p.outcome) else {
            return Vec::new();
        };
        pauses
            .into_iter()
            .filter_map(|p| match p {
                Pause::LargeFolder { remote_path, .. } => Some(remote_path),
                _ => None,
            })
            .collect()
    }

    /// The client's ignore rules now: its `.nuboignore` and its exclusions.
    pub fn rules(&self) -> IgnoreRules {
        IgnoreRules::read(&self.fs, &self.root, &self.config.folders[0].excluded)
    }

    /// Whether `name` is one of this client's own temp files.
    pub fn is_engine_temp(&self, name: &str) -> bool {
        let key = self
            .engine()
            .db
            .temp_key()
            .expect("the state database reads");
        TempNames::new(key).is_ours(name)
    }
}

/// See `World::before_sync`.
/// Whether `path` was a folder holding nothing on the service.
fn empty_folder(
    live: &std::collections::BTreeMap<
        nubo_protocol::NodeId,
        (String, nubo_protocol::NodeId, nubo_protocol::NodeKind),
    >,
    path: &str,
) -> bool {
    let is_dir = (live.values()).any(|(p, _, k)| p == path && *k == nubo_protocol::NodeKind::Dir);
    is_dir
        && !live
            .values()
            .any(|(p, _, _)| nubo_engine::tree::is_inside(p, path))
}

struct BeforeSync {
    contents: HashSet<String>,
    service: std::collections::BTreeMap<
        nubo_protocol::NodeId,
        (String, nubo_protocol::NodeId, nubo_protocol::NodeKind),
    >,
    had: HashSet<nubo_protocol::NodeId>,
    hidden: Vec<String>,
    /// Of `hidden`, the disks unmounted.
    unmounted: Vec<String>,
}

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
    /// What watching clients did not know of their disks after a pass.
    pub stale: Vec<String>,
    /// The operator's last backup of the service.
    backup: Option<Backup>,
    opts: Options,
}

impl World {
    pub fn new(seed: u64, opts: Options) -> anyhow::Result<World> {
        let mut rng = StdRng::seed_from_u64(seed);
        // Which clients watch: dice of their own, so that the rest of the
        // run draws what it drew before clients watched.
        let mut watching = StdRng::seed_from_u64(seed ^ WATCH_SALT);
        // Half the clients take their first sync in slices of a few
        // entries (dice of their own too): a slice's plan is checked
        // against the whole trees' plan.
        let mut slicing = StdRng::seed_from_u64(seed ^ SLICE_SALT);
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
                folders: vec![crate::pc::folder(&root)],
                // One transfer at a time: a batch runs in one order, so a
                // seed replays exactly.
                parallel_transfers: 1,
                // The last client holds back new folders of a few files:
                // the others' new folders wait for its user.
                large_folder_bytes: if i + 1 == opts.clients {
                    150_000
                } else {
                    Config::default().large_folder_bytes
                },
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
                watcher: None,
                slice: match slicing.gen_bool(0.5) {
                    true => slicing.gen_range(1..=8),
                    false => nubo_engine::SLICE_ENTRIES,
                },
                _dir: dir,
            };
            if watching.gen_bool(0.6) {
                c.watcher = Some(SimWatcher::new(&c.fs, 1, &c.root));
            }
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
            stale: Vec::new(),
            backup: None,
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

    /// One thing a user does on one client's folder (or its settings).
    fn user_action(&mut self, c: usize, rng: &mut StdRng) -> anyhow::Result<()> {
        let what = match rng.gen_range(0..100) {
            0..=2 => self.toggle_exclusion(c, rng)?,
            3..=4 => self.let_in_a_held_back_folder(c, rng)?,
            5..=24 => self.clients[c].folder().odd(rng),
            _ => self.clients[c].folder().everyday(rng),
        };
        self.note(format!("{}: {what}", self.clients[c].name));
        Ok(())
    }

    /// Selective sync: excludes a folder (as `nubo folder exclude` does,
    /// refused while it has unsynced changes) or includes one again.
    fn toggle_exclusion(&mut self, c: usize, rng: &mut StdRng) -> anyhow::Result<String> {
        let rel = actions::random_dir(rng).to_string();
        let service = self.service.clone();
        let client = &mut self.clients[c];
        let folder = client.config.folders[0].clone();
        if let Some(i) = folder.excluded.iter().position(|e| *e == rel) {
            client.reconfigure(&service, |cfg| {
                cfg.folders[0].excluded.remove(i);
            })?;
            return Ok(format!("folder include /{rel}"));
        }
        let left = nubo_engine::account::leave_here(&client.fs, &client.engine().db, &folder, &rel);
        Ok(match left {
            Ok(_) => {
                client.reconfigure(&service, |cfg| cfg.folders[0].excluded.push(rel.clone()))?;
                format!("folder exclude /{rel}")
            }
            Err(e) => format!("folder exclude /{rel} (refused: {e:#})"),
        })
    }

    /// The user says yes to a new folder held back for its size.
    fn let_in_a_held_back_folder(&mut self, c: usize, rng: &mut StdRng) -> anyhow::Result<String> {
        let service = self.service.clone();
        let client = &mut self.clients[c];
        let waiting = client.waiting_folders();
        let Some(path) = waiting.choose(rng).cloned() else {
            return Ok("no folder waits to be let in".into());
        };
        client.reconfigure(&service, |cfg| {
            cfg.folders[0]
                .confirmed
                .push(path.trim_start_matches('/').to_string())
        })?;
        Ok(format!("folder include {path} (held back for its size)"))
    }

    fn contents_of(&self, c: usize) -> HashSet<String> {
        let cl = &self.clients[c];
        // The user's files, those named like the engine's own included: not
        // the engine's marker or its unfinished downloads.
        let mut out: HashSet<String> = cl
            .fs
            .files_under(&cl.root)
            .iter()
            .filter(|(p, _)| {
                let name = p.rsplit('/').next().unwrap_or_default();
                *p != nubo_engine::home::ROOT_MARKER && !cl.is_engine_temp(name)
            })
            .map(|(_, d)| nubo_engine::content::hash_bytes(d).to_string())
            .collect();
        out.extend(
            cl.fs
                .inner
                .lock()
                .unwrap()
                .trash
                .iter()
                .map(|(_, d)| nubo_engine::content::hash_bytes(d).to_string()),
        );
        out
    }

    /// What a client knows before a sync, to check what the sync deleted
    /// on the service against: the nodes of its merge base, and the paths
    /// it cannot read (unreadable, a link, a disk unmounted).
    fn before_sync(&self, c: usize) -> BeforeSync {
        let cl = &self.clients[c];
        let synced = cl.engine().db.load_synced(1).unwrap_or_default();
        let fs = &cl.fs;
        // A disk unmounted counts only if the engine saw it mounted (its
        // last scan kept the folder as a mount point): otherwise the folder
        // simply lost its files, as far as anyone can tell.
        let seen = cl.engine().db.mounts(1).ok().flatten().unwrap_or_default();
        let unmounted: Vec<PathBuf> = fs
            .inner
            .lock()
            .unwrap()
            .unmounted
            .keys()
            .filter(|p| {
                let rel = p.strip_prefix(&cl.root).ok().and_then(|r| r.to_str());
                rel.is_some_and(|r| seen.contains(r))
            })
            .cloned()
            .collect();
        let rel = |p: PathBuf| Some(p.strip_prefix(&cl.root).ok()?.to_str()?.to_string());
        let unmounted: Vec<String> = unmounted.into_iter().filter_map(rel).collect();
        let hidden = fs
            .unreadable()
            .into_iter()
            .chain(fs.links())
            .filter_map(rel)
            .chain(unmounted.iter().cloned())
            .collect();
        BeforeSync {
            contents: self.contents_of(c),
            service: self.service.live(),
            had: synced.values().map(|s| s.node).collect(),
            hidden,
            unmounted,
        }
    }

    /// Nothing a client did not see, or could not read, was deleted on the
    /// service by its sync (DESIGN.md rule 13).
    fn check_deletes(&mut self, c: usize, before: &BeforeSync) {
        let after = self.service.live();
        let name = self.clients[c].name.clone();
        for (id, (path, _, _)) in &before.service {
            if after.contains_key(id) {
                continue;
            }
            let unread = before
                .hidden
                .iter()
                .find(|h| path == *h || nubo_engine::tree::is_inside(path, h));
            if !before.had.contains(id) {
                self.lost.push(format!(
                    "{name} deleted {path:?} on the service, which it never had"
                ));
            } else if let Some(h) = unread {
                if before.unmounted.contains(h) && empty_folder(&before.service, path) {
                    // The folder a disk was mounted on, emptied by its
                    // going and removed by the user: the engine read it
                    // gone, and nothing of the disk was on the service.
                    continue;
                }
                self.lost.push(format!(
                    "{name} deleted {path:?} on the service, though it could not read {h:?}"
                ));
            }
        }
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
        let before = self.before_sync(c);
        let faults = self.clients[c].faults.clone();
        let changes = self.watched_changes(c);
        let outcome = {
            let engine = self.clients[c].engine();
            // A replay's log (`RUST_LOG`) says whose pass each line is of.
            let span = tracing::info_span!("pass", client = %self.clients[c].name);
            let pass = tracing::Instrument::instrument(
                async {
                    match changes {
                        Some(changes) => engine.sync_changed(allow_mass_delete, changes).await,
                        None => engine.sync_once(allow_mass_delete).await,
                    }
                },
                span,
            );
            tokio::select! {
                r = pass => Some(r),
                _ = faults.crash_signal.notified() => None,
            }
        };
        let client = &mut self.clients[c];
        if let Some(w) = &mut client.watcher {
            w.settle(&client.fs);
        }
        let name = self.clients[c].name.clone();
        if let Some(differs) = self.clients[c].engine().focus_mismatch() {
            self.lost
                .push(format!("{name}: {differs} (step {})", self.log.len()));
        }
        self.check_sync_kept(c, &before.contents);
        self.check_deletes(c, &before);
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
                // A new engine reads its folders whole first.
                if let Some(w) = &mut self.clients[c].watcher {
                    w.read_whole();
                }
                Ok(None)
            }
            Some(Ok(o)) => {
                self.note(format!("{name}: sync -> {}", describe(&o)));
                self.check_watched_view(c);
                Ok(Some(o))
            }
            Some(Err(e)) => {
                self.note(format!("{name}: sync failed: {e:#}"));
                Ok(None)
            }
        }
    }

    /// What a watching client's watcher says changed since its last pass
    /// (with a real watcher's faults while the run plays); `None` for a
    /// client that reads its folder whole each pass.
    fn watched_changes(&mut self, c: usize) -> Option<Changes> {
        let mut dice = match self.step {
            Some(step) if self.opts.faults => Some(step_rng(self.seed ^ WATCH_SALT, step)),
            _ => None,
        };
        let client = &mut self.clients[c];
        let watcher = client.watcher.as_mut()?;
        let (changes, lines) = watcher.events(&client.fs, dice.as_mut());
        let name = client.name.clone();
        for line in lines {
            self.note(format!("{name}: {line}"));
        }
        Some(changes)
    }

    /// After a pass that ended, a watching client told of every change
    /// knows its disk as a whole read would find it.
    fn check_watched_view(&mut self, c: usize) {
        let client = &self.clients[c];
        if !client.watcher.as_ref().is_some_and(|w| w.faithful()) {
            return;
        }
        let engine = client.engine();
        // What the engine knows it has still to read again is not stale.
        let pending = match engine.to_read_again(1) {
            Look::All => return,
            Look::Paths(paths) => paths,
        };
        let known = |p: &str| {
            !pending
                .keys()
                .any(|q| p == q || nubo_engine::tree::is_inside(p, q))
        };
        let stored = engine.db.load_local(1).expect("the state database reads");
        let mounts = engine.db.mounts(1).expect("the state database reads");
        let temps = TempNames::new(engine.db.temp_key().expect("the state database reads"));
        let rules = client.rules();
        let input = nubo_engine::scanner::ScanInput {
            rules: &rules,
            previous: &stored,
            // Hashes of unchanged stats are taken as they are.
            now_ns: i64::MAX,
            temps: &temps,
            previous_mounts: mounts.as_ref(),
            on_read: None,
        };
        let whole = nubo_engine::scanner::scan(&client.fs, &client.root, &input);
        let differ: Vec<&String> = whole
            .tree
            .iter()
            .filter(|(p, e)| stored.get(*p).map(|s| (s.kind, s.stat)) != Some((e.kind, e.stat)))
            .map(|(p, _)| p)
            .chain(stored.keys().filter(|p| !whole.tree.contains_key(*p)))
            .filter(|p| known(p))
            .collect();
        if !differ.is_empty() {
            let line = format!(
                "{} watches its folder and does not know it as it is: {differ:?}",
                client.name
            );
            self.stale.push(line);
        }
    }

    /// The random part of the run.
    pub async fn play(&mut self) -> anyhow::Result<()> {
        for step in 0..self.opts.steps {
            if self.opts.skip.contains(&step) {
                continue;
            }
            self.step = Some(step);
            // The operator's own dice, so that the rest of a step draws
            // what it drew before the operator was played.
            self.operator(&mut step_rng(self.seed ^ OPERATOR_SALT, step))?;
            self.restart(&mut step_rng(self.seed ^ RESTART_SALT, step))?;
            let mut rng = step_rng(self.seed, step);
            let c = rng.gen_range(0..self.clients.len());
            self.clock.advance_ms(rng.gen_range(1..5000));
            if rng.gen_bool(0.55) {
                self.user_action(c, &mut rng)?;
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

    /// Now and then a user quits the app and starts it again (or the
    /// computer restarts): the new engine starts from its state database,
    /// where a pass that ended in sync left what it knew settled.
    fn restart(&mut self, rng: &mut StdRng) -> anyhow::Result<()> {
        if !rng.gen_bool(0.04) {
            return Ok(());
        }
        let c = rng.gen_range(0..self.clients.len());
        let service = self.service.clone();
        let client = &mut self.clients[c];
        client.engine = None;
        client.open(&service)?;
        // A new engine reads its folders whole first.
        if let Some(w) = &mut client.watcher {
            w.read_whole();
        }
        let name = client.name.clone();
        self.note(format!("{name}: the app starts again"));
        Ok(())
    }

    /// What the service's operator does now and then: a backup, and,
    /// later, putting it back: the service goes back in time. What it lost
    /// is no longer the service's to keep; a client that still has it must
    /// not lose it (`check_sync_kept`) and must send it back (the trees
    /// agree at the end).
    fn operator(&mut self, rng: &mut StdRng) -> anyhow::Result<()> {
        let roll = rng.gen_range(0..100);
        if roll < 2 {
            self.backup = Some(self.service.backup()?);
            self.note("operator: backs the service up".into());
        } else if roll < 4 {
            let Some(backup) = &self.backup else {
                return Ok(());
            };
            // Stopping, copying and starting take a while.
            self.clock.advance_ms(60_000);
            self.service.restore(backup)?;
            let kept = self.service.kept_hashes();
            self.committed.retain(|h| kept.contains(h));
            self.note("operator: restores the service from its backup".into());
        }
        Ok(())
    }

    /// The users' cleanup before the end: everything readable, disks
    /// mounted back, links removed (what they blocked must then sync).
    pub fn heal(&mut self) {
        for c in 0..self.clients.len() {
            let done = self.clients[c].folder().heal();
            let name = self.clients[c].name.clone();
            for d in done {
                self.note(format!("{name}: {d}"));
            }
        }
    }

    /// Faults off; everyone syncs until a whole round changes nothing.
    pub async fn quiesce(&mut self) -> anyhow::Result<()> {
        for c in &self.clients {
            c.faults.quiet();
        }
        for round in 0..12 {
            let before = self.service_cursor();
            let mut all_in_sync = true;
            for c in 0..self.clients.len() {
                self.clock.advance_ms(3000);
                // The user lets in every folder held back for its size.
                let service = self.service.clone();
                let waiting = self.clients[c].waiting_folders();
                if !waiting.is_empty() {
                    self.clients[c].reconfigure(&service, |cfg| {
                        let confirmed = &mut cfg.folders[0].confirmed;
                        confirmed.extend(
                            waiting
                                .iter()
                                .map(|p| p.trim_start_matches('/').to_string()),
                        );
                    })?;
                }
                // A day goes by: watching clients read their folders whole,
                // and find what their watchers lost.
                if round == 0 {
                    let client = &mut self.clients[c];
                    if let Some(w) = &mut client.watcher {
                        w.read_whole();
                    }
                    client.engine().note_changes(Changes::everything());
                }
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
        use nubo_server::store::Nodes;
        self.service
            .store()
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

const OPERATOR_SALT: u64 = 0x6f70_6572_6174_6f72;
const RESTART_SALT: u64 = 0x7265_7374_6172_7473;
const WATCH_SALT: u64 = 0x7761_7463_6865_7273;
const SLICE_SALT: u64 = 0x736c_6963_6573_2121;

/// Step `step`'s own generator: the same whatever other steps do.
fn step_rng(seed: u64, step: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::InSync => "in sync".into(),
        Outcome::Paused(p) => format!("paused ({p:?})"),
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
        world.heal();
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
