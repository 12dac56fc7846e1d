//! Which names may cross the wire. The service refuses them on write, and the
//! client refuses them on read, so that nothing can escape a sync root.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    DotOrDotDot,
    /// Contains `/`: would address another folder.
    Separator,
    Nul,
    /// Longer than `limits::DISK_NAME_BYTES` on the disk.
    TooLong,
    /// Reserved characters that spell bytes another spelling names
    /// (`spelling::is_canonical`).
    NotASpelling,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameProblem::Empty => "the name is empty",
            NameProblem::DotOrDotDot => "`.` and `..` are not names",
            NameProblem::Separator => "the name contains `/`",
            NameProblem::Nul => "the name contains a NUL character",
            NameProblem::TooLong => "the name is longer than 255 bytes",
            NameProblem::NotASpelling => "the name spells its bytes in a way no client makes",
        })
    }
}

/// A name is one path component on every platform Nubo runs on. Its length
/// is that of the name on the disk it spells (`spelling`), so that any name
/// of up to 255 bytes on a disk can be synced, whatever its bytes.
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name == "." || name == ".." {
        return Err(NameProblem::DotOrDotDot);
    }
    if name.contains('/') {
        return Err(NameProblem::Separator);
    }
    if name.contains('\0') {
        return Err(NameProblem::Nul);
    }
    if crate::spelling::disk_len(name) > crate::limits::DISK_NAME_BYTES {
        return Err(NameProblem::TooLong);
    }
    if !crate::spelling::is_canonical(name) {
        return Err(NameProblem::NotASpelling);
    }
    Ok(())
}

/// Why Windows cannot hold a name that is otherwise valid, if it cannot.
/// The client reports such names on Windows instead of mangling them.
pub fn windows_problem(name: &str) -> Option<&'static str> {
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    let stem = name.split('.').next().unwrap_or(name);
    if RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem.trim_end()))
    {
        return Some("it is a reserved device name on Windows");
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("Windows drops trailing dots and spaces");
    }
    if name
        .chars()
        .any(|c| matches!(c, '<' | '>' | ':' | '"' | '\\' | '|' | '?' | '*') || (c as u32) < 32)
    {
        return Some("it contains a character Windows forbids");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_escape_a_folder() {
        for bad in ["", ".", "..", "../x", "a/b", "/etc", "a\0b"] {
            assert!(check_name(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["a", ".hidden", "..x", "文件.txt", "CON", "a\\b"] {
            assert!(check_name(good).is_ok(), "{good:?} must be allowed");
        }
    }

    #[test]
    fn bounds_a_name_by_the_bytes_it_stands_for_on_the_disk() {
        use crate::spelling::encode;
        // 255 bytes on the disk, 1020 in the spelling: the longest there is.
        let latin1 = encode(&[0xe9; 255]);
        assert_eq!(latin1.len(), crate::limits::NAME_BYTES);
        assert_eq!(check_name(&latin1), Ok(()));
        assert_eq!(check_name(&encode(&[0xe9; 256])), Err(NameProblem::TooLong));
        assert_eq!(check_name(&"x".repeat(256)), Err(NameProblem::TooLong));
        // Reserved characters that spell "é", which is spelled as it is.
        let forged = "\u{10FCC3}\u{10FCA9}";
        assert_eq!(check_name(forged), Err(NameProblem::NotASpelling));
    }

    #[test]
    fn knows_what_windows_cannot_hold() {
        for bad in ["CON", "con.txt", "LPT1", "trailing.", "a:b", "a\\b"] {
            assert!(windows_problem(bad).is_some(), "{bad:?}");
        }
        for good in ["CONSOLE", "readme.txt", "中文"] {
            assert!(windows_problem(good).is_none(), "{good:?}");
        }
    }
}

/// The name a restored item takes when its old name is taken, so a restore
/// never overwrites: `report (restored 2026-11-23).txt`, then
/// `report (restored 2026-11-23 2).txt`. A folder keeps any dot in its name.
/// The stem is shortened (at a character's edge) where the whole would
/// pass the 255 bytes a name may hold on the disk.
pub fn restored_name(name: &str, is_dir: bool, date: &str, n: usize) -> String {
    use crate::spelling::{disk_len, disk_len_of};
    let counter = if n > 1 {
        format!(" {n}")
    } else {
        String::new()
    };
    let mark = format!(" (restored {date}{counter})");
    let room = crate::limits::DISK_NAME_BYTES.saturating_sub(disk_len(&mark));
    let (stem, ext) = match name.rfind('.') {
        // An extension that leaves no room for a stem is no extension.
        Some(i) if i > 0 && !is_dir && disk_len(&name[i..]) < room / 2 => name.split_at(i),
        _ => (name, ""),
    };
    let keep = room - disk_len(ext);
    let mut used = 0;
    let cut = stem
        .char_indices()
        .find(|&(_, c)| {
            used += disk_len_of(c);
            used > keep
        })
        .map_or(stem.len(), |(i, _)| i);
    format!("{}{mark}{ext}", &stem[..cut])
}

#[cfg(test)]
mod restored_name_tests {
    use super::restored_name;

    #[test]
    fn keeps_the_extension_of_files_only() {
        assert_eq!(
            restored_name("report.txt", false, "2026-11-23", 1),
            "report (restored 2026-11-23).txt"
        );
        assert_eq!(
            restored_name("report.txt", false, "2026-11-23", 3),
            "report (restored 2026-11-23 3).txt"
        );
        assert_eq!(
            restored_name("v1.2", true, "2026-11-23", 1),
            "v1.2 (restored 2026-11-23)"
        );
        assert_eq!(
            restored_name(".bashrc", false, "2026-11-23", 1),
            ".bashrc (restored 2026-11-23)"
        );
    }

    #[test]
    fn a_long_name_is_shortened_to_stay_a_name() {
        for name in [
            format!("{}.txt", "é".repeat(125)),
            "x".repeat(255),
            format!("a.{}", "e".repeat(250)),
        ] {
            assert!(super::check_name(&name).is_ok());
            for n in [1, 12] {
                let r = restored_name(&name, false, "2026-11-23", n);
                assert!(super::check_name(&r).is_ok(), "{r} ({} bytes)", r.len());
                assert!(r.contains("(restored 2026-11-23"), "{r}");
            }
        }
        let r = restored_name(&format!("{}.txt", "é".repeat(125)), false, "2026-11-23", 1);
        assert!(r.ends_with(" (restored 2026-11-23).txt"), "{r}");
    }

    #[test]
    fn a_name_spelled_for_its_bytes_is_measured_on_the_disk() {
        use crate::spelling::{disk_len, encode, is_canonical};
        // Latin-1 names: each byte is 4 in the spelling.
        let short = format!("{}.txt", encode(&[0xe9; 100]));
        let r = restored_name(&short, false, "2026-11-23", 1);
        assert!(r.starts_with(&encode(&[0xe9; 100])), "kept whole: {r}");
        let long = encode(&[0xe9; 255]);
        // Reserved characters cut in the middle still spell what they cut.
        let reserved = encode("\u{10FC80}".repeat(63).as_bytes());
        for name in [short, long, reserved] {
            assert!(super::check_name(&name).is_ok(), "{name}");
            for n in [1, 12] {
                let r = restored_name(&name, false, "2026-11-23", n);
                assert!(
                    super::check_name(&r).is_ok(),
                    "{r} ({} bytes)",
                    disk_len(&r)
                );
                assert!(is_canonical(&r), "{r}");
            }
        }
    }
}
