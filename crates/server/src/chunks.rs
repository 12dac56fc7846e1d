//! Content-addressed chunk bytes, kept through `object_store` so that a local
//! folder and an S3 bucket (`--chunks s3://…`) are interchangeable. Which
//! account may read which chunk, and where a packed chunk lies, is the
//! metadata store's business.
//!
//! A chunk uploaded on its own (a large file's) is an object of its own. The
//! chunks of a batch (many small files) go into one pack object: one object
//! per chunk made creating files (inodes, on a local disk; requests, on S3)
//! most of the service's work in an upload of many small files.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload};

use crate::store::{PackedAt, PackedChunk};

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

/// A pack is named by the BLAKE3 hash of its bytes, so writing it twice is harmless.
fn pack_location(name: &str) -> ObjectPath {
    ObjectPath::from(format!("packs/{}/{}", &name[..2], name))
}

/// How to reach an S3-compatible store, beyond what its URL says. Whatever
/// is left out comes from the usual AWS environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, …).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Another provider than AWS, or a server of one's own (MinIO, Garage, …).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl ChunkStore {
    pub fn local(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ChunkStore {
            inner: Arc::new(LocalFileSystem::new_with_prefix(dir)?),
        })
    }

    /// An S3 bucket, `s3://bucket/prefix` (the prefix may be left out).
    pub fn s3(url: &str, settings: &S3Settings) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("{url} is not a chunk store URL: {e}"))?;
        if parsed.scheme() != "s3" {
            anyhow::bail!(
                "{url}: chunks go to a local folder (leave --chunks out) or to s3://bucket/prefix"
            );
        }
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| anyhow::anyhow!("{url} names no bucket: write s3://bucket/prefix"))?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                // Servers of one's own rarely have a DNS name per bucket.
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &settings.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot use {url} for chunks: {e}"))?;
        let prefix = parsed.path().trim_matches('/');
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(PrefixStore::new(store, prefix))
        };
        Ok(ChunkStore { inner })
    }

    /// Copies every object (chunks and packs) into `to`, under the same
    /// names; one already there is left as it is (names are content
    /// hashes). How many were copied.
    pub async fn copy_all_to(&self, to: &ChunkStore) -> anyhow::Result<u64> {
        use futures::StreamExt;
        let mut listing = self.inner.list(None);
        let mut copied = 0;
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            match to.inner.head(&meta.location).await {
                Ok(_) => continue,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let bytes = self.inner.get(&meta.location).await?.bytes().await?;
            to.inner
                .put(&meta.location, PutPayload::from(bytes))
                .await?;
            copied += 1;
        }
        Ok(copied)
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

    /// Writes these chunks side by side as one pack object and says where
    /// each lies. The caller checked their hashes and left out duplicates.
    pub async fn put_pack(&self, chunks: &[(String, Bytes)]) -> anyhow::Result<Vec<PackedChunk>> {
        let mut pack = BytesMut::with_capacity(chunks.iter().map(|(_, b)| b.len()).sum());
        let mut placed = Vec::with_capacity(chunks.len());
        for (hash, bytes) in chunks {
            placed.push((hash, pack.len() as u64, bytes.len() as u64));
            pack.extend_from_slice(bytes);
        }
        let pack = pack.freeze();
        let name = blake3::hash(&pack).to_hex().to_string();
        self.inner
            .put(&pack_location(&name), PutPayload::from(pack))
            .await?;
        Ok(placed
            .into_iter()
            .map(|(hash, start, size)| PackedChunk {
                hash: hash.clone(),
                at: PackedAt {
                    pack: name.clone(),
                    start,
                    size,
                },
            })
            .collect())
    }

    /// One chunk, from its pack when `packed` says it lies in one.
    pub async fn get(&self, hash: &str, packed: Option<&PackedAt>) -> anyhow::Result<Bytes> {
        match packed {
            None => Ok(self.inner.get(&location(hash)).await?.bytes().await?),
            Some(at) => Ok(self
                .inner
                .get_range(&pack_location(&at.pack), at.start..at.start + at.size)
                .await?),
        }
    }

    /// Several chunks in the order asked; those of one pack are read with
    /// one request for all their ranges. None when they hold more than
    /// `max_bytes`: reading stops there, so an answer's size stays bounded.
    pub async fn get_many(
        &self,
        hashes: &[String],
        packed: &HashMap<String, PackedAt>,
        max_bytes: u64,
    ) -> anyhow::Result<Option<Vec<Bytes>>> {
        let mut total: u64 = hashes
            .iter()
            .filter_map(|h| packed.get(h))
            .map(|at| at.size)
            .sum();
        if total > max_bytes {
            return Ok(None);
        }
        let mut got: Vec<Option<Bytes>> = vec![None; hashes.len()];
        let mut by_pack: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, hash) in hashes.iter().enumerate() {
            match packed.get(hash) {
                Some(at) => by_pack.entry(at.pack.as_str()).or_default().push(i),
                None => {
                    let bytes = self.get(hash, None).await?;
                    total += bytes.len() as u64;
                    if total > max_bytes {
                        return Ok(None);
                    }
                    got[i] = Some(bytes);
                }
            }
        }
        for (pack, wanted) in by_pack {
            let ranges: Vec<_> = wanted
                .iter()
                .map(|&i| {
                    let at = &packed[&hashes[i]];
                    at.start..at.start + at.size
                })
                .collect();
            let bytes = self.inner.get_ranges(&pack_location(pack), &ranges).await?;
            for (i, b) in wanted.into_iter().zip(bytes) {
                got[i] = Some(b);
            }
        }
        got.into_iter()
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("a pack answered fewer ranges than asked"))
    }
}
