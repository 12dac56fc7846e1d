//! What is never synced: the engine's own files, OS and editor clutter, and
//! the user's patterns from `.nuboignore` (gitignore syntax) at the root.
//! Applied alike to the local, remote and synced trees, so an ignored path is
//! simply outside the sync: never uploaded, downloaded or deleted.

use std::collections::HashMap;
use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use crate::tree::parent;

pub const IGNORE_FILE: &str = ".nuboignore";

const BUILT_IN: &[&str] = &[
    // The engine's own files in a sync root: marker, temp files, ignore file.
    ".nubo*",
    ".DS_Store",
    "._*",
    "Thumbs.db",
    "desktop.ini",
    // Office lock files and LibreOffice locks.
    "~$*",
    ".~lock.*#",
    // Partial downloads of browsers and other tools.
    "*.part",
    "*.partial",
    "*.crdownload",
    "~*.tmp",
    // Editor swap files.
    ".*.swp",
    ".*.swx",
    ".Trash-*",
];

#[derive(Clone)]
pub struct IgnoreRules {
    matcher: Gitignore,
    /// Selective-sync exclusions: literal paths, compared as they are. (As
    /// gitignore lines, a folder named "\n" or "photos " would have read as
    /// "everything" or "photos".)
    excluded: Vec<String>,
    /// A problem with the user's `.nuboignore`, to show in `status`.
    pub warning: Option<crate::problem::IgnoreFileProblem>,
    /// What they were made of (`made_of`).
    made_of: u64,
}

/// The folder's `.nuboignore` as the user wrote it (`None` without one).
pub fn file_text(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join(IGNORE_FILE)).ok()
}

impl IgnoreRules {
    /// The built-in rules, the folder's `.nuboignore`, and the folder's
    /// selective-sync exclusions (paths relative to the root).
    pub fn load(root: &Path, excluded: &[String]) -> Self {
        Self::with_file(root, excluded, file_text(root).as_deref())
    }

    /// As `load`, the `.nuboignore` read through `fs` (as the sync loop reads
    /// everything of the folder).
    pub fn read(fs: &dyn crate::fs::LocalFs, root: &Path, excluded: &[String]) -> Self {
        let text = fs
            .read_small(&root.join(IGNORE_FILE))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        Self::with_file(root, excluded, text.as_deref())
    }

    /// As `load`, with the `.nuboignore` text already read (or `None`).
    pub fn with_file(root: &Path, excluded: &[String], text: Option<&str>) -> Self {
        let mut b = GitignoreBuilder::new(root);
        for pattern in BUILT_IN {
            b.add_line(None, pattern)
                .expect("built-in ignore patterns are valid");
        }
        let file = root.join(IGNORE_FILE);
        let mut warning = None;
        for line in text.unwrap_or_default().lines() {
            if let Err(e) = b.add_line(Some(file.clone()), line) {
                tracing::warn!("{} has a line that was skipped: {e}", file.display());
                warning = Some(crate::problem::IgnoreFileProblem::LineSkipped);
            }
        }
        let matcher = b.build().unwrap_or_else(|e| {
            tracing::warn!("{} could not be used: {e}", file.display());
            warning = Some(crate::problem::IgnoreFileProblem::Unusable);
            Gitignore::empty()
        });
        let made_of = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (text, excluded).hash(&mut h);
            h.finish()
        };
        IgnoreRules {
            matcher,
            excluded: excluded.to_vec(),
            warning,
            made_of,
        }
    }

    /// What the rules were made of, as a number: rules made of the same
    /// `.nuboignore` and exclusions give the same.
    pub fn made_of(&self) -> u64 {
        self.made_of
    }

    pub fn is_ignored(&self, rel_path: &str, is_dir: bool) -> bool {
        !rel_path.is_empty()
            && (self.is_excluded(rel_path)
                || self
                    .matcher
                    .matched_path_or_any_parents(rel_path, is_dir)
                    .is_ignore())
    }

    /// `is_ignored` for a walk that never enters an ignored folder: only the
    /// entry's own path is matched, for its folders were matched when the
    /// walk entered them. Matching every folder again for every file was a
    /// fifth of a no-change scan of 100,000 files.
    pub fn is_ignored_in_walk(&self, rel_path: &str, is_dir: bool) -> bool {
        !rel_path.is_empty()
            && (self.is_excluded(rel_path)
                || match self.own_match(rel_path, is_dir) {
                    Some(verdict) => verdict,
                    // A folder the walk entered has no verdict of its own
                    // or a `!` one, which decides for what it holds; only
                    // the root's own match is left (a line can match "").
                    None => !rel_path.contains('/') && self.own_match("", true) == Some(true),
                })
    }

    /// Whether the sync leaves `rel_path` out, for many paths in any order,
    /// as the walk decides: a folder the rules ignore is never entered, so
    /// everything in it is out, even what a `!` line names (as in git). Each
    /// folder's verdict is worked out once.
    pub fn cached(&self) -> CachedRules<'_> {
        CachedRules {
            rules: self,
            folders: HashMap::new(),
        }
    }

    fn is_excluded(&self, rel_path: &str) -> bool {
        self.excluded
            .iter()
            .any(|ex| !ex.is_empty() && (rel_path == ex || crate::tree::is_inside(rel_path, ex)))
    }

    /// The path's own match, its folders left out: `Some(true)` ignored,
    /// `Some(false)` re-included by a `!` line, `None` for no line.
    fn own_match(&self, rel_path: &str, is_dir: bool) -> Option<bool> {
        match self.matcher.matched(rel_path, is_dir) {
            Match::None => None,
            Match::Ignore(_) => Some(true),
            Match::Whitelist(_) => Some(false),
        }
    }
}

