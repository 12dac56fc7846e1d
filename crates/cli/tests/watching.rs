//! A watching `nubo sync` reads from disk only what the system's events
//! name (issue 18); the daily whole read is for what events cannot tell.
//! These are the cases where a folder had no watch or a watch told the
//! wrong name, found by an adversarial run with real processes: each change
//! must reach the other home without any whole read to heal it.

mod common;

use std::time::Duration;

use common::*;

/// Two homes in step, both to be watching, with pushes between them.
fn pair(service: &Service) -> (Client, Client) {
    let (a, b) = (Client::new(service, "pc-a"), Client::new(service, "pc-b"));
    for c in [&a, &b] {
        c.ok(&["agreements", "--accept", "--adult", "--push"]);
    }
    a.write("start.txt", "start");
    a.sync();
    b.sync();
    (a, b)
}

fn reaches(b: &Client, rel: &str, content: &str) {
    let arrived = wait_until(Duration::from_secs(60), || {
        std::fs::read(b.path(rel)).is_ok_and(|c| c == content.as_bytes())
    });
    assert!(arrived, "{rel} never reached {}", b.name);
}

#[test]
fn a_folder_no_longer_ignored_is_watched_from_then_on() {
    let service = Service::start();
    let (a, b) = pair(&service);
    let (_wa, _wb) = (a.watch(), b.watch());
    a.write(".nuboignore", "ig/\n");
    a.write("ig/one.txt", "one");
    a.write("marker.txt", "ignored for now");
    reaches(&b, "marker.txt", "ignored for now");
    assert!(!b.path("ig/one.txt").exists());
    a.write(".nuboignore", "");
    reaches(&b, "ig/one.txt", "one");
    a.write("ig/later.txt", "later");
    reaches(&b, "ig/later.txt", "later");
    a.write("ig/deeper/new.txt", "new");
    reaches(&b, "ig/deeper/new.txt", "new");
}

#[test]
fn a_link_renamed_in_the_folder_does_not_take_its_target_s_watch() {
    let service = Service::start();
    let (a, b) = pair(&service);
    let (_wa, _wb) = (a.watch(), b.watch());
    a.write("data/first.txt", "first");
    reaches(&b, "data/first.txt", "first");
    // As `ln -sfn` does: a link made under a temp name, renamed into place.
    std::os::unix::fs::symlink("data", a.path("tmp-link")).unwrap();
    std::fs::rename(a.path("tmp-link"), a.path("current")).unwrap();
    a.write("after-link.txt", "after");
    reaches(&b, "after-link.txt", "after");
    a.write("data/second.txt", "second");
    reaches(&b, "data/second.txt", "second");
    a.write("data/sub/third.txt", "third");
    reaches(&b, "data/sub/third.txt", "third");
}
