//! `nubo restore`: list the trash or a file's versions, and bring items back.

use clap::{Args, Subcommand};
use nubo_engine::restore::{self, Target};
use nubo_engine::{Engine, Home, Outcome};
use nubo_protocol::NodeKind;

use crate::words;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RestoreArgs {
    #[command(subcommand)]
    command: Option<RestoreCommand>,
    /// What to bring back: a path in a synced folder on this computer, or a
    /// path on the service (`/Docs/report.txt`). A folder comes back with
    /// everything that was deleted with it.
    path: Option<String>,
    /// An earlier version of the file (see `restore list --versions PATH`);
    /// it becomes the current version, and the current one a version.
    #[arg(long, value_name = "N")]
    version: Option<i64>,
    /// Put it here instead: an existing folder, or a new path.
    #[arg(long, value_name = "PATH")]
    to: Option<String>,
}

#[derive(Subcommand)]
enum RestoreCommand {
    /// What can be brought back: the trash (default) or one file's versions.
    List {
        #[arg(long, conflicts_with = "versions")]
        deleted: bool,
        #[arg(long, value_name = "PATH")]
        versions: Option<String>,
        /// Only trash entries whose name (or a name inside) contains this.
        #[arg(long, value_name = "TEXT", default_value = "")]
        search: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(home: Home, args: RestoreArgs) -> anyhow::Result<u8> {
    let engine = Engine::open(home.clone())?;
    match (args.command, args.path) {
        (Some(RestoreCommand::List { versions: Some(path), json, .. }), _) => {
            let v = restore::versions(&engine, &path).await?;
            if json {
                crate::json::print(&crate::json::versions(&v))?;
                return Ok(0);
            }
            println!(
                "{}: revision {}, {}{}",
                v.path,
                v.node.rev,
                words::bytes(v.node.size),
                if v.node.deleted { " (deleted)" } else { " (current)" }
            );
            if v.versions.is_empty() {
                println!("no earlier versions are kept");
            }
            for ver in &v.versions {
                println!(
                    "version {}\t{}\t{}\t{}",
                    ver.rev,
                    words::unix_moment(ver.created_at),
                    words::bytes(ver.size),
                    ver.device_name
                );
            }
            Ok(0)
        }
        (Some(RestoreCommand::List { search, json, .. }), _) => {
            let mut items = Vec::new();
            let mut list;
            loop {
                list = restore::deleted(&engine, &search, items.len() as u32, 500).await?;
                let got = list.items.len();
                items.append(&mut list.items);
                if got == 0 || items.len() as u64 >= list.total {
                    break;
                }
            }
            if json {
                list.items = items;
                crate::json::print(&crate::json::trash(&list))?;
                return Ok(0);
            }
            if items.is_empty() {
                println!("the trash is empty (deleted items are kept {} days)", list.retention_days);
            }
            for i in &items {
                let what = match i.kind {
                    NodeKind::Dir => format!("folder, {} files, {}", i.files, words::bytes(i.size)),
                    NodeKind::File => words::bytes(i.size),
                };
                println!(
                    "{}\tdeleted {} by {}\t{}",
                    i.path,
                    words::unix_moment(i.deleted_at),
                    if i.device_name.is_empty() { "?" } else { &i.device_name },
                    what
                );
            }
            Ok(0)
        }
        (None, Some(path)) => {
            let target =
                restore::target_for_path(&engine, &path, args.version, args.to.as_deref()).await?;
            let targets: [Target; 1] = [target];
            let results = restore::restore_many(&engine, &targets, &mut |_| {}).await;
            let done = match &results[0].result {
                Ok(r) => r.clone(),
                Err(e) => anyhow::bail!("cannot restore {path}: {e}"),
            };
            println!(
                "restored {} ({} file{}) on the service",
                done.path,
                done.files,
                if done.files == 1 { "" } else { "s" }
            );
            let Some(local) = restore::local_path(&engine.config, &done.path) else {
                println!("it is not inside a folder this computer syncs, so it stays on the service");
                return Ok(0);
            };
            // Bring it down now unless a running sync holds the home: then
            // that sync picks it up from the change feed.
            let Ok(_lock) = home.lock_for_sync() else {
                println!("the running sync brings it to {}", local.display());
                return Ok(0);
            };
            match engine.sync_once(false).await? {
                Outcome::InSync => {
                    println!("back at {}", local.display());
                    Ok(0)
                }
                Outcome::Paused(pauses) => {
                    for p in pauses {
                        eprintln!("{}", words::pause(&p));
                    }
                    Ok(crate::PAUSED)
                }
            }
        }
        (None, None) => anyhow::bail!(
            "say what to restore: `nubo restore PATH`, or see what can be restored with `nubo restore list`"
        ),
    }
}
