//! Background work that runs on the service's clock: retention of the trash
//! and of replaced versions, the account lifecycle (content deleted 30 days
//! after freezing, accounts cancelled after 24 months unused), the end of a
//! cancelled account's record of consent, forgetting expired sign-in
//! grants and tokens, and garbage collection of chunks no file, trash
//! entry or kept version names any more. One pass at start, then once an
//! interval. Its log lines name accounts by the service's internal key
//! only, never by anything a person chose.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::chunks::{ChunkStore, Freed};
use crate::clock::Clock;
use crate::store::{AccountKey, MetaStore, StoreError, StoredObject};

/// How long a chunk uploaded and not named by a commit yet is safe from
/// garbage collection: a client that uploads before it commits gets a day
/// for it. (One whose chunk went anyway gets `missing_chunks` at the
/// commit and uploads it again: nothing is lost.)
pub const UPLOAD_GRACE_SECS: i64 = 24 * 3600;

/// Accounts a garbage collection lists at a time.
const GC_PAGE: u32 = 100;
/// Objects a sweep checks at a time.
const SWEEP_PAGE: usize = 1000;

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
    /// Garbage collection: chunks no file, trash entry or kept version
    /// named any more, forgotten.
    pub dropped_chunks: u64,
    /// The objects removed from the chunk store, and their bytes.
    pub freed: Freed,
    /// Bytes of forgotten chunks that stay in packs still partly in use.
    pub kept_bytes: u64,
    /// Accounts whose collection failed this time (logged; the next pass
    /// tries again): one account's failure does not stop the others'.
    pub gc_failed_accounts: u64,
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
            .context("retention failed")?;
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
            .context("forgetting expired tokens failed")?;
        let lifecycle = self.lifecycle(now)?;
        let gc = self.collect_garbage()?;
        Ok(JobReport {
            purged_nodes,
            dropped_versions,
            stale_rows,
            dropped_chunks: gc.dropped_chunks,
            freed: gc.freed,
            kept_bytes: gc.kept_bytes,
            gc_failed_accounts: gc.gc_failed_accounts,
            ..lifecycle
        })
    }

    /// Garbage collection of every account's chunks (`ChunkGc::
    /// collect_garbage`), a page of accounts at a time; each account's
    /// objects are removed after its transaction. Blocking, like `run_once`.
    pub fn collect_garbage(&self) -> anyhow::Result<JobReport> {
        let pending_before = self.clock.now() - UPLOAD_GRACE_SECS;
        let mut report = JobReport::default();
        let mut after: AccountKey = 0;
        loop {
            let page = self
                .store
                .accounts_with_chunks(after, GC_PAGE)
                .context("garbage collection cannot list accounts")?;
            for &account in &page {
                if let Err(e) = self.collect_account(account, pending_before, &mut report) {
                    tracing::warn!("{e:#}");
                    report.gc_failed_accounts += 1;
                }
            }
            match page.last() {
                Some(&last) if page.len() == GC_PAGE as usize => after = last,
                _ => break,
            }
        }
        if report.dropped_chunks > 0 {
            tracing::info!(
                chunks = report.dropped_chunks,
                objects = report.freed.objects,
                bytes = report.freed.bytes,
                kept_bytes = report.kept_bytes,
                "garbage collection: removed chunks nothing names any more"
            );
        }
        Ok(report)
    }

    /// Removes the objects of accounts that no chunk row names, written
    /// before the grace period: left by a service that died, or whose disk
    /// filled up, between writing a chunk and recording it (an upload
    /// records its chunks right after writing them). Lists the whole
    /// store, so it runs on demand (`nubo admin gc --sweep`), not hourly.
    /// Blocking, like `run_once`. What it freed.
    pub fn sweep(&self) -> anyhow::Result<Freed> {
        use futures::StreamExt;
        let before = self.clock.now() - UPLOAD_GRACE_SECS;
        let runtime = tokio::runtime::Handle::current();
        let mut pages = self
            .chunks
            .account_objects_before(before)
            .chunks(SWEEP_PAGE);
        let mut freed = Freed::default();
        while let Some(page) = runtime.block_on(pages.next()) {
            let page = page.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
            let unnamed = self
                .store
                .unnamed_objects(&page)
                .context("the sweep cannot check objects")?;
            let objects: Vec<_> = unnamed.into_iter().map(StoredObject::Own).collect();
            let removed = runtime.block_on(self.chunks.remove_unused(&objects));
            freed.objects += removed.objects;
            freed.bytes += removed.bytes;
        }
        Ok(freed)
    }

    /// One account's part of a garbage collection, added to `report`.
    fn collect_account(
        &self,
        account: AccountKey,
        pending_before: i64,
        report: &mut JobReport,
    ) -> anyhow::Result<()> {
        let garbage = self
            .store
            .collect_garbage(account, pending_before)
            .with_context(|| format!("garbage collection failed for account {account}"))?;
        let runtime = tokio::runtime::Handle::current();
        let freed = runtime.block_on(self.chunks.remove_unused(&garbage.objects));
        report.dropped_chunks += garbage.chunks;
        report.kept_bytes += garbage.kept_bytes;
        report.freed.objects += freed.objects;
        report.freed.bytes += freed.bytes;
        Ok(())
    }

    /// The account lifecycle's part of a pass.
    fn lifecycle(&self, now: i64) -> anyhow::Result<JobReport> {
        use crate::lifecycle::{cancelled_if_last_used_before, emptied_if_last_used_before};
        let failed = |what: &str, e: StoreError| {
            anyhow::Error::new(e).context(format!("the account lifecycle job failed {what}"))
        };
        let cancel = self
            .store
            .accounts_to_cancel(cancelled_if_last_used_before(now))
            .map_err(|e| failed("to list accounts to cancel", e))?;
        for &account in &cancel {
            let shared = self
                .store
                .delete_account(account, now)
                .map_err(|e| failed("to cancel an account", e))?;
            let runtime = tokio::runtime::Handle::current();
            runtime.block_on(self.chunks.remove_account(account));
            runtime.block_on(self.chunks.remove_unused(&shared));
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
            runtime.block_on(self.chunks.remove_unused(&objects));
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
            .context("cannot take a turn at the background jobs")?;
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
