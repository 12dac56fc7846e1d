//! Names on the disk are bytes (on Linux any bytes but `/` and NUL); names
//! on the service are UTF-8. A name that is not valid UTF-8 is synced under
//! a reversible spelling (`nubo_protocol::spelling`, shared with the service,
//! which bounds a name by the bytes it stands for), so that another Linux PC
//! gets the very same bytes. This module turns names and paths on the disk
//! into spellings and back.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

pub use nubo_protocol::spelling::{decode, encode, is_canonical, needs_spelling};

/// A name on the disk as the service spells it.
pub fn from_os(name: &OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        encode(name.as_bytes())
    }
    #[cfg(not(unix))]
    {
        name.to_string_lossy().into_owned()
    }
}

/// The disk's name for a spelling.
pub fn to_os(name: &str) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(decode(name))
    }
    #[cfg(not(unix))]
    {
        OsString::from(name)
    }
}

/// `root` joined with a relative path the engine spells (`/`-separated).
pub fn join(root: &Path, rel: &str) -> PathBuf {
    if !needs_spelling(rel) {
        return root.join(rel);
    }
    let mut p = root.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        p.push(to_os(part));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_name_by_name() {
        let p = join(Path::new("/r"), &format!("d/{}", encode(b"x\xff")));
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(p.as_os_str().as_bytes(), b"/r/d/x\xff");
    }
}
