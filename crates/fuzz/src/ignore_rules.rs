//! A user's `.nuboignore` (any text) and selective-sync exclusions (any
//! valid path on the service): building the rules never fails or panics, an
//! excluded folder is ignored with all it holds, and exactly that folder;
//! the scan's faster forms of the check decide as the walk does.

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use nubo_engine::ignore_rules::IgnoreRules;

/// A path the service could hold: 1-3 valid names, each from a small pool
/// of awkward spellings or arbitrary.
fn service_path(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    const AWKWARD: &[&str] = &[
        "photos",
        "photos ",
        " photos",
        "!important",
        "#tag",
        "a*b",
        "[x]",
        "back\\slash",
        "trailing\\",
        "**",
        "a?",
        "\u{e9}t\u{e9}",
        "sp ace",
        "\t",
    ];
    let n = u.int_in_range(1..=3)?;
    let mut parts = Vec::new();
    for _ in 0..n {
        let name = if u.ratio(2, 3)? {
            u.choose(AWKWARD)?.to_string()
        } else {
            String::arbitrary(u)?
        };
        if nubo_protocol::names::check_name(&name).is_err() {
            return Err(arbitrary::Error::IncorrectFormat);
        }
        parts.push(name);
    }
    Ok(parts.join("/"))
}

pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(text) = String::arbitrary(&mut u) else {
        return;
    };
    let Ok(excluded) = service_path(&mut u) else {
        return;
    };
    let Ok(other) = service_path(&mut u) else {
        return;
    };
    let root = Path::new("/home/user/Nubo");
    // The user's text alone may ignore anything; the exclusion is checked
    // against rules without it.
    let with_text = IgnoreRules::with_file(root, std::slice::from_ref(&excluded), Some(&text));
    assert!(
        with_text.is_ignored(&excluded, true),
        "{excluded:?} not excluded with {text:?}"
    );
    assert!(!with_text.is_ignored("", true));
    same_verdicts(
        &with_text,
        &[&excluded, &other, &format!("{other}/inside.txt")],
    );

    let rules = IgnoreRules::with_file(root, std::slice::from_ref(&excluded), None);
    assert!(
        rules.is_ignored(&excluded, true),
        "{excluded:?} not excluded"
    );
    assert!(
        rules.is_ignored(&format!("{excluded}/inside.txt"), false),
        "the inside of {excluded:?} not excluded"
    );
    let built_in = IgnoreRules::with_file(root, &[], None);
    let related = other == excluded
        || other.starts_with(&format!("{excluded}/"))
        || built_in.is_ignored(&other, true);
    if !related {
        assert!(
            !rules.is_ignored(&other, true),
            "excluding {excluded:?} also excluded {other:?}"
        );
    }
}

/// `is_ignored_in_walk` where a walk would reach the path (no folder above
/// it ignored) agrees with `is_ignored`; `cached` agrees with the walk
/// everywhere: out if a folder above is ignored, else as `is_ignored`.
fn same_verdicts(rules: &IgnoreRules, paths: &[&str]) {
    let mut cached = rules.cached();
    for path in paths {
        for is_dir in [true, false] {
            let plain = rules.is_ignored(path, is_dir);
            let mut above = path.rsplit_once('/').map(|(p, _)| p);
            let mut reached = true;
            while let Some(dir) = above {
                reached &= !rules.is_ignored(dir, true);
                above = dir.rsplit_once('/').map(|(p, _)| p);
            }
            if reached {
                assert_eq!(
                    rules.is_ignored_in_walk(path, is_dir),
                    plain,
                    "walk verdict differs for {path:?}"
                );
            }
            assert_eq!(
                cached.is_ignored(path, is_dir),
                !reached || plain,
                "cached verdict differs from the walk's for {path:?}"
            );
        }
    }
}
