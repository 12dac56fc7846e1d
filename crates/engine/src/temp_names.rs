//! Names of the engine's own temp files (downloads under way). A name is
//! `.nubo-tmp-` + 16 random hex digits + a 16-digit tag, the tag a keyed
//! BLAKE3 of the random part under this home's key. Only a name with the
//! right tag is the engine's: a file of the user's that merely looks like
//! one (copied from elsewhere, or named so on purpose) is never removed as
//! a leftover.

use crate::scanner::TEMP_PREFIX;

const RANDOM_HEX: usize = 16;
const TAG_HEX: usize = 16;

#[derive(Clone)]
pub struct TempNames {
    key: [u8; 32],
}

impl TempNames {
    pub fn new(key: [u8; 32]) -> Self {
        TempNames { key }
    }

    /// A fresh name for a temp file.
    pub fn fresh(&self) -> String {
        let random = format!("{:016x}", rand::random::<u64>());
        format!("{TEMP_PREFIX}{random}{}", self.tag(&random))
    }

    /// Whether `name` is one `fresh` gave out under this key.
    pub fn is_ours(&self, name: &str) -> bool {
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            return false;
        };
        if rest.len() != RANDOM_HEX + TAG_HEX || !rest.is_ascii() {
            return false;
        }
        let (random, tag) = rest.split_at(RANDOM_HEX);
        self.tag(random) == tag
    }

    fn tag(&self, random: &str) -> String {
        let mac = blake3::keyed_hash(&self.key, random.as_bytes());
        mac.to_hex()[..TAG_HEX].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_made_under_the_key_are_ours() {
        let ours = TempNames::new([7; 32]);
        let other = TempNames::new([8; 32]);
        let name = ours.fresh();
        assert!(name.starts_with(TEMP_PREFIX));
        assert!(ours.is_ours(&name));
        assert!(
            !other.is_ours(&name),
            "another home's temp file is not ours"
        );
        for user in [
            ".nubo-tmp-",
            ".nubo-tmp-notes.txt",
            ".nubo-tmp-0123456789abcdef0123456789abcdef",
            &name[..name.len() - 1],
            &format!("{name}x"),
        ] {
            assert!(!ours.is_ours(user), "{user:?} is a user's file");
        }
    }
}
