//! Tokens in the OS keyring. Needs a session keyring, so `make test` runs it
//! through `scripts/with-keyring.sh` (dbus-run-session + gnome-keyring-daemon).

mod common;

use common::*;

#[test]
#[ignore = "needs a session keyring: `make test` runs it under scripts/with-keyring.sh"]
fn tokens_live_in_the_keyring_and_never_in_the_home() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "run me under scripts/with-keyring.sh"
    );
    let service = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let nubo = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("--home")
            .arg(&home)
            .args(args)
            .env_remove("NUBO_TOKEN_STORE");
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            use std::io::Write;
            writeln!(child.stdin.take().unwrap(), "{s}").unwrap();
        }
        child.wait_with_output().unwrap()
    };
    let out = nubo(
        &["login", &service.url, "demo", "--password-stdin"],
        Some("nubo-demo"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("tokens kept in the OS keyring"));
    assert!(!home.join("credentials.json").exists());
    // Nothing in the home holds a token or the password.
    for f in walk_files(&home) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !text.contains("nubo-demo\n") && !text.contains("access_token"),
            "{} holds a secret",
            f.display()
        );
    }
    // The tokens are read back from the keyring for real work.
    let out = nubo(&["agreements", "--accept", "--adult"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = nubo(&["logout"], None);
    assert!(out.status.success());
    let out = nubo(&["agreements"], None);
    assert!(
        !out.status.success(),
        "signed out, the keyring entry is gone"
    );
}
