//! Garbage collection of chunks over real HTTP, with the service's clock
//! moved: what no file, trash entry or kept version names any more leaves
//! the chunk store (folder, or S3 when the suite runs on PostgreSQL),
//! what is still named stays and reads back, an upload waiting for its
//! commit stays for a day, and a pack goes once none of its chunks is used.

mod common;

use common::{chunk, delete, error_code, hash, start, used, Env};
use nubo_protocol::*;
use nubo_server::jobs::UPLOAD_GRACE_SECS;
use nubo_server::AgreementSource;
use reqwest::{Method as M, StatusCode};
use serde_json::json;

const DAY: i64 = 86_400;
/// Past the trash's retention (30 days): the next pass empties it.
const PAST_RETENTION: i64 = 31 * DAY;

/// The account objects (chunks alone and packs) in the chunk store.
fn own_objects(env: &Env) -> Vec<std::path::PathBuf> {
    env.chunk_objects("accounts")
}

/// Whether an object holding `content` alone is in the chunk store (its
/// name starts with the chunk's hash).
fn stored_alone(env: &Env, content: &[u8]) -> bool {
    let h = hash(content);
    own_objects(env).iter().any(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&h))
    })
}

/// The chunk reads back as `content`.
async fn reads_back(env: &Env, token: &str, content: &[u8]) {
    let r = chunk(env, token, content).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), content);
}

/// Commits `content`, uploaded before as one chunk, as `name`.
async fn commit(
    env: &Env,
    token: &str,
    parent: i64,
    name: &str,
    content: &[u8],
) -> reqwest::Response {
    let body = json!({
        "parent": parent, "name": name, "node": null, "base_rev": null, "size": content.len(),
        "hash": hash(content), "chunks": [{"hash": hash(content), "size": content.len()}], "mtime_ms": 0
    });
    env.call(token, M::POST, "/v1/nodes/commit", Some(body))
        .await
}

#[tokio::test]
async fn a_purged_file_s_chunks_leave_the_store_and_what_is_named_stays() {
    let env = start(AgreementSource::None).await;
    let alice = env.login("alice").await.access_token;
    let bob = env.login("bob").await.access_token;
    let (root, bob_root) = (env.root(&alice).await, env.root(&bob).await);
    let (gone, kept, old, new) = (
        &b"deleted, then purged\n"[..],
        &b"still a live file\n"[..],
        &b"the earlier version\n"[..],
        &b"the current version\n"[..],
    );
    let doomed = env.new_file(&alice, root, "gone.txt", gone, None).await;
    env.new_file(&alice, root, "kept.txt", kept, None).await;
    // Bob has the same content as his own copy, in a live file.
    env.new_file(&bob, bob_root, "mine.txt", gone, None).await;
    delete(&env, &alice, doomed.id).await;
    assert_eq!(
        env.server.run_jobs_once().await.unwrap().freed.objects,
        0,
        "in the trash, named"
    );
    assert!(stored_alone(&env, gone));

    env.advance(PAST_RETENTION);
    let alice = env.login("alice").await.access_token;
    let bob = env.login("bob").await.access_token;
    let edited = env.new_file(&alice, root, "edited.txt", old, None).await;
    env.new_file(
        &alice,
        root,
        "edited.txt",
        new,
        Some((edited.id, edited.rev)),
    )
    .await;
    assert_eq!(own_objects(&env).len(), 5);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.purged_nodes, 1, "gone.txt left the trash");
    assert_eq!(report.dropped_chunks, 1);
    assert_eq!(report.freed.objects, 1);
    assert_eq!(report.freed.bytes, gone.len() as u64);
    assert_eq!(own_objects(&env).len(), 4, "alice's copy of gone.txt went");
    assert_eq!(
        chunk(&env, &alice, gone).await.status(),
        StatusCode::NOT_FOUND
    );
    // Bob's copy, the live files and the kept version read back.
    reads_back(&env, &bob, gone).await;
    for c in [kept, old, new] {
        reads_back(&env, &alice, c).await;
    }
    let list: VersionList = env
        .ok(
            &alice,
            M::GET,
            &format!("/v1/nodes/{}/versions", edited.id),
            None,
        )
        .await;
    assert!(
        list.versions.iter().any(|v| v.hash == hash(old)),
        "{list:?}"
    );
    let again = env.server.run_jobs_once().await.unwrap();
    assert_eq!((again.dropped_chunks, again.freed.objects), (0, 0));
}

