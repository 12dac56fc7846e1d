//! `nubo admin migrate`: brings a PostgreSQL database's schema up to date,
//! and moves a service that ran on its data folder (SQLite, chunk folder)
//! onto PostgreSQL (and an S3 bucket) without losing anything: every row is
//! copied as it is, ids included, so tokens, cursors and chunk lists stay
//! valid and clients carry on as if nothing happened.

use std::path::Path;

use anyhow::{bail, Context};

use crate::chunks::{ChunkStore, S3Settings};
use crate::store::db::{args, Backend, Cell, Db, Param};
use crate::store::{Conflict, StoreError};
use crate::store::{Postgres, Sqlite};

/// Tables in an order that keeps every reference valid while copying
/// (`nodes.parent` is set in a second pass).
const TABLES: &[&str] = &[
    "accounts",
    "devices",
    "tokens",
    "acceptances",
    "nodes",
    "versions",
    "account_chunks",
    "device_grants",
    "packed_chunks",
    "job_runs",
    "failed_attempts",
    "agreement_texts",
];

/// Tables whose ids PostgreSQL hands out from a sequence, which must go on
/// after the copied ids.
const SERIAL: &[&str] = &["accounts", "devices", "acceptances", "nodes", "versions"];

#[derive(Debug, Default)]
pub struct Report {
    /// Rows copied per table, in `TABLES` order (empty: nothing was copied).
    pub rows: Vec<(&'static str, u64)>,
    pub chunk_objects: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.rows.is_empty() {
            return f.write_str("the database's schema is up to date");
        }
        let rows: Vec<String> = self.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        write!(f, "copied rows: {}", rows.join(", "))?;
        if self.chunk_objects > 0 {
            write!(f, "; chunk objects: {}", self.chunk_objects)?;
        }
        Ok(())
    }
}

pub async fn run(
    database: &str,
    database_ca: Option<&Path>,
    from_data: Option<&Path>,
    chunks: Option<&str>,
    s3: &S3Settings,
) -> anyhow::Result<Report> {
    let url = database.to_string();
    let ca = database_ca.map(Path::to_path_buf);
    let data = from_data.map(Path::to_path_buf);
    let mut report = tokio::task::spawn_blocking(move || -> anyhow::Result<Report> {
        let pg = Postgres::connect(&url, ca.as_deref())?;
        match data {
            None => Ok(Report::default()),
            Some(dir) => copy_metadata(&dir, &pg),
        }
    })
    .await??;
    if let (Some(dir), Some(url)) = (from_data, chunks) {
        let from = ChunkStore::local(&dir.join("chunks"))?;
        let to = ChunkStore::s3(url, s3)?;
        report.chunk_objects = from.copy_all_to(&to).await?;
    }
    Ok(report)
}

fn copy_metadata(data_dir: &Path, pg: &Postgres) -> anyhow::Result<Report> {
    let path = data_dir.join("meta.sqlite");
    if !path.is_file() {
        bail!(
            "{} holds no service data (no meta.sqlite); give the folder `nubo serve --data` used",
            data_dir.display()
        );
    }
    // Opening brings the file to the newest schema, the one PostgreSQL has.
    let sqlite = Sqlite::open(&path)?;
    let copied = sqlite
        .read(&mut |src| pg.write(&mut |dst| copy_tables(src, dst)))
        .context("nothing was copied")?;
    Ok(Report {
        rows: copied,
        chunk_objects: 0,
    })
}

fn copy_tables(src: &mut dyn Db, dst: &mut dyn Db) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let existing = dst
        .query_one("SELECT COUNT(*) FROM accounts", &[])?
        .int(0)?;
    if existing > 0 {
        return Err(Conflict::NotEmpty.into());
    }
    let mut copied = Vec::new();
    for &table in TABLES {
        let columns: Vec<String> = src
            .query(
                "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
                args![table],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<_, _>>()?;
        let list = columns.join(", ");
        let rows = src.query(&format!("SELECT {list} FROM {table}"), &[])?;
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
        let parent = columns.iter().position(|c| c == "parent");
        for row in &rows {
            let params: Vec<Param<'_>> = row
                .0
                .iter()
                .enumerate()
                .map(|(i, cell)| match cell {
                    // A folder may have moved into one made after it: every
                    // node first, then where each lies.
                    _ if table == "nodes" && Some(i) == parent => Param::Null,
                    Cell::Null => Param::Null,
                    Cell::Int(v) => Param::Int(*v),
                    Cell::Bool(b) => Param::Int(i64::from(*b)),
                    Cell::Text(t) => Param::Text(t),
                })
                .collect();
            dst.exec(&insert, &params)?;
        }
        if table == "nodes" {
            for r in src.query("SELECT id, parent FROM nodes WHERE parent IS NOT NULL", &[])? {
                dst.exec(
                    "UPDATE nodes SET parent = ?2 WHERE id = ?1",
                    args![r.int(0)?, r.int(1)?],
                )?;
            }
        }
        copied.push((table, rows.len() as u64));
    }
    // The triggers counted every copied file and pending chunk on top of
    // the copied totals.
    dst.exec(
        "UPDATE accounts SET used_bytes = (SELECT COALESCE(SUM(size), 0) FROM nodes
         WHERE nodes.account = accounts.id AND deleted = 0 AND kind = 'file'),
         pending_bytes = (SELECT COALESCE(SUM(size), 0) FROM account_chunks
         WHERE account_chunks.account = accounts.id AND committed = 0)",
        &[],
    )?;
    for table in SERIAL {
        dst.query(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            ),
            &[],
        )?;
    }
    Ok(copied)
}
