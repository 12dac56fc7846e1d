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
    build_with(root, rules, |id| {
        Ok::<_, std::convert::Infallible>(
            children
                .get(&id)
                .map(|c| c.iter().map(|r| (*r).clone()).collect())
                .unwrap_or_default(),
        )
    })
    .unwrap_or_else(|never| match never {})
}

/// The tree under `root`, each folder's children listed by `children` (a
/// folder at a time from the state database: the node table is never
/// held whole, a million rows beside the tree made of them).
pub fn build_with<E>(
    root: NodeId,
    rules: &IgnoreRules,
    children: impl FnMut(NodeId) -> Result<Vec<RemoteRow>, E>,
) -> Result<RemoteTree, E> {
    let mut walk = Walk::new(rules);
    walk.keep = Keep::Gather(Vec::new());
    walk.subtree(root, String::new(), children)?;
    if let Keep::Gather(gathered) = std::mem::replace(&mut walk.keep, Keep::Tree) {
        walk.out.tree = gathered.into_iter().collect();
    }
    Ok(walk.out)
}

/// The bytes of the files under the folder node `id` at `dir` (in the
/// tree under `root`) that would be synced here (what the rules leave
/// out, and refused names, not counted), its subfolders listed by
/// `children`; nothing is kept.
pub fn bytes_under<E>(
    rules: &IgnoreRules,
    (root, id): (NodeId, NodeId),
    dir: String,
    children: impl FnMut(NodeId) -> Result<Vec<RemoteRow>, E>,
) -> Result<u64, E> {
    let mut walk = Walk::new(rules);
    walk.keep = Keep::Bytes(0);
    // The folder's root node is no child of its own (a loop could only
    // come back through it: every other node has one parent).
    if root != id {
        walk.entered.insert(root);
    }
    walk.subtree(id, dir, children)?;
    let Keep::Bytes(bytes) = walk.keep else {
        unreachable!("a walk keeps what it was set to keep");
    };
    Ok(bytes)
}

/// The entry the tree under `root` has at `path`, each name on the way
/// checked as a whole walk checks it; `named(folder, name)` lists a
/// folder's children of that name.
pub fn entry_at<E>(
    rules: &IgnoreRules,
    root: NodeId,
    path: &str,
    mut named: impl FnMut(NodeId, &str) -> Result<Vec<RemoteRow>, E>,
) -> Result<Option<RemoteEntry>, E> {
    let mut walk = Walk::new(rules);
    let (mut id, mut dir, mut found) = (root, String::new(), None);
    for name in path.split('/') {
        if found
            .as_ref()
            .is_some_and(|e: &RemoteEntry| e.kind != Kind::Dir)
        {
            return Ok(None);
        }
        // Entered, as a whole walk enters it: a folder on the way that
        // comes back to it is a loop, not a child.
        walk.entered.insert(id);
        let rows = named(id, name)?;
        // Of two rows of one name, the last, as a whole build keeps.
        found = rows.iter().rev().find_map(|r| walk.child(&dir, r));
        let Some(e) = &found else {
            return Ok(None);
        };
        (id, dir) = (e.node, join(&dir, name));
    }
    Ok(found)
}

/// A walk of the node table from the folder's root node, whole (`build`)
/// or along single paths (`focus.rs`): every name is checked on the way.
pub struct Walk<'r> {
    rules: &'r IgnoreRules,
    /// A folder listed as inside its own subtree would otherwise be walked
    /// for ever: each folder is entered once.
    entered: HashSet<NodeId>,
    /// What becomes of each entry admitted.
    keep: Keep,
    pub out: RemoteTree,
}

/// What a walk does with the entries it admits.
enum Keep {
    /// Put in `out.tree` as found: a walk along paths looks up what it
    /// found as it goes.
    Tree,
    /// Gathered, and the tree made of them at once (`build`): a tree built
    /// from sorted entries has full nodes, 40% smaller than one grown by
    /// inserts (a million entries: 80 MB).
    Gather(Vec<(RelPath, RemoteEntry)>),
    /// Only their bytes counted (`bytes_under`).
    Bytes(u64),
}

impl<'r> Walk<'r> {
    pub fn new(rules: &'r IgnoreRules) -> Self {
        Walk {
            rules,
            entered: HashSet::new(),
            keep: Keep::Tree,
            out: RemoteTree::default(),
        }
    }

