//! The metadata store's rules, written once over `db::Db`: one file per
//! trait of `store::traits` (accounts, signin, nodes, restore, chunks, gc,
//! legal, privacy, instances), each the trait's `impl` for `SqlStore` and
//! the statements it runs. Each call is one transaction of the backend
//! (`sqlite.rs`, `postgres.rs`), except a token check: a read, then a write
//! at most once a minute.

mod accounts;
mod chunks;
mod gc;
mod instances;
mod legal;
mod nodes;
mod privacy;
mod restore;
mod signin;

use super::db::{Backend, Db};
use super::{StoreError, StoreResult};

/// What a rule answers inside its transaction; `StoreResult` once the
/// transaction ended (the same type: a refusal rolls the transaction back).
type R<T> = Result<T, StoreError>;

/// The store on one backend.
pub struct SqlStore<B> {
    backend: B,
    /// Earlier revisions kept per file; older ones are dropped on commit.
    keep_versions: u32,
}

impl<B: Backend> SqlStore<B> {
    pub fn new(backend: B, keep_versions: u32) -> Self {
        SqlStore {
            backend,
            keep_versions,
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn write<T>(&self, mut f: impl FnMut(&mut dyn Db) -> R<T>) -> StoreResult<T> {
        self.backend.write(&mut f)
    }

    fn read<T>(&self, mut f: impl FnMut(&mut dyn Db) -> R<T>) -> StoreResult<T> {
        self.backend.read(&mut f)
    }
}
