//! The service in-process on 127.0.0.1 with a clock the test moves, and the
//! HTTP calls the tests share.

#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use nubo_protocol::*;
use nubo_server::clock::Clock;
use nubo_server::{AgreementSource, RunningServer, ServerConfig};
use reqwest::{Client, Method, StatusCode};
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
    dir: tempfile::TempDir,
}

pub async fn start(agreements: AgreementSource) -> Env {
    let dir = tempfile::tempdir().unwrap();
    for id in ["alice", "bob"] {
        nubo_server::add_account(dir.path(), id, None, 1 << 30, "pw-of-the-test").unwrap();
    }
    let clock = Arc::new(TestClock(AtomicI64::new(1_800_000_000)));
    let mut cfg = ServerConfig::new(dir.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.agreements = agreements;
    cfg.access_ttl_secs = 600;
    cfg.clock = clock.clone();
    let server = nubo_server::start(cfg).await.unwrap();
    Env {
        server,
        http: Client::new(),
        clock,
        dir,
    }
}

impl Env {
    /// The service's data folder (its database and chunk objects).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
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

    /// Uploads `content` as one chunk and commits it as `name` under `parent`.
    pub async fn put_file(
        &self,
        token: &str,
        parent: i64,
        name: &str,
        content: &[u8],
        base: Option<(i64, i64)>,
    ) -> reqwest::Response {
        let hash = blake3::hash(content).to_hex().to_string();
        let r = self
            .http
            .put(self.url(&format!("/v1/chunks/{hash}")))
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
        self.call(token, reqwest::Method::POST, "/v1/nodes/commit", Some(body))
            .await
    }
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
