//! Sign-in by device code between real processes: a new home shows a code,
//! a home already signed in approves it with `nubo approve`, the new home is
//! signed in to the same account and syncs.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_new_pc_signs_in_with_a_code_approved_from_another() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    a.write("hello.txt", "from A");
    a.sync();

    let c = Client::blank("pc-c");
    let mut child = c
        .command(&["login", &service.url, "--device-code"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    // The rest is read once it exits; the pipe stays open meanwhile.
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let code = first
        .split_whitespace()
        .find(|w| w.len() == 9 && w.as_bytes()[4] == b'-')
        .unwrap_or_else(|| panic!("no code in {first:?}"))
        .to_string();
    assert!(first.contains(&format!("nubo approve {code}")), "{first}");
    assert!(first.contains(&format!("/device?code={code}")), "{first}");

    // Which device asks comes first; without --yes it asks, and anything
    // but "yes" leaves the device waiting.
    let out = a.run_with_stdin(&["approve", &code], "no\n");
    assert!(!out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    let asking = format!("\"pc-c\" ({}) asks to sign in", std::env::consts::OS);
    assert!(shown.contains(&asking), "{shown}");
    let out = a.ok(&["approve", &code.to_lowercase(), "--yes"]);
    assert!(out.contains(&asking) && out.contains("approved"), "{out}");
    // Bounded: the client polls every 5 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the waiting login never finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    let rest = rest.join().unwrap();
    assert!(rest.contains("signed in as demo"), "{rest}");
    let devices = a.ok(&["devices"]);
    // Name, operating system and last seen, as the account's device list shows.
    assert!(
        devices.contains(&format!("pc-c\t{}\tlast seen 20", std::env::consts::OS)),
        "{devices}"
    );
    // The same for scripts: a versioned document, named fields, RFC 3339.
    let doc: serde_json::Value = serde_json::from_str(&a.ok(&["devices", "--json"])).unwrap();
    assert_eq!(doc["version"], 1, "{doc}");
    let pc_c = doc["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "pc-c")
        .unwrap_or_else(|| panic!("{doc}"));
    let seen = pc_c["last_seen"].as_str().unwrap();
    time::OffsetDateTime::parse(seen, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{seen}: {e}"));

    c.ok(&["agreements", "--accept", "--adult"]);
    c.ok(&["folder", "add", c.root.to_str().unwrap()]);
    c.sync();
    assert_eq!(c.read("hello.txt").unwrap(), b"from A");
}

#[test]
fn wrong_passwords_in_a_row_get_a_time_to_try_again() {
    let service = Service::start();
    let c = Client::blank("pc-c");
    let login = |password: &str| {
        let out = c.run_with_stdin(
            &["login", &service.url, "demo", "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Five are free; past them each wait doubles, so one of the next few
    // tries comes within its wait however slowly they come.
    let mut refused = None;
    for _ in 0..15 {
        let err = login("a guess");
        if err.contains("too many sign-in attempts") {
            refused = Some(err);
            break;
        }
        assert!(err.contains("password is wrong"), "{err}");
    }
    let err = refused.expect("guessing was never slowed down");
    assert!(err.contains("try again at 20"), "{err}");
}
