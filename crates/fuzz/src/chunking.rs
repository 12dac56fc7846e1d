//! Content cut into chunks: whatever the bytes and however the reader
//! splits them, the chunks cover the content exactly once, respect the size
//! bounds, hash right, and an insertion leaves every chunk before it alone.

use std::io::Read;

use arbitrary::{Arbitrary, Unstructured};
use nubo_engine::content::{digest, hash_bytes, Digest, MAX_CHUNK, MIN_CHUNK};

/// Hands out the content in the read sizes the input chose (a disk, a pipe
/// or a network file system may return any of them).
struct Jagged<'a> {
    data: &'a [u8],
    sizes: Vec<u16>,
    turn: usize,
}

impl Read for Jagged<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = if self.sizes.is_empty() {
            buf.len()
        } else {
            self.turn += 1;
            (self.sizes[self.turn % self.sizes.len()] as usize).max(1)
        };
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Up to 3 MiB from a seed: random, or long runs (the worst case for
/// content-defined cuts), as the input chose.
fn content(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let len = u.int_in_range(0..=3 * 1024 * 1024)?;
    let mut x = u64::arbitrary(u)? | 1;
    let runs = bool::arbitrary(u)?;
    Ok((0..len)
        .map(|i: usize| {
            if runs {
                ((i >> 16) & 0xff) as u8
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            }
        })
        .collect())
}

fn assert_covers(d: &Digest, data: &[u8]) {
    assert_eq!(d.size, data.len() as u64);
    assert_eq!(d.hash, hash_bytes(data));
    let mut at = 0u64;
    for (i, c) in d.chunks.iter().enumerate() {
        assert_eq!(
            c.offset,
            at,
            "chunk {i} does not start where {} ended",
            i.max(1) - 1
        );
        assert!(c.size <= MAX_CHUNK as u64, "chunk {i} is {} bytes", c.size);
        if i + 1 < d.chunks.len() {
            assert!(c.size >= MIN_CHUNK as u64, "chunk {i} is {} bytes", c.size);
        }
        let part = &data[c.offset as usize..(c.offset + c.size) as usize];
        assert_eq!(c.hash, hash_bytes(part), "chunk {i} hash");
        at += c.size;
    }
    assert_eq!(at, data.len() as u64);
}

pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(content) = content(&mut u) else {
        return;
    };
    let sizes: Vec<u16> = Vec::arbitrary(&mut u).unwrap_or_default();
    let whole = digest(content.as_slice()).expect("reading memory");
    assert_covers(&whole, &content);
    let jagged = digest(Jagged {
        data: &content,
        sizes,
        turn: 0,
    })
    .expect("reading memory");
    assert_eq!(jagged, whole, "short reads changed the chunks");

    // An insertion somewhere: chunks that end before it are untouched.
    let Ok(at) = u.int_in_range(0..=content.len()) else {
        return;
    };
    let inserted: Vec<u8> = Vec::arbitrary(&mut u).unwrap_or_default();
    let mut edited = content[..at].to_vec();
    edited.extend_from_slice(&inserted);
    edited.extend_from_slice(&content[at..]);
    let after = digest(edited.as_slice()).expect("reading memory");
    assert_covers(&after, &edited);
    for c in &whole.chunks {
        let end = c.offset + c.size;
        if end <= at as u64 && end < content.len() as u64 {
            assert!(
                after.chunks.contains(c),
                "the chunk at {} (before the insertion at {at}) changed",
                c.offset
            );
        }
    }
}
