//! Trash, versions, restore and retention over real HTTP on 127.0.0.1.

mod common;

use common::{delete, error_code, hash, start, used, Env};
use nubo_protocol::*;
use nubo_server::AgreementSource;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

async fn mkdir(env: &Env, token: &str, parent: i64, name: &str) -> Node {
    env.ok(
        token,
        M::POST,
        "/v1/nodes/mkdir",
        Some(json!({"parent": parent, "name": name})),
    )
    .await
}

async fn file(env: &Env, token: &str, parent: i64, name: &str, content: &[u8]) -> Node {
    let r = env.put_file(token, parent, name, content, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn trash(env: &Env, token: &str, q: &str) -> TrashList {
    env.ok(token, M::GET, &format!("/v1/trash?q={q}"), None)
        .await
}

async fn restore(env: &Env, token: &str, body: serde_json::Value) -> reqwest::Response {
    env.call(token, M::POST, "/v1/restore", Some(body)).await
}

async fn restored(env: &Env, token: &str, body: serde_json::Value) -> RestoreResponse {
    env.ok(token, M::POST, "/v1/restore", Some(body)).await
}

async fn content_hash(env: &Env, token: &str, id: i64) -> String {
    let m: Manifest = env
        .ok(token, M::GET, &format!("/v1/nodes/{id}/manifest"), None)
        .await;
    m.hash
}

#[tokio::test]
async fn a_deleted_folder_is_one_trash_entry_and_comes_back_whole() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let docs = mkdir(&env, &t, root, "Docs").await;
    let inner = mkdir(&env, &t, docs.id, "2026").await;
    for i in 0..5 {
        file(
            &env,
            &t,
            inner.id,
            &format!("r{i}.txt"),
            format!("report {i}").as_bytes(),
        )
        .await;
    }
    file(&env, &t, docs.id, "notes.md", b"notes").await;
    let total = (0..5)
        .map(|i| format!("report {i}").len() as u64)
        .sum::<u64>()
        + 5;
    assert_eq!(used(&env, &t).await, total);
    delete(&env, &t, docs.id).await;
    assert_eq!(used(&env, &t).await, 0, "the trash is not counted");

    let list = trash(&env, &t, "").await;
    assert_eq!(list.total, 1, "one delete, one entry: {:?}", list.items);
    let entry = &list.items[0];
    assert_eq!(
        (entry.path.as_str(), entry.kind, entry.files),
        ("/Docs", NodeKind::Dir, 6)
    );
    assert_eq!(entry.device_name, "test");
    assert_eq!(
        entry.size,
        (0..5)
            .map(|i| format!("report {i}").len() as u64)
            .sum::<u64>()
            + 5
    );
    // Found by the name of a file inside it; not by a name nothing has.
    assert_eq!(trash(&env, &t, "R3").await.total, 1);
    assert_eq!(trash(&env, &t, "nothing-like-this").await.total, 0);

    let cursor: ChangesResponse = env.ok(&t, M::GET, "/v1/changes?cursor=0", None).await;
    let out: RestoreResponse = restored(&env, &t, json!({"node": docs.id})).await;
    assert_eq!((out.path.as_str(), out.files), ("/Docs", 6));
    assert_eq!(trash(&env, &t, "").await.total, 0);
    assert_eq!(used(&env, &t).await, total);
    // Every restored node reaches clients through the feed, parents first.
    let feed: ChangesResponse = env
        .ok(
            &t,
            M::GET,
            &format!("/v1/changes?cursor={}", cursor.cursor),
            None,
        )
        .await;
    assert_eq!(feed.nodes.len(), 8);
    assert!(feed.nodes.iter().all(|n| !n.deleted));
    assert_eq!(feed.nodes[0].id, docs.id);
    let live: Node = env
        .ok(&t, M::GET, "/v1/lookup?path=/Docs/2026/r3.txt", None)
        .await;
    assert_eq!(content_hash(&env, &t, live.id).await, hash(b"report 3"));

    // Restoring what is not deleted says so.
    let r = restore(&env, &t, json!({"node": docs.id})).await;
    assert_eq!(error_code(r).await, ErrorCode::Conflict);
}

#[tokio::test]
async fn a_restore_never_overwrites_and_can_take_one_file_out_of_a_deleted_folder() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let old = file(&env, &t, root, "plan.txt", b"the old plan").await;
    delete(&env, &t, old.id).await;
    file(&env, &t, root, "plan.txt", b"a new plan").await;
    let out: RestoreResponse = restored(&env, &t, json!({"node": old.id})).await;
    let date = "2027-01-15"; // the test clock's day
    assert_eq!(out.path, format!("/plan (restored {date}).txt"));
    let now: Node = env.ok(&t, M::GET, "/v1/lookup?path=/plan.txt", None).await;
    assert_eq!(content_hash(&env, &t, now.id).await, hash(b"a new plan"));

    // One file out of a deleted folder: the folder comes back around it, the
    // rest stays in the trash as entries of their own.
    let album = mkdir(&env, &t, root, "Album").await;
    let keep = file(&env, &t, album.id, "keep.jpg", b"keep").await;
    file(&env, &t, album.id, "other.jpg", b"other").await;
    delete(&env, &t, album.id).await;
    let r = restore(&env, &t, json!({"node": keep.id})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let back: Node = env
        .ok(&t, M::GET, "/v1/lookup?path=/Album/keep.jpg", None)
        .await;
    assert!(!back.deleted);
    let list = trash(&env, &t, "").await;
    let paths: Vec<&str> = list.items.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["/Album/other.jpg"]);

    // Elsewhere, under another name.
    let other = list.items[0].id;
    let out: RestoreResponse = restore(
        &env,
        &t,
        json!({"node": other, "to_parent": root, "to_name": "rescued.jpg"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(out.path, "/rescued.jpg");
}

/// A taken name at the longest a name may be: the restored one is
/// shortened to stay a name every client takes, twice over.
#[tokio::test]
async fn a_restore_into_a_taken_long_name_keeps_within_the_name_rules() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let long = format!("{}.txt", "名".repeat(83)); // 253 bytes
    let mut restored_paths = Vec::new();
    for content in [&b"first"[..], b"second"] {
        let old = file(&env, &t, root, &long, content).await;
        delete(&env, &t, old.id).await;
        restored_paths.push(old.id);
    }
    file(&env, &t, root, &long, b"current").await;
    for id in restored_paths {
        let out: RestoreResponse = restored(&env, &t, json!({"node": id})).await;
        let name = out.node.name;
        assert!(
            names::check_name(&name).is_ok(),
            "{name} ({} bytes)",
            name.len()
        );
        assert!(
            name.ends_with(".txt") && name.contains("(restored "),
            "{name}"
        );
    }
    let feed: ChangesResponse = env.ok(&t, M::GET, "/v1/changes?cursor=0", None).await;
    let live = feed
        .nodes
        .iter()
        .filter(|n| !n.deleted && n.parent == Some(root));
    assert_eq!(
        live.count(),
        3,
        "the current file and both restored beside it"
    );
}

#[tokio::test]
async fn an_earlier_version_comes_back_as_the_current_one_or_as_a_copy() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let mut node = file(&env, &t, root, "essay.txt", b"version 1").await;
    for v in [b"version 2", b"version 3", b"version 4"] {
        env.advance(60);
        node = env
            .put_file(&t, root, "essay.txt", v, Some((node.id, node.rev)))
            .await
            .json()
            .await
            .unwrap();
    }
    let versions: VersionList = env
        .ok(&t, M::GET, &format!("/v1/nodes/{}/versions", node.id), None)
        .await;
    let revs: Vec<i64> = versions.versions.iter().map(|v| v.rev).collect();
    assert_eq!(revs, [3, 2, 1]);
    let v1 = &versions.versions[2];
    assert_eq!((v1.hash.clone(), v1.size), (hash(b"version 1"), 9));
    assert_eq!(v1.device_name, "test");
    // The time a version was written, not the time it was replaced.
    assert!(versions.versions[0].created_at > v1.created_at);

    let out: RestoreResponse = restored(&env, &t, json!({"node": node.id, "rev": 1})).await;
    assert_eq!((out.node.id, out.node.rev), (node.id, 5));
    assert_eq!(content_hash(&env, &t, node.id).await, hash(b"version 1"));
    // What was current is a version now: nothing was lost.
    let versions: VersionList = env
        .ok(&t, M::GET, &format!("/v1/nodes/{}/versions", node.id), None)
        .await;
    assert_eq!(versions.versions[0].hash, hash(b"version 4"));

    let copy: RestoreResponse = restore(
        &env,
        &t,
        json!({"node": node.id, "rev": 2, "as_copy": true}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(copy.path, "/essay (restored 2027-01-15).txt");
    assert_eq!(
        content_hash(&env, &t, copy.node.id).await,
        hash(b"version 2")
    );
    assert_eq!(content_hash(&env, &t, node.id).await, hash(b"version 1"));
    // Versions are not counted; the copy is a file of its own.
    assert_eq!(used(&env, &t).await, 18);

    let r = restore(&env, &t, json!({"node": node.id, "rev": 99})).await;
    assert_eq!(error_code(r).await, ErrorCode::NotFound);
}

#[tokio::test]
async fn retention_empties_the_trash_and_old_versions_after_its_days() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let gone = file(&env, &t, root, "old.txt", b"old").await;
    let kept = file(&env, &t, root, "kept.txt", b"v1").await;
    env.put_file(&t, root, "kept.txt", b"v2", Some((kept.id, kept.rev)))
        .await;
    delete(&env, &t, gone.id).await;

    env.advance(29 * 86_400);
    env.server.run_jobs_once().await.unwrap();
    let t = env.login("alice").await.access_token;
    assert_eq!(trash(&env, &t, "").await.total, 1, "29 days: still there");

    env.advance(2 * 86_400);
    let report = env.server.run_jobs_once().await.unwrap();
    let t = env.login("alice").await.access_token;
    assert_eq!((report.purged_nodes, report.dropped_versions), (1, 1));
    let list = trash(&env, &t, "").await;
    assert_eq!((list.total, list.retention_days), (0, 30));
    let r = restore(&env, &t, json!({"node": gone.id})).await;
    assert_eq!(error_code(r).await, ErrorCode::NotFound);
    let versions: VersionList = env
        .ok(&t, M::GET, &format!("/v1/nodes/{}/versions", kept.id), None)
        .await;
    assert!(versions.versions.is_empty());
}

#[tokio::test]
async fn another_accounts_trash_cannot_be_seen_or_restored() {
    let env = start(AgreementSource::None).await;
    let a = env.login("alice").await.access_token;
    let b = env.login("bob").await.access_token;
    let b_root = env.root(&b).await;
    let secret = file(&env, &b, b_root, "secret.txt", b"bob's").await;
    delete(&env, &b, secret.id).await;
    assert_eq!(trash(&env, &a, "secret").await.total, 0);
    let r = restore(&env, &a, json!({"node": secret.id})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = env
        .call(&a, M::GET, "/v1/lookup?path=/secret.txt", None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Restoring into bob's folder from alice's account fails too.
    let a_root = env.root(&a).await;
    let mine = file(&env, &a, a_root, "mine.txt", b"a").await;
    delete(&env, &a, mine.id).await;
    let r = restore(&env, &a, json!({"node": mine.id, "to_parent": b_root})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(trash(&env, &b, "").await.total, 1);
}
