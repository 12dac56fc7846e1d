//! Another user of the same machine reads nothing of either side: the
//! service's data folder and a client's home (and the folders in them
//! that the programs make) are 0700, and every file in them is this
//! user's alone.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Files under `dir` that another user could read or write.
fn open_to_others(dir: &Path) -> Vec<(String, u32)> {
    walk_files(dir)
        .into_iter()
        .filter(|f| mode(f) & 0o077 != 0)
        .map(|f| (f.display().to_string(), mode(&f)))
        .collect()
}

#[test]
fn the_service_and_the_client_keep_their_files_to_their_user() {
    let service = Service::start();
    let a = Client::new(&service, "pc-a");
    // A chunk uploaded alone and a batch's pack.
    a.write("large.bin", random_bytes(1, 600_000));
    a.write("small.txt", "small");
    a.sync();

    assert_eq!(mode(&service.data), 0o700);
    assert_eq!(mode(&service.data.join("chunks")), 0o700);
    assert!(service.data.join("meta.sqlite").is_file());
    assert!(service.chunk_count() >= 2);
    assert_eq!(open_to_others(&service.data), Vec::new());

    assert_eq!(mode(&a.home), 0o700);
    assert_eq!(mode(&a.home.join("logs")), 0o700);
    for file in ["config.json", "credentials.json", "state.sqlite"] {
        assert_eq!(mode(&a.home.join(file)), 0o600, "{file}");
    }
}
