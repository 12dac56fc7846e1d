//! Deterministic simulation: the real planner and executor, driven against
//! an in-memory file system per client and the real service store in
//! process, from one seed; random user actions, random scheduling, lost
//! requests, crashes and clock skew; then the invariants of DESIGN.md.

pub mod actions;
pub mod clock;
pub mod counting;
pub mod invariants;
pub mod memfs;
pub mod pc;
pub mod service;
pub mod watcher;
pub mod world;

pub use world::{run, shrink, Failure, Options};
