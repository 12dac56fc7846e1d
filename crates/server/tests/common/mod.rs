//! The service in-process on 127.0.0.1 with a clock the test moves, and the
//! HTTP calls the tests share.

#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use nubo_protocol::*;
use nubo_server::clock::Clock;
use nubo_server::{AgreementSource, RunningServer, ServerConfig};
use reqwest::{Client, Method, StatusCode};

pub mod backends;
use serde::de::DeserializeOwned;
use serde_json::json;

pub struct TestClock(pub AtomicI64);
impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct Env {
    pub server: RunningServer,
    pub http: Client,
    pub clock: Arc<TestClock>,
    /// What the service was started with, to start another instance on
    /// the same storage.
    pub config: ServerConfig,
    dir: tempfile::TempDir,
    pub s3: Option<backends::S3Server>,
}

/// What a test service keeps its data on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// SQLite and a chunk folder in the data folder.
    DataFolder,
    /// PostgreSQL (a fresh database) and an S3 server of its own.
    PostgresS3,
}

impl Storage {
    /// The suite runs once per backend: `make test` runs it again with
    /// NUBO_TEST_POSTGRES set, against PostgreSQL and an S3 server.
    pub fn from_env() -> Storage {
        if backends::postgres_url().is_some() {
            Storage::PostgresS3
        } else {
            Storage::DataFolder
        }
    }
}

pub async fn start(agreements: AgreementSource) -> Env {
    start_on(agreements, Storage::from_env()).await
}

/// A service's configuration for tests: on 127.0.0.1, with a clock the
/// test moves and no background jobs of its own.
fn test_config(dir: &std::path::Path, clock: Arc<TestClock>) -> ServerConfig {
    let mut cfg = ServerConfig::new(dir);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.access_ttl_secs = 600;
    cfg.clock = clock;
    // Tests run the background jobs themselves, on the clock they move.
    cfg.jobs_every = None;
    cfg
}

pub async fn start_on(agreements: AgreementSource, storage: Storage) -> Env {
    start_configured(storage, |cfg| cfg.agreements = agreements).await
}

/// The service on `storage`, its configuration changed by `change` first.
pub async fn start_configured(storage: Storage, change: impl FnOnce(&mut ServerConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(1_800_000_000)));
    let mut cfg = test_config(dir.path(), clock.clone());
    change(&mut cfg);
    let s3 = match storage {
        Storage::PostgresS3 => {
            cfg.database = Some(backends::fresh_database().await);
            cfg.database_ca = backends::postgres_ca();
            let s3 = backends::S3Server::start(dir.path()).await;
            s3.configure(&mut cfg);
            Some(s3)
        }
        Storage::DataFolder => None,
    };
    let accounts = cfg.clone();
    tokio::task::spawn_blocking(move || {
        for id in ["alice", "bob"] {
            nubo_server::add_account(&accounts, id, None, 1 << 30, "pw-of-the-test").unwrap();
        }
    })
    .await
    .unwrap();
    serve(cfg, clock, dir, s3).await
}

/// The service on a copy of the data folder `source` (one an earlier
/// version wrote): on the folder itself, or, when the suite runs on
/// PostgreSQL, moved there and into S3 by `nubo admin migrate` first.
pub async fn start_on_copy(source: &std::path::Path) -> Env {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(source, dir.path());
    let clock = Arc::new(TestClock(AtomicI64::new(1_800_000_000)));
    let mut cfg = test_config(dir.path(), clock.clone());
    let s3 = match Storage::from_env() {
        Storage::PostgresS3 => {
            let database = backends::fresh_database().await;
            let ca = backends::postgres_ca();
            let s3 = backends::S3Server::start(dir.path()).await;
            s3.configure(&mut cfg);
            nubo_server::migrate::run(
                &database,
                ca.as_deref(),
                Some(dir.path()),
                cfg.chunks.as_deref(),
                &cfg.s3,
            )
            .await
            .unwrap();
            cfg.database = Some(database);
            cfg.database_ca = ca;
            Some(s3)
        }
        Storage::DataFolder => None,
    };
    serve(cfg, clock, dir, s3).await
}

