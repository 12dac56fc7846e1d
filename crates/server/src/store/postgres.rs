//! The PostgreSQL backend, for a service with many users and several
//! instances (`nubo serve --database postgres://…`). The same rules as the
//! embedded one (`sql.rs`); what differs is how instances share it:
//!
//! - Every write runs SERIALIZABLE and is run again when PostgreSQL finds
//!   another transaction in its way, so a commit stays conditional on the
//!   revision it read even when two instances take the same file at once.
//! - A change is announced with NOTIFY; every instance LISTENs and wakes its
//!   own push clients (`listen`).
//! - Migrations run under an advisory lock, so instances started together
//!   migrate once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::BytesMut;
use postgres::config::SslMode;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;

use super::db::{Backend, Cell, Db, DbError, Param, Row};
use super::sql::SqlStore;
use super::StoreError;
use super::{AccountKey, Deliver};

/// The channel changes are announced on: `account:cursor`.
const CHANNEL: &str = "nubo_changes";
/// The advisory lock migrations hold (any fixed number; "nubo" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e75_626f;
/// Tries of one write before giving up on contention.
const WRITE_TRIES: u32 = 30;

/// The schema, one step per release that changed it; `nubo_schema` says
/// how many have run. The same tables and columns as SQLite's (`sqlite.rs`),
/// so `nubo admin migrate` copies rows as they are; flags stay integers 0
/// and 1 so that one text of each statement serves both.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts (
    id            BIGSERIAL PRIMARY KEY,
    account_id    TEXT NOT NULL UNIQUE,
    phone         TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    quota_bytes   BIGINT NOT NULL,
    root_id       BIGINT,
    seq           BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    deleted_at    BIGINT,
    used_bytes    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE devices (
    id         BIGSERIAL PRIMARY KEY,
    account    BIGINT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    os         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX devices_account ON devices(account);
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    device     BIGINT NOT NULL REFERENCES devices(id),
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_device ON tokens(device);
CREATE TABLE acceptances (
    id          BIGSERIAL PRIMARY KEY,
    account     BIGINT NOT NULL REFERENCES accounts(id),
    doc_id      TEXT NOT NULL,
    version     TEXT NOT NULL,
    locale      TEXT NOT NULL,
    age         TEXT NOT NULL,
    device      BIGINT NOT NULL,
    accepted_at BIGINT NOT NULL,
    withdrawn   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX acceptances_account ON acceptances(account);
CREATE TABLE nodes (
    id         BIGSERIAL PRIMARY KEY,
    account    BIGINT NOT NULL REFERENCES accounts(id),
    parent     BIGINT REFERENCES nodes(id),
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    rev        BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    chunks     TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    deleted_at BIGINT,
    deleted_by BIGINT,
    mtime_ms   BIGINT NOT NULL,
    device     BIGINT,
    delete_op  BIGINT,
    written_at BIGINT,
    purged     INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX nodes_live_name ON nodes(account, parent, name) WHERE deleted = 0;
CREATE INDEX nodes_feed ON nodes(account, seq);
CREATE INDEX nodes_parent ON nodes(parent);
CREATE INDEX nodes_trash ON nodes(account, deleted_at) WHERE deleted = 1 AND purged = 0;
CREATE TABLE versions (
    id         BIGSERIAL PRIMARY KEY,
    node       BIGINT NOT NULL REFERENCES nodes(id),
    rev        BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    chunks     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    device     BIGINT,
    written_at BIGINT
);
CREATE INDEX versions_node ON versions(node, rev);
CREATE INDEX versions_age ON versions(created_at);
CREATE TABLE account_chunks (
    account BIGINT NOT NULL,
    hash    TEXT NOT NULL,
    size    BIGINT NOT NULL,
    PRIMARY KEY (account, hash)
);
CREATE TABLE device_grants (
    code_hash   TEXT PRIMARY KEY,
    user_code   TEXT NOT NULL UNIQUE,
    device_name TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    last_poll   BIGINT NOT NULL DEFAULT 0,
    account     BIGINT REFERENCES accounts(id),
    os          TEXT NOT NULL DEFAULT ''
);
CREATE TABLE packed_chunks (
    hash       TEXT PRIMARY KEY,
    pack       TEXT NOT NULL,
    pack_start BIGINT NOT NULL,
    size       BIGINT NOT NULL
);
CREATE TABLE job_runs (
    name     TEXT PRIMARY KEY,
    last_run BIGINT NOT NULL
);
-- Each account's used bytes, kept by a trigger, as on SQLite: no write
-- path (commit, delete, restore, purge) can forget it.
CREATE FUNCTION nodes_used_bytes() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.kind = 'file' AND OLD.deleted = 0 THEN
            UPDATE accounts SET used_bytes = used_bytes - OLD.size WHERE id = OLD.account;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.kind = 'file' AND NEW.deleted = 0 THEN
            UPDATE accounts SET used_bytes = used_bytes + NEW.size WHERE id = NEW.account;
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER nodes_used AFTER INSERT OR DELETE OR UPDATE OF account, kind, size, deleted
    ON nodes FOR EACH ROW EXECUTE FUNCTION nodes_used_bytes();
"#,
    // As SQLite's step 10 (issue 19): declined agreements, every published
    // version kept, content deleted before cancellation.
    r#"
ALTER TABLE acceptances ADD COLUMN declined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN content_deleted_at BIGINT;
CREATE TABLE agreement_texts (
    doc_id       TEXT NOT NULL,
    version      TEXT NOT NULL,
    locale       TEXT NOT NULL,
    title        TEXT NOT NULL,
    effective    TEXT NOT NULL,
    required     TEXT NOT NULL,
    body         TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (doc_id, version, locale)
);
"#,
    // As SQLite's step 11: spent refresh tokens stay marked until they expire.
    r#"
ALTER TABLE tokens ADD COLUMN spent_at BIGINT;
DROP INDEX tokens_device;
CREATE INDEX tokens_device ON tokens(device, kind, expires_at);
"#,
    // As SQLite's step 12: chunks per account, and the bytes of chunks no
    // commit named yet, kept by a trigger.
    r#"
ALTER TABLE account_chunks ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE account_chunks ADD COLUMN committed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE account_chunks ADD COLUMN object TEXT;
ALTER TABLE account_chunks ADD COLUMN object_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN pending_bytes BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION chunks_pending_bytes() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.committed = 0 THEN
            UPDATE accounts SET pending_bytes = pending_bytes - OLD.size WHERE id = OLD.account;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.committed = 0 THEN
            UPDATE accounts SET pending_bytes = pending_bytes + NEW.size WHERE id = NEW.account;
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER chunks_pending AFTER INSERT OR DELETE OR UPDATE OF account, size, committed
    ON account_chunks FOR EACH ROW EXECUTE FUNCTION chunks_pending_bytes();
"#,
    // As SQLite's step 13: failed attempts, and the grants' expiry index
    // and request time.
    r#"
CREATE TABLE failed_attempts (
    subject  TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_at  BIGINT NOT NULL
);
CREATE INDEX failed_attempts_age ON failed_attempts(last_at);
ALTER TABLE device_grants ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX device_grants_expiry ON device_grants(expires_at);
"#,
    // As SQLite's step 14 (issue 15): the history's gaps.
    r#"
CREATE TABLE history_gaps (
    high  BIGINT NOT NULL,
    floor BIGINT NOT NULL
);
CREATE INDEX history_gaps_floor ON history_gaps(floor);
"#,
    // As SQLite's step 15 (issue 15): the exec bit.
    r#"
ALTER TABLE nodes ADD COLUMN exec INTEGER NOT NULL DEFAULT 0;
"#,
    // As SQLite's step 16 (issue 19): the indexes of garbage collection.
    r#"
CREATE INDEX account_chunks_object ON account_chunks(object) WHERE object IS NOT NULL;
CREATE INDEX account_chunks_shared ON account_chunks(hash) WHERE object IS NULL;
CREATE INDEX packed_chunks_pack ON packed_chunks(pack);
"#,
];

pub type PostgresStore = SqlStore<Postgres>;

impl PostgresStore {
    /// Connects, and brings the schema up to date. Blocking: call it off
    /// the async runtime.
    pub fn connect(url: &str, ca: Option<&Path>, keep_versions: u32) -> anyhow::Result<Self> {
        Ok(SqlStore::new(Postgres::connect(url, ca)?, keep_versions))
    }
}

/// TLS verified against the CA certificates of a PEM file: PostgreSQL on
/// another machine is reached encrypted, and only if it is the one meant.
fn tls_to(ca: &Path) -> anyhow::Result<MakeRustlsConnect> {
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the CA certificates {}", ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        anyhow::bail!("{} holds no usable PEM certificate", ca.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A connection, over TLS when a CA was given.
fn open(
    config: &postgres::Config,
    tls: &Option<MakeRustlsConnect>,
) -> Result<Client, postgres::Error> {
    match tls {
        Some(tls) => config.connect(tls.clone()),
        None => config.connect(NoTls),
    }
}

pub struct Postgres {
    config: postgres::Config,
    tls: Option<MakeRustlsConnect>,
    /// Always Some until dropped.
    pool: Option<r2d2::Pool<Manager>>,
}

impl Drop for Postgres {
    /// Closing a connection blocks, which a thread of the async runtime
    /// must not do, and the service's last handle is often dropped on one:
    /// the connections close on a thread of their own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            std::thread::spawn(move || drop(pool));
        }
    }
}

struct Manager(postgres::Config, Option<MakeRustlsConnect>);

/// A pooled connection and the statements it has prepared.
struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: open(&self.0, &self.1)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// The URL without its password, for messages.
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl Postgres {
    /// `ca`: reach the database over TLS, verified against these CA
    /// certificates (PEM); without it, the connection is plain.
    pub fn connect(url: &str, ca: Option<&Path>) -> anyhow::Result<Self> {
        let mut config: postgres::Config = url
            .parse()
            .with_context(|| format!("{} is not a PostgreSQL URL", shown(url)))?;
        let tls = match ca {
            Some(ca) => {
                // Given a CA, never fall back to a plain connection.
                config.ssl_mode(SslMode::Require);
                Some(tls_to(ca)?)
            }
            None => None,
        };
        let mut client = open(&config, &tls).with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}; is it running, and may this user connect?",
                shown(url)
            )
        })?;
        migrate(&mut client)?;
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(Manager(config.clone(), tls.clone()))
            .with_context(|| format!("cannot open connections to {}", shown(url)))?;
        Ok(Postgres {
            config,
            tls,
            pool: Some(pool),
        })
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.pool
            .as_ref()
            .ok_or_else(|| DbError::new("the store is closing"))?
            .get()
            .map_err(|e| DbError::new(format!("no connection to PostgreSQL: {e}")))
    }
}

