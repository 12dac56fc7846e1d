//! Small files in batches: a file no larger than the smallest chunk is one
//! chunk named by the file's own hash, so a batch of them needs one "which
//! are missing" call, one upload of the missing chunks and one multi-file
//! commit (or one fetch) and one state-database transaction, where each file
//! alone cost three requests and a transaction. Each file still succeeds or
//! fails on its own.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::content::MIN_CHUNK;
use crate::fs::TempSink;
use nubo_protocol::Node;

/// Files up to this size move in batches.
const SMALL: u64 = MIN_CHUNK as u64;
/// A batch's limits: well below the service's body limit (16 MiB) and
/// `MAX_BATCH`, and small enough that progress still moves often.
const BATCH_FILES: usize = 256;
const BATCH_BYTES: u64 = 8 << 20;

/// One finished file: its path, its bytes (for progress) and its outcome.
pub(super) type Outcome = (String, u64, Result<(), OpError>);

pub(super) enum Job {
    One(Op),
    Uploads(Vec<Op>),
    Downloads(Vec<Op>),
}

/// The transfers as jobs, made as they are taken (the plan is not copied
/// into them all at once): each large file alone, the small ones in
/// batches, uploads and downloads apart.
pub(super) fn jobs<'c>(
    ctx: &'c FolderCtx,
    mut transfers: impl Iterator<Item = Op> + 'c,
) -> impl Iterator<Item = Job> + 'c {
    let (mut ups, mut downs) = (Batch::default(), Batch::default());
    std::iter::from_fn(move || {
        for op in transfers.by_ref() {
            let size = bytes_of(ctx, &op);
            let full = match &op {
                Op::Upload { path, .. }
                    if ctx
                        .local
                        .get(path)
                        .is_some_and(|l| l.kind == Kind::File && l.stat.size <= SMALL) =>
                {
                    ups.add(op, size).map(Job::Uploads)
                }
                Op::Download { remote, .. }
                    if remote.kind == Kind::File && remote.size <= SMALL =>
                {
                    downs.add(op, size).map(Job::Downloads)
                }
                _ => Some(Job::One(op)),
            };
            if full.is_some() {
                return full;
            }
        }
        let last = std::mem::take(&mut ups.ops);
        if !last.is_empty() {
            return Some(Job::Uploads(last));
        }
        let last = std::mem::take(&mut downs.ops);
        (!last.is_empty()).then_some(Job::Downloads(last))
    })
}

/// Small files gathered until a batch is full.
#[derive(Default)]
struct Batch {
    ops: Vec<Op>,
    bytes: u64,
}

impl Batch {
    /// Adds `op`; the batch it closed, where it did not fit.
    fn add(&mut self, op: Op, size: u64) -> Option<Vec<Op>> {
        if !self.ops.is_empty()
            && (self.ops.len() >= BATCH_FILES || self.bytes + size > BATCH_BYTES)
        {
            let full = std::mem::replace(&mut self.ops, vec![op]);
            self.bytes = size;
            return Some(full);
        }
        self.bytes += size;
        self.ops.push(op);
        None
    }
}

pub(super) async fn run_job(ctx: &FolderCtx, job: Job) -> Vec<Outcome> {
    match job {
        Job::One(op) => {
            let (path, bytes) = (op.path().to_string(), bytes_of(ctx, &op));
            vec![(path, bytes, run(ctx, op).await)]
        }
        Job::Uploads(ops) => upload(ctx, ops).await,
        Job::Downloads(ops) => download(ctx, ops).await,
    }
}

/// A file read whole and unchanged while it was read.
struct Read {
    rel: String,
    base: Option<(NodeId, i64)>,
    stat: FileStat,
    data: Vec<u8>,
    digest: Digest,
}

