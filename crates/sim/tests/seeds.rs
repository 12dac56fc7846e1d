//! The simulator in `make test`: many seeds, and every seed that once found a
//! bug. A failure prints the seed, what the run did step by step, and how to
//! replay it (`cargo run -p nubo-sim -- --seed N`).

use nubo_sim::{run, shrink, Options};

/// Seeds that found bugs, kept so the bugs stay fixed. A seed means a run
/// only for one version of the generator in `world.rs`: whoever changes how
/// a run draws from its seed finds these again (they fail with the fix taken
/// out) and updates them; the planner's unit tests guard the same bugs in a
/// form that does not depend on the generator.
/// - 13, 77, 213 (generator with one generator per step, for shrinking by
///   leaving steps out; 34, 103, 122 under the one before): a local move into a folder whose name a file on the
///   service had just taken was planned, refused and planned again forever
///   (`planner::file_above`; unit test
///   `no_move_into_a_folder_whose_name_a_remote_file_took`).
/// - 49 (generator with the odd actions of issue 15): a folder deleted here
///   went whole on the service with a file it never had, because a sibling
///   "Photos (conflicted copy ...)" sorts between "Photos" and "Photos/..."
///   (`Planner::group_folder_deletes`; unit test
///   `a_sibling_sorting_between_a_folder_and_its_content_does_not_hide_it`).
/// - 799 (same generator): a mount point renamed after its disk went away
///   read as a deleted folder (`scanner::block_vanished_mounts`).
/// - 339 (same generator): `Photos` ignored with `!notes.md` re-included:
///   the walk never enters `Photos`, and the rules' cached form now says
///   so too (`CachedRules`; the `ignore_rules` fuzz property).
/// - 810 (same generator): the service restored twice, from a copy made
///   after the first restore: a home that read the history the first one
///   lost was not told, since only the last start's gap was known
///   (`history_gaps` in the database; crates/server/tests/history.rs).
/// - 264 (watching clients): a download's folder made on its way was not
///   read again (the executor's paths and the folders above them now are).
/// - 1413 (watching clients): a user's folder named like a temp file, with
///   a file in it: a rescan entered it where no walk does
///   (`scanner::rescan`).
/// - 4905: a disk whose only file could not be synced went away, and the
///   user removed the empty mount point: the engine removed the empty
///   folder on the service, which the check counted as deleting what it
///   could not read. The check now lets an unmounted disk's folder go
///   where it held nothing on the service (`World::check_deletes`).
/// - 1302: a folder replaced by a file, its delete on the service done in a
///   pass the network cut: with only moves and conflict copies deciding
///   the next round's start, the file was never uploaded (a delete may
///   leave more too: `Op::leaves_more`).
const REGRESSIONS: &[u64] = &[13, 77, 213, 49, 799, 339, 810, 264, 1413, 4905, 1302];

fn run_all(seeds: Vec<u64>) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunks: Vec<Vec<u64>> = (0..threads)
        .map(|t| seeds.iter().copied().skip(t).step_by(threads).collect())
        .collect();
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .filter_map(|seed| run(seed, &Options::default()).err())
                        .map(|f| shrink(f, &Options::default()).to_string())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a seed thread panicked"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} seeds broke invariants; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn seeds_that_found_bugs_stay_fixed() {
    run_all(REGRESSIONS.to_vec());
}

/// `NUBO_SIM_SEEDS` (default 1000) seeds from `NUBO_SIM_FROM` (default 0).
#[test]
fn many_seeds_keep_every_invariant() {
    let count: u64 = std::env::var("NUBO_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let from: u64 = std::env::var("NUBO_SIM_FROM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    run_all((from..from + count).collect());
}