#[tokio::test]
async fn an_upload_waiting_for_its_commit_stays_a_day() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let waiting = &b"uploaded, not committed yet\n"[..];
    assert_eq!(
        env.put_chunk(&t, waiting).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(used(&env, &t).await, waiting.len() as u64);

    env.advance(UPLOAD_GRACE_SECS - 3600);
    let t = env.login("alice").await.access_token;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!((report.dropped_chunks, report.freed.objects), (0, 0));
    assert!(stored_alone(&env, waiting));
    reads_back(&env, &t, waiting).await;

    env.advance(2 * 3600);
    let t = env.login("alice").await.access_token;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.dropped_chunks, 1);
    assert_eq!(report.freed.objects, 1);
    assert_eq!(report.freed.bytes, waiting.len() as u64);
    assert!(own_objects(&env).is_empty());
    assert_eq!(used(&env, &t).await, 0, "the quota no longer counts it");
    // A commit that comes now is told to upload again, and then lands.
    let r = commit(&env, &t, root, "late.txt", waiting).await;
    assert_eq!(error_code(r).await, ErrorCode::MissingChunks);
    assert_eq!(
        env.put_chunk(&t, waiting).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        commit(&env, &t, root, "late.txt", waiting).await.status(),
        StatusCode::OK
    );
    reads_back(&env, &t, waiting).await;
}

#[tokio::test]
async fn a_pack_stays_while_one_of_its_chunks_is_used() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let (one, two) = (&b"small file one\n"[..], &b"small file two, longer\n"[..]);
    assert_eq!(
        env.upload_batch(&t, &[one, two]).await.status(),
        StatusCode::NO_CONTENT
    );
    let first: Node = commit(&env, &t, root, "one.txt", one)
        .await
        .json()
        .await
        .unwrap();
    let second: Node = commit(&env, &t, root, "two.txt", two)
        .await
        .json()
        .await
        .unwrap();
    let pack = own_objects(&env);
    assert_eq!(pack.len(), 1, "one pack holds both");

    delete(&env, &t, first.id).await;
    env.advance(PAST_RETENTION);
    let t = env.login("alice").await.access_token;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.dropped_chunks, 1);
    assert_eq!(report.freed.objects, 0, "two.txt still reads from the pack");
    assert_eq!(report.kept_bytes, one.len() as u64);
    assert_eq!(own_objects(&env), pack);
    reads_back(&env, &t, two).await;
    assert_eq!(chunk(&env, &t, one).await.status(), StatusCode::NOT_FOUND);

    delete(&env, &t, second.id).await;
    env.advance(PAST_RETENTION);
    env.login("alice").await;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.dropped_chunks, 1);
    assert_eq!(report.freed.objects, 1);
    assert_eq!(report.freed.bytes, (one.len() + two.len()) as u64);
    assert!(own_objects(&env).is_empty());
}

/// `nubo admin gc`'s pass: on the service's store and chunk store, beside
/// a running service, what the hourly job would free.
#[tokio::test]
async fn an_operator_runs_a_collection_on_demand() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let abandoned = &b"uploaded, never committed\n"[..];
    assert_eq!(
        env.put_chunk(&t, abandoned).await.status(),
        StatusCode::NO_CONTENT
    );
    env.advance(UPLOAD_GRACE_SECS + 1);
    let (report, swept) = nubo_server::collect_garbage(env.config.clone(), false)
        .await
        .unwrap();
    assert_eq!(swept, None);
    assert_eq!(report.dropped_chunks, 1);
    assert_eq!(report.freed.objects, 1);
    assert_eq!(report.freed.bytes, abandoned.len() as u64);
    assert!(own_objects(&env).is_empty());
}

