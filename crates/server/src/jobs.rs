//! Background work that runs on the service's clock: retention of the trash
//! and of replaced versions, deleting accounts frozen past their date, and
//! forgetting expired sign-in grants and tokens.
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
    /// Expired grants and tokens forgotten.
    pub stale_rows: u64,
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
        let stale_rows = self
            .store
            .purge_stale(now)
            .map_err(|e| anyhow::anyhow!("forgetting expired tokens failed: {}", e.message))?;
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
            stale_rows,
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
