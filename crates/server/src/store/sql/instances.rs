//! What the instances sharing one database coordinate through it: whose
//! turn a background job is (`job_runs`), and the announcements of changes
//! that wake every instance's push channels (the backend's own: PostgreSQL's
//! NOTIFY; nothing for SQLite, which one instance uses).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::SqlStore;
use crate::store::db::{args, Backend};
use crate::store::{AccountKey, Deliver, Instances, StoreResult};

impl<B: Backend> Instances for SqlStore<B> {
    fn claim_job(&self, name: &str, now: i64, gap: i64) -> StoreResult<bool> {
        self.write(|db| {
            let claimed = db.exec(
                "INSERT INTO job_runs (name, last_run) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET last_run = ?2
                 WHERE job_runs.last_run <= ?2 - ?3",
                args![name, now, gap],
            )?;
            Ok(claimed == 1)
        })
    }

    fn shared(&self) -> bool {
        self.backend.shared()
    }

    fn announce(&self, account: AccountKey, cursor: i64) -> StoreResult<()> {
        Ok(self.backend.announce(account, cursor)?)
    }

    fn listen(&self, deliver: Deliver, stop: Arc<AtomicBool>) -> StoreResult<()> {
        Ok(self.backend.listen(deliver, stop)?)
    }
}
