//! Chunk bytes, kept through `object_store` so that a local folder and an
//! S3 bucket (`--chunks s3://…`) are interchangeable. Which account may read
//! which chunk, and where its copy lies, is the metadata store's business
//! (`account_chunks`).
//!
//! Every account's chunks are its own objects, under `accounts/<key>/`:
//! storing content that another account already stored writes it again,
//! exactly as new content, so that no one learns by timing what others
//! hold. Each write gets a name no other write uses, so that a later
//! garbage collection can remove the object a row named without racing a
//! new upload of the same chunk. A chunk uploaded on its own (a large
//! file's) is an object of its own; the chunks of a batch (many small
//! files) go side by side into one pack object: one object per chunk made
//! creating files (inodes, on a local disk; requests, on S3) most of the
//! service's work in an upload of many small files.
//!
//! Chunks stored before storage per account stay where they are
//! (`chunks/<hh>/<hash>`, `packs/<hh>/<name>`), shared by the accounts
//! that uploaded them, and are read from there.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload};

use crate::store::{AccountKey, ChunkPlace, ObjectRange, PlacedChunk, StoredObject};

#[derive(Clone)]
pub struct ChunkStore {
    inner: Arc<dyn ObjectStore>,
    /// The folder of a local store: each object written there is made
    /// readable by this user only.
    folder: Option<std::path::PathBuf>,
}

/// Objects removed at once when an erasure removes many.
const REMOVALS_AT_ONCE: usize = 16;

