//! Test harness: a real `nubo serve` process on 127.0.0.1 and real `nubo`
//! client processes, each with its own home, folder and trash, as separate
//! PCs would have. Every wait is bounded.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_nubo");
pub const PASSWORD: &str = "correct horse battery staple";
/// The exit code of a `nubo sync --once` that ended paused, waiting for the user.
pub const PAUSED_EXIT: i32 = 3;

pub struct Service {
    pub url: String,
    pub data: PathBuf,
    child: Child,
    /// Environment of the process beyond the test's own (S3 credentials).
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Service {
    /// With the project's sample agreements (`--demo`), as `make run` does.
    pub fn start() -> Service {
        Self::start_with(&["--demo"])
    }

    pub fn start_with(extra: &[&str]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Self::start_in(dir, data, extra)
    }

    /// Keeping its data in `data` (inside `dir`, which lives as long as it).
    pub fn start_in(dir: tempfile::TempDir, data: PathBuf, extra: &[&str]) -> Service {
        Self::start_in_env(dir, data, extra, Vec::new())
    }

    /// As `start_in`, with these environment variables too (kept for restarts).
    pub fn start_in_env(
        dir: tempfile::TempDir,
        data: PathBuf,
        extra: &[&str],
        env: Vec<(String, String)>,
    ) -> Service {
        let (child, url) = spawn_service(&data, "127.0.0.1:0", extra, &env);
        Service {
            url,
            data,
            child,
            env,
            _dir: dir,
        }
    }

    pub fn add_account(&self, id: &str) {
        let mut c = Command::new(BIN)
            .args(["admin", "add-account", "--data"])
            .arg(&self.data)
            .args([id, "--password-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(c.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(c.wait().unwrap().success(), "add-account {id}");
    }

    /// An account with a phone number too (password `PASSWORD`).
    pub fn add_account_with_phone(&self, id: &str, phone: &str) {
        let mut c = Command::new(BIN)
            .args(["admin", "add-account", "--data"])
            .arg(&self.data)
            .args([id, "--phone", phone, "--password-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(c.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(c.wait().unwrap().success(), "add-account {id}");
    }

    /// Stops the process at once (kill -9) and starts it again on the same port.
    pub fn restart_hard(&mut self, extra: &[&str]) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let listen = self.url.trim_start_matches("http://").to_string();
        let (child, _) = spawn_service(&self.data, &listen, extra, &self.env);
        self.child = child;
    }

    /// Stops the process (kill -9), lets `meanwhile` work on its data
    /// folder (an operator copying or restoring it), and starts it again on
    /// the same port.
    pub fn stopped_while(&mut self, extra: &[&str], meanwhile: impl FnOnce(&Path)) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        meanwhile(&self.data);
        let listen = self.url.trim_start_matches("http://").to_string();
        let (child, _) = spawn_service(&self.data, &listen, extra, &self.env);
        self.child = child;
    }

    /// Stops the process at once (kill -9), for good.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Stops the process where it stands (SIGSTOP), as a stalled service
    /// would: requests sent to it wait in its sockets until `thaw`.
    pub fn freeze(&self) {
        signal(&self.child, "STOP");
    }

    pub fn thaw(&self) {
        signal(&self.child, "CONT");
    }

    /// Requests that reached the service and wait to be read: its
    /// connections holding unread bytes, as the kernel lists them.
    pub fn waiting_requests(&self) -> usize {
        let port = self.url.rsplit(':').next().unwrap();
        let local = format!("0100007F:{:04X}", port.parse::<u16>().unwrap());
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
        tcp.lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f[1] == local && f[3] == "01") // 01: established
            .filter(|f| f[4].split(':').nth(1) != Some("00000000")) // tx:rx queue
            .count()
    }

    /// What the service wrote to its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(log_path(&self.data)).unwrap_or_default()
    }

    /// Number of chunk objects the service stores.
    pub fn chunk_count(&self) -> usize {
        self.chunk_files().len()
    }

    /// The files of the service's chunk store.
    pub fn chunk_files(&self) -> Vec<PathBuf> {
        walk_files(&self.data.join("chunks"))
    }
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name} {}", child.id());
}

/// Where the service's log goes (its standard error): beside its data folder.
fn log_path(data: &Path) -> PathBuf {
    data.with_extension("log")
}

