//! Several chunks in one body (`POST /v1/chunks/upload`, the answer of
//! `POST /v1/chunks/fetch`): for each chunk its name (64 lower-case hex
//! characters), its length (8 bytes, big-endian), then its bytes.
//!
//! A small file is one chunk; moving small files one request each made a
//! sync of many of them a matter of round trips, not of bytes.

use std::ops::Range;

/// Characters in a chunk's name: BLAKE3, hex.
pub const NAME_LEN: usize = 64;
const HEAD: usize = NAME_LEN + 8;

/// The body holding `chunks`, in order.
pub fn encode<'a>(chunks: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in chunks {
        debug_assert_eq!(name.len(), NAME_LEN);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_be_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// Each chunk's name and where its bytes are in `body`, in order; an error
/// that says where the body stopped making sense.
pub fn decode(body: &[u8]) -> Result<Vec<(String, Range<usize>)>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let Some(head) = body.get(at..at + HEAD) else {
            return Err(format!(
                "the body ends inside the header of chunk {} (byte {at})",
                out.len() + 1
            ));
        };
        let name = std::str::from_utf8(&head[..NAME_LEN])
            .map_err(|_| format!("chunk {} has a name that is not text", out.len() + 1))?;
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[NAME_LEN..]);
        let len = u64::from_be_bytes(len);
        let start = at + HEAD;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= body.len())
            .ok_or_else(|| {
                format!(
                    "chunk {} says it holds {len} bytes, but the body ends before that",
                    out.len() + 1
                )
            })?;
        out.push((name.to_string(), start..end));
        at = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_back_as_they_went() {
        let a = "a".repeat(NAME_LEN);
        let b = "b".repeat(NAME_LEN);
        let body = encode([(a.as_str(), &b"first"[..]), (b.as_str(), &b""[..])]);
        let parts = decode(&body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].0.as_str(), &body[parts[0].1.clone()]),
            (a.as_str(), &b"first"[..])
        );
        assert_eq!((parts[1].0.as_str(), parts[1].1.len()), (b.as_str(), 0));
        assert!(decode(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_cut_or_lying_body_is_refused() {
        let a = "a".repeat(NAME_LEN);
        let body = encode([(a.as_str(), &b"0123456789"[..])]);
        for cut in [1, NAME_LEN, HEAD, body.len() - 1] {
            assert!(decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = body.clone();
        huge[NAME_LEN..HEAD].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(decode(&huge).unwrap_err().contains("ends before"));
    }
}