/// A chunk name is a BLAKE3 hash in lower-case hex; nothing else reaches a path.
pub fn is_chunk_name(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A name no other write uses: 128 random bits, hex.
fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A new object for one chunk of `account`.
fn own_chunk(account: AccountKey, hash: &str) -> String {
    format!(
        "accounts/{account}/chunks/{}/{hash}.{}",
        &hash[..2],
        nonce()
    )
}

/// A new pack object of `account`.
fn own_pack(account: AccountKey) -> String {
    let name = nonce();
    format!("accounts/{account}/packs/{}/{name}", &name[..2])
}

/// A shared pack (stored before chunks were kept per account).
fn shared_pack(name: &str) -> ObjectPath {
    ObjectPath::from(format!("packs/{}/{name}", &name[..2]))
}

/// A shared chunk alone (stored before chunks were kept per account).
fn shared_chunk(hash: &str) -> ObjectPath {
    ObjectPath::from(format!("chunks/{}/{hash}", &hash[..2]))
}

/// Where a chunk's bytes are read from: an object and a range of it.
fn range_of(place: &ChunkPlace) -> (ObjectPath, Range<u64>) {
    match place {
        ChunkPlace::Own(at) => (
            ObjectPath::from(at.object.as_str()),
            at.start..at.start + at.size,
        ),
        ChunkPlace::Shared { hash, pack, size } => match pack {
            Some((name, start)) => (shared_pack(name), *start..start + size),
            None => (shared_chunk(hash), 0..*size),
        },
    }
}

/// The path of an object the metadata store names.
fn path_of(object: &StoredObject) -> ObjectPath {
    match object {
        StoredObject::Own(name) => ObjectPath::from(name.as_str()),
        StoredObject::SharedChunk(hash) => shared_chunk(hash),
        StoredObject::SharedPack(name) => shared_pack(name),
    }
}

/// What a removal freed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Freed {
    pub objects: u64,
    pub bytes: u64,
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
    /// A folder (0700) of the data folder.
    pub fn local(dir: &Path) -> anyhow::Result<Self> {
        let mut folder = std::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
        folder.create(dir)?;
        Ok(ChunkStore {
            inner: Arc::new(LocalFileSystem::new_with_prefix(dir)?),
            folder: Some(dir.to_path_buf()),
        })
    }

    /// Writes an object new; in a local folder, readable by this user only.
    async fn put_object(&self, object: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.inner
            .put(&ObjectPath::from(object), PutPayload::from(bytes))
            .await?;
        #[cfg(unix)]
        if let Some(folder) = &self.folder {
            use std::os::unix::fs::PermissionsExt;
            let file = folder.join(object);
            tokio::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).await?;
        }
        Ok(())
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
        Ok(ChunkStore {
            inner,
            folder: None,
        })
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

    /// Writes one chunk of `account` as a new object of its own.
    pub async fn put(
        &self,
        account: AccountKey,
        hash: &str,
        bytes: Bytes,
    ) -> anyhow::Result<ObjectRange> {
        let object = own_chunk(account, hash);
        let size = bytes.len() as u64;
        self.put_object(&object, bytes).await?;
        Ok(ObjectRange {
            object,
            start: 0,
            size,
        })
    }

    /// Writes chunks of `account` side by side as one new pack object and
    /// says where each lies. The caller checked their hashes and left out
    /// duplicates.
    pub async fn put_pack(
        &self,
        account: AccountKey,
        chunks: &[(String, Bytes)],
    ) -> anyhow::Result<Vec<PlacedChunk>> {
        let mut pack = BytesMut::with_capacity(chunks.iter().map(|(_, b)| b.len()).sum());
        let mut placed = Vec::with_capacity(chunks.len());
        let object = own_pack(account);
        for (hash, bytes) in chunks {
            placed.push(PlacedChunk {
                hash: hash.clone(),
                at: ObjectRange {
                    object: object.clone(),
                    start: pack.len() as u64,
                    size: bytes.len() as u64,
                },
            });
            pack.extend_from_slice(bytes);
        }
        self.put_object(&object, pack.freeze()).await?;
        Ok(placed)
    }

    /// Removes an object no row names: written for chunks the metadata
    /// store then did not record (refused, or another upload of them came
    /// first), or named by rows an erasure deleted. Best effort: what is
    /// left behind is only unreachable bytes.
    pub async fn remove(&self, object: &str) {
        if let Err(e) = self.inner.delete(&ObjectPath::from(object)).await {
            tracing::warn!("cannot remove the object {object}: {e}");
        }
    }

    /// Removes objects no chunk row needs any more (garbage collection, and
    /// the erasures of the account lifecycle: `Privacy::delete_content`,
    /// `delete_account`), a few at a time, each measured first. Best
    /// effort, like `remove`: one already gone or that cannot be removed
    /// is not counted.
    pub async fn remove_unused(&self, objects: &[StoredObject]) -> Freed {
        use futures::StreamExt;
        // Owned paths: a closure over borrowed items makes the future not
        // Send for every lifetime, which the handlers need.
        let paths: Vec<ObjectPath> = objects.iter().map(path_of).collect();
        futures::stream::iter(paths)
            .map(|path| self.remove_measured(path))
            .buffer_unordered(REMOVALS_AT_ONCE)
            .fold(Freed::default(), |freed, bytes| async move {
                match bytes {
                    Some(bytes) => Freed {
                        objects: freed.objects + 1,
                        bytes: freed.bytes + bytes,
                    },
                    None => freed,
                }
            })
            .await
    }

    /// Removes one object: its size, or None when it was not there or
    /// could not be removed.
    async fn remove_measured(&self, object: ObjectPath) -> Option<u64> {
        let size = match self.inner.head(&object).await {
            Ok(meta) => meta.size,
            Err(object_store::Error::NotFound { .. }) => return None,
            Err(e) => {
                tracing::warn!("cannot look at the object {object}: {e}");
                return None;
            }
        };
        match self.inner.delete(&object).await {
            Ok(()) => Some(size),
            Err(e) => {
                tracing::warn!("cannot remove the object {object}: {e}");
                None
            }
        }
    }

    /// The names of every account's objects (`accounts/`) last written
    /// before `before` (Unix seconds), as the store lists them.
    pub fn account_objects_before(
        &self,
        before: i64,
    ) -> futures::stream::BoxStream<'static, anyhow::Result<String>> {
        use futures::{StreamExt, TryStreamExt};
        self.inner
            .list(Some(&ObjectPath::from("accounts")))
            .try_filter_map(move |m| async move {
                Ok((m.last_modified.timestamp() < before).then(|| m.location.to_string()))
            })
            .map_err(anyhow::Error::from)
            .boxed()
    }

    /// Removes every object of a cancelled account: all of
    /// `accounts/<key>/`, including any written for an upload the store
    /// never recorded. Best effort, like `remove`; how many went.
    pub async fn remove_account(&self, account: AccountKey) -> u64 {
        use futures::{StreamExt, TryStreamExt};
        let prefix = ObjectPath::from(format!("accounts/{account}"));
        let listed = self
            .inner
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .boxed();
        let removed = self.inner.delete_stream(listed);
        let (gone, failed) = removed
            .fold((0u64, None), |(n, failed), r| async move {
                match r {
                    Ok(_) => (n + 1, failed),
                    Err(e) => (n, Some(e.to_string())),
                }
            })
            .await;
        if let Some(e) = failed {
            tracing::warn!("cannot remove every object of account {account}: {e}");
        }
        gone
    }

    /// One chunk, from where it lies.
    pub async fn get(&self, place: &ChunkPlace) -> anyhow::Result<Bytes> {
        let (object, range) = range_of(place);
        Ok(self.inner.get_range(&object, range).await?)
    }

    /// Several chunks in the order asked; those of one object are read with
    /// one request for all their ranges. None when they hold more than
    /// `max_bytes`, before anything is read, so an answer's size stays
    /// bounded.
    pub async fn get_many(
        &self,
        places: &[ChunkPlace],
        max_bytes: u64,
    ) -> anyhow::Result<Option<Vec<Bytes>>> {
        if places.iter().map(ChunkPlace::size).sum::<u64>() > max_bytes {
            return Ok(None);
        }
        let mut got: Vec<Option<Bytes>> = vec![None; places.len()];
        let mut by_object: HashMap<ObjectPath, Vec<(usize, Range<u64>)>> = HashMap::new();
        for (i, place) in places.iter().enumerate() {
            let (object, range) = range_of(place);
            by_object.entry(object).or_default().push((i, range));
        }
        for (object, wanted) in by_object {
            let ranges: Vec<_> = wanted.iter().map(|(_, r)| r.clone()).collect();
            let bytes = self.inner.get_ranges(&object, &ranges).await?;
            for ((i, _), b) in wanted.into_iter().zip(bytes) {
                got[i] = Some(b);
            }
        }
        got.into_iter()
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("an object answered fewer ranges than asked"))
    }
}
