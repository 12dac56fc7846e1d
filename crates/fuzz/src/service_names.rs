//! A service's node table, as hostile as it likes: any names, any parent
//! links (cycles through the synced root among them), duplicate ids. The
//! remote tree built from it must stay inside the folder and finish.

use std::path::{Component, Path};

use arbitrary::{Arbitrary, Unstructured};
use nubo_engine::db::RemoteRow;
use nubo_engine::ignore_rules::IgnoreRules;
use nubo_engine::remote_tree;
use nubo_engine::tree::Kind;

/// Names a hostile service would try first, mixed with arbitrary ones.
const NASTY: &[&str] = &[
    "..",
    ".",
    "",
    "a/b",
    "/etc",
    "..\\x",
    "x\0y",
    "C:",
    "CON",
    " ",
    ".nubo-root",
    ".nubo-tmp-1",
    "~",
    "a\u{202e}txt",
    "\u{e9}",
    "e\u{301}",
];

#[derive(Debug)]
struct Row(RemoteRow);

impl<'a> Arbitrary<'a> for Row {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let name = if u.ratio(1, 2)? {
            u.choose(NASTY)?.to_string()
        } else {
            String::arbitrary(u)?
        };
        Ok(Row(RemoteRow {
            id: u.int_in_range(0..=12)?,
            parent: if u.ratio(1, 10)? {
                None
            } else {
                Some(u.int_in_range(0..=12)?)
            },
            name,
            kind: if u.ratio(1, 2)? {
                Kind::Dir
            } else {
                Kind::File
            },
            rev: 1,
            size: 0,
            hash: Ok(None),
            mtime_ms: 0,
            exec: false,
        }))
    }
}

pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(rows) = Vec::<Row>::arbitrary(&mut u) else {
        return;
    };
    let rows: Vec<RemoteRow> = rows.into_iter().map(|r| r.0).collect();
    let root = Path::new("/home/user/Nubo");
    let rules = IgnoreRules::with_file(root, &[], None);
    let built = remote_tree::build(&rows, 1, &rules);
    assert!(
        built.tree.len() <= rows.len(),
        "{} paths from {} rows: a node was reached twice",
        built.tree.len(),
        rows.len()
    );
    for path in built.tree.keys() {
        let full = root.join(path);
        assert!(full.starts_with(root), "{path:?} leaves the folder");
        for c in full.strip_prefix(root).unwrap().components() {
            assert!(
                matches!(c, Component::Normal(_)),
                "{path:?} has a {c:?} component"
            );
        }
        for name in path.split('/') {
            assert!(
                nubo_protocol::names::check_name(name).is_ok(),
                "{path:?} holds the name {name:?}"
            );
        }
    }
}