async fn serve(
    cfg: ServerConfig,
    clock: Arc<TestClock>,
    dir: tempfile::TempDir,
    s3: Option<backends::S3Server>,
) -> Env {
    let server = nubo_server::start(cfg.clone()).await.unwrap();
    Env {
        server,
        http: Client::new(),
        clock,
        config: cfg,
        dir,
        s3,
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

impl Env {
    /// The service's data folder (its database and chunk objects).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The files that hold the chunk store's objects under `kind`
    /// ("chunks" or "packs"), in the folder or in the S3 server's.
    pub fn chunk_objects(&self, kind: &str) -> Vec<std::path::PathBuf> {
        let top = match self.s3 {
            // The S3 server keeps an object at <bucket>/<key>.
            Some(_) => self.dir.path().join("s3/nubo/chunks"),
            None => self.dir.path().join("chunks"),
        };
        files_under(&top.join(kind))
    }

    /// Another account (the tests' password) with this quota.
    pub async fn add_account(&self, id: &str, quota: u64) {
        let (cfg, id) = (self.config.clone(), id.to_string());
        tokio::task::spawn_blocking(move || {
            nubo_server::add_account(&cfg, &id, None, quota, "pw-of-the-test").unwrap()
        })
        .await
        .unwrap();
    }

    /// Uploads one chunk by itself: the answer.
    pub async fn put_chunk(&self, token: &str, content: &[u8]) -> reqwest::Response {
        let hash = blake3::hash(content).to_hex().to_string();
        self.http
            .put(self.url(&format!("/v1/chunks/{hash}")))
            .bearer_auth(token)
            .body(content.to_vec())
            .send()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub async fn login(&self, who: &str) -> TokenResponse {
        let r = self
            .http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"login": who, "password": "pw-of-the-test", "device_name": "test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    pub async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn root(&self, token: &str) -> i64 {
        let info: AccountInfo = self
            .call(token, reqwest::Method::GET, "/v1/account", None)
            .await
            .json()
            .await
            .unwrap();
        info.root_id
    }

    /// Uploads chunks in one batch (`/v1/chunks/upload`): the answer.
    pub async fn upload_batch(&self, token: &str, chunks: &[&[u8]]) -> reqwest::Response {
        let hashes: Vec<String> = chunks
            .iter()
            .map(|c| blake3::hash(c).to_hex().to_string())
            .collect();
        let body = frames::encode(hashes.iter().zip(chunks).map(|(h, c)| (h.as_str(), *c)));
        self.http
            .post(self.url("/v1/chunks/upload"))
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `content` as one chunk and commits it as `name` under `parent`.
    pub async fn put_file(
        &self,
        token: &str,
        parent: i64,
        name: &str,
        content: &[u8],
        base: Option<(i64, i64)>,
    ) -> reqwest::Response {
        let service = self.server.url();
        self.put_file_at(&service, token, parent, name, content, base)
            .await
    }

    /// `put_file` that must succeed: the file's node.
    pub async fn new_file(
        &self,
        token: &str,
        parent: i64,
        name: &str,
        content: &[u8],
        base: Option<(i64, i64)>,
    ) -> Node {
        let r = self.put_file(token, parent, name, content, base).await;
        assert_eq!(r.status(), StatusCode::OK, "commit of {name}");
        r.json().await.unwrap()
    }

    /// `put_file` through the service at `service` (another instance).
    pub async fn put_file_at(
        &self,
        service: &str,
        token: &str,
        parent: i64,
        name: &str,
        content: &[u8],
        base: Option<(i64, i64)>,
    ) -> reqwest::Response {
        let hash = blake3::hash(content).to_hex().to_string();
        let r = self
            .http
            .put(format!("{service}/v1/chunks/{hash}"))
            .bearer_auth(token)
            .body(content.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let body = json!({
            "parent": parent, "name": name, "node": base.map(|b| b.0), "base_rev": base.map(|b| b.1),
            "size": content.len(), "hash": hash, "chunks": [{"hash": hash, "size": content.len()}], "mtime_ms": 0
        });
        self.http
            .post(format!("{service}/v1/nodes/commit"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// A chunk's name: the BLAKE3 hash of its bytes, in hex.
pub fn hash(content: &[u8]) -> String {
    blake3::hash(content).to_hex().to_string()
}

/// What the account page shows as used: the quota's measure.
pub async fn used(env: &Env, token: &str) -> u64 {
    let info: AccountInfo = env.ok(token, Method::GET, "/v1/account", None).await;
    info.used_bytes
}

/// Moves a node to the trash; it must succeed.
pub async fn delete(env: &Env, token: &str, id: i64) {
    let _: Node = env
        .ok(
            token,
            Method::POST,
            &format!("/v1/nodes/{id}/delete"),
            Some(json!({})),
        )
        .await;
}

/// The chunk of these bytes, as the account reads it: the answer.
pub async fn chunk(env: &Env, token: &str, content: &[u8]) -> reqwest::Response {
    env.call(
        token,
        Method::GET,
        &format!("/v1/chunks/{}", hash(content)),
        None,
    )
    .await
}

/// The service on a copy of the data folder of a service from before
/// chunks were kept per account (tests/fixtures/make-data-v9.py).
pub async fn start_on_data_v9() -> Env {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-v9");
    start_on_copy(&fixture).await
}

pub async fn error_code(r: reqwest::Response) -> ErrorCode {
    r.json::<ApiError>().await.unwrap().code
}

impl Env {
    /// A call that must succeed, decoded.
    pub async fn ok<T: DeserializeOwned>(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> T {
        let r = self.call(token, method, path, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    }

    /// The OpenAPI document the service serves.
    pub async fn openapi(&self) -> serde_json::Value {
        self.http
            .get(self.url("/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn advance(&self, secs: i64) {
        self.clock.0.fetch_add(secs, Ordering::SeqCst);
    }
}

/// Every file under `dir`, at any depth (none when it does not exist).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// The page as a browser gets it: its text, and the form token it set in
/// a cookie (and in the form).
pub struct Page {
    pub text: String,
    pub token: String,
}

pub async fn open_page(env: &Env, query: &str) -> (reqwest::header::HeaderMap, Page) {
    let r = env
        .http
        .get(env.url(&format!("/device{query}")))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (_, token) = cookie.split(';').next().unwrap().split_once('=').unwrap();
    let token = token.to_string();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    assert!(text.contains(&format!("name=\"form\" value=\"{token}\"")));
    (headers, Page { text, token })
}
