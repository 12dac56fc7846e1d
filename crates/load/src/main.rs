//! `nubo-load`: how many active clients a Nubo service holds. Each simulated
//! client keeps the push stream open, as a watching PC does, and once an
//! interval changes a file: it uploads a chunk, commits the file on the
//! revision it last saw, and reads the change feed. The number of clients
//! grows step by step until a step is not held: a request failed, the 95th
//! percentile of a change went over the limit, or fewer changes were made
//! than asked for. `make loadtest` runs it against one and two instances.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use nubo_protocol::{AccountInfo, ChangesResponse, Node, TokenResponse};
use reqwest::Client;
use serde_json::json;

#[derive(Parser)]
#[command(name = "nubo-load")]
struct Args {
    /// A service URL; give several to spread the clients over instances.
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// Accounts to sign in to, made beforehand: load-1 … load-N, password
    /// "load-test". Clients are spread over them.
    #[arg(long, default_value_t = 20)]
    accounts: usize,
    /// Client counts to try, in order; stops after the first not held.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "25,50,100,150,200,300,400,600,800"
    )]
    clients: Vec<usize>,
    /// How long each step lasts, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Each client's time between two changes, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// A step is held while the 95th percentile of a change stays under
    /// this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    p95_limit_ms: u64,
    /// Exit 1 when any request failed (for `make test`, where what counts is
    /// that nothing goes wrong under load, not the numbers).
    #[arg(long)]
    strict: bool,
}

const PASSWORD: &str = "load-test";

#[derive(Default)]
struct Tally {
    millis: Vec<u64>,
    failures: u64,
    first_failure: Option<String>,
}

struct Step {
    clients: usize,
    changes_per_sec: f64,
    asked_per_sec: f64,
    p50: u64,
    p95: u64,
    failures: u64,
    first_failure: Option<String>,
}

impl Step {
    fn held(&self, p95_limit: u64) -> bool {
        self.failures == 0
            && self.p95 <= p95_limit
            && self.changes_per_sec >= 0.9 * self.asked_per_sec
    }
}

/// One signed-in account: a token for each instance would be the same one
/// (they share the database), so one sign-in serves every client of it.
struct Account {
    token: String,
    root: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut accounts = Vec::new();
    for i in 1..=args.accounts {
        accounts.push(sign_in(&http, &args.urls[0], &format!("load-{i}")).await?);
    }
    let accounts = Arc::new(accounts);
    let mut held_at = None;
    println!(
        "{} instance(s); each client changes a file every {} ms and holds the push stream",
        args.urls.len(),
        args.interval_ms
    );
    for &n in &args.clients {
        // Each client works in a folder of its own, made once.
        let mut folders = Vec::with_capacity(n);
        for c in 0..n {
            let acc = &accounts[c % accounts.len()];
            folders.push(mkdir(&http, &args.urls[0], acc, &format!("client-{c}")).await?);
        }
        let step = run_step(&http, &args, &accounts, &folders).await;
        let held = step.held(args.p95_limit_ms);
        println!(
            "clients {:>5}  changes/s {:>7.1} of {:>7.1}  p50 {:>5} ms  p95 {:>5} ms  failed {:>4}  {}",
            step.clients,
            step.changes_per_sec,
            step.asked_per_sec,
            step.p50,
            step.p95,
            step.failures,
            if held { "held" } else { "NOT held" }
        );
        if let Some(f) = &step.first_failure {
            println!("  first failure: {f}");
        }
        if args.strict && step.failures > 0 {
            bail!("{} requests failed under load", step.failures);
        }
        if !held {
            break;
        }
        held_at = Some(step);
    }
    match held_at {
        Some(s) => println!(
            "RESULT instances={} clients={} changes_per_sec={:.1} p95_ms={}",
            args.urls.len(),
            s.clients,
            s.changes_per_sec,
            s.p95
        ),
        None => println!("RESULT instances={} clients=0", args.urls.len()),
    }
    Ok(())
}

