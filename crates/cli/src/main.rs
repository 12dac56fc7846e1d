//! `nubo`: the headless client and the reference service in one binary.
//! The command surface is a contract: scripts and tests drive it.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use nubo_engine::account;
use nubo_engine::engine::signed_in_service;
use nubo_engine::home::TokenStore;
use nubo_engine::planner::Mode;
use nubo_engine::remote::AccountRemote;
use nubo_engine::report::PassOutcome;
use nubo_engine::{Engine, Home, Outcome};

mod account_cmd;
mod agreements;
mod json;
mod progress;
mod restore;
mod words;

#[derive(Parser)]
#[command(
    name = "nubo",
    version,
    about = "Nubo: keeps folders in sync with a Nubo service"
)]
struct Cli {
    /// The client home: config, state database and logs of one account.
    #[arg(long, env = "NUBO_HOME", global = true)]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference service.
    Serve(ServeArgs),
    /// Administer a service's data folder.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Sign in: with the password (read from standard input, never stored),
    /// or with --device-code, approved from a device already signed in.
    Login {
        server_url: String,
        /// An account ID or a phone number (with --password-stdin).
        #[arg(required_unless_present = "device_code")]
        account: Option<String>,
        #[arg(long, required_unless_present = "device_code", requires = "account")]
        password_stdin: bool,
        /// Show a code to approve with `nubo approve CODE` (or on the
        /// service's /device page), and wait for it.
        #[arg(long, conflicts_with = "password_stdin")]
        device_code: bool,
    },
    /// Approve a device-code sign-in shown on another device, into this
    /// home's account. Shows which device asks (its name, system, and when)
    /// and asks before approving, unless --yes.
    Approve {
        code: String,
        /// Approve without asking (the device is still shown).
        #[arg(long)]
        yes: bool,
    },
    /// Show the service's agreements, or accept them.
    Agreements {
        /// Accept every pending required agreement: each is saved to a file
        /// and its path printed first; on a terminal, asks whether you are
        /// 18 or older (or your guardian agrees).
        #[arg(long)]
        accept: bool,
        /// With --accept, for scripts: I am 18 or older.
        #[arg(long, requires = "accept", conflicts_with = "guardian")]
        adult: bool,
        /// With --accept, for scripts: I am under 18 and my guardian has
        /// read the documents and agrees.
        #[arg(long, requires = "accept")]
        guardian: bool,
        /// With --accept: also consent to instant change notifications (push terms).
        #[arg(long, requires = "accept")]
        push: bool,
        /// Print the text of one document.
        #[arg(long, value_name = "ID")]
        read: Option<String>,
        /// Language to read or accept in (en, zh-CN).
        #[arg(long, default_value = "en")]
        locale: String,
        /// The local record of acceptances (document, version, language, time).
        #[arg(long)]
        history: bool,
        /// Withdraw consent to instant change notifications (the push terms):
        /// the client polls instead. `--accept --push` gives it again.
        #[arg(long, conflicts_with = "accept")]
        withdraw_push: bool,
        /// Decline: sign this device out; nothing is synced, every file stays.
        #[arg(long, conflicts_with = "accept")]
        decline: bool,
        #[arg(long)]
        json: bool,
    },
    /// Manage synced folders.
    Folder {
        #[command(subcommand)]
        command: FolderCommand,
    },
    /// Sync now, then keep watching (or stop when in step, with --once).
    Sync {
        /// Exit 0 when both sides agree; exit 3 when paused for a decision.
        #[arg(long)]
        once: bool,
        /// Go ahead with a sync that deletes many files.
        #[arg(long)]
        allow_mass_delete: bool,
        /// Show progress as lines even where the output is not a terminal
        /// (on a terminal it is always shown, as a bar).
        #[arg(long)]
        progress: bool,
    },
    /// What is happening, conflicts, recent changes, the last error.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The account's signed-in devices; `--revoke ID` signs one out remotely.
    Devices {
        #[arg(long, value_name = "ID")]
        revoke: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// The account itself.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Copy everything the account stores on the service into DIR (with
    /// --trash, the trash too, into DIR/"Trash (from Nubo)"). Run it again
    /// to resume: files already there are skipped.
    Export {
        dir: PathBuf,
        #[arg(long)]
        trash: bool,
    },
    /// Bring back deleted files and folders, or earlier versions of a file.
    Restore(restore::RestoreArgs),
    /// Sign this device out; files and folders stay.
    Logout,
}

/// Where the service keeps what it stores: a data folder, or PostgreSQL
/// and an S3 bucket (shared by several instances).
#[derive(Args)]
struct StorageArgs {
    /// The data folder: SQLite metadata and chunks, unless --database and
    /// --chunks put them elsewhere.
    #[arg(long, required_unless_present = "database")]
    data: Option<PathBuf>,
    /// Metadata in PostgreSQL: postgres://user@host/dbname (a password is
    /// better given in NUBO_DATABASE than on the command line).
    #[arg(long, env = "NUBO_DATABASE")]
    database: Option<String>,
    /// Reach PostgreSQL over TLS, trusting the CA certificates in this PEM
    /// file (without it, the connection is plain: keep the database local).
    #[arg(long, env = "NUBO_DATABASE_CA", requires = "database")]
    database_ca: Option<PathBuf>,
    /// Chunks in an S3-compatible store: s3://bucket/prefix. Credentials
    /// come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "NUBO_CHUNKS")]
    chunks: Option<String>,
    /// The S3 endpoint, for a provider other than AWS (else AWS_ENDPOINT_URL).
    #[arg(long, requires = "chunks")]
    s3_endpoint: Option<String>,
    /// The S3 region (else AWS_REGION).
    #[arg(long, requires = "chunks")]
    s3_region: Option<String>,
}

impl StorageArgs {
    /// `chunks`: whether chunks are needed (serving, not adding an account).
    fn config(&self, chunks: bool) -> anyhow::Result<nubo_server::ServerConfig> {
        if chunks && self.data.is_none() && self.chunks.is_none() {
            bail!("chunks need a place: give --chunks s3://bucket/prefix, or --data DIR");
        }
        let mut config = nubo_server::ServerConfig::new(self.data.clone().unwrap_or_default());
        config.database = self.database.clone();
        config.database_ca = self.database_ca.clone();
        config.chunks = self.chunks.clone();
        config.s3.endpoint = self.s3_endpoint.clone();
        config.s3.region = self.s3_region.clone();
        Ok(config)
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    storage: StorageArgs,
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// A folder of agreement documents with a manifest.json.
    #[arg(long)]
    agreements: Option<PathBuf>,
    /// The project's sample agreements and a demo account.
    #[arg(long)]
    demo: bool,
    /// Earlier revisions kept per file.
    #[arg(long, default_value_t = 50)]
    keep_versions: u32,
    /// Storage quota of new accounts, in bytes.
    #[arg(long, default_value_t = 10 << 30)]
    default_quota: u64,
    /// Lifetime of access tokens, in seconds (clients refresh them on their own).
    #[arg(long, default_value_t = 3600)]
    access_ttl: u64,
    /// Days deleted items and replaced versions are kept for restore.
    #[arg(long, default_value_t = 30)]
    retention_days: u32,
    /// Serve HTTPS with this certificate chain (PEM); needed to listen on
    /// anything but loopback.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy in front of the service (repeat for several): a
    /// request from it counts for the client address it names in
    /// X-Forwarded-For, for rate limits and sign-in slowdowns.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Requests without a token (sign-in, refresh, sign-in by code) each
    /// client address may send a minute.
    #[arg(long, default_value_t = 600)]
    public_rate: u32,
    /// Tests only: move the service's clock by the seconds in this file.
    #[arg(long, hide = true)]
    clock_offset_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account; the password is read from standard input.
    AddAccount {
        #[command(flatten)]
        storage: StorageArgs,
        account_id: String,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, default_value_t = 10 << 30)]
        quota: u64,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set a new password for an account (read from standard input) and
    /// sign every device of it out: for a user who lost the password.
    ResetPassword {
        #[command(flatten)]
        storage: StorageArgs,
        /// The account ID or phone number.
        account: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Remove now the chunks that no file, trash entry or kept version
    /// names any more (the service does it every hour), and say what was
    /// freed. Chunks uploaded in the last day for a commit still to come
    /// stay.
    Gc {
        #[command(flatten)]
        storage: StorageArgs,
        /// Also list the whole chunk store and remove the objects that no
        /// chunk row names, written over a day ago: left by a service that
        /// died, or whose disk filled up, in the middle of an upload.
        #[arg(long)]
        sweep: bool,
    },
    /// Bring a PostgreSQL database's schema up to date; with --from-data,
    /// first copy a data folder's service into it (see "Operating at
    /// scale" in the README).
    Migrate {
        /// postgres://user@host/dbname (or NUBO_DATABASE).
        #[arg(long, env = "NUBO_DATABASE")]
        database: String,
        /// TLS to PostgreSQL, trusting the CA certificates in this PEM file.
        #[arg(long, env = "NUBO_DATABASE_CA")]
        database_ca: Option<PathBuf>,
        /// The data folder of a service that ran on SQLite; it is only read.
        #[arg(long)]
        from_data: Option<PathBuf>,
        /// With --from-data: also copy its chunks to this S3 store.
        #[arg(long, requires = "from_data")]
        chunks: Option<String>,
        #[arg(long, requires = "chunks")]
        s3_endpoint: Option<String>,
        #[arg(long, requires = "chunks")]
        s3_region: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Delete the account and everything it stores on the service, after
    /// typing its ID on standard input. Files on your computers stay.
    /// First says what would be lost (see `nubo export`).
    Cancel,
    /// Change the password: reads the current one, then the new one, one
    /// line each, from standard input. Other devices stay signed in.
    Password {
        /// Also sign out every other device of the account.
        #[arg(long)]
        sign_out_others: bool,
    },
}

#[derive(Subcommand)]
enum FolderCommand {
    /// Sync a local folder (created if missing; a non-empty one is merged, never wiped).
    Add {
        local_path: PathBuf,
        #[arg(long, default_value = "/")]
        remote: String,
        #[arg(long, default_value = "two-way")]
        mode: Mode,
    },
    /// Stop syncing a folder; its files stay.
    Remove {
        local_path: PathBuf,
    },
    /// Selective sync: keep REMOTE_PATH on the service only. Its copy here
    /// goes to the trash (refused while it has unsynced changes).
    Exclude {
        remote_path: String,
    },
    /// Sync REMOTE_PATH to this computer again.
    Include {
        remote_path: String,
    },
    /// LOCAL_PATH, a subfolder whose disk was unmounted (or over which a
    /// disk was mounted), is meant to be as it is now: its old content is
    /// no longer kept, and the next sync deletes it (behind the mass-delete
    /// guard) or syncs what is there.
    ForgetMount {
        local_path: PathBuf,
    },
    /// Stop syncing a folder for now; nothing in it changes.
    Pause {
        local_path: PathBuf,
    },
    /// Sync a paused folder again.
    Resume {
        local_path: PathBuf,
    },
    /// Change how a folder syncs: two-way, upload-only or download-only.
    Mode {
        local_path: PathBuf,
        mode: Mode,
    },
    List,
}

/// Asks on standard error; whether the answer read from standard input
/// is "yes".
fn confirmed(question: &str) -> anyhow::Result<bool> {
    eprintln!("{question}");
    let mut typed = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut typed)
        .context("cannot read the answer from standard input")?;
    Ok(typed.trim().eq_ignore_ascii_case("yes"))
}

/// A refused sign-in, in words; a wait with its time, in local time.
fn login_failure(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<account::LoginError>().map(|l| l.problem) {
        Some(account::LoginProblem::TooManyAttempts { retry_at }) => anyhow::anyhow!(
            "too many sign-in attempts for this account or from this address; try again at {}",
            words::unix_moment(retry_at)
        ),
        _ => e,
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

fn home_of(cli_home: Option<PathBuf>) -> anyhow::Result<Home> {
    let dir = match cli_home {
        Some(d) => d,
        None => directories::ProjectDirs::from("", "", "Nubo")
            .context("no home directory found; pass --home DIR")?
            .data_dir()
            .to_path_buf(),
    };
    Home::new(dir)
}

fn log_to_home(home: &Home) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    nubo_engine::home::private_dir(&home.logs_dir()).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("nubo")
        .filename_suffix("log")
        .max_log_files(7)
        .build(home.logs_dir())
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("NUBO_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Some(guard)
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Where the sign-in tokens are kept, in words.
fn token_store(s: &account::Status) -> String {
    match (s.token_store, &s.credentials_file) {
        (Some(TokenStore::Keyring), _) => "the OS keyring".into(),
        (Some(TokenStore::File), Some(f)) => {
            format!("{} (no keyring service was found)", f.display())
        }
        _ => "nowhere (signed out)".into(),
    }
}

/// `nubo status`, in words.
fn print_status(s: &account::Status) {
    match (&s.account, &s.server) {
        (Some(a), Some(srv)) if s.signed_in => println!("signed in as {a} on {srv}"),
        (Some(a), Some(srv)) => println!("signed out ({a} on {srv}); sign in with `nubo login`"),
        _ => println!("not signed in; sign in with `nubo login SERVER ACCOUNT --password-stdin`"),
    }
    if s.token_store.is_some() {
        println!("tokens kept in {}", token_store(s));
    }
    for f in &s.folders {
        println!(
            "folder {} <-> {} ({}{})",
            f.local.display(),
            f.remote,
            f.mode,
            if f.paused { ", paused" } else { "" }
        );
    }
    if let Some(d) = &s.database {
        println!("state database: {}", words::database(d));
    }
    match &s.last_pass {
        Some(p) => println!(
            "state: {} (at {})",
            words::outcome(&p.outcome),
            words::moment(p.at)
        ),
        None => println!("state: not synced yet"),
    }
    if let Some(n) = &s.notice {
        println!("notice: {}", words::notice(n));
    }
    for u in &s.upcoming_agreements {
        println!(
            "new terms take effect on {}: \"{}\" version {} (read it with `nubo agreements`)",
            u.effective, u.title, u.version
        );
    }
    if let Some(st) = s.storage {
        println!(
            "storage: {} of {} used",
            words::bytes(st.used_bytes),
            words::bytes(st.quota_bytes)
        );
    }
    for p in &s.problems {
        println!("not synced: {}", words::problem(p));
    }
    for c in &s.conflicts {
        println!(
            "conflict: {} (this computer's version kept as {})",
            c.path, c.copy
        );
    }
    for r in &s.recent {
        println!("recent: {}", words::change(&r.change));
    }
}

/// Exit code 3: paused, waiting for a decision.
const PAUSED: u8 = 3;

/// The service's log (`nubo serve`, `nubo admin gc`) on standard error,
/// filtered by NUBO_LOG (default: info).
fn log_to_stderr() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("NUBO_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `nubo serve`: the service, until a stop signal.
async fn serve(a: ServeArgs) -> anyhow::Result<u8> {
    log_to_stderr();
    let mut config = a.storage.config(true)?;
    config.listen = a.listen;
    config.demo = a.demo;
    config.keep_versions = a.keep_versions;
    config.default_quota_bytes = a.default_quota;
    config.access_ttl_secs = a.access_ttl;
    config.retention_days = a.retention_days;
    config.throttling.trusted_proxies = a.trusted_proxies;
    config.throttling.public_per_minute = a.public_rate;
    config.throttling.public_burst = a.public_rate.div_ceil(5);
    if let (Some(cert), Some(key)) = (a.tls_cert, a.tls_key) {
        config.tls = Some(nubo_server::tls::TlsFiles { cert, key });
    }
    if let Some(f) = a.clock_offset_file {
        config.clock = std::sync::Arc::new(nubo_server::clock::FileOffsetClock(f));
    }
    config.agreements = match (a.agreements, a.demo) {
        (Some(dir), _) => nubo_server::AgreementSource::Dir(dir),
        (None, true) => nubo_server::AgreementSource::Samples,
        (None, false) => nubo_server::AgreementSource::None,
    };
    let server = nubo_server::start(config).await?;
    // A closed stdout (a supervisor that stopped reading) must not
    // take the service down, so these writes ignore errors.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Nubo service listening on {}", server.url());
    if a.demo {
        let _ = writeln!(
            out,
            "demo account: {} / password {}",
            nubo_server::DEMO_ACCOUNT,
            nubo_server::DEMO_PASSWORD
        );
    }
    let _ = out.flush();
    stop_signal().await;
    server.shutdown().await;
    Ok(0)
}

/// `nubo admin gc`: one garbage collection of the chunk store, and what
/// it freed.
async fn admin_gc(storage: StorageArgs, sweep: bool) -> anyhow::Result<u8> {
    log_to_stderr();
    let (report, swept) = nubo_server::collect_garbage(storage.config(true)?, sweep).await?;
    println!(
        "garbage collection: {} chunks no longer used; {} objects removed, {} bytes freed; \
         {} bytes stay in packs still partly in use",
        report.dropped_chunks, report.freed.objects, report.freed.bytes, report.kept_bytes
    );
    if report.gc_failed_accounts > 0 {
        println!(
            "{} accounts could not be collected this time (why is logged above); run it again",
            report.gc_failed_accounts
        );
    }
    if let Some(swept) = swept {
        println!(
            "sweep: {} objects no chunk row named removed, {} bytes freed",
            swept.objects, swept.bytes
        );
    }
    Ok(0)
}

/// `nubo admin`: accounts and migration, straight on the service's storage.
async fn admin(command: AdminCommand) -> anyhow::Result<u8> {
    match command {
        AdminCommand::AddAccount {
            storage,
            account_id,
            phone,
            quota,
            ..
        } => {
            let password = read_password()?;
            let config = storage.config(false)?;
            tokio::task::spawn_blocking(move || {
                nubo_server::add_account(&config, &account_id, phone.as_deref(), quota, &password)?;
                println!("account {account_id} created");
                anyhow::Ok(0)
            })
            .await?
        }
        AdminCommand::ResetPassword {
            storage, account, ..
        } => {
            let password = read_password()?;
            let config = storage.config(false)?;
            tokio::task::spawn_blocking(move || {
                nubo_server::reset_password(&config, &account, &password)?;
                println!("the password of {account} is reset; every device of it signs in again");
                anyhow::Ok(0)
            })
            .await?
        }
        AdminCommand::Gc { storage, sweep } => admin_gc(storage, sweep).await,
        AdminCommand::Migrate {
            database,
            database_ca,
            from_data,
            chunks,
            s3_endpoint,
            s3_region,
        } => {
            let s3 = nubo_server::chunks::S3Settings {
                endpoint: s3_endpoint,
                region: s3_region,
                ..Default::default()
            };
            let report = nubo_server::migrate::run(
                &database,
                database_ca.as_deref(),
                from_data.as_deref(),
                chunks.as_deref(),
                &s3,
            )
            .await?;
            println!("{report}");
            Ok(0)
        }
    }
}

/// `nubo login`: with the password from standard input, or by a code approved elsewhere.
async fn login(
    home: Home,
    server_url: String,
    account: Option<String>,
    device_code: bool,
) -> anyhow::Result<u8> {
    let _log = log_to_home(&home);
    let store = if device_code {
        let (server, code) = account::start_code_sign_in(&server_url)
            .await
            .map_err(login_failure)?;
        // Printed at once: the user acts on it while this waits.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "To sign in, approve the code {code} from a device already signed in: \
             run `nubo approve {code}` there, or open {uri} and enter the code with your account.\n\
             Waiting for approval (the code works for {min} minutes)…",
            code = code.user_code,
            uri = code.verification_uri_complete,
            min = code.expires_in / 60
        );
        let _ = out.flush();
        account::finish_code_sign_in(&home, &server, &code)
            .await
            .map_err(login_failure)?
    } else {
        let password = read_password()?;
        let account = account.context("name the account to sign in to")?;
        account::login(&home, &server_url, &account, &password)
            .await
            .map_err(login_failure)?
    };
    let status = account::status(&home)?;
    println!(
        "signed in as {} on {}; tokens kept in {}",
        status.account.as_deref().unwrap_or_default(),
        status.server.as_deref().unwrap_or_default(),
        token_store(&status)
    );
    let _ = store;
    Ok(0)
}

/// `nubo approve CODE`: lets another device's sign-in by code into this account.
async fn approve(home: Home, code: String, yes: bool) -> anyhow::Result<u8> {
    // The service alone: the state database is not needed, nor opened.
    let service = signed_in_service(&home, &home.load_config()?)?;
    let asking = service
        .waiting_sign_in(&code)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let os = if asking.os.is_empty() {
        "system not given"
    } else {
        &asking.os
    };
    println!(
        "\"{}\" ({os}) asks to sign in to this account with the code {}; it asked at {}.",
        asking.device_name,
        asking.user_code,
        words::unix_moment(asking.requested_at)
    );
    if !yes
        && !confirmed("Approve only if this is your own device, asking now. Type yes to approve:")?
    {
        bail!("not approved; the device keeps waiting until its code expires");
    }
    service
        .approve_device(&asking.user_code)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "approved: the device showing {} is signing in to this account now",
        asking.user_code
    );
    Ok(0)
}

/// `nubo folder ...`: what is synced, and how.
fn folder(home: &Home, command: FolderCommand) -> anyhow::Result<u8> {
    match command {
        FolderCommand::Add {
            local_path,
            remote,
            mode,
        } => {
            let non_empty = std::fs::read_dir(&local_path)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            let f = account::add_folder(home, &local_path, &remote, mode)?;
            println!(
                "syncing {} with {} ({})",
                f.local.display(),
                f.remote,
                f.mode
            );
            if non_empty {
                println!("the folder is not empty: its files will be merged with the service's, never wiped");
            }
        }
        FolderCommand::Remove { local_path } => {
            account::remove_folder(home, &local_path)?;
            println!("stopped syncing {}; its files stay", local_path.display());
        }
        FolderCommand::Pause { local_path } => {
            let f = account::set_folder(home, &local_path, None, Some(true))?;
            println!(
                "paused {}; nothing in it is synced until `nubo folder resume`",
                f.local.display()
            );
        }
        FolderCommand::Resume { local_path } => {
            let f = account::set_folder(home, &local_path, None, Some(false))?;
            println!("{} syncs again", f.local.display());
        }
        FolderCommand::Mode { local_path, mode } => {
            let f = account::set_folder(home, &local_path, Some(mode), None)?;
            println!("{} now syncs {}", f.local.display(), f.mode);
        }
        FolderCommand::Exclude { remote_path } => {
            let _lock = home.lock_for_sync()?;
            let local = account::exclude(home, &remote_path)?;
            println!(
                "{remote_path} now stays on the service only; its copy at {} is in the trash",
                local.display()
            );
        }
        FolderCommand::Include { remote_path } => {
            let _lock = home.lock_for_sync()?;
            account::include(home, &remote_path)?;
            println!("{remote_path} will be synced to this computer again at the next sync");
        }
        FolderCommand::ForgetMount { local_path } => {
            let _lock = home.lock_for_sync()?;
            account::forget_mount(home, &local_path)?;
            println!(
                "{} is taken as it is now at the next sync",
                local_path.display()
            );
        }
        FolderCommand::List => {
            for f in home.load_config()?.folders {
                println!("{}\t{}\t{}", f.local.display(), f.remote, f.mode);
                for e in &f.excluded {
                    println!("  excluded: {e}");
                }
            }
        }
    }
    Ok(0)
}

/// `nubo sync`: one pass (`--once`, exit 3 when paused), or watching until
/// stopped; `progress` is told every event.
async fn sync(
    home: Home,
    once: bool,
    allow_mass_delete: bool,
    progress: progress::Progress,
) -> anyhow::Result<u8> {
    let _log = log_to_home(&home);
    let _lock = home.lock_for_sync()?;
    // The one open that may set a damaged state database aside and rebuild it.
    let mut engine = Engine::open_for_sync(home)?;
    // While watching, each pass that pauses or fails also says why.
    engine.set_observer(std::sync::Arc::new(move |event| {
        progress.event(&event);
        if let nubo_engine::engine::SyncEvent::Settled(pass) = event {
            if !once && !matches!(pass.outcome, PassOutcome::InSync) {
                eprintln!("{}", words::outcome(&pass.outcome));
            }
        }
    }));
    if once {
        let outcome = engine
            .sync_once(allow_mass_delete)
            .await
            .map_err(|e| anyhow::anyhow!("{}", words::failure(&e.failure())));
        // The bar goes before anything else is said.
        engine.clear_observer();
        let outcome = outcome?;
        // What is left alone is said on every pass, not only in `status`.
        for p in engine.db.problems()? {
            eprintln!("not synced: {}", words::problem(&p));
        }
        return match outcome {
            Outcome::InSync => Ok(0),
            Outcome::Paused(pauses) => {
                for p in pauses {
                    eprintln!("{}", words::pause(&p));
                }
                Ok(PAUSED)
            }
        };
    }
    let push = account::push_allowed(&engine).await;
    engine.watch(allow_mass_delete, push, stop_signal()).await?;
    Ok(0)
}

/// `nubo devices`: the account's signed-in devices; `--revoke` signs one out.
async fn devices(home: Home, revoke: Option<i64>, json: bool) -> anyhow::Result<u8> {
    // The service alone: the state database is not needed, nor opened.
    let service = signed_in_service(&home, &home.load_config()?)?;
    if let Some(id) = revoke {
        service.revoke_device(id).await?;
        println!("device {id} is signed out; it stops syncing and must sign in again");
        return Ok(0);
    }
    let list = service.devices().await?;
    if json {
        json::print(&json::devices(&list.devices))?;
    } else {
        for d in list.devices {
            println!(
                "{}\t{}\t{}\tlast seen {}{}",
                d.id,
                d.name,
                if d.os.is_empty() { "?" } else { &d.os },
                words::unix_moment(d.last_seen),
                if d.current { "\t(this device)" } else { "" }
            );
        }
    }
    Ok(0)
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Admin { command } => admin(command).await,
        Command::Login {
            server_url,
            account,
            device_code,
            ..
        } => login(home_of(cli.home)?, server_url, account, device_code).await,
        Command::Approve { code, yes } => approve(home_of(cli.home)?, code, yes).await,
        Command::Agreements {
            accept,
            adult,
            guardian,
            push,
            read,
            locale,
            history,
            decline,
            withdraw_push,
            json,
        } => {
            let home = home_of(cli.home)?;
            let _log = log_to_home(&home);
            let request = agreements::Request {
                accept,
                adult,
                guardian,
                push,
                read,
                locale,
                history,
                decline,
                withdraw_push,
                json,
            };
            agreements::run(home, request).await
        }
        Command::Folder { command } => folder(&home_of(cli.home)?, command),
        Command::Sync {
            once,
            allow_mass_delete,
            progress,
        } => {
            let shown = progress::Progress::new(progress);
            sync(home_of(cli.home)?, once, allow_mass_delete, shown).await
        }
        Command::Status { json } => {
            let home = home_of(cli.home)?;
            let s = account::status(&home)?;
            if json {
                json::print(&s)?;
            } else {
                print_status(&s);
            }
            Ok(0)
        }
        Command::Devices { revoke, json } => devices(home_of(cli.home)?, revoke, json).await,
        Command::Account {
            command: AccountCommand::Cancel,
        } => account_cmd::cancel(home_of(cli.home)?).await,
        Command::Account {
            command: AccountCommand::Password { sign_out_others },
        } => account_cmd::password(home_of(cli.home)?, sign_out_others).await,
        Command::Export { dir, trash } => {
            let home = home_of(cli.home)?;
            let _log = log_to_home(&home);
            account_cmd::export(home, &dir, trash).await
        }
        Command::Restore(args) => {
            let home = home_of(cli.home)?;
            restore::run(home, args).await
        }
        Command::Logout => {
            let home = home_of(cli.home)?;
            account::logout(&home).await?;
            println!("signed out; your files stay where they are");
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nubo: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("nubo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
