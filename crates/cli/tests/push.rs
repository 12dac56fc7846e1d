//! Instant change notifications: with the user's consent to the push terms,
//! a watching home hears of a change at once; without it, it only polls.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;

/// `nubo sync` (watching) with a poll interval far beyond the test's length,
/// so only push can bring the change in time.
fn watch_without_polling(c: &Client) -> Child {
    c.set_config("poll_interval_secs", 3600);
    c.command(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn with_push_consent_a_watching_home_sees_an_edit_without_polling() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    b.ok(&["agreements", "--accept", "--adult", "--push"]);
    let _watching = Stop(watch_without_polling(&b));
    // Let B finish its first round and connect.
    assert!(wait_until(Duration::from_secs(30), || b.status_json()
        ["state"]
        == "up to date"));

    a.write("hello.txt", "pushed");
    a.sync();
    let arrived = wait_until(Duration::from_secs(20), || {
        b.read("hello.txt").is_some_and(|c| c == b"pushed")
    });
    assert!(arrived, "B did not hear of the change through push");
}

#[test]
fn without_push_consent_no_push_channel_is_used() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    let _watching = Stop(watch_without_polling(&b));
    assert!(wait_until(Duration::from_secs(30), || b.status_json()
        ["state"]
        == "up to date"));
    a.write("hello.txt", "not pushed");
    a.sync();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        b.read("hello.txt").is_none(),
        "B got the change without consent to push"
    );
    // A one-off sync still brings it: only the channel was withheld.
    drop(_watching);
    b.sync();
    assert_eq!(b.read("hello.txt").as_deref(), Some(&b"not pushed"[..]));
}

#[test]
fn consent_to_push_can_be_withdrawn_and_is_recorded() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    b.ok(&["agreements", "--accept", "--adult", "--push"]);
    let out = b.ok(&["agreements", "--withdraw-push"]);
    assert!(out.contains("withdrew consent to push"), "{out}");
    let history = b.ok(&["agreements", "--history"]);
    assert!(
        history.contains("push\tversion 1") && history.contains("withdrawn"),
        "{history}"
    );
    // The push terms are pending again: the watching home only polls.
    let docs: serde_json::Value = serde_json::from_str(&b.ok(&["agreements", "--json"])).unwrap();
    let push = docs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "push")
        .unwrap()
        .clone();
    assert_eq!(push["accepted"], false, "{push}");
    let _watching = Stop(watch_without_polling(&b));
    assert!(wait_until(Duration::from_secs(30), || b.status_json()
        ["state"]
        == "up to date"));
    a.write("hello.txt", "not pushed after withdrawal");
    a.sync();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        b.read("hello.txt").is_none(),
        "B still got the change by push after withdrawing consent"
    );
    // Given again, it is used again (the record says so too).
    drop(_watching);
    b.ok(&["agreements", "--accept", "--adult", "--push"]);
    let _watching = Stop(watch_without_polling(&b));
    a.write("again.txt", "pushed again");
    a.sync();
    assert!(wait_until(Duration::from_secs(20), || b
        .read("again.txt")
        .is_some()));
}