/// See `IgnoreRules::cached`.
pub struct CachedRules<'r> {
    rules: &'r IgnoreRules,
    /// Whether each folder is out of the sync (it or one above it ignored).
    folders: HashMap<String, bool>,
}

impl CachedRules<'_> {
    pub fn is_ignored(&mut self, rel_path: &str, is_dir: bool) -> bool {
        if rel_path.is_empty() {
            return false;
        }
        self.folder_out(parent(rel_path)) || self.rules.is_ignored_in_walk(rel_path, is_dir)
    }

    fn folder_out(&mut self, dir: &str) -> bool {
        if dir.is_empty() {
            return false;
        }
        if let Some(v) = self.folders.get(dir) {
            return *v;
        }
        let v = self.folder_out(parent(dir)) || self.rules.is_ignored_in_walk(dir, true);
        self.folders.insert(dir.to_string(), v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_and_user_patterns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IGNORE_FILE), "build/\n*.log\n!keep.log\n").unwrap();
        let rules = IgnoreRules::load(dir.path(), &["photos/2020".to_string()]);
        assert!(
            rules.is_ignored("photos/2020", true) && rules.is_ignored("photos/2020/a.jpg", false)
        );
        assert!(!rules.is_ignored("photos/2021/a.jpg", false) && !rules.is_ignored("photos", true));
        for p in [
            ".nubo-root",
            "a/.nubo-tmp-1",
            "a/.DS_Store",
            "~$report.docx",
            "build",
            "build/x.o",
            "a/b.log",
            "x.crdownload",
        ] {
            assert!(rules.is_ignored(p, p == "build"), "{p} should be ignored");
        }
        for p in ["report.docx", "keep.log", "src/main.rs", "notes.txt"] {
            assert!(!rules.is_ignored(p, false), "{p} should sync");
        }
        assert!(rules.warning.is_none());
    }

    /// Found by the `ignore_rules` fuzz target: exclusions went through
    /// gitignore lines, where trailing whitespace is dropped, so excluding a
    /// folder named "\n" excluded everything and "photos " excluded "photos".
    #[test]
    fn exclusions_are_literal_paths() {
        let root = std::path::Path::new("/r");
        for odd in ["\n", "photos ", " ", "a*", "!x", "#y", "[z]", "back\\"] {
            let rules = IgnoreRules::with_file(root, &[odd.to_string()], None);
            assert!(rules.is_ignored(odd, true) && rules.is_ignored(&format!("{odd}/f"), false));
            for other in ["photos", "photos/a.jpg", "ab", "x", "notes.txt"] {
                assert!(
                    !rules.is_ignored(other, true),
                    "excluding {odd:?} excluded {other:?}"
                );
            }
        }
    }
}