    /// Everything under the folder node `id` at `dir`, its children listed
    /// by `children`.
    pub fn subtree<E>(
        &mut self,
        id: NodeId,
        dir: String,
        mut children: impl FnMut(NodeId) -> Result<Vec<RemoteRow>, E>,
    ) -> Result<(), E> {
        let mut stack: Vec<(NodeId, String)> = vec![(id, dir)];
        while let Some((id, dir)) = stack.pop() {
            if !self.entered.insert(id) {
                self.out.refused.push(Problem::FolderLoop { path: dir });
                continue;
            }
            for r in children(id)? {
                if let Some((path, e)) = self.admit(&dir, &r) {
                    if e.kind == Kind::Dir {
                        stack.push((r.id, path.clone()));
                    }
                    self.keep(path, e);
                }
            }
        }
        Ok(())
    }

    /// The child `r` of the folder at `dir` (whose node is entered), put
    /// in the tree if it may be synced here: its entry, or `None`.
    pub fn child(&mut self, dir: &str, r: &RemoteRow) -> Option<RemoteEntry> {
        let (path, e) = self.admit(dir, r)?;
        self.keep(path, e.clone());
        Some(e)
    }

    fn keep(&mut self, path: RelPath, e: RemoteEntry) {
        match &mut self.keep {
            Keep::Tree => {
                self.out.tree.insert(path, e);
            }
            Keep::Gather(gathered) => gathered.push((path, e)),
            Keep::Bytes(bytes) => *bytes += e.size,
        }
    }

    /// Starts the next `subtree` as a walk of its own: the folders walked
    /// into so far are no loop to it.
    pub fn forget_entered(&mut self) {
        self.entered.clear();
    }

    /// The child `r` of the folder at `dir`, with its path, where it may
    /// be synced here; what is left out is noted in `out`.
    fn admit(&mut self, dir: &str, r: &RemoteRow) -> Option<(RelPath, RemoteEntry)> {
        let out = &mut self.out;
        let path = join(dir, &r.name);
        let refused = if !crate::os_names::is_canonical(&r.name) {
            Some(Problem::RefusedName {
                dir: dir.to_string(),
                name: r.name.clone(),
                why: NameRule::NotASpelling,
            })
        } else if let Err(problem) = check_name(&r.name) {
            Some(Problem::RefusedName {
                dir: dir.to_string(),
                name: r.name.clone(),
                why: problem.into(),
            })
        } else {
            windows_refusal(&path, &r.name)
        };
        if let Some(problem) = refused {
            out.unseen.insert(path);
            out.refused.push(problem);
            return None;
        }
        if r.kind == Kind::Dir && self.entered.contains(&r.id) {
            out.refused.push(Problem::FolderLoop { path });
            return None;
        }
        if self.rules.is_ignored_in_walk(&path, r.kind == Kind::Dir) {
            out.unseen.insert(path);
            return None;
        }
        let Ok(hash) = r.hash else {
            out.unseen.insert(path.clone());
            out.refused.push(Problem::BadHash { path });
            return None;
        };
        let entry = RemoteEntry {
            node: r.id,
            kind: r.kind,
            rev: r.rev,
            size: r.size,
            hash,
            mtime_ms: r.mtime_ms,
            exec: r.exec,
        };
        Some((path, entry))
    }
}

/// The tree under a folder node an entry at a time, in path order (the
/// order of `Tree`'s keys), each folder's children listed by `children`
/// when the walk reaches what is inside it: what is held at once is what
/// is left of the children of the folders on the way to the entry, not
/// the tree (a first sync's slices, `engine/sliced.rs`).
///
/// A folder's own entry sorts at its name, what is inside it at its name
/// and "/": between the two come its siblings whose names continue with a
/// character before "/" ("a" < "a-b" < "a.txt" < "a/x").
pub struct InOrder<'r> {
    pub walk: Walk<'r>,
    /// What is left to give of each folder on the way, innermost last,
    /// each in reverse path order (taken from the back).
    levels: Vec<Vec<Next>>,
    /// Folders whose insides are not walked (held back).
    left_out: HashSet<NodeId>,
}

enum Next {
    Entry(RelPath, RemoteEntry),
    /// What is inside the folder node at this path.
    Inside(NodeId, RelPath),
}

impl Next {
    /// Where it sorts: the path, or for what is inside a folder its path
    /// and "/".
    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        let (path, inside) = match self {
            Next::Entry(path, _) => (path, false),
            Next::Inside(_, path) => (path, true),
        };
        let slash = inside.then_some(b'/');
        path.bytes().chain(slash)
    }
}

