//! Background work that runs on the service's clock: retention of the trash
//! and of replaced versions, the account lifecycle (content deleted 30 days
//! after freezing, accounts cancelled after 24 months unused), the end of a
//! cancelled account's record of consent, and forgetting expired sign-in
//! grants and tokens. One pass at start, then once an interval. Its log
//! lines name accounts by the service's internal key only, never by
//! anything a person chose.

use std::sync::Arc;
use std::time::Duration;

use crate::chunks::ChunkStore;
use crate::clock::Clock;
use crate::store::MetaStore;

#[derive(Clone)]
pub struct Jobs {
    pub store: Arc<dyn MetaStore>,
    /// Where the accounts' chunk objects lie: an erasure removes them.
    pub chunks: ChunkStore,
    pub clock: Arc<dyn Clock>,
    pub retention_days: u32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    /// Trash items removed for good.
    pub purged_nodes: u64,
    pub dropped_versions: u64,
    /// Accounts whose content was deleted after staying frozen 30 days.
    pub emptied_accounts: u64,
    /// Accounts cancelled after 24 months unused.
    pub deleted_accounts: u64,
    /// Records of consent of accounts cancelled long ago, deleted.
    pub expired_records: u64,
    /// Expired grants and tokens forgotten.
    pub stale_rows: u64,
}

impl Jobs {
    /// One pass of every job. Blocking: call it from a blocking thread of
    /// the runtime (`spawn_blocking`), whose handle removes chunk objects.
    pub fn run_once(&self) -> anyhow::Result<JobReport> {
        let now = self.clock.now();
        let before = now - i64::from(self.retention_days) * 86_400;
        let (purged_nodes, dropped_versions) = self
            .store
            .purge_expired(before)
            .map_err(|e| anyhow::anyhow!("retention failed: {}", e.message))?;
        if purged_nodes + dropped_versions > 0 {
            tracing::info!(
                purged_nodes,
                dropped_versions,
                "retention: removed what was older than {} days",
                self.retention_days
            );
        }
        let stale_rows = self
            .store
            .purge_stale(now)
            .map_err(|e| anyhow::anyhow!("forgetting expired tokens failed: {}", e.message))?;
        let lifecycle = self.lifecycle(now)?;
        Ok(JobReport {
            purged_nodes,
            dropped_versions,
            stale_rows,
            ..lifecycle
        })
    }

    /// The account lifecycle's part of a pass.
    fn lifecycle(&self, now: i64) -> anyhow::Result<JobReport> {
        use crate::lifecycle::{cancelled_if_last_used_before, emptied_if_last_used_before};
        let failed = |what: &str, e: nubo_protocol::ApiError| {
            anyhow::anyhow!("the account lifecycle job failed {what}: {}", e.message)
        };
        let cancel = self
            .store
            .accounts_to_cancel(cancelled_if_last_used_before(now))
            .map_err(|e| failed("to list accounts to cancel", e))?;
        for &account in &cancel {
            self.store
                .delete_account(account, now)
                .map_err(|e| failed("to cancel an account", e))?;
            let runtime = tokio::runtime::Handle::current();
            runtime.block_on(self.chunks.remove_account(account));
            tracing::info!(account, "cancelled after 24 months unused");
        }
        let empty = self
            .store
            .accounts_to_empty(emptied_if_last_used_before(now))
            .map_err(|e| failed("to list accounts to empty", e))?;
        for &account in &empty {
            let objects = self
                .store
                .delete_content(account, now)
                .map_err(|e| failed("to delete an account's content", e))?;
            let runtime = tokio::runtime::Handle::current();
            runtime.block_on(self.chunks.remove_objects(&objects));
            tracing::info!(account, "content deleted after staying frozen for 30 days");
        }
        let expired_records = self
            .store
            .expire_records(now - crate::lifecycle::KEEP_CONSENT_SECS)
            .map_err(|e| failed("to delete old records of consent", e))?;
        Ok(JobReport {
            emptied_accounts: empty.len() as u64,
            deleted_accounts: cancel.len() as u64,
            expired_records,
            ..JobReport::default()
        })
    }

    /// One pass, unless another instance sharing the store ran one less
    /// than `gap` ago. Whether this one ran.
    pub fn run_if_due(&self, gap: Duration) -> anyhow::Result<Option<JobReport>> {
        let claimed = self
            .store
            .claim_job("background", self.clock.now(), gap.as_secs() as i64)
            .map_err(|e| {
                anyhow::anyhow!("cannot take a turn at the background jobs: {}", e.message)
            })?;
        if !claimed {
            return Ok(None);
        }
        self.run_once().map(Some)
    }

    /// Runs `run_if_due` every `every` until the task is aborted: with
    /// several instances, the jobs run once an interval, not once per
    /// instance.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Ticks of instances started apart drift; a little less than the
            // interval keeps one of them from skipping a turn.
            let gap = every.mul_f64(0.9);
            loop {
                tick.tick().await;
                let jobs = self.clone();
                match tokio::task::spawn_blocking(move || jobs.run_if_due(gap)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!("{e:#}"),
                    Err(e) => tracing::error!("a background job panicked: {e}"),
                }
            }
        })
    }
}
