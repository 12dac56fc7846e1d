//! Names on the disk are bytes (on Linux any bytes but `/` and NUL); names
//! on the service are UTF-8. A name that is not valid UTF-8 is synced under
//! a reversible spelling (`nubo_protocol::spelling`), so that another Linux
//! PC gets the very same bytes. This module turns disk names and paths into
//! spellings and back.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

pub use nubo_protocol::spelling::{decode, encode, is_canonical};

/// Whether a name needs a spelling of its own (it holds a reserved
/// character, so its bytes on disk differ from the string).
pub fn needs_spelling(name: &str) -> bool {
    nubo_protocol::spelling::is_spelled(name)
}

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

    /// Found in review: a name in an old encoding (GBK, 32 characters: 64
    /// bytes on disk) is spelled in 256 bytes; its limit is its length on
    /// disk, so the service takes it.
    #[test]
    fn a_legacy_encoded_name_fits_as_it_fits_the_disk() {
        let on_disk: Vec<u8> = std::iter::repeat_n([0xD6u8, 0xD0], 32)
            .take(32)
            .flatten()
            .collect();
        let spelled = encode(&on_disk);
        assert!(spelled.len() > 255);
        assert_eq!(nubo_protocol::names::check_name(&spelled), Ok(()));
        let too_long = encode(&vec![0xD6u8; 256]);
        assert!(nubo_protocol::names::check_name(&too_long).is_err());
    }
}
