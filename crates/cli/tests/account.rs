//! The account itself, from the command line against a real `nubo serve`:
//! export of everything (and the trash), resumable; a cancellation that
//! first says what would be lost and leaves no personal item in the
//! service's log; sign-in with the phone number; the password changed by
//! its owner, and reset by an operator.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn export_brings_the_whole_tree_and_the_trash_and_resumes() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("report.txt", "the report");
    a.write("photos/2020/beach.jpg", random_bytes(7, 300_000));
    a.write("old.txt", "deleted later");
    a.sync();
    std::fs::remove_file(a.path("old.txt")).unwrap();
    a.sync();

    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("export");
    let dest_s = dest.to_str().unwrap();
    let out = a.run(&["export", dest_s, "--trash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[3/3 files"),
        "progress: {}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(dest.join("report.txt")).unwrap(),
        b"the report"
    );
    assert_eq!(
        std::fs::read(dest.join("photos/2020/beach.jpg")).unwrap(),
        random_bytes(7, 300_000)
    );
    assert_eq!(
        std::fs::read(dest.join("Trash (from Nubo)/old.txt")).unwrap(),
        b"deleted later"
    );

    // Interrupted: one file missing, a part file left behind. Run again.
    std::fs::remove_file(dest.join("photos/2020/beach.jpg")).unwrap();
    std::fs::write(
        dest.join("photos/2020/.beach.jpg.nubo-export-part"),
        b"half",
    )
    .unwrap();
    let out = a.ok(&["export", dest_s, "--trash"]);
    assert!(
        out.contains("exported 1 files") && out.contains("2 were there already"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(dest.join("photos/2020/beach.jpg")).unwrap(),
        random_bytes(7, 300_000)
    );
    assert!(
        temp_files(&dest).is_empty()
            && !dest
                .join("photos/2020/.beach.jpg.nubo-export-part")
                .exists()
    );
    // Without --trash, the trash stays out.
    let plain = out_dir.path().join("plain");
    a.ok(&["export", plain.to_str().unwrap()]);
    assert!(plain.join("report.txt").exists() && !plain.join("Trash (from Nubo)").exists());
}

#[test]
fn cancelling_says_what_would_be_lost_and_the_log_keeps_no_personal_item() {
    let service = Service::start();
    service.add_account_with_phone("carol", "+8613800138000");
    let c = Client::for_account(
        &service,
        "carols-pc",
        "+8613800138000",
        PASSWORD,
        &["--remote", "/laptop"],
    );
    c.write("carols-secret-plans.txt", "plans");
    c.sync();
    // Another folder of the account that this computer does not sync.
    let other = Client::for_account(
        &service,
        "carols-desktop",
        "carol",
        PASSWORD,
        &["--remote", "/desktop-only"],
    );
    other.write("letters/dear.txt", "dear");
    other.sync();

    let out = c.run_with_stdin(&["account", "cancel"], "carol\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("2 files"), "{said}");
    assert!(
        said.contains("/desktop-only (1 files"),
        "kept only on the service: {said}"
    );
    assert!(!said.contains("  /laptop"), "synced here: {said}");
    assert!(said.contains("nubo export"), "{said}");

    let log = service.log();
    assert!(log.contains("cancelled by its owner"), "{log}");
    for personal in [
        "carol",
        "+8613800138000",
        "carols-pc",
        "carols-secret-plans",
        "dear.txt",
    ] {
        assert!(
            !log.contains(personal),
            "{personal} in the service's log:\n{log}"
        );
    }
}

#[test]
fn a_phone_number_signs_in_and_the_password_changes_and_resets() {
    let service = Service::start();
    service.add_account_with_phone("dave", "+8613900139000");
    let a = Client::for_account(
        &service,
        "pc-a",
        "+8613900139000",
        PASSWORD,
        &["--mode", "two-way"],
    );
    assert_eq!(a.status_json()["account"], "dave");
    let b = Client::for_account(&service, "pc-b", "dave", PASSWORD, &["--mode", "two-way"]);

    let out = a.run_with_stdin(&["account", "password"], "wrong\nnew-pw\n");
    assert!(
        !out.status.success() && stderr(&out).contains("current password is wrong"),
        "{}",
        stderr(&out)
    );
    a.run_with_stdin(&["account", "password"], &format!("{PASSWORD}\nnew-pw\n"));
    b.write("still.txt", "B stays signed in");
    b.sync();
    let fresh = Client::signed_in(&service, "pc-c", "+8613900139000", "new-pw");
    assert_eq!(fresh.status_json()["account"], "dave");

    let out = a.run_with_stdin(
        &["account", "password", "--sign-out-others"],
        "new-pw\nnewer-pw\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.run(&["sync", "--once"]);
    assert!(
        !out.status.success() && stderr(&out).contains("nubo login"),
        "{}",
        stderr(&out)
    );
    a.sync();

    // The operator resets it: every device signs in again. A mistyped data
    // folder is refused, and nothing is made there.
    let reset = |data: &std::path::Path| {
        let mut reset = Command::new(BIN)
            .args(["admin", "reset-password", "--data"])
            .arg(data)
            .args(["dave", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(reset.stdin.take().unwrap(), "reset-pw").unwrap();
        reset.wait_with_output().unwrap()
    };
    let typo = service.data.with_extension("typo");
    let out = reset(&typo);
    assert!(
        !out.status.success() && stderr(&out).contains("holds no Nubo service"),
        "{}",
        stderr(&out)
    );
    assert!(!typo.exists(), "nothing is made in a mistyped folder");
    assert!(reset(&service.data).status.success());
    let out = a.run(&["sync", "--once"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    Client::signed_in(&service, "pc-d", "dave", "reset-pw");
}
