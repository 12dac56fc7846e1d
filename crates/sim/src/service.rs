//! The service, in process: the real metadata store (SQLite, the same code
//! `nubo serve` runs) and a chunk map, behind the engine's `Remote` trait,
//! with faults injected at the request boundary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nubo_engine::remote::{Remote, RemoteError, RemoteResult};
use nubo_protocol::*;
use nubo_server::clock::Clock as _;
use nubo_server::store::{
    AccountKey, Accounts, ChunkRecords, Nodes, SqliteStore, StoreError, Trash,
};
use rand::rngs::StdRng;
use rand::Rng;

use crate::clock::SimClock;

pub struct SimService {
    /// The store of the running service (another one after a restore).
    store: Mutex<Arc<SqliteStore>>,
    /// Where it keeps it: `meta-N.sqlite` in `dir`.
    db: Mutex<std::path::PathBuf>,
    pub chunks: Mutex<HashMap<String, Vec<u8>>>,
    pub account: AccountKey,
    pub root: NodeId,
    pub clock: Arc<SimClock>,
    dir: tempfile::TempDir,
    /// Copies made of the database (backups and restores), for their names.
    copies: std::sync::atomic::AtomicUsize,
}

/// A copy of the service's data folder, as its operator's backup holds it.
pub struct Backup {
    db: std::path::PathBuf,
    chunks: HashMap<String, Vec<u8>>,
}

impl SimService {
    pub fn new(clock: Arc<SimClock>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("meta-0.sqlite");
        let store = SqliteStore::open(&db, 50)?;
        let row = store
            .create_account("sim", None, "unused", u64::MAX / 4, clock.now())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        store
            .begin_history(clock.now())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(SimService {
            store: Mutex::new(Arc::new(store)),
            db: Mutex::new(db),
            chunks: Mutex::default(),
            account: row.key,
            root: row.root_id,
            clock,
            dir,
            copies: Default::default(),
        })
    }

    pub fn store(&self) -> Arc<SqliteStore> {
        self.store.lock().unwrap().clone()
    }

    /// The operator backs the service up (its database and its chunks).
    pub fn backup(&self) -> anyhow::Result<Backup> {
        let n = self.copies.fetch_add(1, Ordering::SeqCst);
        let to = self.dir.path().join(format!("backup-{n}.sqlite"));
        let from = self.db.lock().unwrap().clone();
        rusqlite::Connection::open(&from)?.execute("VACUUM INTO ?1", [to.to_str().unwrap()])?;
        Ok(Backup {
            db: to,
            chunks: self.chunks.lock().unwrap().clone(),
        })
    }

    /// The operator puts an older backup back and starts the service
    /// again: everything after it is gone from the service.
    pub fn restore(&self, backup: &Backup) -> anyhow::Result<()> {
        let n = self.copies.fetch_add(1, Ordering::SeqCst);
        let db = self.dir.path().join(format!("meta-{n}.sqlite"));
        std::fs::copy(&backup.db, &db)?;
        let store = SqliteStore::open(&db, 50)?;
        store
            .begin_history(self.clock.now())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        *self.store.lock().unwrap() = Arc::new(store);
        *self.db.lock().unwrap() = db;
        *self.chunks.lock().unwrap() = backup.chunks.clone();
        Ok(())
    }

    pub fn device(&self, name: &str) -> i64 {
        self.store()
            .create_device(self.account, name, "sim", self.clock.now())
            .expect("a device can be made")
    }

    /// Keeps chunks as the service does: each must hash to its name, and
    /// none is recorded unless all do.
    fn store_chunks(&self, chunks: &[(String, Vec<u8>)]) -> Result<(), ApiError> {
        let mut refs = Vec::new();
        for (hash, data) in chunks {
            if blake3::hash(data).to_hex().as_str() != hash {
                return Err(ApiError::new(
                    ErrorCode::HashMismatch,
                    "bytes do not hash to the name",
                ));
            }
            refs.push(ChunkRef {
                hash: hash.clone(),
                size: data.len() as u64,
            });
        }
        let mut store = self.chunks.lock().unwrap();
        for (hash, data) in chunks {
            store.insert(hash.clone(), data.clone());
        }
        drop(store);
        Ok(self.store().add_chunks(self.account, &refs, &[])?)
    }

