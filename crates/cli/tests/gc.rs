//! Chunk garbage collection with real processes (issue 19): an operator
//! runs `nubo admin gc` (and `--sweep`) on the storage of a running
//! `nubo serve` while a home uploads through it, and nothing of that upload
//! is lost; what deleted files held leaves the chunk store once the trash
//! lets it go; the command says what it freed and refuses a folder that
//! holds no service. On a data folder (SQLite), and on PostgreSQL + S3:
//! those variants need PostgreSQL, so a plain `cargo test` skips them as
//! ignored; `make test` runs them under scripts/with-postgres.sh, and
//! without it they fail rather than pass unseen.

#[allow(dead_code)]
#[path = "../../server/tests/common/backends.rs"]
mod backends;
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const DAY: i64 = 86_400;

/// Where a service keeps its chunks and metadata beyond its data folder,
/// and how to name that to `nubo serve` and `nubo admin gc` alike.
struct Storage {
    /// Arguments besides `--data` (which both commands get).
    args: Vec<String>,
    /// Environment besides the test's own (S3 credentials).
    env: Vec<(String, String)>,
    /// The folder whose files are the chunk store's objects, once the
    /// service's data folder is known.
    objects: Box<dyn Fn(&Path) -> PathBuf>,
    /// The S3 server, and the runtime it runs on, when there is one.
    _s3: Option<(
        backends::S3Server,
        tokio::runtime::Runtime,
        tempfile::TempDir,
    )>,
}

impl Storage {
    /// SQLite and the chunk folder, both in the data folder.
    fn data_folder() -> Storage {
        Storage {
            args: Vec::new(),
            env: Vec::new(),
            objects: Box::new(|data| data.join("chunks")),
            _s3: None,
        }
    }

    /// A fresh database on the test PostgreSQL server and an S3 server
    /// (s3s-fs, as the service's own tests use) on 127.0.0.1.
    fn postgres_and_s3() -> Storage {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let database = runtime.block_on(backends::fresh_database());
        let s3 = runtime.block_on(backends::S3Server::start(dir.path()));
        let mut cfg = nubo_server::ServerConfig::new(PathBuf::new());
        s3.configure(&mut cfg);
        let mut args = vec!["--database".to_string(), database];
        if let Some(ca) = backends::postgres_ca() {
            args.extend(["--database-ca".into(), ca.to_string_lossy().into_owned()]);
        }
        args.extend([
            "--chunks".into(),
            cfg.chunks.unwrap(),
            "--s3-endpoint".into(),
            cfg.s3.endpoint.unwrap(),
            "--s3-region".into(),
            cfg.s3.region.unwrap(),
        ]);
        let env = vec![
            ("AWS_ACCESS_KEY_ID".into(), cfg.s3.access_key_id.unwrap()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                cfg.s3.secret_access_key.unwrap(),
            ),
        ];
        // s3s-fs keeps an object at <root>/<bucket>/<key>.
        let root = dir.path().join("s3/nubo/chunks");
        Storage {
            args,
            env,
            objects: Box::new(move |_| root.clone()),
            _s3: Some((s3, runtime, dir)),
        }
    }

