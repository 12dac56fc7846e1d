//! A BLAKE3 content hash as the 32 bytes it is. The trees hold one per file
//! (three trees per file), so a hash is a `Copy` value, not the 64-character
//! hex string the service speaks: hex only at the edges (the wire, the state
//! database, logs).

use std::fmt;
use std::str::FromStr;

/// BLAKE3 of a file's (or a chunk's) content.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentHash([u8; 32]);

/// Text that is not a content hash: 64 lower-case hex digits, as the
/// service and the state database write one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{text:?} is not a content hash (64 lower-case hex digits)")]
pub struct BadHash {
    /// What was given instead.
    pub text: String,
    /// What the hex decoder found wrong (`None`: not 64 characters, or
    /// upper-case digits).
    #[source]
    pub source: Option<const_hex::FromHexError>,
}

impl ContentHash {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentHash(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<blake3::Hash> for ContentHash {
    fn from(h: blake3::Hash) -> Self {
        ContentHash(*h.as_bytes())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // blake3's own hex, on the stack.
        f.write_str(blake3::Hash::from_bytes(self.0).to_hex().as_str())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ContentHash {
    type Err = BadHash;

    /// Lower-case only: every hash parsed is written back as it came.
    fn from_str(s: &str) -> Result<Self, BadHash> {
        let bad = |source| BadHash {
            text: s.to_string(),
            source,
        };
        // The decoder would take a "0x" before the digits, and upper case.
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad(None));
        }
        // const-hex, not hex: three trees of a million files parse three
        // million of these a round (hex's decoder was a fifth of a round's
        // CPU, bench/notes.md stop 23).
        const_hex::decode_to_array(s)
            .map(ContentHash)
            .map_err(|e| bad(Some(e)))
    }
}

impl TryFrom<&str> for ContentHash {
    type Error = BadHash;

    fn try_from(s: &str) -> Result<Self, BadHash> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_as_blake3_writes_it() {
        let b = blake3::hash(b"some content");
        let h = ContentHash::from(b);
        assert_eq!(h.to_string(), b.to_hex().as_str());
        assert_eq!(format!("{h:?}"), b.to_hex().as_str());
        assert_eq!(b.to_hex().as_str().parse::<ContentHash>(), Ok(h));
        assert_eq!(ContentHash::try_from(b.to_hex().as_str()), Ok(h));
    }

    #[test]
    fn what_is_not_a_hash_is_refused_with_what_it_was() {
        let good = blake3::hash(b"x").to_hex().to_string();
        let upper = good.to_uppercase();
        let cases = [
            "",
            "abc",
            &good[..63],
            &format!("{good}0"),
            &format!("{}g", &good[..63]),
            &upper,
            &format!("0x{}", &good[..62]),
            &format!("0x{good}"),
        ];
        for text in cases {
            let err = text.parse::<ContentHash>().unwrap_err();
            assert_eq!(err.text, text);
            assert!(err.to_string().contains("not a content hash"), "{err}");
        }
        let err = "zz".repeat(32).parse::<ContentHash>().unwrap_err();
        assert!(matches!(
            err.source,
            Some(const_hex::FromHexError::InvalidHexCharacter { c: 'z', index: 0 })
        ));
    }
}