    fn load_chunks(&self, hashes: &[String]) -> Result<Vec<Vec<u8>>, ApiError> {
        let store = self.chunks.lock().unwrap();
        hashes
            .iter()
            .map(|h| {
                store
                    .get(h)
                    .cloned()
                    .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such chunk"))
            })
            .collect()
    }

    /// The live tree: path -> content (folders as None).
    pub fn tree(&self) -> std::collections::BTreeMap<String, Option<Vec<u8>>> {
        self.live()
            .into_values()
            .map(|(path, id, kind)| {
                let content = match kind {
                    NodeKind::Dir => None,
                    NodeKind::File => Some(self.content(id)),
                };
                (path, content)
            })
            .collect()
    }

    /// Every live node (it and all its folders not deleted): id -> path,
    /// id and kind.
    pub fn live(&self) -> std::collections::BTreeMap<NodeId, (String, NodeId, NodeKind)> {
        let mut nodes = Vec::new();
        let mut cursor = 0;
        loop {
            let page = self
                .store()
                .changes(self.account, cursor, 0, 5000)
                .expect("the feed reads");
            nodes.extend(page.nodes);
            cursor = page.cursor;
            if !page.has_more {
                break;
            }
        }
        let by_id: HashMap<NodeId, &Node> = nodes.iter().map(|n| (n.id, n)).collect();
        let mut out = std::collections::BTreeMap::new();
        for n in nodes.iter().filter(|n| !n.deleted && n.parent.is_some()) {
            // Its path, if every ancestor is live.
            let mut parts = vec![n.name.clone()];
            let mut up = n.parent;
            let mut live = true;
            while let Some(p) = up {
                if p == self.root {
                    break;
                }
                match by_id.get(&p) {
                    Some(a) if !a.deleted => {
                        parts.push(a.name.clone());
                        up = a.parent;
                    }
                    _ => {
                        live = false;
                        break;
                    }
                }
            }
            if live {
                parts.reverse();
                out.insert(n.id, (parts.join("/"), n.id, n.kind));
            }
        }
        out
    }

    fn content(&self, id: NodeId) -> Vec<u8> {
        let m = self.store().manifest(self.account, id).expect("a manifest");
        let chunks = self.chunks.lock().unwrap();
        m.chunks
            .iter()
            .flat_map(|c| chunks.get(&c.hash).cloned().unwrap_or_default())
            .collect()
    }

    /// Every content hash the service still holds: live, in the trash, or as
    /// an earlier version.
    pub fn kept_hashes(&self) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            let page = self
                .store()
                .changes(self.account, cursor, 0, 5000)
                .expect("feed");
            for n in &page.nodes {
                if n.kind == NodeKind::File {
                    out.insert(n.hash.clone());
                    if let Ok(vs) = self.store().versions(self.account, n.id) {
                        out.extend(vs.into_iter().map(|v| v.hash));
                    }
                }
            }
            cursor = page.cursor;
            if !page.has_more {
                break;
            }
        }
        out
    }
}

/// Faults at the request boundary, drawn from the run's random source.
pub struct Faults {
    pub rng: Mutex<StdRng>,
    /// Per mille of requests lost before the service applied them.
    pub lost_before: AtomicU64,
    /// Per mille of requests lost after the service applied them.
    pub lost_after: AtomicU64,
    /// Requests left until this client crashes (0: no crash planned).
    pub crash_in: AtomicU64,
    pub crashed: AtomicBool,
    pub crash_signal: tokio::sync::Notify,
}

impl Faults {
    pub fn new(rng: StdRng) -> Self {
        Faults {
            rng: Mutex::new(rng),
            lost_before: AtomicU64::new(0),
            lost_after: AtomicU64::new(0),
            crash_in: AtomicU64::new(0),
            crashed: AtomicBool::new(false),
            crash_signal: tokio::sync::Notify::new(),
        }
    }

    pub fn quiet(&self) {
        self.lost_before.store(0, Ordering::SeqCst);
        self.lost_after.store(0, Ordering::SeqCst);
        self.crash_in.store(0, Ordering::SeqCst);
    }

    fn roll(&self, per_mille: &AtomicU64) -> bool {
        let p = per_mille.load(Ordering::SeqCst);
        p > 0 && self.rng.lock().unwrap().gen_range(0..1000) < p
    }
}

pub struct SimRemote {
    pub service: Arc<SimService>,
    pub device: i64,
    pub faults: Arc<Faults>,
}

