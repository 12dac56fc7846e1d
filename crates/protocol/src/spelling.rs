//! How a name that is not valid UTF-8 on a disk crosses the wire: each
//! byte that is not part of valid UTF-8 becomes one character of a reserved
//! private-use block (U+10FC80 + the byte's low 7 bits, for bytes
//! 0x80-0xFF). A valid name holding a character of that block is spelled
//! byte by byte too, so no two names share a spelling; every other valid
//! name is spelled as it is. A name's length limit is its length on disk
//! (`disk_len`), not its spelling's.

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

/// The spelling of a name's bytes.
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

/// The length of the name on disk, in bytes.
pub fn disk_len(name: &str) -> usize {
    name.chars()
        .map(|c| {
            if reserved(c).is_some() {
                1
            } else {
                c.len_utf8()
            }
        })
        .sum()
}

/// Whether a name holds reserved characters (its bytes on disk differ
/// from its spelling's).
pub fn is_spelled(name: &str) -> bool {
    name.chars().any(|c| reserved(c).is_some())
}

/// Whether `name` is a spelling `encode` makes (every other would name the
/// same bytes as some other spelling, and is refused).
pub fn is_canonical(name: &str) -> bool {
    !is_spelled(name) || encode(&decode(name)) == name
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
            assert_eq!(decode(&spelled), bytes, "{spelled:?}");
            assert_eq!(disk_len(&spelled), bytes.len());
            assert!(is_canonical(&spelled));
            assert!(!spelled.contains('/') && !spelled.contains('\0'));
        }
    }

    #[test]
    fn no_two_names_share_a_spelling() {
        // "é" as bytes and "é" spelled with reserved characters: only the
        // first is a spelling `encode` makes.
        let forged: String = [0xc3u8, 0xa9]
            .iter()
            .map(|b| char::from_u32(BASE + u32::from(b & 0x7f)).unwrap())
            .collect();
        assert_eq!(decode(&forged), "é".as_bytes());
        assert!(!is_canonical(&forged));
        assert!(is_canonical("é"));
    }
}
