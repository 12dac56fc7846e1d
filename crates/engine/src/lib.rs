//! The Nubo sync engine. See ARCHITECTURE.md for the map.
//!
//! Pure core: `tree`, `planner`. Edges: `scanner` and `fs` (the disk),
//! `remote` (the service), `db` (the state database), `clock`. The loop that
//! joins them: `engine`, `executor`, `watch`. Account-level actions the CLI
//! and the app call: `account`, `restore`.

pub mod account;
pub mod backoff;
pub mod changes;
pub mod clock;
pub mod content;
pub mod content_hash;
pub mod credentials;
pub mod db;
pub mod engine;
pub mod executor;
pub mod export;
pub mod failing;
pub mod focus;
pub mod fs;
pub mod home;
pub mod ignore_rules;
pub mod os_names;
pub mod planner;
pub mod problem;
pub mod remote;
pub mod remote_tree;
pub mod report;
pub mod restore;
pub mod scanner;
pub mod temp_names;
pub mod throttle;
pub mod tree;
pub mod watch;

pub use engine::{Engine, Outcome, Pause, SyncError, SLICE_ENTRIES};
pub use home::{Config, FolderConfig, Home};