async fn sign_in(http: &Client, url: &str, account: &str) -> anyhow::Result<Account> {
    let r = http
        .post(format!("{url}/v1/auth/login"))
        .json(&json!({"login": account, "password": PASSWORD, "device_name": "nubo-load"}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!(
            "cannot sign in to {account} at {url}: {} (make the accounts first: nubo admin add-account)",
            r.status()
        );
    }
    let token = r.json::<TokenResponse>().await?.access_token;
    let info: AccountInfo = http
        .get(format!("{url}/v1/account"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    Ok(Account {
        token,
        root: info.root_id,
    })
}

async fn mkdir(http: &Client, url: &str, acc: &Account, name: &str) -> anyhow::Result<i64> {
    let node: Node = http
        .post(format!("{url}/v1/nodes/mkdir"))
        .bearer_auth(&acc.token)
        .json(&json!({"parent": acc.root, "name": name}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(node.id)
}

async fn run_step(
    http: &Client,
    args: &Args,
    accounts: &Arc<Vec<Account>>,
    folders: &[i64],
) -> Step {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let interval = Duration::from_millis(args.interval_ms);
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let folders_len = folders.len();
    let tasks: Vec<_> = folders
        .iter()
        .enumerate()
        .map(|(c, &folder)| {
            let (http, tally, accounts) = (http.clone(), tally.clone(), accounts.clone());
            let url = args.urls[c % args.urls.len()].clone();
            tokio::spawn(async move {
                let acc = &accounts[c % accounts.len()];
                // A file new to this step: the folder outlives the step.
                let name = format!("notes-{}.txt", folders_len);
                client(
                    &http, &url, &acc.token, folder, &name, interval, until, &tally,
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let mut tally = Arc::try_unwrap(tally)
        .ok()
        .expect("every client finished")
        .into_inner()
        .unwrap();
    tally.millis.sort_unstable();
    let pct = |p: f64| {
        tally
            .millis
            .get(
                ((tally.millis.len() as f64 * p) as usize)
                    .min(tally.millis.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or(0)
    };
    let secs = args.seconds as f64;
    Step {
        clients: folders.len(),
        changes_per_sec: tally.millis.len() as f64 / secs,
        asked_per_sec: folders.len() as f64 * 1000.0 / args.interval_ms as f64,
        p50: pct(0.5),
        p95: pct(0.95),
        failures: tally.failures,
        first_failure: tally.first_failure,
    }
}

/// One simulated PC until `until`.
#[allow(clippy::too_many_arguments)]
async fn client(
    http: &Client,
    url: &str,
    token: &str,
    folder: i64,
    name: &str,
    interval: Duration,
    until: Instant,
    tally: &Mutex<Tally>,
) {
    let fail = |e: anyhow::Error| {
        let mut t = tally.lock().unwrap();
        t.failures += 1;
        t.first_failure.get_or_insert_with(|| format!("{e:#}"));
    };
    // The push stream, held open and read as a watching client does.
    let push = match http
        .get(format!("{url}/v1/events"))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {
            use futures::StreamExt;
            let mut body = r.bytes_stream();
            tokio::spawn(async move { while let Some(Ok(_)) = body.next().await {} })
        }
        Ok(r) => return fail(anyhow::anyhow!("push stream refused: {}", r.status())),
        Err(e) => return fail(e.into()),
    };
    // Clients do not all start on the same millisecond.
    tokio::time::sleep(interval.mul_f64(rand::random::<f64>())).await;
    let mut file: Option<(i64, i64)> = None;
    let mut cursor = 0i64;
    while Instant::now() < until {
        let started = Instant::now();
        match change(http, url, token, folder, name, &mut file, &mut cursor).await {
            Ok(()) => tally
                .lock()
                .unwrap()
                .millis
                .push(started.elapsed().as_millis() as u64),
            Err(e) => fail(e),
        }
        tokio::time::sleep_until((started + interval).into()).await;
    }
    push.abort();
}

/// Upload a chunk, commit the file on the revision last seen, read the feed.
async fn change(
    http: &Client,
    url: &str,
    token: &str,
    folder: i64,
    name: &str,
    file: &mut Option<(i64, i64)>,
    cursor: &mut i64,
) -> anyhow::Result<()> {
    let content: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
    let hash = blake3::hash(&content).to_hex().to_string();
    http.put(format!("{url}/v1/chunks/{hash}"))
        .bearer_auth(token)
        .body(content.clone())
        .send()
        .await?
        .error_for_status()
        .context("uploading a chunk")?;
    let body = json!({
        "parent": folder, "name": name, "node": file.map(|f| f.0), "base_rev": file.map(|f| f.1),
        "size": content.len(), "hash": hash, "chunks": [{"hash": hash, "size": content.len()}], "mtime_ms": 0
    });
    let r = http
        .post(format!("{url}/v1/nodes/commit"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!(
            "commit: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    let node: Node = r.json().await?;
    *file = Some((node.id, node.rev));
    let changes: ChangesResponse = http
        .get(format!("{url}/v1/changes?cursor={cursor}&limit=1000"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()
        .context("reading the change feed")?
        .json()
        .await?;
    *cursor = changes.cursor;
    Ok(())
}
