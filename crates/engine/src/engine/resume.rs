//! What a pass that ended in sync leaves for the engine's next start. The
//! start then plans each folder over what changed while no engine ran
//! (what its whole scan found unlike the stored tree, and the feed's news
//! since the stored cursor) instead of over the whole trees, which at a
//! million files take a GB.
//!
//! It is kept in the state database's `settled` table, one row per folder,
//! and holds only while nothing else happened: every write to the trees or
//! the cursor empties the table (`db::unsettle`), whichever program
//! writes, and so does the start of every pass. A row is written when a
//! pass ends in sync, for each folder whose last round settled with
//! nothing deferred and nothing held back after failing (which is kept in
//! memory only), unless another program wrote the database during the pass.
//! An engine that lives on between passes (the app's, paused and resumed
//! while the CLI syncs) forgets what it held settled where another program
//! wrote the database since its last pass (`Engine::others_wrote`).

use serde::{Deserialize, Serialize};

use super::focused::Settled;
use super::{Carried, Engine};
use crate::db::DbError;
use crate::focus::Seeds;
use crate::problem::Problem;
use crate::tree::{Blocked, RelPath, Tree};

/// One folder's row.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Resume {
    /// The engine that wrote it and the settings it synced with: another
    /// version, or settings changed since, read the trees whole.
    version: String,
    config: String,
    at: Settled,
    /// As the last scan found them: the start's scan reads again, whole,
    /// each path blocked then and not now, or now and not then.
    blocked: Tree<Blocked>,
    /// What the node table refused, and which blocked links were news
    /// (`Engine::blocked_news`), as the last rounds left them.
    refused: Vec<Problem>,
    in_the_way: Vec<(RelPath, bool)>,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

impl Engine {
    /// Whether another connection wrote the state database since this
    /// engine last asked (its own writes do not count).
    pub(super) fn others_wrote(&self) -> Result<bool, DbError> {
        let now = self.db.data_version()?;
        let before = self
            .db_version
            .swap(now, std::sync::atomic::Ordering::Relaxed);
        Ok(now != before)
    }
}

impl Engine {
    fn config_text(&self) -> String {
        serde_json::to_string(&self.config).expect("a config serializes")
    }

    /// At the engine's start: each folder that was settled when the last
    /// pass ended, as it was then.
    pub(super) fn resume(&self) -> Result<(), DbError> {
        self.others_wrote()?;
        let config = self.config_text();
        for (folder, r) in self.db.settled::<Resume>()? {
            let ours = self.config.folders.iter().any(|f| f.id == folder);
            if r.version != VERSION || r.config != config || !ours {
                continue;
            }
            self.settled().insert(folder, (r.at, Seeds::new()));
            self.carried().insert(
                folder,
                Carried {
                    blocked: r.blocked,
                    skipped: Vec::new(),
                    refused: r.refused,
                    in_the_way: r.in_the_way.into_iter().collect(),
                },
            );
        }
        Ok(())
    }

    /// After a pass that ended in sync: what the next start resumes from.
    /// Not kept, the next start reads the trees whole, as it always may.
    pub(super) fn keep_settled(&self) {
        if !matches!(self.others_wrote(), Ok(false)) {
            self.unsettle_all();
            return;
        }
        let config = self.config_text();
        for folder in &self.config.folders {
            let at = match self.settled().get(&folder.id) {
                Some((at, deferred)) if deferred.is_empty() => *at,
                _ => continue,
            };
            if self.failing().holds_any(folder.id) {
                continue;
            }
            let Some(carried) = self.carried().get(&folder.id).cloned() else {
                continue;
            };
            let resume = Resume {
                version: VERSION.to_string(),
                config: config.clone(),
                at,
                blocked: carried.blocked,
                refused: carried.refused,
                in_the_way: carried.in_the_way.into_iter().collect(),
            };
            if let Err(e) = self.db.keep_settled(folder.id, &resume) {
                tracing::warn!(
                    "cannot keep the folder's settled state: {}",
                    super::error_chain(&e)
                );
            }
        }
    }
}