impl<'r> InOrder<'r> {
    pub fn new(rules: &'r IgnoreRules, root: NodeId) -> Self {
        InOrder {
            walk: Walk::new(rules),
            levels: vec![vec![Next::Inside(root, String::new())]],
            left_out: HashSet::new(),
        }
    }

    /// The next entry in path order; `None` at the end.
    pub fn next<E>(
        &mut self,
        mut children: impl FnMut(NodeId) -> Result<Vec<RemoteRow>, E>,
    ) -> Result<Option<(RelPath, RemoteEntry)>, E> {
        while let Some(level) = self.levels.last_mut() {
            match level.pop() {
                None => {
                    self.levels.pop();
                }
                Some(Next::Entry(path, e)) => return Ok(Some((path, e))),
                Some(Next::Inside(id, dir)) => {
                    if !self.left_out.contains(&id) {
                        let inside = self.read(id, dir, &mut children)?;
                        self.levels.push(inside);
                    }
                }
            }
        }
        Ok(None)
    }

    /// The insides of the folder node `id` (an entry already given) are
    /// not walked.
    pub fn leave_out(&mut self, id: NodeId) {
        self.left_out.insert(id);
    }

    /// The children of the folder node `id` at `dir` that may be synced
    /// here, in reverse path order.
    fn read<E>(
        &mut self,
        id: NodeId,
        dir: RelPath,
        children: &mut impl FnMut(NodeId) -> Result<Vec<RemoteRow>, E>,
    ) -> Result<Vec<Next>, E> {
        let walk = &mut self.walk;
        if !walk.entered.insert(id) {
            walk.out.refused.push(Problem::FolderLoop { path: dir });
            return Ok(Vec::new());
        }
        let mut rows = children(id)?;
        // One row a name, the last, as a whole build keeps (two of one
        // name would be a table the service left inconsistent; walking
        // both would break path order).
        rows.reverse();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows.dedup_by(|a, b| a.name == b.name);
        let mut level = Vec::new();
        for r in rows {
            if let Some((path, e)) = walk.admit(&dir, &r) {
                if e.kind == Kind::Dir {
                    level.push(Next::Inside(r.id, path.clone()));
                }
                level.push(Next::Entry(path, e));
            }
        }
        level.sort_unstable_by(|a, b| b.key().cmp(a.key()));
        Ok(level)
    }
}

#[cfg(windows)]
fn windows_refusal(path: &str, name: &str) -> Option<Problem> {
    nubo_protocol::names::windows_problem(name).map(|why| Problem::NotHere {
        path: path.to_string(),
        why: why.to_string(),
    })
}