    /// `extra` and the arguments naming this storage, for `nubo serve`.
    fn serve_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut all = extra.to_vec();
        all.extend(self.args.iter().map(String::as_str));
        all
    }

    /// A service on this storage, with `extra` arguments.
    fn serve(&self, extra: &[&str]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Service::start_in_env(dir, data, &self.serve_args(extra), self.env.clone())
    }

    /// Each object of the service's chunk store, and its size.
    fn objects(&self, service: &Service) -> BTreeMap<PathBuf, u64> {
        walk_files(&(self.objects)(&service.data))
            .into_iter()
            .map(|p| {
                let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                (p, size)
            })
            .collect()
    }

    /// `nubo admin gc` on the service's storage, as an operator runs it
    /// beside the service: its output.
    fn gc(&self, service: &Service, sweep: bool) -> String {
        let mut cmd = Command::new(BIN);
        cmd.args(["admin", "gc", "--data"])
            .arg(&service.data)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if sweep {
            cmd.arg("--sweep");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "nubo admin gc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// What `nubo admin gc` prints when it frees `objects` objects of `bytes`.
fn freed_line(chunks: usize, objects: usize, bytes: u64) -> String {
    format!(
        "garbage collection: {chunks} chunks no longer used; {objects} objects removed, \
         {bytes} bytes freed; 0 bytes stay in packs still partly in use"
    )
}

/// The output of a `nubo admin gc` that found nothing to remove.
fn assert_freed_nothing(out: &str, sweep: bool) {
    let mut expected = vec![freed_line(0, 0, 0)];
    if sweep {
        expected.push("sweep: 0 objects no chunk row named removed, 0 bytes freed".into());
    }
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{out}");
}

/// Both homes hold the same files, byte for byte (without printing
/// megabytes when they do not).
fn assert_same_files(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, content) in a {
        assert!(b[name] == *content, "{name} differs");
    }
}

/// A home uploads large files (several chunks each) and many small ones
/// (sent in packs), slowed by its bandwidth limit; once chunks of it are
/// on the service, `nubo admin gc` and `--sweep` run: they free nothing,
/// the upload finishes, and another home gets every file whole. Then
/// deleted files: while in the trash their objects stay; once the trash
/// is past its retention, the service's pass removes exactly their
/// objects, and a further gc finds nothing left to free.
fn gc_while_a_home_uploads(storage: Storage) {
    let clock = tempfile::tempdir().unwrap();
    let offset = clock.path().join("clock-offset");
    let extra = ["--demo", "--clock-offset-file", offset.to_str().unwrap()];
    let mut service = storage.serve(&extra);
    let a = Client::new(&service, "pc-a");
    // 12 MB at 1.5 MB/s: seconds of upload, in which the gc runs.
    a.set_config("upload_limit_kbps", 1500);
    for i in 0..3 {
        a.write(&format!("videos/{i}.bin"), random_bytes(i, 4_000_000));
    }
    for i in 0..60 {
        a.write(&format!("notes/{i}.txt"), random_bytes(100 + i, 3_000));
    }
    let syncing = a.watch();
    let started = wait_until(Duration::from_secs(60), || {
        !storage.objects(&service).is_empty()
    });
    assert!(started, "the upload never began");
    assert_freed_nothing(&storage.gc(&service, false), false);
    assert_freed_nothing(&storage.gc(&service, true), true);
    let at_gc = storage.objects(&service).len();
    a.wait_in_sync(Duration::from_secs(180));
    drop(syncing);
    let uploaded = storage.objects(&service);
    assert!(
        at_gc < uploaded.len(),
        "the gc ran after the upload, not in its middle ({at_gc} objects of {})",
        uploaded.len()
    );

    let b = Client::new(&service, "pc-b");
    b.sync();
    let everything = a.files();
    assert_eq!(everything.len(), 63);
    assert_same_files(&everything, &b.files());
    assert_freed_nothing(&storage.gc(&service, true), true);
    assert_eq!(storage.objects(&service), uploaded);

    // Files that then go: one of several chunks, and small ones in packs.
    a.set_config("upload_limit_kbps", 0);
    a.write("old/film.bin", random_bytes(50, 3_000_000));
    for i in 0..20 {
        a.write(&format!("old/{i}.txt"), random_bytes(200 + i, 2_000));
    }
    a.sync();
    let with_old = storage.objects(&service);
    assert!(with_old.len() > uploaded.len() + 1);
    std::fs::remove_dir_all(a.path("old")).unwrap();
    a.sync();
    assert_freed_nothing(&storage.gc(&service, true), true);
    assert_eq!(
        storage.objects(&service),
        with_old,
        "in the trash, deleted files keep their content"
    );

    // A month on, the service's pass (hourly, and at its start) empties
    // the trash past its 30 days and collects.
    std::fs::write(&offset, (31 * DAY).to_string()).unwrap();
    service.restart_hard(&storage.serve_args(&extra));
    let emptied = wait_until(Duration::from_secs(60), || {
        storage.objects(&service) == uploaded
    });
    assert!(
        emptied,
        "the objects of the deleted files should be gone, and only they: {} objects left, {} \
         before them; the service's log:\n{}",
        storage.objects(&service).len(),
        uploaded.len(),
        service.log()
    );
    assert_freed_nothing(&storage.gc(&service, true), true);
    let c = Client::new(&service, "pc-c");
    c.sync();
    assert_same_files(&everything, &c.files());
}

#[test]
fn gc_while_a_home_uploads_loses_nothing_and_deleted_files_leave_the_store() {
    gc_while_a_home_uploads(Storage::data_folder());
}

#[test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
fn gc_while_a_home_uploads_loses_nothing_and_deleted_files_leave_the_store_on_postgres_and_s3() {
    gc_while_a_home_uploads(Storage::postgres_and_s3());
}

/// `nubo admin gc` as an operator reads it: an edited file's earlier
/// content (no versions kept) is freed, and the numbers it prints are the
/// objects and bytes that left the chunk store; run again, nothing.
#[test]
fn admin_gc_says_what_it_freed() {
    let storage = Storage::data_folder();
    let service = storage.serve(&["--demo", "--keep-versions", "0"]);
    let a = Client::new(&service, "pc-a");
    a.write("draft.bin", random_bytes(1, 3_000_000));
    a.sync();
    let first = storage.objects(&service);
    let edited = random_bytes(2, 3_000_000);
    a.write("draft.bin", &edited);
    a.sync();
    let before = storage.objects(&service);
    let out = storage.gc(&service, false);
    let after = storage.objects(&service);
    let gone: Vec<_> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    let bytes: u64 = gone.iter().map(|p| before[*p]).sum();
    assert!(
        gone.len() >= 2 && gone.iter().all(|p| first.contains_key(*p)),
        "the first draft's chunks, and only they, went: {gone:?}"
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [freed_line(gone.len(), gone.len(), bytes)]
    );
    assert_freed_nothing(&storage.gc(&service, true), true);

    let b = Client::new(&service, "pc-b");
    b.sync();
    assert!(
        b.read("draft.bin").unwrap() == edited,
        "the edit reads back"
    );
}

/// A mistyped or empty data folder is refused with its name and what is
/// wrong, and nothing is created in it.
#[test]
fn admin_gc_refuses_a_folder_that_holds_no_service() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nubo-dta");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for folder in [&missing, &empty] {
        let out = Command::new(BIN)
            .args(["admin", "gc", "--data"])
            .arg(folder)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&folder.display().to_string()) && err.contains("holds no Nubo service"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "no report of a collection");
    }
    assert!(!missing.exists(), "the mistyped folder was created");
    assert!(
        walk_files(&empty).is_empty(),
        "files were made in the empty folder"
    );
}