async fn upload(ctx: &FolderCtx, ops: Vec<Op>) -> Vec<Outcome> {
    let mut out = vec![];
    let mut wanted = vec![];
    for op in ops {
        if let Op::Upload { path, base } = op {
            match ctx.stat(&path) {
                Ok(Some((Kind::File, stat))) if stat.size <= SMALL => {
                    wanted.push((path, base, stat))
                }
                Ok(_) => {
                    // Grown past a batch file, or gone: the next round replans it.
                    let e = OpError::Stale(Stale::Changed(path.clone()));
                    out.push((path, 0, Err(e)));
                }
                Err(e) => out.push((path, 0, Err(e))),
            }
        }
    }
    // Every file of the batch read in one trip to the blocking pool.
    let fs = ctx.fs.clone();
    let jobs: Vec<_> = wanted
        .iter()
        .map(|(rel, _, stat)| (ctx.abs(rel), stat.size))
        .collect();
    let reads = match blocking(move || {
        Ok(jobs
            .into_iter()
            .map(|(abs, size)| fs.read_at(&abs, 0, size))
            .collect::<Vec<_>>())
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return fail_all(out, wanted.into_iter().map(|w| w.0), e),
    };
    let mut ready = vec![];
    for ((rel, base, stat), data) in wanted.into_iter().zip(reads) {
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                out.push((rel, 0, Err(e.into())));
                continue;
            }
        };
        match ctx.stat(&rel) {
            Ok(Some((_, now))) if now == stat => {}
            Ok(_) => {
                let e = OpError::Stale(Stale::ChangedWhileSent(rel.clone()));
                out.push((rel, 0, Err(e)));
                continue;
            }
            Err(e) => {
                out.push((rel, 0, Err(e)));
                continue;
            }
        }
        // Cut from the bytes already read: the file is not read again.
        let digest = match crate::content::digest(&data[..]) {
            Ok(d) => d,
            Err(e) => {
                out.push((rel, 0, Err(e.into())));
                continue;
            }
        };
        ready.push(Read {
            rel,
            base,
            stat,
            data,
            digest,
        });
    }
    if ready.is_empty() {
        return out;
    }

    let hashes: Vec<String> = ready
        .iter()
        .filter(|r| r.stat.size > 0)
        .map(|r| r.digest.hash)
        .collect::<HashSet<_>>()
        .into_iter()
        .map(|h| h.to_string())
        .collect();
    let missing: HashSet<ContentHash> = if hashes.is_empty() {
        HashSet::new()
    } else {
        match ctx.remote.missing_chunks(&hashes).await {
            Ok(m) => hashes_of(m).collect(),
            Err(e) => return fail_all(out, ready.into_iter().map(|r| r.rel), e.into()),
        }
    };
    let mut sent = HashSet::new();
    let mut chunks = vec![];
    for r in &mut ready {
        if missing.contains(&r.digest.hash) && sent.insert(r.digest.hash) {
            ctx.limits.up.acquire(r.stat.size).await;
            // Moved, not copied: only its digest is needed after.
            chunks.push((r.digest.hash.to_string(), std::mem::take(&mut r.data)));
        }
    }
    if !chunks.is_empty() {
        if let Err(e) = ctx.remote.put_chunks(&chunks).await {
            return fail_all(out, ready.into_iter().map(|r| r.rel), e.into());
        }
    }
    drop(chunks);

    let mut reqs = vec![];
    let mut committing = vec![];
    for r in ready {
        let parent_id = match ctx.remote_dir(parent(&r.rel)).await {
            Ok(id) => id,
            Err(e) => {
                out.push((r.rel, 0, Err(e)));
                continue;
            }
        };
        reqs.push(commit_request(
            parent_id, &r.rel, r.base, &r.digest, &r.stat,
        ));
        committing.push(r);
    }
    if reqs.is_empty() {
        return out;
    }
    let results = match ctx.remote.commit_many(&reqs).await {
        Ok(r) => r,
        Err(e) => return fail_all(out, committing.into_iter().map(|r| r.rel), e.into()),
    };

    let mut done = vec![];
    for (r, result) in committing.into_iter().zip(results) {
        match result {
            Ok(node) => {
                let (local, synced) = agreed(r.stat, r.digest.hash, node.id, node.rev);
                done.push(Done {
                    rel: r.rel,
                    node: Some(node),
                    local,
                    synced,
                });
            }
            Err(e) => out.push((r.rel, 0, Err(e.into()))),
        }
    }
    record_all(ctx, |path| RecordedChange::Uploaded { path }, done, out)
}

