//! Real `nubo` clients against two `nubo serve` instances sharing one
//! PostgreSQL database (and one chunk folder), one of them also behind
//! nginx as an operator would run it. They need PostgreSQL, so a plain
//! `cargo test` skips them as ignored; `make test` runs them under
//! scripts/with-postgres.sh, and without it they fail rather than pass unseen.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// A new, empty database on the test PostgreSQL server; its URL.
fn fresh_database() -> String {
    let server = std::env::var("NUBO_TEST_POSTGRES").expect(
        "this test needs PostgreSQL: run it under scripts/with-postgres.sh (make test does)",
    );
    let name = format!("nubo_cli_{}", std::process::id() as u64 * 1000 + next_id());
    let mut client = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {server}: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&name);
    url.to_string()
}

fn next_id() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// Two instances on one database and one chunk folder, started one after
/// the other (the first creates the demo account).
fn two_instances() -> (Service, Service) {
    let database = fresh_database();
    let shared = tempfile::tempdir().unwrap();
    let data = shared.path().join("data");
    let mut extra = vec!["--demo".to_string(), "--database".into(), database];
    if let Ok(ca) = std::env::var("NUBO_TEST_POSTGRES_CA") {
        extra.extend(["--database-ca".into(), ca]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let one = Service::start_in(shared, data.clone(), &extra);
    let two = Service::start_in(tempfile::tempdir().unwrap(), data, &extra);
    (one, two)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx from Debian in front of a primary instance and a backup one: all
/// requests go to the primary until it stops answering.
struct Nginx {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(primary: &str, backup: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = |url: &str| url.trim_start_matches("http://").to_string();
        let d = dir.path().display();
        // Workers run as root only when the test does (nginx's default
        // user could not write its temp folders here).
        let user = if is_root() { "user root;" } else { "" };
        let conf = format!(
            r#"{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream nubo {{
        server {primary} max_fails=1 fail_timeout=60s;
        server {backup} backup;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://nubo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Stream uploads through and the push stream back.
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"#,
            primary = host(primary),
            backup = host(backup),
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is missing: make deps installs it");
        let up = wait_until(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(
            up,
            "nginx did not start: {:?}",
            std::fs::read_to_string(dir.path().join("error.log"))
        );
        Nginx {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Drop for Nginx {
    /// SIGTERM, so that the master stops its workers too (a killed master
    /// leaves them running); SIGKILL if it has not gone within 10 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let gone = wait_until(Duration::from_secs(10), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !gone {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
fn homes_on_two_instances_converge_hear_each_other_and_keep_conflicts() {
    let (one, two) = two_instances();
    let a = Client::new(&one, "pc-a");
    let b = Client::new(&two, "pc-b");

    // B watches through instance two, with a poll interval longer than the
    // test: only push can bring it A's change made through instance one.
    b.ok(&["agreements", "--accept", "--adult", "--push"]);
    b.set_config("poll_interval_secs", 3600);
    let watching = b.watch();
    b.wait_in_sync(Duration::from_secs(30));
    a.write("hello.txt", "through the other instance");
    a.sync();
    let arrived = wait_until(Duration::from_secs(20), || {
        b.read("hello.txt")
            .is_some_and(|c| c == b"through the other instance")
    });
    assert!(
        arrived,
        "B did not hear of A's change through push across instances"
    );
    drop(watching);

    // Both edit one file at once, each through its own instance.
    a.write("report.txt", "first draft");
    a.sync();
    b.sync();
    a.write("report.txt", "A's edit");
    b.write("report.txt", "B's edit");
    a.sync();
    b.sync();
    a.sync();
    let files = a.files();
    assert_eq!(files, b.files(), "both homes hold the same files");
    let kept: Vec<&Vec<u8>> = files
        .iter()
        .filter(|(k, _)| k.starts_with("report"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        kept.len(),
        2,
        "the edit that lost is kept as a conflicted copy: {:?}",
        files.keys()
    );
    assert!(kept.contains(&&b"A's edit".to_vec()) && kept.contains(&&b"B's edit".to_vec()));
}

#[test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
fn an_upload_carries_on_through_the_other_instance_when_its_instance_dies() {
    let (mut one, two) = two_instances();
    let lb = Nginx::start(&one.url, &two.url);
    let a = Client::for_account_at(&lb.url, "pc-a", "demo", "nubo-demo", &["--mode", "two-way"]);
    // Slow enough to be cut in the middle: 6 MB at 1 MB/s.
    a.set_config("upload_limit_kbps", 1000);
    let data = random_bytes(7, 6_000_000);
    a.write("big.bin", &data);
    let syncing = a.watch();
    // Some of it reached the first instance: then it dies.
    let started = wait_until(Duration::from_secs(30), || one.chunk_count() > 0);
    assert!(started, "the upload never began");
    one.kill();
    let at_kill = two.chunk_count();
    // The upload finishes through the other instance.
    a.wait_in_sync(Duration::from_secs(120));
    drop(syncing);
    assert!(
        at_kill < two.chunk_count(),
        "the instance died after the upload, not in its middle ({at_kill} chunks of {})",
        two.chunk_count()
    );

    // Another home, through the surviving instance, gets exactly one copy.
    let b = Client::new(&two, "pc-b");
    b.sync();
    let files = b.files();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        vec!["big.bin"],
        "no duplicate or conflicted copy"
    );
    assert!(files["big.bin"] == data, "the content arrived whole");
}
