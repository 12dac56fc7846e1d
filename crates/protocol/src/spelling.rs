//! Names on the disk are bytes (on Linux any bytes but `/` and NUL); names
//! on the service are UTF-8. A name that is not valid UTF-8 is synced under
//! a reversible spelling, so that another Linux PC gets the very same bytes:
//! each byte that is not part of valid UTF-8 becomes one character of a
//! reserved private-use block (U+10FC80 + the byte's low 7 bits, for bytes
//! 0x80-0xFF).
//!
//! No valid name can take another's spelling: a valid name that itself holds
//! a character of that block is spelled with each of that character's bytes
//! reserved too (it is read back the same). Every name of valid UTF-8 without
//! such characters, which is every name anyone writes, is spelled as it is.
//! A name that is not a spelling this module makes (its reserved characters
//! spell bytes that are valid UTF-8) is refused by the service and the
//! client alike (`names::check_name`).
//!
//! A reserved character takes 4 bytes in UTF-8 and stands for 1 byte on the
//! disk, so a spelling is up to 4 times as long as the name it stands for
//! (`limits::NAME_BYTES` against `limits::DISK_NAME_BYTES`).

const BASE: u32 = 0x10FC80;

fn reserved(c: char) -> Option<u8> {
    let v = c as u32;
    (BASE..BASE + 0x80)
        .contains(&v)
        .then(|| 0x80 | (v - BASE) as u8)
}

fn reserve(byte: u8, out: &mut String) {
    debug_assert!(byte >= 0x80);
    out.push(char::from_u32(BASE + u32::from(byte & 0x7F)).expect("a valid char"));
}

/// The service's spelling of a name's bytes.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if reserved(c).is_some() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    reserve(b, &mut out);
                }
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            reserve(b, &mut out);
        }
    }
    out
}

/// The bytes a spelling stands for.
pub fn decode(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for c in name.chars() {
        match reserved(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

/// How many bytes a character of a spelling stands for on the disk.
pub fn disk_len_of(c: char) -> usize {
    if reserved(c).is_some() {
        1
    } else {
        c.len_utf8()
    }
}

/// How many bytes the name a spelling stands for takes on the disk.
pub fn disk_len(name: &str) -> usize {
    name.chars().map(disk_len_of).sum()
}

/// Whether a name holds reserved characters (it spells a name that is not
/// valid UTF-8, or one that holds a reserved character itself).
pub fn needs_spelling(name: &str) -> bool {
    name.chars().any(|c| reserved(c).is_some())
}

/// Whether `name` is a spelling `encode` makes (every other would name the
/// same bytes as some other spelling, and is refused).
pub fn is_canonical(name: &str) -> bool {
    !needs_spelling(name) || encode(&decode(name)) == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_spelled_as_they_are() {
        for name in [
            "report.txt",
            "café",
            "caf\u{e9}",
            "cafe\u{301}",
            "日本語.md",
            "a b",
            "",
        ] {
            assert_eq!(encode(name.as_bytes()), name);
            assert!(is_canonical(name));
            assert_eq!(disk_len(name), name.len());
        }
    }

    #[test]
    fn any_bytes_come_back_as_they_were() {
        let samples: Vec<Vec<u8>> = vec![
            b"latin1-caf\xe9.txt".to_vec(),
            vec![0xff, 0xfe, b'x'],
            vec![0xc3],
            vec![0xf4, 0x8f, 0xb2, 0x80], // the first reserved character itself
            "mixed \u{10FC80}\u{10FCFF} é".as_bytes().to_vec(),
            (0x80..=0xff).collect(),
        ];
        for bytes in samples {
            let spelled = encode(&bytes);
            assert!(std::str::from_utf8(spelled.as_bytes()).is_ok());
            assert_eq!(decode(&spelled), bytes, "{spelled:?}");
            assert_eq!(disk_len(&spelled), bytes.len(), "{spelled:?}");
            assert!(is_canonical(&spelled));
            assert!(!spelled.contains('/') && !spelled.contains('\0'));
        }
    }

    #[test]
    fn a_spelling_is_at_most_four_times_its_name() {
        // Bytes that are not UTF-8, and reserved characters themselves, are
        // the longest to spell.
        let invalid = vec![0xe9u8; 255];
        let reserved_chars = "\u{10FC80}".repeat(63).into_bytes();
        for bytes in [invalid, reserved_chars] {
            let spelled = encode(&bytes);
            assert!(spelled.len() <= 4 * bytes.len(), "{}", spelled.len());
            assert_eq!(disk_len(&spelled), bytes.len());
        }
        assert_eq!(encode(&[0xe9u8; 255]).len(), 1020);
    }

    #[test]
    fn no_two_names_share_a_spelling() {
        // "é" as bytes and "é" spelled with reserved characters: only the
        // first is a spelling this module makes.
        let forged: String = [0xc3u8, 0xa9]
            .iter()
            .map(|b| char::from_u32(BASE + u32::from(b & 0x7f)).unwrap())
            .collect();
        assert_eq!(decode(&forged), "é".as_bytes());
        assert!(!is_canonical(&forged));
        assert!(is_canonical("é"));
    }
}
