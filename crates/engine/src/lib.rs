//! The Nubo sync engine. See ARCHITECTURE.md for the map.

pub mod planner;
pub mod tree;
