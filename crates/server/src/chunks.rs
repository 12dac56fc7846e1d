//! Content-addressed chunk bytes, kept through `object_store` so that a local
//! folder and an S3 bucket are interchangeable. Which account may read which
//! chunk is the metadata store's business, not this one's.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

#[derive(Clone)]
pub struct ChunkStore {
    inner: Arc<dyn ObjectStore>,
}

/// A chunk name is a BLAKE3 hash in lower-case hex; nothing else reaches a path.
pub fn is_chunk_name(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn location(hash: &str) -> ObjectPath {
    ObjectPath::from(format!("chunks/{}/{}", &hash[..2], hash))
}

impl ChunkStore {
    pub fn local(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ChunkStore {
            inner: Arc::new(LocalFileSystem::new_with_prefix(dir)?),
        })
    }

    pub async fn contains(&self, hash: &str) -> anyhow::Result<bool> {
        match self.inner.head(&location(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn put(&self, hash: &str, bytes: Bytes) -> anyhow::Result<()> {
        if self.contains(hash).await? {
            return Ok(());
        }
        self.inner
            .put(&location(hash), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, hash: &str) -> anyhow::Result<Bytes> {
        Ok(self.inner.get(&location(hash)).await?.bytes().await?)
    }
}