async fn download(ctx: &FolderCtx, ops: Vec<Op>) -> Vec<Outcome> {
    let files: Vec<(String, RemoteEntry, Expect)> = ops
        .into_iter()
        .filter_map(|op| match op {
            Op::Download {
                path,
                remote,
                expect,
            } => Some((path, remote, expect)),
            _ => None,
        })
        .collect();
    let hashes: Vec<ContentHash> = files
        .iter()
        .filter(|(_, r, _)| r.size > 0)
        .filter_map(|(_, r, _)| r.hash)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let total: u64 = files.iter().map(|(_, r, _)| r.size).sum();
    ctx.limits.down.acquire(total).await;
    let got = if hashes.is_empty() {
        Ok(vec![])
    } else {
        let names: Vec<String> = hashes.iter().map(ContentHash::to_string).collect();
        ctx.remote.get_chunks(&names).await
    };
    let chunks: HashMap<ContentHash, Vec<u8>> = match got {
        Ok(datas) => hashes.into_iter().zip(datas).collect(),
        // A file the service holds in other chunks than its own hash (sent
        // by another client's chunker): each file the long way.
        Err(e) if e.code() == Some(ErrorCode::NotFound) => {
            let mut out = vec![];
            for (rel, remote, expect) in files {
                let r = super::download(ctx, &rel, &remote, &expect).await;
                out.push((rel, remote.size, r));
            }
            return out;
        }
        Err(e) => return fail_all(vec![], files.into_iter().map(|f| f.0), e.into()),
    };

    let mut out = vec![];
    let mut written = vec![];
    for (rel, remote, expect) in files {
        let data = remote
            .hash
            .and_then(|h| chunks.get(&h))
            .map_or(&[][..], |d| d.as_slice());
        match write_temp(ctx, &rel, &remote, data) {
            Ok(w) => written.push((rel, remote, expect, w)),
            Err(e) => out.push((rel, 0, Err(e))),
        }
    }
    // Durable before any is renamed into place, as one file alone is; the
    // batch's files together (`fs::finish_all`).
    let temps = written.iter_mut().filter_map(|w| w.3.temp.take()).collect();
    let finished = match blocking(move || Ok(crate::fs::finish_all(temps))).await {
        Ok(f) => f,
        Err(e) => {
            for (_, _, _, w) in &written {
                let _ = ctx.fs.remove_file(&w.path);
            }
            return fail_all(out, written.into_iter().map(|w| w.0), e);
        }
    };
    let mut done = vec![];
    for ((rel, remote, expect, w), finished) in written.into_iter().zip(finished) {
        let placed = finished
            .map_err(OpError::from)
            .and_then(|()| place(ctx, &rel, &w.path, &expect))
            .and_then(|()| Ok(ctx.stat(&rel)?.map(|(_, s)| s).unwrap_or_default()));
        match placed {
            Ok(stat) => {
                let (local, synced) = agreed(stat, w.hash, remote.node, remote.rev);
                done.push(Done {
                    rel,
                    node: None,
                    local,
                    synced,
                });
            }
            Err(e) => {
                let _ = ctx.fs.remove_file(&w.path);
                out.push((rel, 0, Err(e)));
            }
        }
    }
    record_all(ctx, |path| RecordedChange::Downloaded { path }, done, out)
}

/// A file of a batch that made it, and its node when the service made one.
struct Done {
    rel: String,
    node: Option<Node>,
    local: LocalEntry,
    synced: SyncedEntry,
}

/// Records every finished file of a batch in one transaction, a line of
/// recent changes each; the transaction's outcome is each file's.
fn record_all(
    ctx: &FolderCtx,
    what: fn(String) -> RecordedChange,
    done: Vec<Done>,
    mut out: Vec<Outcome>,
) -> Vec<Outcome> {
    let mut changes = vec![];
    for d in &done {
        let change = what(d.rel.clone());
        tracing::info!(folder = ctx.folder, ?change);
        if let Some(node) = &d.node {
            changes.push(Change::Remote(node));
        }
        changes.extend([
            Change::Local(&d.rel, &d.local),
            Change::Synced(&d.rel, &d.synced),
            Change::Recorded {
                change,
                stamp: &ctx.stamp,
            },
        ]);
    }
    let recorded = ctx.db.record(ctx.folder, &changes).map_err(OpError::from);
    drop(changes);
    out.extend(
        done.into_iter()
            .map(|d| (d.rel, d.local.stat.size, recorded.clone())),
    );
    out
}

/// A small file's bytes in a temp file beside it, not yet durable; the
/// disk room it needs held until it is placed.
struct Written<'a> {
    temp: Option<Box<dyn TempSink>>,
    path: PathBuf,
    /// The bytes' hash, checked against the service's.
    hash: ContentHash,
    _room: Room<'a>,
}

/// Checks a small file's bytes against its hash and writes them to a temp
/// file in its folder, as `download` does for any file.
fn write_temp<'a>(
    ctx: &'a FolderCtx,
    rel: &str,
    remote: &RemoteEntry,
    data: &[u8],
) -> Result<Written<'a>, OpError> {
    let hash = hash_bytes(data);
    if data.len() as u64 != remote.size || Some(hash) != remote.hash {
        return Err(OpError::Refused(Refusal::HashMismatch(rel.to_string())));
    }
    ctx.local_dir(parent(rel))?;
    let dir = ctx.abs(parent(rel));
    let room = ctx.reserve_room(&dir, rel, remote.size)?;
    let mut temp = ctx.new_temp(&dir)?;
    let path = temp.path().to_path_buf();
    let written = temp
        .write_all(data)
        .and_then(|()| as_the_writer_had_it(temp.as_mut(), remote));
    if let Err(e) = written {
        let _ = ctx.fs.remove_file(&path);
        return Err(e.into());
    }
    Ok(Written {
        temp: Some(temp),
        path,
        hash,
        _room: room,
    })
}

/// The same error for every file of a batch whose shared step failed.
fn fail_all(
    mut out: Vec<Outcome>,
    paths: impl IntoIterator<Item = String>,
    e: OpError,
) -> Vec<Outcome> {
    out.extend(paths.into_iter().map(|p| (p, 0, Err(e.clone()))));
    out
}
