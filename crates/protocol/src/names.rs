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
    TooLong,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameProblem::Empty => "the name is empty",
            NameProblem::DotOrDotDot => "`.` and `..` are not names",
            NameProblem::Separator => "the name contains `/`",
            NameProblem::Nul => "the name contains a NUL character",
            NameProblem::TooLong => "the name is longer than 255 bytes",
        })
    }
}

/// A name is one path component on every platform Nubo runs on.
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
    if name.len() > 255 {
        return Err(NameProblem::TooLong);
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
/// pass the 255 bytes a name may hold.
pub fn restored_name(name: &str, is_dir: bool, date: &str, n: usize) -> String {
    let counter = if n > 1 {
        format!(" {n}")
    } else {
        String::new()
    };
    let mark = format!(" (restored {date}{counter})");
    let room = crate::limits::NAME_BYTES.saturating_sub(mark.len());
    let (stem, ext) = match name.rfind('.') {
        // An extension that leaves no room for a stem is no extension.
        Some(i) if i > 0 && !is_dir && name.len() - i < room / 2 => name.split_at(i),
        _ => (name, ""),
    };
    let mut cut = stem.len().min(room - ext.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
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
}
