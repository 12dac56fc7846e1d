//! Content-defined chunking (FastCDC) and BLAKE3 hashing. Chunk boundaries
//! follow the content, so an insertion in the middle of a large file changes
//! only the chunks around it. Memory stays bounded by the largest chunk per
//! core.

use std::io::{self, Read};
use std::sync::{Condvar, Mutex, OnceLock};

use fastcdc::v2020::FastCDC;

use crate::content_hash::ContentHash;

pub const MIN_CHUNK: u32 = 256 * 1024;
pub const AVG_CHUNK: u32 = 1024 * 1024;
pub const MAX_CHUNK: u32 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub hash: ContentHash,
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// BLAKE3 of the whole content.
    pub hash: ContentHash,
    pub size: u64,
    pub chunks: Vec<Chunk>,
}

pub fn hash_bytes(bytes: &[u8]) -> ContentHash {
    blake3::hash(bytes).into()
}

/// Cuts and hashes a stream in one pass.
pub fn digest(mut reader: impl Read) -> io::Result<Digest> {
    // Content no longer than the smallest chunk is one chunk, whatever it
    // holds; hashing it directly spares the 4 MiB zeroed buffer StreamCDC
    // sets up per stream, which was most of the cost of 10,000 small files.
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut reader)
        .take(u64::from(MIN_CHUNK) + 1)
        .read_to_end(&mut head)?;
    if head.len() <= MIN_CHUNK as usize {
        let hash = hash_bytes(&head);
        let size = head.len() as u64;
        let chunks = if head.is_empty() {
            vec![]
        } else {
            vec![Chunk {
                hash,
                offset: 0,
                size,
            }]
        };
        return Ok(Digest { hash, size, chunks });
    }
    cut(io::Cursor::new(head).chain(reader))
}

/// How many large files are cut at once in this process. Cutting is CPU
/// work, so more cuts than cores add only memory: eight transfers starting
/// on large files at once held eight buffers, a third of the engine's heap.
static CUTS: Slots = Slots::new();

