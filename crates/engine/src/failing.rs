//! Operations that keep failing, held back with backoff: one operation that
//! cannot be done never stops the others (DESIGN.md rule 15). A path whose
//! operation failed twice in a row is left alone (`Blocked::Failing`) until
//! its next try; it is reported once, with when that is.

use std::collections::{HashMap, HashSet};

use crate::db::FolderId;
use crate::problem::OpFailure;
use crate::tree::RelPath;

/// The first try after a second failure waits this long; each failure
/// after doubles it, up to `MAX_WAIT_SECS`.
const FIRST_WAIT_SECS: u64 = 5;
const MAX_WAIT_SECS: u64 = 15 * 60;

#[derive(Debug, Clone)]
struct Entry {
    tries: u32,
    /// Unix seconds; 0 while it is simply tried again next round.
    retry_at: i64,
    error: OpFailure,
}

/// A path held back, for the user: what failed and when it is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub path: RelPath,
    pub error: OpFailure,
    pub tries: u32,
    pub retry_at: i64,
}

#[derive(Debug, Default)]
pub struct Failing {
    entries: HashMap<(FolderId, RelPath), Entry>,
}

impl Failing {
    /// Paths of `folder` left alone at `now`.
    pub fn held(&self, folder: FolderId, now: i64) -> Vec<Held> {
        let mut out: Vec<Held> = self
            .entries
            .iter()
            .filter(|((f, _), e)| *f == folder && e.retry_at > now)
            .map(|((_, path), e)| Held {
                path: path.clone(),
                error: e.error.clone(),
                tries: e.tries,
                retry_at: e.retry_at,
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Whether any path of `folder` failed and waits to be tried again.
    pub fn holds_any(&self, folder: FolderId) -> bool {
        self.entries.keys().any(|(f, _)| *f == folder)
    }

    /// The paths of `folder` that failed and are tried again at `now`,
    /// each with whether it was held back until now (it failed twice).
    pub fn due(&self, folder: FolderId, now: i64) -> Vec<(RelPath, bool)> {
        let mut out: Vec<(RelPath, bool)> = (self.entries.iter())
            .filter(|((f, _), e)| *f == folder && e.retry_at <= now)
            .map(|((_, p), e)| (p.clone(), e.tries >= 2))
            .collect();
        out.sort();
        out
    }

    /// An operation on `path` failed at `now`.
    pub fn failed(&mut self, folder: FolderId, path: &str, error: OpFailure, now: i64) {
        let e = self
            .entries
            .entry((folder, path.to_string()))
            .or_insert(Entry {
                tries: 0,
                retry_at: 0,
                error: error.clone(),
            });
        e.tries += 1;
        e.error = error;
        // The first failure is tried again at once: the disk or the
        // service may simply have moved on since the plan.
        e.retry_at = match e.tries {
            1 => 0,
            n => {
                let wait = crate::backoff::wait(
                    std::time::Duration::from_secs(FIRST_WAIT_SECS),
                    n - 1,
                    std::time::Duration::from_secs(MAX_WAIT_SECS),
                );
                now + wait.as_secs() as i64
            }
        };
    }

    /// Holds `path` back at once, as after a second failure.
    pub fn hold(&mut self, folder: FolderId, path: &str, error: OpFailure, now: i64) {
        let tries = self
            .entries
            .get(&(folder, path.to_string()))
            .map_or(0, |e| e.tries);
        for _ in tries..2 {
            self.failed(folder, path, error.clone(), now);
        }
        if tries >= 2 {
            self.failed(folder, path, error, now);
        }
    }

    /// After a round of `folder` planned `planned`: a path neither planned
    /// nor held any more has stopped failing.
    pub fn settle(&mut self, folder: FolderId, planned: &HashSet<&str>, now: i64) {
        self.entries.retain(|(f, path), e| {
            *f != folder || e.retry_at > now || planned.contains(path.as_str())
        });
    }

    /// Forgets everything (the paths it knew may mean something else now).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The earliest next try of anything held, for a timer.
    pub fn next_retry(&self, now: i64) -> Option<i64> {
        self.entries
            .values()
            .map(|e| e.retry_at)
            .filter(|t| *t > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_failure_holds_the_path_back_with_growing_waits() {
        let mut f = Failing::default();
        f.failed(1, "g.txt", OpFailure::Changed, 100);
        assert!(
            f.held(1, 100).is_empty(),
            "the first failure is retried at once"
        );
        f.failed(1, "g.txt", OpFailure::Changed, 100);
        let held = f.held(1, 100);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].retry_at, 105);
        assert!(
            f.held(2, 100).is_empty(),
            "another folder's paths are its own"
        );
        assert_eq!(f.next_retry(100), Some(105));
        f.failed(1, "g.txt", OpFailure::Changed, 105);
        assert_eq!(f.held(1, 105)[0].retry_at, 115);
        for _ in 0..30 {
            f.failed(1, "g.txt", OpFailure::Changed, 0);
        }
        assert_eq!(f.held(1, 0)[0].retry_at, MAX_WAIT_SECS as i64);
    }

    #[test]
    fn a_path_no_longer_planned_is_forgotten_once_its_wait_is_over() {
        let mut f = Failing::default();
        f.failed(1, "a", OpFailure::Changed, 0);
        f.failed(1, "a", OpFailure::Changed, 0);
        f.settle(1, &HashSet::new(), 1);
        assert_eq!(f.held(1, 1).len(), 1, "still held: kept");
        f.settle(1, &HashSet::from(["a"]), 10);
        assert!(f.held(1, 10).is_empty());
        f.failed(1, "a", OpFailure::Changed, 10);
        assert_eq!(
            f.held(1, 10)[0].tries,
            3,
            "planned and failing again: counts on"
        );
        f.settle(1, &HashSet::new(), 100);
        f.failed(1, "a", OpFailure::Changed, 100);
        assert!(
            f.held(1, 100).is_empty(),
            "it had stopped failing: counts from one"
        );
    }
}
