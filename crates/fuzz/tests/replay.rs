//! The fuzz targets on the stable toolchain: every committed corpus input
//! (seeds, and every crash cargo-fuzz ever found, kept as a regression),
//! then seeded random inputs. `NUBO_FUZZ_CASES` sets how many (default 300).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn cases() -> usize {
    std::env::var("NUBO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn replay(target: &str, check: fn(&[u8]), random_cases: usize) {
    let seeds = corpus(target);
    assert!(!seeds.is_empty(), "the {target} corpus is empty");
    for (name, input) in &seeds {
        if std::panic::catch_unwind(|| check(input)).is_err() {
            panic!("{target}: the corpus input {name} breaks it");
        }
    }
    let mut rng = StdRng::seed_from_u64(0x6e75_626f);
    for case in 0..random_cases {
        let len = rng.gen_range(0..2048);
        let mut input = vec![0u8; len];
        rng.fill(&mut input[..]);
        if std::panic::catch_unwind(|| check(&input)).is_err() {
            panic!(
                "{target}: random case {case} breaks it; input (hex): {}",
                hex(&input)
            );
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn service_names() {
    replay("service_names", nubo_fuzz::service_names::check, cases());
}

#[test]
fn ignore_rules() {
    replay("ignore_rules", nubo_fuzz::ignore_rules::check, cases());
}

#[test]
fn chunk_frames() {
    replay("chunk_frames", nubo_fuzz::chunk_frames::check, cases());
}

#[test]
fn chunking() {
    // Each case cuts up to a few MiB three times: fewer of them.
    replay("chunking", nubo_fuzz::chunking::check, cases() / 10);
}

/// A target added to fuzz/ without a replay here would only run by hand.
#[test]
fn every_fuzz_target_is_replayed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    found.sort();
    assert_eq!(found, nubo_fuzz::TARGETS);
}
