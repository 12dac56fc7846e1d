//! The storage the suite runs on besides the default (SQLite and a chunk
//! folder): a fresh database on the PostgreSQL server `make test` starts
//! (`NUBO_TEST_POSTGRES`), and an S3 server (s3s-fs) on loopback.

use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use nubo_server::ServerConfig;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

const ACCESS_KEY: &str = "nubo-test-key";
const SECRET_KEY: &str = "nubo-test-secret";
const BUCKET: &str = "nubo";

/// The PostgreSQL server to run on (a URL to a database the user may
/// create databases from), when the suite runs on PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var("NUBO_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The CA of the test server's certificate: the service reaches it over
/// TLS, verified, as it would a database on another machine.
pub fn postgres_ca() -> Option<std::path::PathBuf> {
    std::env::var_os("NUBO_TEST_POSTGRES_CA").map(Into::into)
}

/// A new, empty database on that server; its URL.
pub async fn fresh_database() -> String {
    let server = postgres_url().expect(
        "this test needs PostgreSQL: run it under scripts/with-postgres.sh (make test does)",
    );
    tokio::task::spawn_blocking(move || {
        let name = format!("nubo_test_{:016x}", rand::random::<u64>());
        let mut client = postgres::Client::connect(&server, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {server}: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&name);
        url.to_string()
    })
    .await
    .unwrap()
}

/// An S3 server on 127.0.0.1 keeping its objects under a folder.
pub struct S3Server {
    pub endpoint: String,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    pub async fn start(dir: &Path) -> S3Server {
        let root = dir.join("s3");
        // A bucket of s3s-fs is a folder under its root.
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(&root).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        S3Server { endpoint, task }
    }

    /// Points the service's chunks at this server.
    pub fn configure(&self, cfg: &mut ServerConfig) {
        cfg.chunks = Some(format!("s3://{BUCKET}/chunks"));
        cfg.s3.endpoint = Some(self.endpoint.clone());
        cfg.s3.region = Some("us-east-1".into());
        cfg.s3.access_key_id = Some(ACCESS_KEY.into());
        cfg.s3.secret_access_key = Some(SECRET_KEY.into());
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