/// A connection that LISTENs on the channel.
fn listening(
    config: &postgres::Config,
    tls: &Option<MakeRustlsConnect>,
) -> Result<Client, postgres::Error> {
    let mut client = open(config, tls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

/// Hands each announcement to `deliver` until `stop` is set or the
/// connection is lost.
fn pump(client: &mut Client, deliver: &Deliver, stop: &AtomicBool) -> Result<(), postgres::Error> {
    while !stop.load(Ordering::Relaxed) && !client.is_closed() {
        let mut notes = client.notifications();
        // A timeout, so that `stop` is seen when the service shuts down.
        let mut iter = notes.timeout_iter(Duration::from_millis(250));
        while let Some(n) = FallibleIterator::next(&mut iter)? {
            if let Some((a, c)) = n.payload().split_once(':') {
                if let (Ok(a), Ok(c)) = (a.parse(), c.parse()) {
                    deliver(a, c);
                }
            }
        }
    }
    Ok(())
}

fn migrate(client: &mut Client) -> anyhow::Result<()> {
    let mut tx = client.transaction()?;
    // Instances started together: one migrates, the others wait and find
    // nothing left to do.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS nubo_schema (version INTEGER NOT NULL)")?;
    let version: i32 = match tx.query_opt("SELECT version FROM nubo_schema", &[])? {
        Some(r) => r.get(0),
        None => {
            tx.execute("INSERT INTO nubo_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    if version as usize > MIGRATIONS.len() {
        anyhow::bail!(
            "this database was written by a newer Nubo service (schema {version}); upgrade this service"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)
            .with_context(|| format!("schema step {} failed", i + 1))?;
        tx.execute("UPDATE nubo_schema SET version = $1", &[&(i as i32 + 1)])?;
    }
    tx.commit()?;
    Ok(())
}

fn pg_error(e: postgres::Error) -> DbError {
    let code = e.code();
    let mut err = DbError::new(match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    });
    err.retry = matches!(
        code,
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    );
    err.full = code == Some(&SqlState::DISK_FULL);
    err
}

impl Backend for Postgres {
    fn write<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let mut tries = 0;
        loop {
            tries += 1;
            conn.client
                .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .map_err(pg_error)?;
            let out = f(&mut PgDb(&mut conn));
            let ended = match &out {
                Ok(_) => conn.client.batch_execute("COMMIT").map_err(pg_error),
                Err(_) => conn.client.batch_execute("ROLLBACK").map_err(pg_error),
            };
            let failure = match (out, ended) {
                (Ok(v), Ok(())) => return Ok(v),
                (Err(StoreError::Db(e)), _) | (Ok(_), Err(e)) => e,
                (Err(e), _) => return Err(e),
            };
            if !failure.retry || tries >= WRITE_TRIES {
                return Err(failure.into());
            }
            // Another transaction won this time; a short, growing pause
            // with jitter keeps the same two from colliding again.
            let pause = rand::random::<u64>() % (1 + 2 * u64::from(tries));
            std::thread::sleep(Duration::from_millis(pause));
        }
    }

    /// In one snapshot: a read of several statements (the feed's rows, then
    /// its cursor) must not see a commit land between two of them, or a
    /// client could move its cursor past a change it never saw.
    fn read<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(pg_error)?;
        let out = f(&mut PgDb(&mut conn));
        let ended = conn.client.batch_execute("COMMIT").map_err(pg_error);
        let out = out?;
        ended?;
        Ok(out)
    }

    fn shared(&self) -> bool {
        true
    }

    /// Listening already when this returns, so that no change announced
    /// after the service started is missed; then on a thread of its own,
    /// which reconnects after a lost connection (a change announced
    /// meanwhile is not lost to a client, which reads the feed from its own
    /// cursor on its next wake-up).
    fn listen(&self, deliver: Deliver, stop: Arc<AtomicBool>) -> Result<(), DbError> {
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let mut client = Some(listening(&config, &tls).map_err(pg_error)?);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let result = match client.take() {
                    Some(mut c) => pump(&mut c, &deliver, &stop),
                    None => {
                        listening(&config, &tls).and_then(|mut c| pump(&mut c, &deliver, &stop))
                    }
                };
                if let Err(e) = result {
                    tracing::warn!("push across instances: {e}; listening again in a second");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        });
        Ok(())
    }

    /// A plain VACUUM of the tables that held the person's rows: their
    /// dead versions leave the tables and indexes, so no query, index or
    /// later snapshot finds them, and the space is reused; PostgreSQL does
    /// not overwrite the freed bytes at once (see the README). Not VACUUM
    /// FULL, which would lock the tables of every account.
    fn scrub(&self) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        conn.client
            .batch_execute(
                "VACUUM accounts, devices, tokens, acceptances, nodes, versions, \
                 account_chunks, device_grants, failed_attempts",
            )
            .map_err(pg_error)
    }

    fn announce(&self, account: AccountKey, cursor: i64) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        conn.client
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANNEL, &format!("{account}:{cursor}")],
            )
            .map_err(pg_error)?;
        Ok(())
    }
}