fn lost() -> RemoteError {
    RemoteError::network(
        nubo_engine::report::NetCause::Broken,
        "the simulated connection dropped",
    )
}

impl SimRemote {
    /// Every request passes here: maybe crash the client (never answers),
    /// maybe lose it before the service sees it, or after.
    async fn call<T, E: Into<ApiError>>(
        &self,
        apply: impl FnOnce(&SimService) -> Result<T, E>,
    ) -> RemoteResult<T> {
        let left = self.faults.crash_in.load(Ordering::SeqCst);
        if left == 1 {
            self.faults.crashed.store(true, Ordering::SeqCst);
            self.faults.crash_signal.notify_one();
            std::future::pending::<()>().await;
        } else if left > 1 {
            self.faults.crash_in.store(left - 1, Ordering::SeqCst);
        }
        // Let other transfers of this client run in between, as on a network.
        tokio::task::yield_now().await;
        if self.faults.roll(&self.faults.lost_before) {
            return Err(lost());
        }
        // The store's refusals as the service's HTTP layer answers them.
        let out = apply(&self.service).map_err(|e| RemoteError::Api(e.into()));
        if self.faults.roll(&self.faults.lost_after) {
            return Err(lost());
        }
        out
    }
}

#[async_trait]
impl Remote for SimRemote {
    async fn account(&self) -> RemoteResult<AccountInfo> {
        self.call(|s| {
            Ok::<_, StoreError>(AccountInfo {
                account_id: "sim".into(),
                root_id: s.root,
                quota_bytes: u64::MAX / 4,
                used_bytes: s.store().used_bytes(s.account)?,
            })
        })
        .await
    }
    async fn changes(&self, cursor: i64, known: i64) -> RemoteResult<ChangesResponse> {
        self.call(|s| s.store().changes(s.account, cursor, known, 1000))
            .await
    }
    async fn mkdir(&self, parent: NodeId, name: &str) -> RemoteResult<Node> {
        self.call(|s| s.store().mkdir(s.account, parent, name, s.clock.now()))
            .await
    }
    async fn commit(&self, req: &CommitRequest) -> RemoteResult<Node> {
        let device = self.device;
        self.call(|s| s.store().commit(s.account, device, req, s.clock.now()))
            .await
    }
    async fn move_node(&self, id: NodeId, parent: NodeId, name: &str) -> RemoteResult<Node> {
        self.call(|s| {
            s.store()
                .move_node(s.account, id, parent, name, s.clock.now())
        })
        .await
    }
    async fn delete(&self, id: NodeId, req: &DeleteRequest) -> RemoteResult<Node> {
        let device = self.device;
        self.call(|s| {
            s.store()
                .delete_node(s.account, device, id, req, s.clock.now())
        })
        .await
    }
    async fn manifest(&self, id: NodeId) -> RemoteResult<Manifest> {
        self.call(|s| s.store().manifest(s.account, id)).await
    }
    async fn missing_chunks(&self, hashes: &[String]) -> RemoteResult<Vec<String>> {
        self.call(|s| s.store().missing_chunks(s.account, hashes))
            .await
    }
    async fn put_chunk(&self, hash: &str, data: Vec<u8>) -> RemoteResult<()> {
        self.call(|s| s.store_chunks(&[(hash.to_string(), data)]))
            .await
    }
    async fn commit_many(&self, reqs: &[CommitRequest]) -> RemoteResult<Vec<RemoteResult<Node>>> {
        let device = self.device;
        let out = self
            .call(|s| {
                s.store()
                    .commit_many(s.account, device, reqs, s.clock.now())
            })
            .await?;
        Ok(out
            .into_iter()
            .map(|r| r.map_err(|e| RemoteError::Api(e.into())))
            .collect())
    }
    async fn put_chunks(&self, chunks: &[(String, Vec<u8>)]) -> RemoteResult<()> {
        self.call(|s| s.store_chunks(chunks)).await
    }
    async fn get_chunks(&self, hashes: &[String]) -> RemoteResult<Vec<Vec<u8>>> {
        self.call(|s| s.load_chunks(hashes)).await
    }
    async fn get_chunk(&self, hash: &str) -> RemoteResult<Vec<u8>> {
        self.call(|s| s.load_chunks(&[hash.to_string()]).map(|mut c| c.remove(0)))
            .await
    }
}