/// Cuts a stream into FastCDC chunks (the same cuts as fastcdc's
/// `StreamCDC`) through one buffer, hashing each chunk where it lies.
/// (`StreamCDC` hands out each chunk as a new vector and zeroes its buffer
/// again after each: three copies of every byte, and an allocation per chunk.)
fn cut(mut reader: impl Read) -> io::Result<Digest> {
    let _turn = CUTS.take();
    let max = MAX_CHUNK as usize;
    // Room for one largest chunk: a cut needs `max` bytes ahead of it (or
    // the end). What is left after a cut moves to the front; a larger buffer
    // would move less but, freed, stays in glibc's arenas: at twice this
    // size the uploading engine's peak RSS on `mixed` rose by a fifth.
    let mut buf = vec![0u8; max];
    let (mut start, mut end, mut eof) = (0, 0, false);
    let mut whole = blake3::Hasher::new();
    let mut chunks = Vec::new();
    let mut offset = 0u64;
    loop {
        if !eof && end - start < max {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            while end < buf.len() {
                match reader.read(&mut buf[end..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => end += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if start == end {
            break;
        }
        let cdc = FastCDC::new(&buf[..end], MIN_CHUNK, AVG_CHUNK, MAX_CHUNK);
        while end - start >= max || (eof && start < end) {
            let (_, at) = cdc.cut(start, end - start);
            let data = &buf[start..at];
            whole.update(data);
            chunks.push(Chunk {
                hash: hash_bytes(data),
                offset,
                size: data.len() as u64,
            });
            offset += data.len() as u64;
            start = at;
        }
    }
    Ok(Digest {
        hash: whole.finalize().into(),
        size: offset,
        chunks,
    })
}

/// A counting semaphore for blocking threads: a cut runs on the blocking
/// pool, where waiting on a condition variable is what threads are for.
struct Slots {
    count: Mutex<Count>,
    freed: Condvar,
}

/// Slots taken, and threads waiting for one (what a test can wait for).
struct Count {
    taken: usize,
    waiting: usize,
}

struct Turn<'a>(&'a Slots);

impl Slots {
    const fn new() -> Self {
        Slots {
            count: Mutex::new(Count {
                taken: 0,
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn take(&self) -> Turn<'_> {
        static LIMIT: OnceLock<usize> = OnceLock::new();
        let limit =
            *LIMIT.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let mut count = self.lock();
        while count.taken >= limit {
            count.waiting += 1;
            count = self.freed.wait(count).unwrap_or_else(|e| e.into_inner());
            count.waiting -= 1;
        }
        count.taken += 1;
        Turn(self)
    }

    /// A panic while holding the lock cannot leave the count wrong (each
    /// field is changed in one step), so a poisoned lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Count> {
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.lock().taken -= 1;
        self.0.freed.notify_one();
    }
}

/// BLAKE3 of a whole stream, without cutting it. (blake3's own reader loop:
/// a zeroed buffer of our own per file was most of rehashing small files.)
pub fn hash_reader(reader: impl Read) -> io::Result<ContentHash> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(reader)?;
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    #[test]
    fn empty_content_has_no_chunks() {
        let d = digest(&[][..]).unwrap();
        assert!(d.chunks.is_empty());
        assert_eq!(d.hash, hash_bytes(b""));
    }

    /// The chunks fastcdc's own `StreamCDC` cuts, hashed: what every
    /// client and the service must agree on.
    fn reference(data: &[u8]) -> Digest {
        let chunks: Vec<Chunk> =
            fastcdc::v2020::StreamCDC::new(data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
                .map(|c| {
                    let c = c.unwrap();
                    Chunk {
                        hash: hash_bytes(&c.data),
                        offset: c.offset,
                        size: c.length as u64,
                    }
                })
                .collect();
        Digest {
            hash: hash_bytes(data),
            size: data.len() as u64,
            chunks,
        }
    }

    /// Hands out its bytes a few at a time, as a pipe or a network file
    /// system may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(100_003);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn content_of_any_size_is_cut_as_fastcdc_cuts_it() {
        let (m, x) = (MIN_CHUNK as usize, MAX_CHUNK as usize);
        let mut data = vec![0u8; 5 * x + 12_345];
        rand::rngs::StdRng::seed_from_u64(3).fill_bytes(&mut data);
        // Long runs of one byte find no cut, so chunks end at the largest
        // size: the buffer's edge cases.
        data[x..3 * x].fill(7);
        let sizes = [
            1,
            4096,
            m - 1,
            m,
            m + 1,
            2 * m,
            3 * m,
            x,
            x + 1,
            2 * x,
            2 * x + 1,
            3 * x + 17,
            data.len(),
        ];
        for len in sizes {
            let want = reference(&data[..len]);
            assert_eq!(digest(&data[..len]).unwrap(), want, "{len} bytes");
            assert_eq!(
                digest(Trickle(&data[..len])).unwrap(),
                want,
                "{len} bytes, read in pieces"
            );
            assert_eq!(want.size, len as u64);
        }
    }

    #[test]
    fn cuts_at_once_are_bounded_by_the_cores() {
        // Slots of this test's own: other tests' cuts take none of them.
        static SLOTS: Slots = Slots::new();
        let limit = std::thread::available_parallelism().map_or(1, |n| n.get());
        let turns: Vec<_> = (0..limit).map(|_| SLOTS.take()).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let extra = std::thread::spawn(move || {
            let _turn = SLOTS.take();
            tx.send(()).unwrap();
        });
        // Every slot is taken: the extra cut must wait for one. Wait until
        // it either waits or has gone through, however slowly its thread
        // starts, then see which (a bounded wait: 60 s for a hung thread).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while SLOTS.lock().waiting == 0 {
            assert!(
                rx.try_recv().is_err(),
                "a cut went through while every slot was taken"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "the extra cut neither waited nor went through"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(rx.try_recv().is_err(), "a waiting cut went through");
        drop(turns);
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("a freed slot lets the waiting cut go on");
        extra.join().unwrap();
    }

    #[test]
    fn an_insertion_changes_few_chunks() {
        let mut data = vec![0u8; 24 << 20];
        rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut data);
        let before = digest(&data[..]).unwrap();
        let mut edited = data.clone();
        let mid = edited.len() / 2;
        edited.splice(mid..mid, [42u8; 1024]);
        let after = digest(&edited[..]).unwrap();
        let old: std::collections::HashSet<_> = before.chunks.iter().map(|c| &c.hash).collect();
        let new = after
            .chunks
            .iter()
            .filter(|c| !old.contains(&c.hash))
            .count();
        assert!(before.chunks.len() >= 10, "{} chunks", before.chunks.len());
        assert!(new <= 3, "{new} of {} chunks changed", after.chunks.len());
        assert_eq!(after.size, data.len() as u64 + 1024);
    }
}