/// The id of the live node named `name` in the account's feed.
async fn live_node(env: &Env, token: &str, name: &str) -> i64 {
    let feed: ChangesResponse = env.ok(token, M::GET, "/v1/changes", None).await;
    feed.nodes
        .iter()
        .find(|n| n.name == name && !n.deleted)
        .unwrap_or_else(|| panic!("no {name} in {:?}", feed.nodes))
        .id
}

/// Chunks stored before chunks were kept per account (the data folder of
/// tests/fixtures/make-data-v9.py) have one copy that accounts share: it
/// goes once no account needs it, and a shared pack once none of its
/// chunks is needed.
#[tokio::test]
async fn a_shared_chunk_goes_once_no_account_needs_it() {
    let env = common::start_on_data_v9().await;
    let (first, second) = (
        &b"lone, first content\n"[..],
        &b"lone, second content\n"[..],
    );
    let smalls = [&b"small one\n"[..], &b"small two\n"[..]];
    assert_eq!(env.chunk_objects("chunks").len(), 2);
    assert_eq!(env.chunk_objects("packs").len(), 1);

    // lone.txt's first content: an earlier version of `old`'s, and an
    // upload of `other` that no file of it names.
    env.advance(PAST_RETENTION);
    let old = env.login("old").await.access_token;
    let other = env.login("other").await.access_token;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.dropped_versions, 1);
    assert_eq!(report.dropped_chunks, 2, "each account's row of it");
    assert_eq!(report.freed.objects, 1);
    assert_eq!(report.freed.bytes, first.len() as u64);
    assert_eq!(env.chunk_objects("chunks").len(), 1);
    assert_eq!(
        chunk(&env, &other, first).await.status(),
        StatusCode::NOT_FOUND
    );
    reads_back(&env, &old, second).await;

    let one = live_node(&env, &old, "small-1.txt").await;
    delete(&env, &old, one).await;
    env.advance(PAST_RETENTION);
    let old = env.login("old").await.access_token;
    env.login("other").await;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.dropped_chunks, 1);
    assert_eq!(
        report.freed.objects, 0,
        "small-2.txt still reads from the pack"
    );
    assert_eq!(report.kept_bytes, smalls[0].len() as u64);
    assert_eq!(env.chunk_objects("packs").len(), 1);
    reads_back(&env, &old, smalls[1]).await;

    let two = live_node(&env, &old, "small-2.txt").await;
    delete(&env, &old, two).await;
    env.advance(PAST_RETENTION);
    env.login("old").await;
    env.login("other").await;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.dropped_chunks, 1);
    assert_eq!(report.freed.objects, 1);
    assert_eq!(
        report.freed.bytes,
        (smalls[0].len() + smalls[1].len()) as u64
    );
    assert!(env.chunk_objects("packs").is_empty());
}

/// Commits each content as a file of its own, in one batch.
async fn commit_all(env: &Env, token: &str, parent: i64, first: usize, contents: &[Vec<u8>]) {
    let commits: Vec<_> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"parent": parent, "name": format!("f{}.txt", first + i), "node": null,
                   "base_rev": null, "size": c.len(), "hash": hash(c),
                   "chunks": [{"hash": hash(c), "size": c.len()}], "mtime_ms": 0})
        })
        .collect();
    let batch: CommitBatchResponse = env
        .ok(
            token,
            M::POST,
            "/v1/nodes/commit-batch",
            Some(json!({ "commits": commits })),
        )
        .await;
    assert!(batch.results.iter().all(|r| r.node.is_some()));
}