#[cfg(not(windows))]
fn windows_refusal(_path: &str, _name: &str) -> Option<Problem> {
    None
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

    fn file(id: NodeId, parent: NodeId, name: &str, size: u64) -> RemoteRow {
        RemoteRow {
            kind: Kind::File,
            size,
            hash: Ok(Some(crate::content::hash_bytes(name.as_bytes()))),
            ..dir(id, parent, name)
        }
    }

    /// A folder whose siblings' names continue it with a character that
    /// sorts before "/", a name the service may not give, a file the rules
    /// leave out, and folders in folders.
    fn tricky_rows() -> Vec<RemoteRow> {
        vec![
            dir(2, 1, "a"),
            file(3, 1, "a-b", 1),
            file(4, 1, "a.txt", 2),
            file(5, 2, "x", 4),
            dir(6, 2, "deep"),
            file(7, 6, "z", 8),
            file(8, 6, "skip.tmp", 16),
            dir(9, 1, "b"),
            file(10, 9, "..", 32),
            file(11, 1, "0", 64),
        ]
    }

    fn tricky_rules() -> IgnoreRules {
        IgnoreRules::with_file(std::path::Path::new("/r"), &[], Some("*.tmp\n"))
    }

    /// A folder's children of one name, as `entry_at` asks for them.
    fn named_in(rows: &[RemoteRow]) -> impl Fn(NodeId, &str) -> Result<Vec<RemoteRow>, ()> + '_ {
        |id, name| {
            let named = rows
                .iter()
                .filter(|r| r.parent == Some(id) && r.name == name);
            Ok(named.cloned().collect())
        }
    }

    fn children_of(rows: &[RemoteRow]) -> impl FnMut(NodeId) -> Result<Vec<RemoteRow>, ()> + '_ {
        |id| {
            Ok(rows
                .iter()
                .filter(|r| r.parent == Some(id))
                .cloned()
                .collect())
        }
    }

    /// A first sync's slices read the service's tree in path order a
    /// folder at a time: the same entries, refusals and unseen paths as
    /// the tree built whole, in its order.
    #[test]
    fn a_walk_in_path_order_gives_the_tree_built_whole() {
        let rows = tricky_rows();
        let rules = tricky_rules();
        let built = build(&rows, 1, &rules);
        let mut order = InOrder::new(&rules, 1);
        let mut given = vec![];
        while let Some(entry) = order.next(children_of(&rows)).unwrap() {
            given.push(entry);
        }
        let whole: Vec<(RelPath, RemoteEntry)> = built.tree.into_iter().collect();
        assert_eq!(given, whole);
        let paths: Vec<&str> = given.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            ["0", "a", "a-b", "a.txt", "a/deep", "a/deep/z", "a/x", "b"]
        );
        assert_eq!(order.walk.out.refused, built.refused);
        assert_eq!(order.walk.out.unseen, built.unseen);
    }

    /// A folder held back is given, and nothing inside it.
    #[test]
    fn a_folder_left_out_is_not_walked_into() {
        let rows = tricky_rows();
        let rules = tricky_rules();
        let mut order = InOrder::new(&rules, 1);
        let mut paths = vec![];
        while let Some((path, e)) = order.next(children_of(&rows)).unwrap() {
            if path == "a" {
                order.leave_out(e.node);
            }
            paths.push(path);
        }
        assert_eq!(paths, ["0", "a", "a-b", "a.txt", "b"]);
    }

    /// A new folder's size counts what would come down: not what the rules
    /// leave out, nor what is refused.
    #[test]
    fn the_bytes_under_a_folder_are_those_that_would_be_synced() {
        let rows = tricky_rows();
        let rules = tricky_rules();
        let bytes =
            |id, dir: &str| bytes_under(&rules, (1, id), dir.into(), children_of(&rows)).unwrap();
        assert_eq!(bytes(2, "a"), 4 + 8);
        assert_eq!(bytes(9, "b"), 0);
        assert_eq!(bytes(1, ""), 1 + 2 + 4 + 8 + 64);
    }

    /// A path looked up alone finds what the tree built whole has there,
    /// and nothing where the rules or the checks of names leave it out.
    #[test]
    fn an_entry_looked_up_by_path_is_the_whole_trees() {
        let rows = tricky_rows();
        let rules = tricky_rules();
        let built = build(&rows, 1, &rules);
        let named = named_in(&rows);
        for path in [
            "a",
            "a/deep/z",
            "0",
            "a/deep/skip.tmp",
            "b/..",
            "a-b/x",
            "nope",
            "a/nope",
        ] {
            let found = entry_at(&rules, 1, path, &named).unwrap();
            assert_eq!(found.as_ref(), built.tree.get(path), "{path}");
        }
    }

    /// Two rows of one name under one folder (a table left inconsistent):
    /// the walk in path order keeps the last, as the whole build does, and
    /// stays in path order.
    #[test]
    fn two_rows_of_one_name_give_one_entry_in_path_order() {
        let rows = vec![
            dir(2, 1, "a"),
            file(3, 2, "z", 1),
            dir(4, 1, "a"),
            file(5, 4, "b", 2),
            file(6, 1, "a.txt", 4),
        ];
        let rules = tricky_rules();
        let mut order = InOrder::new(&rules, 1);
        let mut given = vec![];
        while let Some((path, e)) = order.next(children_of(&rows)).unwrap() {
            given.push((path, e.node));
        }
        let expected: Vec<(RelPath, NodeId)> =
            vec![("a".into(), 4), ("a.txt".into(), 6), ("a/b".into(), 5)];
        assert_eq!(given, expected);
        let named = named_in(&rows);
        assert_eq!(
            entry_at(&rules, 1, "a", &named).unwrap().map(|e| e.node),
            Some(4)
        );
    }

    /// A folder whose child is the synced root again (a table left
    /// inconsistent): the root's files are not counted again under it,
    /// nor found under it by path.
    #[test]
    fn a_loop_back_through_the_root_is_not_walked() {
        let rows = vec![
            dir(2, 1, "a"),
            dir(3, 2, "b"),
            dir(1, 3, "root"),
            file(4, 1, "big", 1 << 40),
        ];
        let rules = tricky_rules();
        let bytes = bytes_under(&rules, (1, 2), "a".into(), children_of(&rows)).unwrap();
        assert_eq!(bytes, 0);
        let named = named_in(&rows);
        assert_eq!(entry_at(&rules, 1, "a/b/root/big", &named).unwrap(), None);
        assert!(entry_at(&rules, 1, "a/b", &named).unwrap().is_some());
    }
}
