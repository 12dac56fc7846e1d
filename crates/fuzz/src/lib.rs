//! What must hold for any input that comes from outside: names and tree
//! shapes from a service, `.nuboignore` text and exclusions from a user,
//! file content cut into chunks, bodies of many chunks. Each module has one `check(bytes)` that
//! panics when a property breaks; cargo-fuzz drives it from `fuzz/`
//! (`make fuzz`), and `tests/replay.rs` replays the corpus and seeded random
//! inputs on the stable toolchain in `make test`.

pub mod chunk_frames;
pub mod chunking;
pub mod ignore_rules;
pub mod service_names;

/// The targets by name: one `fuzz/fuzz_targets/NAME.rs` and one corpus
/// folder each.
pub const TARGETS: &[&str] = &["chunk_frames", "chunking", "ignore_rules", "service_names"];