/// An account with more files and chunks than the collection reads at a
/// time (pages of 1000): every file of every page keeps its chunk.
#[tokio::test]
async fn a_large_account_is_collected_page_by_page() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let contents: Vec<Vec<u8>> = (0..1400)
        .map(|i| format!("file {i}\n").into_bytes())
        .collect();
    for half in contents.chunks(700) {
        let parts: Vec<&[u8]> = half.iter().map(Vec::as_slice).collect();
        assert_eq!(
            env.upload_batch(&t, &parts).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    // 1,100 files; the last 300 chunks wait for a commit that never comes.
    commit_all(&env, &t, root, 0, &contents[..600]).await;
    commit_all(&env, &t, root, 600, &contents[600..1100]).await;
    env.advance(UPLOAD_GRACE_SECS + 1);
    let t = env.login("alice").await.access_token;
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.dropped_chunks, 300);
    assert_eq!(
        report.freed.objects, 0,
        "each pack holds chunks still named"
    );
    let abandoned: usize = contents[1100..].iter().map(Vec::len).sum();
    assert_eq!(report.kept_bytes, abandoned as u64);
    for c in [
        &contents[0],
        &contents[999],
        &contents[1000],
        &contents[1099],
    ] {
        reads_back(&env, &t, c).await;
    }
    assert_eq!(
        chunk(&env, &t, &contents[1100]).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// Cancels the account of `token`, whose ID is `id`.
async fn cancel(env: &Env, token: &str, id: &str) {
    let r = env
        .call(
            token,
            M::POST,
            "/v1/account/cancel",
            Some(json!({ "confirm": id })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

/// A cancellation removes the shared copies (stored before chunks were kept
/// per account) that no other account needs; one that another account
/// still has stays until that one goes too.
#[tokio::test]
async fn a_cancellation_removes_the_shared_copies_nobody_else_needs() {
    let env = common::start_on_data_v9().await;
    let first = &b"lone, first content\n"[..];
    let old = env.login("old").await.access_token;
    let other = env.login("other").await.access_token;
    cancel(&env, &old, "old").await;
    // lone.txt's second content and the pack were `old`'s alone.
    assert!(env.chunk_objects("packs").is_empty());
    let lone = env.chunk_objects("chunks");
    assert_eq!(lone.len(), 1, "{lone:?}");
    assert!(lone[0].ends_with(hash(first)), "{lone:?}");
    reads_back(&env, &other, first).await;

    cancel(&env, &other, "other").await;
    assert!(env.chunk_objects("chunks").is_empty());
}

/// An object written for an upload that the service never recorded (it
/// died, or its disk filled up, in between) is left to `nubo admin gc
/// --sweep`: removed once a day old, while every object a row names stays.
#[tokio::test]
async fn a_sweep_removes_what_an_interrupted_upload_left() {
    let env = start(AgreementSource::None).await;
    // The sweep compares the objects' real times with the service's clock.
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    env.clock
        .0
        .store(real_now, std::sync::atomic::Ordering::SeqCst);
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let (alone, packed, stray) = (
        &b"a file's chunk alone\n"[..],
        &b"a file's chunk in a pack\n"[..],
        &b"written, never recorded\n"[..],
    );
    env.new_file(&t, root, "alone.txt", alone, None).await;
    assert_eq!(
        env.upload_batch(&t, &[packed]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        commit(&env, &t, root, "packed.txt", packed).await.status(),
        StatusCode::OK
    );
    // What the chunk store holds when the service stops between writing a
    // chunk and recording it.
    let cfg = env.config.clone();
    let account = tokio::task::spawn_blocking(move || {
        cfg.open_store()
            .unwrap()
            .find_account("alice")
            .unwrap()
            .unwrap()
            .key
    })
    .await
    .unwrap();
    let chunks = env.config.open_chunks().unwrap();
    chunks
        .put(account, &hash(stray), bytes::Bytes::from_static(stray))
        .await
        .unwrap();
    assert_eq!(own_objects(&env).len(), 3);

    let (_, swept) = nubo_server::collect_garbage(env.config.clone(), true)
        .await
        .unwrap();
    assert_eq!(swept.unwrap().objects, 0, "written less than a day ago");
    assert_eq!(own_objects(&env).len(), 3);

    env.advance(UPLOAD_GRACE_SECS + 600);
    let t = env.login("alice").await.access_token;
    let (report, swept) = nubo_server::collect_garbage(env.config.clone(), true)
        .await
        .unwrap();
    assert_eq!(report.dropped_chunks, 0);
    let swept = swept.unwrap();
    assert_eq!(swept.objects, 1);
    assert_eq!(swept.bytes, stray.len() as u64);
    assert!(!stored_alone(&env, stray));
    assert_eq!(own_objects(&env).len(), 2);
    reads_back(&env, &t, alone).await;
    reads_back(&env, &t, packed).await;
}

/// Commits `content` as `name` as a sync client does: asks which chunks
/// the service lacks, uploads those, commits; told `missing_chunks` (a
/// collection took the chunk in between), it uploads again. How many
/// commits it took.
async fn commit_as_a_client(
    env: &Env,
    token: &str,
    parent: i64,
    name: &str,
    content: &[u8],
) -> u32 {
    for attempt in 1..=3 {
        let asked: MissingChunksResponse = env
            .ok(
                token,
                M::POST,
                "/v1/chunks/missing",
                Some(json!({"hashes": [hash(content)]})),
            )
            .await;
        if !asked.missing.is_empty() {
            assert_eq!(
                env.put_chunk(token, content).await.status(),
                StatusCode::NO_CONTENT
            );
        }
        let r = commit(env, token, parent, name, content).await;
        if r.status() == StatusCode::OK {
            return attempt;
        }
        assert_eq!(error_code(r).await, ErrorCode::MissingChunks);
    }
    panic!("{name} did not land in 3 commits");
}

/// Collections running while a client commits content whose chunks the
/// account already has but no file names (an overwritten file's, with no
/// versions kept): each commit either lands with its chunk kept, or is
/// told to upload again; every file reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_during_commits_loses_nothing() {
    let env =
        common::start_configured(common::Storage::from_env(), |cfg| cfg.keep_versions = 0).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let contents: Vec<Vec<u8>> = (0..40)
        .map(|i| format!("content {i}\n").into_bytes())
        .collect();
    let mut nodes = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        nodes.push(env.new_file(&t, root, &format!("f{i}.txt"), c, None).await);
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    // Each round, a content stops being named (its file overwritten) and
    // is committed again at once, while collections run.
    let client = async {
        let mut commits = 0;
        for (i, (c, node)) in contents.iter().zip(&nodes).enumerate() {
            let replaced = format!("replaced {i}\n").into_bytes();
            env.new_file(&t, root, &node.name, &replaced, Some((node.id, node.rev)))
                .await;
            commits += commit_as_a_client(&env, &t, root, &format!("again-{i}.txt"), c).await;
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        commits
    };
    let collections = async {
        let mut dropped = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            dropped += env.server.run_jobs_once().await.unwrap().dropped_chunks;
        }
        dropped
    };
    let (commits, dropped) = tokio::join!(client, collections);
    println!("{commits} commits for 40 files; {dropped} chunks collected meanwhile");
    for c in &contents {
        reads_back(&env, &t, c).await;
    }
    let after = env.server.run_jobs_once().await.unwrap();
    assert_eq!(after.dropped_chunks, 0, "every chunk left is named");
}

/// Runs SQL on the service's database behind its back: a fault the
/// service itself does not make.
async fn tamper(env: &Env, sql: &'static str) {
    let (database, folder) = (env.config.database.clone(), env.data_dir().to_path_buf());
    tokio::task::spawn_blocking(move || match database {
        Some(url) => postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .batch_execute(sql)
            .unwrap(),
        None => rusqlite::Connection::open(folder.join("meta.sqlite"))
            .unwrap()
            .execute_batch(sql)
            .unwrap(),
    })
    .await
    .unwrap();
}

/// An account whose collection fails (here an unreadable chunk list) is
/// counted and left for the next pass; the others are collected.
#[tokio::test]
async fn one_account_failing_does_not_stop_the_others() {
    let env = start(AgreementSource::None).await;
    let alice = env.login("alice").await.access_token;
    let bob = env.login("bob").await.access_token;
    let root = env.root(&alice).await;
    env.new_file(&alice, root, "broken.txt", b"its list breaks", None)
        .await;
    let abandoned = &b"bob's upload, never committed\n"[..];
    assert_eq!(
        env.put_chunk(&bob, abandoned).await.status(),
        StatusCode::NO_CONTENT
    );
    tamper(
        &env,
        "UPDATE nodes SET chunks = 'not a chunk list' WHERE name = 'broken.txt'",
    )
    .await;
    env.advance(UPLOAD_GRACE_SECS + 1);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.gc_failed_accounts, 1);
    assert_eq!(report.dropped_chunks, 1, "bob's abandoned upload");
    assert_eq!(report.freed.bytes, abandoned.len() as u64);
}
