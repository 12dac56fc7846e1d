//! Running out of inotify watches (issue 18): a watching `nubo sync` in a
//! user namespace of the test's own, whose limit on watches is set low
//! there (`/proc/sys/user/max_inotify_watches` is per user namespace; the
//! machine's own limit is not touched). The sync says how many folders it
//! has no watch for and how to raise the limit, and still sends what
//! changes in them, found by its periodic scans.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn folders_beyond_the_watch_limit_are_said_and_still_synced() {
    let service = Service::start();
    let (a, b) = (Client::new(&service, "pc-a"), Client::new(&service, "pc-b"));
    for i in 0..30 {
        a.write(&format!("d{i:02}/seed.txt"), format!("seed {i}"));
    }
    a.sync();
    b.sync();
    // With the push channel open and nothing paused, a watching sync runs
    // no timer at all: only folders without a watch make it scan.
    a.ok(&["agreements", "--accept", "--adult", "--push"]);
    a.set_config("poll_interval_secs", 2);

    // A's sync, in a user namespace allowed one watch: the folder's root
    // (walked first) has it, and none of the 30 folders in it.
    let nubo = a.command(&["sync"]);
    let mut args: Vec<String> = vec![BIN.to_string()];
    args.extend(nubo.get_args().map(|s| s.to_string_lossy().into_owned()));
    let script = "echo 1 > /proc/sys/user/max_inotify_watches && exec \"$@\"";
    let mut limited = Command::new("unshare");
    limited
        .args(["--user", "--map-root-user", "sh", "-c", script, "sh"])
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in nubo.get_envs() {
        if let Some(v) = v {
            limited.env(k, v);
        }
    }
    let child = limited
        .spawn()
        .expect("unshare(1) runs: a user namespace of the test's own is needed");
    let _watching = Stop(child);

    let unwatched = || a.status_json()["unwatched_folders"].as_u64().unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(60), || unwatched() > 0),
        "the sync never said it lacks watches (is `unshare --user` allowed here?)"
    );
    let n = unwatched();
    assert_eq!(n, 30, "one watch for 31 folders");
    let text = a.ok(&["status"]);
    assert!(
        text.contains(&format!("{n} folders are not watched"))
            && text.contains("fs.inotify.max_user_watches"),
        "{text}"
    );

    // A change in every folder without a watch reaches B: no event says
    // so, only the scans.
    for i in 0..30 {
        a.write(&format!("d{i:02}/new.txt"), format!("new {i}"));
    }
    let arrived = wait_until(Duration::from_secs(90), || {
        b.sync();
        (0..30).all(|i| b.read(&format!("d{i:02}/new.txt")).is_some())
    });
    let missing: Vec<String> = (0..30)
        .filter(|i| b.read(&format!("d{i:02}/new.txt")).is_none())
        .map(|i| format!("d{i:02}"))
        .collect();
    assert!(arrived, "never reached B from: {missing:?}");
}
