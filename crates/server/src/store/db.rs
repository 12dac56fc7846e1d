//! What the metadata store needs of a SQL database, and nothing more: run a
//! statement with parameters, read rows of integers and text. SQLite and
//! PostgreSQL each implement it (`sqlite.rs`, `postgres.rs`), so the store's
//! rules (`sql.rs`) are written once and hold the same on both.
//!
//! Statements use `?1`, `?2`, … for parameters and only SQL that both
//! engines read the same way: no `INSERT OR IGNORE` (`ON CONFLICT DO
//! NOTHING` instead), ids from `RETURNING`, flags as integers 0 and 1.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::error::StoreError;

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<u32> for Param<'_> {
    fn from(v: u32) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<u64> for Param<'_> {
    /// Sizes and quotas: SQL integers are signed 64-bit; no real size reaches 2^63.
    fn from(v: u64) -> Self {
        Param::Int(v as i64)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// `args![a, b, c]`: statement parameters from anything that converts.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::store::db::Param::from($v)),*] };
}
pub(crate) use args;

/// One value of a result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

/// A failure of the database itself (as opposed to a rule of the store).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub message: String,
    /// Another transaction got in the way (PostgreSQL's serialization
    /// failure or deadlock): running the same transaction again may succeed.
    pub retry: bool,
    /// The disk under the database is full.
    pub full: bool,
}

impl DbError {
    pub fn new(message: impl Into<String>) -> Self {
        DbError {
            message: message.into(),
            retry: false,
            full: false,
        }
    }
}

/// A result row; columns by position, as the statement lists them.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Cell>);

impl Row {
    fn cell(&self, i: usize) -> Result<&Cell, DbError> {
        self.0
            .get(i)
            .ok_or_else(|| DbError::new(format!("a row has no column {i}")))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Int(v) => Ok(Some(*v)),
            Cell::Bool(b) => Ok(Some(i64::from(*b))),
            Cell::Text(t) => Err(DbError::new(format!(
                "column {i} holds text {t:?} where a number belongs"
            ))),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        self.opt_int(i)?
            .ok_or_else(|| DbError::new(format!("column {i} is empty where a number belongs")))
    }

    pub fn size(&self, i: usize) -> Result<u64, DbError> {
        Ok(self.int(i)?.max(0) as u64)
    }

    pub fn flag(&self, i: usize) -> Result<bool, DbError> {
        Ok(self.int(i)? != 0)
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Text(t) => Ok(Some(t.clone())),
            other => Err(DbError::new(format!(
                "column {i} holds {other:?} where text belongs"
            ))),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, DbError> {
        self.opt_text(i)?
            .ok_or_else(|| DbError::new(format!("column {i} is empty where text belongs")))
    }
}

/// A connection inside a transaction (or, for reads, outside one).
pub trait Db {
    /// Runs a statement; how many rows it changed.
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError>;
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError>;
    /// A statement without parameters or rows (savepoints).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;

    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row, DbError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError::new("a statement that always answers answered nothing"))
    }
}

/// A database the store runs on: transactions for writes, plain reads.
pub trait Backend: Send + Sync + 'static {
    /// Runs `f` in one transaction, committed when it returns `Ok`. May run
    /// it more than once when another transaction got in the way.
    fn write<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;
    fn read<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>;

    /// Whether several service instances may share this database.
    fn shared(&self) -> bool {
        false
    }

    /// Tells every instance sharing the database that the account's change
    /// feed moved on (nothing to do when none shares it).
    fn announce(&self, _account: crate::store::AccountKey, _cursor: i64) -> Result<(), DbError> {
        Ok(())
    }

    /// After personal data was deleted: makes the database drop the
    /// deleted rows' bytes from where it still keeps them (SQLite's log;
    /// PostgreSQL's dead row versions). Outside any transaction.
    fn scrub(&self) -> Result<(), DbError> {
        Ok(())
    }

    /// Hands every instance's announcements to `deliver` until `stop` is
    /// set; listening already when it returns.
    fn listen(
        &self,
        _deliver: crate::store::Deliver,
        _stop: Arc<AtomicBool>,
    ) -> Result<(), DbError> {
        Ok(())
    }
}
