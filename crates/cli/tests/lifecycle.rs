//! The client facing its account's lifecycle, against a real `nubo serve`
//! whose clock the test moves: frozen (says until when, and how to
//! reactivate), deleted by the service, cancelled from another PC. In every
//! case it stops, says so, and keeps every local file.

mod common;

use common::*;

const DAY: i64 = 86_400;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn frozen_then_reactivated_then_deleted_and_no_local_file_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let offset = tmp.path().join("clock-offset");
    let service = Service::start_with(&["--demo", "--clock-offset-file", offset.to_str().unwrap()]);
    let a = Client::new(&service, "pc-a");
    for i in 0..30 {
        a.write(&format!("docs/{i}.txt"), format!("file {i}"));
    }
    a.sync();
    let before = a.files();

    std::fs::write(&offset, (366 * DAY).to_string()).unwrap();
    let out = a.run(&["sync", "--once"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stopped, not crashed: {}",
        stderr(&out)
    );
    let msg = stderr(&out);
    assert!(
        msg.contains("frozen") && msg.contains("before 20") && msg.contains("nubo login"),
        "{msg}"
    );
    // What the app turns into its "Sign in again" button, with the date.
    let pauses = a.pauses();
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    assert_eq!(pauses[0]["kind"], "account_frozen");
    let deletes_at = pauses[0]["deletes_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(deletes_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "an RFC 3339 time: {deletes_at}"
    );
    assert_eq!(a.files(), before);

    // Signing in within the 30 days reactivates it.
    a.login_again(&service);
    a.write("after.txt", "synced again");
    a.sync();

    // Unused again, past the freeze and the 30 days: deleted by the service.
    std::fs::write(&offset, ((366 + 396) * DAY).to_string()).unwrap();
    let before = a.files();
    let out = a.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deleted on the service")
            && stderr(&out).contains("nothing here was deleted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(a.files(), before, "every local file is kept");
    assert_eq!(a.pauses(), [serde_json::json!({"kind": "account_deleted"})]);
    assert!(a.trash().is_empty(), "nothing went to the OS trash either");
}

#[test]
fn an_account_cancelled_on_one_pc_stops_the_others_and_keeps_their_files() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    let b = Client::new(&service, "pc-b");
    a.write("report.txt", "mine");
    a.write("photos/p.jpg", random_bytes(1, 5000));
    a.sync();
    b.sync();
    let before = b.files();

    // A wrong confirmation cancels nothing.
    let out = a.run_with_stdin(&["account", "cancel"], "not-the-id\n");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nothing was deleted"),
        "{}",
        stderr(&out)
    );
    b.sync();

    let out = a.run_with_stdin(&["account", "cancel"], "demo\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(a.read("report.txt").is_some(), "A keeps its files");
    let out = b.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deleted on the service"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.files(), before, "B keeps every file");
    assert!(b.trash().is_empty());
}
