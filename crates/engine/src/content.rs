//! Content-defined chunking (FastCDC) and BLAKE3 hashing. Chunk boundaries
//! follow the content, so an insertion in the middle of a large file changes
//! only the chunks around it. Memory stays bounded by the largest chunk.

use std::io::{self, Read};

use fastcdc::v2020::StreamCDC;

pub const MIN_CHUNK: u32 = 256 * 1024;
pub const AVG_CHUNK: u32 = 1024 * 1024;
pub const MAX_CHUNK: u32 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub hash: String,
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// BLAKE3 of the whole content.
    pub hash: String,
    pub size: u64,
    pub chunks: Vec<Chunk>,
}

pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
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
                hash: hash.clone(),
                offset: 0,
                size,
            }]
        };
        return Ok(Digest { hash, size, chunks });
    }
    cut(io::Cursor::new(head).chain(reader))
}

fn cut(reader: impl Read) -> io::Result<Digest> {
    let mut whole = blake3::Hasher::new();
    let mut chunks = Vec::new();
    let mut size = 0;
    for chunk in StreamCDC::new(reader, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK) {
        let chunk = chunk.map_err(|e| match e {
            fastcdc::v2020::Error::IoError(e) => e,
            other => io::Error::other(other.to_string()),
        })?;
        whole.update(&chunk.data);
        chunks.push(Chunk {
            hash: hash_bytes(&chunk.data),
            offset: chunk.offset,
            size: chunk.length as u64,
        });
        size += chunk.length as u64;
    }
    Ok(Digest {
        hash: whole.finalize().to_hex().to_string(),
        size,
        chunks,
    })
}

/// BLAKE3 of a whole stream, without cutting it. (blake3's own reader loop:
/// a zeroed buffer of our own per file was most of rehashing small files.)
pub fn hash_reader(reader: impl Read) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(reader)?;
    Ok(hasher.finalize().to_hex().to_string())
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

    #[test]
    fn content_around_the_smallest_chunk_is_cut_as_fastcdc_cuts_it() {
        let mut data = vec![0u8; MIN_CHUNK as usize * 3];
        rand::rngs::StdRng::seed_from_u64(3).fill_bytes(&mut data);
        let m = MIN_CHUNK as usize;
        for len in [1, 4096, m - 1, m, m + 1, 2 * m, 3 * m] {
            let ours = digest(&data[..len]).unwrap();
            assert_eq!(ours, cut(&data[..len]).unwrap(), "{len} bytes");
            assert_eq!(ours.size, len as u64);
            assert_eq!(ours.hash, hash_bytes(&data[..len]));
        }
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
