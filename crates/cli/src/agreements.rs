//! `nubo agreements`: list, read, accept (showing each document and asking
//! the age question first), decline, withdraw push consent, history.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use nubo_engine::account::{self, AgreementOutdated, ToRead};
use nubo_engine::{Engine, Home};
use nubo_protocol::{AgeConfirmation, Requirement};

/// What `nubo agreements` was asked to do.
pub struct Request {
    pub accept: bool,
    pub adult: bool,
    pub guardian: bool,
    pub push: bool,
    pub read: Option<String>,
    pub locale: String,
    pub history: bool,
    pub decline: bool,
    pub withdraw_push: bool,
    pub json: bool,
}

pub async fn run(home: Home, r: Request) -> anyhow::Result<u8> {
    if r.decline {
        return decline(home, &r.locale).await;
    }
    let engine = Engine::open(home)?;
    if r.history {
        return history(&engine, r.json);
    }
    if r.withdraw_push {
        return withdraw(&engine).await;
    }
    if let Some(id) = r.read {
        print!(
            "{}",
            engine.remote().agreement_text(&id, &r.locale, None).await?
        );
        return Ok(0);
    }
    if r.accept {
        return accept(&engine, &r).await;
    }
    list(&engine, r.json).await
}

fn requirement(r: Requirement) -> &'static str {
    match r {
        Requirement::SignIn => "required to sign in",
        Requirement::Sync => "required to sync",
        Requirement::Optional => "optional",
    }
}

async fn list(engine: &Engine, json: bool) -> anyhow::Result<u8> {
    let docs = account::agreements(engine).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
        return Ok(0);
    }
    for d in &docs {
        println!(
            "{} [{}] \"{}\" version {} effective {} ({}) in {}",
            if d.accepted { "accepted" } else { "PENDING " },
            d.id,
            d.title,
            d.version,
            d.effective,
            requirement(d.required),
            d.locales.join(", ")
        );
        if let Some((version, date)) = &d.upcoming {
            println!("         new terms take effect on {date}: version {version}");
        }
    }
    if docs.iter().any(|d| !d.accepted) {
        println!("read one with `nubo agreements --read ID --locale en|zh-CN`; accept with `nubo agreements --accept` (it asks whether you are 18 or older; --adult or --guardian for scripts)");
    }
    Ok(0)
}

/// Saves each document as shown to a file in the home, and prints where.
async fn show(engine: &Engine, docs: &[ToRead]) -> anyhow::Result<()> {
    let dir: PathBuf = engine.home.dir.join("agreements");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for d in docs {
        let i = &d.item;
        let text = engine
            .remote()
            .agreement_text(&i.id, &i.locale, Some(&i.version))
            .await?;
        let path = dir.join(format!("{}.{}.{}.md", i.id, i.version, i.locale));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "\"{}\" version {} ({}, {}), effective {}: {}",
            d.title,
            i.version,
            i.locale,
            requirement(d.required),
            d.effective,
            path.display()
        );
    }
    Ok(())
}

/// The age question, asked on a terminal. None: the user declines.
fn ask_age() -> anyhow::Result<Option<AgeConfirmation>> {
    let mut out = std::io::stdout();
    writeln!(
        out,
        "Read the documents above. Are you 18 or older?\n  y  yes, I am 18 or older\n  g  no, but my parent or guardian has read them and agrees\n  n  no, and no guardian agrees: decline (a minor without a guardian's consent must decline)"
    )?;
    loop {
        write!(out, "[y/g/n] ")?;
        out.flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        match line.trim().to_lowercase().as_str() {
            "y" | "yes" => return Ok(Some(AgeConfirmation::Adult)),
            "g" | "guardian" => return Ok(Some(AgeConfirmation::Guardian)),
            "n" | "no" => return Ok(None),
            _ => writeln!(out, "answer y, g or n")?,
        }
    }
}

async fn accept(engine: &Engine, r: &Request) -> anyhow::Result<u8> {
    let docs = account::to_read(engine, &r.locale, true, r.push).await?;
    if docs.is_empty() {
        println!("nothing to accept: every agreement is accepted");
        return Ok(0);
    }
    show(engine, &docs).await?;
    let age = match (r.adult, r.guardian) {
        (true, _) => AgeConfirmation::Adult,
        (_, true) => AgeConfirmation::Guardian,
        _ if std::io::stdin().is_terminal() => match ask_age()? {
            Some(age) => age,
            None => {
                println!("nothing was accepted; to decline and sign out, run `nubo agreements --decline`");
                return Ok(1);
            }
        },
        _ => bail!(
            "not a terminal, so the age question cannot be asked: read the documents above, then pass --adult (18 or older) or --guardian (a guardian agrees for a minor)"
        ),
    };
    let shown: Vec<_> = docs.iter().map(|d| d.item.clone()).collect();
    let records = match account::accept(engine, &shown, age).await {
        Ok(records) => records,
        Err(e) => match e.downcast::<AgreementOutdated>() {
            Ok(o) => bail!(
                "{}; run `nubo agreements --accept` again to read it",
                o.message
            ),
            Err(e) => return Err(e),
        },
    };
    if r.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        for rec in records {
            println!(
                "accepted {} version {} ({}, {})",
                rec.id, rec.version, rec.locale, rec.age
            );
        }
    }
    Ok(0)
}

async fn decline(home: Home, locale: &str) -> anyhow::Result<u8> {
    let shown = match Engine::open(home.clone()) {
        Ok(engine) => account::to_read(&engine, locale, true, false)
            .await
            .map(|docs| docs.into_iter().map(|d| d.item).collect())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    account::decline(&home, &shown).await?;
    println!(
        "declined: this device is signed out and syncs nothing; your files stay where they are. \
         To use Nubo again, sign in and accept the agreements"
    );
    Ok(0)
}

fn history(engine: &Engine, json: bool) -> anyhow::Result<u8> {
    let records = engine.db.acceptances()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        for r in records {
            println!(
                "{}\tversion {}\t{}\t{}\t{}",
                r.id, r.version, r.locale, r.age, r.accepted_at
            );
        }
    }
    Ok(0)
}

async fn withdraw(engine: &Engine) -> anyhow::Result<u8> {
    let records = account::withdraw_optional(engine).await?;
    if records.is_empty() {
        println!("no consent to withdraw: instant change notifications were not allowed");
    }
    for r in records {
        println!(
            "withdrew consent to {} version {}; changes from the service are now found by polling",
            r.id, r.version
        );
    }
    Ok(0)
}