fn spawn_service(
    data: &Path,
    listen: &str,
    extra: &[&str],
    env: &[(String, String)],
) -> (Child, String) {
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(data))
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", listen])
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Keep draining: the service must never block or fail on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
        "service said {line:?}"
    );
    (child, url)
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process killed when this goes out of scope (a watching `nubo sync`).
pub struct Stop(pub Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Client {
    pub name: String,
    pub home: PathBuf,
    pub root: PathBuf,
    /// XDG_DATA_HOME: the OS trash lands in `data_home/Trash`.
    pub data_home: PathBuf,
    _dir: tempfile::TempDir,
}

impl Client {
    /// Signed in to the demo account, agreements accepted, folder added.
    pub fn new(service: &Service, name: &str) -> Client {
        Self::for_account(service, name, "demo", "nubo-demo", &["--mode", "two-way"])
    }

    pub fn for_account(
        service: &Service,
        name: &str,
        account: &str,
        password: &str,
        folder_args: &[&str],
    ) -> Client {
        Self::for_account_at(&service.url, name, account, password, folder_args)
    }

    /// As `for_account`, with the service at `url` (behind a load balancer, say).
    pub fn for_account_at(
        url: &str,
        name: &str,
        account: &str,
        password: &str,
        folder_args: &[&str],
    ) -> Client {
        let c = Self::signed_in_at(url, name, account, password);
        c.ok(&["agreements", "--accept", "--adult"]);
        let root = c.root.to_str().unwrap().to_string();
        let mut args = vec!["folder", "add", root.as_str()];
        args.extend_from_slice(folder_args);
        c.ok(&args);
        c
    }

    /// A home that has not signed in yet.
    pub fn blank(name: &str) -> Client {
        let dir = tempfile::tempdir().unwrap();
        Client {
            name: name.into(),
            home: dir.path().join("home"),
            root: dir.path().join("Nubo"),
            data_home: dir.path().join("xdg-data"),
            _dir: dir,
        }
    }

    /// Signed in only: no agreements accepted, no folder.
    pub fn signed_in(service: &Service, name: &str, account: &str, password: &str) -> Client {
        Self::signed_in_at(&service.url, name, account, password)
    }

    pub fn signed_in_at(url: &str, name: &str, account: &str, password: &str) -> Client {
        let c = Self::blank(name);
        let mut child = c
            .command(&["login", url, account, "--password-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c
    }

    /// `nubo login` again with the demo password, as a user would.
    pub fn login_again(&self, service: &Service) {
        let out = self.run_with_stdin(
            &["login", &service.url, "demo", "--password-stdin"],
            "nubo-demo\n",
        );
        assert!(
            out.status.success(),
            "login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self.command(args).stdin(Stdio::piped()).spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--home")
            .arg(&self.home)
            .args(args)
            .env("XDG_DATA_HOME", &self.data_home)
            .env("NUBO_TOKEN_STORE", "file")
            .env("NUBO_DEVICE_NAME", &self.name)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{}: nubo {args:?} failed: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A watching `nubo sync` of this home, stopped when dropped.
    pub fn watch(&self) -> Stop {
        Stop(
            self.command(&["sync"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    /// Waits, for at most `limit`, until this home's watching `nubo sync`
    /// has ended a pass in sync.
    pub fn wait_in_sync(&self, limit: Duration) {
        let done = wait_until(limit, || self.last_outcome() == "in_sync");
        assert!(
            done,
            "{}: not in sync within {limit:?}: {}",
            self.name,
            self.status_json()
        );
    }

    /// `nubo sync --once`, which must end in sync.
    pub fn sync(&self) {
        self.ok(&["sync", "--once"]);
    }

    /// `nubo sync --once`, which may end paused (and says why on stderr).
    pub fn sync_allowing_pause(&self) -> String {
        let out = self.run(&["sync", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success() || out.status.code() == Some(PAUSED_EXIT),
            "{}: sync failed: {err}",
            self.name
        );
        err
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(rel)).ok()
    }

    /// Path -> content of every file the user sees (the engine's `.nubo*` aside).
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot(&self.root)
    }

    /// Names of what the OS trash holds.
    pub fn trash(&self) -> Vec<String> {
        let dir = self.data_home.join("Trash/files");
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets one key of this home's config.json, as a user editing it would.
    pub fn set_config(&self, key: &str, value: impl Into<serde_json::Value>) {
        let path = self.home.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        cfg[key] = value.into();
        std::fs::write(&path, cfg.to_string()).unwrap();
    }

    pub fn status_json(&self) -> serde_json::Value {
        let s: serde_json::Value = serde_json::from_str(&self.ok(&["status", "--json"])).unwrap();
        assert_eq!(s["version"], 1, "status --json says its version: {s}");
        s
    }

    /// How the last pass ended, as `status --json` says it: `in_sync`,
    /// `paused` or `failed` (`none` before the first).
    pub fn last_outcome(&self) -> String {
        self.status_json()["last_pass"]["outcome"]["kind"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    }

    /// What the last pass paused for, each with its data.
    pub fn pauses(&self) -> Vec<serde_json::Value> {
        self.status_json()["last_pass"]["outcome"]["pauses"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk_files(root)
        .into_iter()
        .filter(|p| {
            !p.strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .split('/')
                .any(|c| c.starts_with(".nubo"))
        })
        .map(|p| {
            (
                p.strip_prefix(root).unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// Files the engine left behind: unfinished downloads.
pub fn temp_files(root: &Path) -> Vec<PathBuf> {
    walk_files(root)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".nubo-tmp-")
        })
        .collect()
}

pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    // xorshift: incompressible enough, reproducible, no extra dependency.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Polls `check` until it holds, for at most `limit`.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    check()
}

/// A small file system (tmpfs) mounted at a path, to fill up on purpose.
/// Mounting needs root, or a user and mount namespace of the test's own
/// (`scripts/with-mount-namespace.sh`, which `make test` uses).
pub struct SmallDisk {
    pub path: PathBuf,
}

impl SmallDisk {
    pub fn mount(path: &Path, bytes: u64) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes}"),
                "nubo-small-disk",
            ])
            .arg(path)
            .output()
            .expect("mount(8) runs");
        assert!(
            out.status.success(),
            "cannot mount a small tmpfs at {} ({}); run this test as root or under \
             scripts/with-mount-namespace.sh, as `make test` does",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        SmallDisk {
            path: path.to_path_buf(),
        }
    }

    /// More room, as when the user deletes something elsewhere on that disk.
    pub fn grow(&self, bytes: u64) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).output();
    }
}
