//! `nubo account cancel|password` and `nubo export`: what a person does
//! with the account itself.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{bail, Context};
use nubo_engine::account;
use nubo_engine::home::Config;
use nubo_engine::{Engine, Home};
use nubo_protocol::{AccountSummary, NodeKind};

use crate::words;

fn read_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// What a cancellation deletes, said before asking.
fn tell_what_is_lost(config: &Config, s: &AccountSummary) {
    eprintln!(
        "The service stores {} files ({}) for this account, {} files in its trash ({}) and {} earlier versions ({}).",
        s.files,
        words::bytes(s.bytes),
        s.trash_files,
        words::bytes(s.trash_bytes),
        s.versions,
        words::bytes(s.version_bytes)
    );
    if s.pending_bytes > 0 {
        eprintln!(
            "It also holds {} uploaded for files not finished yet.",
            words::bytes(s.pending_bytes)
        );
    }
    let only_there: Vec<String> = s
        .top
        .iter()
        .filter(|t| !account::synced_here(config, &t.name))
        .map(|t| match t.kind {
            NodeKind::Dir => format!(
                "  /{} ({} files, {})",
                t.name,
                t.files,
                words::bytes(t.bytes)
            ),
            NodeKind::File => format!("  /{} ({})", t.name, words::bytes(t.bytes)),
        })
        .collect();
    if !only_there.is_empty() {
        eprintln!("Not on this computer, kept only on the service:");
        for line in only_there {
            eprintln!("{line}");
        }
    }
    eprintln!("To keep a copy first, run `nubo export DIR` (add --trash for the trash too).");
}

pub async fn cancel(home: Home) -> anyhow::Result<u8> {
    let config = home.load_config()?;
    let account = config
        .account_id
        .clone()
        .context("not signed in: there is no account to cancel")?;
    let engine = Engine::open(home.clone())?;
    let summary = account::summary(&engine).await?;
    tell_what_is_lost(&config, &summary);
    eprintln!(
        "This deletes the account {account} and everything it stores on the service, for every device. \
         Files on your computers stay. Type the account ID to confirm:"
    );
    let typed = read_line("the confirmation")?;
    if typed.trim() != account {
        bail!("the confirmation did not match {account:?}; nothing was deleted");
    }
    account::cancel_account(&home, typed.trim()).await?;
    println!("the account {account} is cancelled; your files here stay where they are");
    Ok(0)
}

pub async fn password(home: Home, sign_out_others: bool) -> anyhow::Result<u8> {
    let engine = Engine::open(home)?;
    let current = read_line("the current password")?;
    let new = read_line("the new password")?;
    if new.is_empty() {
        bail!(
            "no new password on standard input (the current one, then the new one, one line each)"
        );
    }
    account::change_password(&engine, &current, &new, sign_out_others).await?;
    if sign_out_others {
        println!("the password is changed; every other device is signed out and signs in with the new one");
    } else {
        println!("the password is changed; your other devices stay signed in");
    }
    Ok(0)
}

pub async fn export(home: Home, dir: &Path, trash: bool) -> anyhow::Result<u8> {
    let engine = Engine::open(home)?;
    let mut err = std::io::stderr();
    let report = nubo_engine::export::export(engine.remote().as_ref(), dir, trash, |p| {
        let _ = writeln!(
            err,
            "[{}/{} files, {} of {}] {}",
            p.files_done,
            p.files_total,
            words::bytes(p.bytes_done),
            words::bytes(p.bytes_total),
            p.path
        );
    })
    .await?;
    for s in &report.skipped {
        eprintln!("not exported: {s}");
    }
    println!(
        "exported {} files ({}) and {} folders into {}; {} were there already",
        report.files,
        words::bytes(report.bytes),
        report.folders,
        dir.display(),
        report.unchanged
    );
    Ok(if report.skipped.is_empty() { 0 } else { 1 })
}
