//! Background work that runs on the service's clock: retention of the trash
//! and of replaced versions, and deleting accounts frozen past their date.
//! One pass at start, then once an interval.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::store::MetaStore;

#[derive(Clone)]
pub struct Jobs {
    pub store: Arc<dyn MetaStore>,
    pub clock: Arc<dyn Clock>,
    pub retention_days: u32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    /// Trash items removed for good.
    pub purged_nodes: u64,
    pub dropped_versions: u64,
    /// Accounts deleted after staying frozen past their date.
    pub deleted_accounts: u64,
}

impl Jobs {
    /// One pass of every job. Blocking: call it from a blocking thread.
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
        let expired = self
            .store
            .inactive_accounts(crate::lifecycle::deleted_if_last_used_before(now))
            .map_err(|e| anyhow::anyhow!("the account lifecycle job failed: {}", e.message))?;
        for &account in &expired {
            self.store
                .delete_account(account, now)
                .map_err(|e| anyhow::anyhow!("cannot delete an expired account: {}", e.message))?;
            tracing::info!(account, "deleted after staying frozen for 30 days");
        }
        Ok(JobReport {
            purged_nodes,
            dropped_versions,
            deleted_accounts: expired.len() as u64,
        })
    }

    /// Runs `run_once` every `every` until the task is aborted.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let jobs = self.clone();
                match tokio::task::spawn_blocking(move || jobs.run_once()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!("{e:#}"),
                    Err(e) => tracing::error!("a background job panicked: {e}"),
                }
            }
        })
    }
}
