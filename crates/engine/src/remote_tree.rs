//! Turns the account's node table into one folder's remote tree of paths.
//! This is where names from the service are checked: a name that could
//! address anything outside the folder is refused here, with its whole
//! subtree, and reported; it never reaches the planner or the disk.

use std::collections::{BTreeSet, HashMap, HashSet};

use nubo_protocol::names::check_name;

use crate::db::RemoteRow;
use crate::ignore_rules::IgnoreRules;
use crate::problem::{NameRule, Problem};
use crate::tree::{join, Kind, NodeId, RelPath, RemoteEntry, Tree};

#[derive(Debug, Default)]
pub struct RemoteTree {
    pub tree: Tree<RemoteEntry>,
    /// What was refused, and why.
    pub refused: Vec<Problem>,
    /// Entries left out (ignored, or with a refused name), each the top of
    /// what was left out: `Trees::remote_unseen`.
    pub unseen: BTreeSet<RelPath>,
}

pub fn build(rows: &[RemoteRow], root: NodeId, rules: &IgnoreRules) -> RemoteTree {
    let mut children: HashMap<NodeId, Vec<&RemoteRow>> = HashMap::new();
    for r in rows {
        if let Some(p) = r.parent {
            children.entry(p).or_default().push(r);
        }
    }
    let mut out = RemoteTree::default();
    // A folder listed as inside its own subtree would otherwise be walked
    // for ever: each folder is entered once.
    let mut entered: HashSet<NodeId> = HashSet::new();
    let mut stack: Vec<(NodeId, String)> = vec![(root, String::new())];
    while let Some((id, dir)) = stack.pop() {
        if !entered.insert(id) {
            out.refused.push(Problem::FolderLoop { path: dir });
            continue;
        }
        for r in children.get(&id).map(Vec::as_slice).unwrap_or_default() {
            if !crate::os_names::is_canonical(&r.name) {
                out.unseen.insert(join(&dir, &r.name));
                out.refused.push(Problem::RefusedName {
                    dir: dir.clone(),
                    name: r.name.clone(),
                    why: NameRule::NotASpelling,
                });
                continue;
            }
            if let Err(problem) = check_name(&r.name) {
                out.unseen.insert(join(&dir, &r.name));
                out.refused.push(Problem::RefusedName {
                    dir: dir.clone(),
                    name: r.name.clone(),
                    why: problem.into(),
                });
                continue;
            }
            #[cfg(windows)]
            if let Some(why) = nubo_protocol::names::windows_problem(&r.name) {
                out.unseen.insert(join(&dir, &r.name));
                out.refused.push(Problem::NotHere {
                    path: join(&dir, &r.name),
                    why: why.to_string(),
                });
                continue;
            }
            let path = join(&dir, &r.name);
            if r.kind == Kind::Dir && entered.contains(&r.id) {
                out.refused.push(Problem::FolderLoop { path });
                continue;
            }
            if rules.is_ignored_in_walk(&path, r.kind == Kind::Dir) {
                out.unseen.insert(path);
                continue;
            }
            let Ok(hash) = r.hash else {
                out.unseen.insert(path.clone());
                out.refused.push(Problem::BadHash { path });
                continue;
            };
            out.tree.insert(
                path.clone(),
                RemoteEntry {
                    node: r.id,
                    kind: r.kind,
                    rev: r.rev,
                    size: r.size,
                    hash,
                    mtime_ms: r.mtime_ms,
                    exec: r.exec,
                },
            );
            if r.kind == Kind::Dir {
                stack.push((r.id, path));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(id: NodeId, parent: NodeId, name: &str) -> RemoteRow {
        RemoteRow {
            id,
            parent: Some(parent),
            name: name.into(),
            kind: Kind::Dir,
            rev: 1,
            size: 0,
            hash: Ok(None),
            mtime_ms: 0,
            exec: false,
        }
    }

    /// A file whose hash from the service is not one is refused as a bad
    /// name is: reported, and left unseen (never fetched, never read as
    /// deleted); its neighbours are synced.
    #[test]
    fn a_file_with_a_hash_that_is_not_one_is_refused() {
        let hash = "content".parse::<crate::tree::ContentHash>();
        let file = |id, name: &str, hash| RemoteRow {
            kind: Kind::File,
            size: 7,
            hash,
            ..dir(id, 1, name)
        };
        let good = crate::content::hash_bytes(b"content");
        let rows = vec![
            dir(2, 1, "a"),
            file(3, "bad.txt", hash.map(Some)),
            file(4, "good.txt", Ok(Some(good))),
        ];
        let rules = IgnoreRules::with_file(std::path::Path::new("/r"), &[], None);
        let built = build(&rows, 1, &rules);
        let paths: Vec<&String> = built.tree.keys().collect();
        assert_eq!(paths, ["a", "good.txt"]);
        assert_eq!(built.tree["good.txt"].hash, Some(good));
        assert_eq!(built.tree["a"].hash, None);
        assert_eq!(
            built.refused,
            [Problem::BadHash {
                path: "bad.txt".into()
            }]
        );
        assert!(built.unseen.contains("bad.txt"));
    }

    /// Found by the `service_names` fuzz target: a service listing the
    /// synced root inside its own child made the walk run until memory ran out.
    #[test]
    fn a_folder_inside_itself_is_refused_not_walked_for_ever() {
        let rows = vec![dir(2, 1, "a"), dir(1, 2, "b"), dir(3, 2, "c")];
        let rules = IgnoreRules::with_file(std::path::Path::new("/r"), &[], None);
        let built = build(&rows, 1, &rules);
        let paths: Vec<&String> = built.tree.keys().collect();
        assert_eq!(paths, ["a", "a/c"]);
        assert_eq!(built.refused.len(), 1, "{:?}", built.refused);
        assert!(matches!(built.refused[0], Problem::FolderLoop { .. }));
    }
}