struct PgDb<'c>(&'c mut PgConn);

impl PgDb<'_> {
    /// The statement, prepared once per connection. `?N` becomes `$N`.
    fn prepared(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.0.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self
            .0
            .client
            .prepare(&dollar_params(sql))
            .map_err(pg_error)?;
        self.0.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

/// `?1` → `$1`: the store's statements are written in SQLite's spelling.
fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Text(t) => t.to_sql(ty, out),
            Param::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                _ => Err(format!("a number cannot go into a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn cell(row: &postgres::Row, i: usize) -> Result<Cell, DbError> {
    let ty = row.columns()[i].type_();
    let got = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Cell::Int)),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|v| Cell::Int(v.into()))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|v| Cell::Int(v.into()))),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.map(Cell::Bool)),
        _ => row
            .try_get::<_, Option<String>>(i)
            .map(|v| v.map(Cell::Text)),
    };
    Ok(got.map_err(pg_error)?.unwrap_or(Cell::Null))
}

impl Db for PgDb<'_> {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        let stmt = self.prepared(sql)?;
        let args: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.0.client.execute(&stmt, &args).map_err(pg_error)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        let stmt = self.prepared(sql)?;
        let args: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self.0.client.query(&stmt, &args).map_err(pg_error)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| cell(r, i))
                    .collect::<Result<_, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.client.batch_execute(sql).map_err(pg_error)
    }
}

#[cfg(test)]
mod tests {
    use super::dollar_params;

    #[test]
    fn parameters_take_postgres_spelling() {
        assert_eq!(
            dollar_params("SELECT 1 WHERE a = ?1 AND b = ?12 AND c = '?'"),
            "SELECT 1 WHERE a = $1 AND b = $12 AND c = '?'"
        );
    }
}
