//! The service under attack, over real HTTP on 127.0.0.1 (and on
//! PostgreSQL + S3 when the suite runs there): stolen and raced refresh
//! tokens.

mod common;

use common::{chunk, hash, start, used, Env};
use nubo_protocol::limits;
use nubo_protocol::*;
use nubo_server::AgreementSource;
use reqwest::{Method as M, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends the same request on `n` connections at once: every connection
/// gets all of it but its last byte, then the last bytes go out together,
/// so the service has them all in hand before it answers any. The status
/// of each answer.
async fn all_at_once(env: &Env, path: &str, body: &serde_json::Value, n: usize) -> Vec<u16> {
    let addr = env.server.addr;
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (head, last) = request.as_bytes().split_at(request.len() - 1);
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(head).await.unwrap();
        conns.push(c);
    }
    for c in &mut conns {
        c.write_all(last).await.unwrap();
    }
    let mut statuses = Vec::with_capacity(n);
    for mut c in conns {
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
        statuses.push(status);
    }
    statuses
}

async fn refresh(env: &Env, token: &str) -> reqwest::Response {
    env.http
        .post(env.url("/v1/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

async fn devices(env: &Env, token: &str) -> Vec<i64> {
    let list: DeviceList = env.ok(token, M::GET, "/v1/devices", None).await;
    list.devices.iter().map(|d| d.id).collect()
}

#[tokio::test]
async fn a_refresh_token_sent_many_times_at_once_works_once() {
    let env = start(AgreementSource::None).await;
    let victim = env.login("alice").await;
    let other = env.login("alice").await.access_token;
    let body = json!({ "refresh_token": victim.refresh_token });
    let statuses = all_at_once(&env, "/v1/auth/refresh", &body, 16).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "one success only: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 401),
        "{statuses:?}"
    );
    // The others were uses of a spent token: the device's whole family is
    // revoked, the pair the one success got included.
    assert!(!devices(&env, &other).await.contains(&victim.device_id));
    let r = refresh(&env, &victim.refresh_token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The account's other devices are untouched.
    assert_eq!(
        env.call(&other, M::GET, "/v1/account", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_signs_its_device_out() {
    let env = start(AgreementSource::None).await;
    let first = env.login("alice").await;
    let other = env.login("alice").await.access_token;
    // The thief and the owner both hold `first`; the owner refreshes first.
    let r = refresh(&env, &first.refresh_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let second: TokenResponse = r.json().await.unwrap();
    assert_eq!(second.device_id, first.device_id);
    assert_eq!(
        env.call(&second.access_token, M::GET, "/v1/account", None)
            .await
            .status(),
        StatusCode::OK
    );
    // The thief's use of the spent token: refused, and the pair issued from
    // it stops working at once (whichever of the two holds it now).
    let r = refresh(&env, &first.refresh_token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<ApiError>().await.unwrap().code,
        ErrorCode::Unauthorized
    );
    assert_eq!(
        env.call(&second.access_token, M::GET, "/v1/account", None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let r = refresh(&env, &second.refresh_token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!devices(&env, &other).await.contains(&first.device_id));
    // Signing in again works as ever.
    env.login("alice").await;
}

#[tokio::test]
async fn expired_tokens_are_forgotten_but_each_devices_newest_stays() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await;
    env.advance(3600);
    let r = refresh(&env, &t.refresh_token).await;
    let newer: TokenResponse = r.json().await.unwrap();
    // Past the refresh tokens' 90 days: the pass forgets the older pair and
    // keeps the device's newest, so the client still gets its answer.
    env.advance(91 * 86_400);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.stale_rows, 2, "the first access and refresh token");
    let r = refresh(&env, &newer.refresh_token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(env.server.run_jobs_once().await.unwrap().stale_rows, 0);
}

// ------------------------------------------------------------------ quota

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn commit_body(parent: i64, name: &str, size: u64, chunks: &[(&str, u64)]) -> serde_json::Value {
    let list: Vec<_> = chunks
        .iter()
        .map(|(h, s)| json!({"hash": h, "size": s}))
        .collect();
    json!({"parent": parent, "name": name, "node": null, "base_rev": null, "size": size,
           "hash": chunks.first().map_or("", |c| c.0), "chunks": list, "mtime_ms": 0})
}

/// An account with a 1 MiB quota: what it may store through uploads that
/// no commit uses is bounded by the quota too (it once stored 60 MiB).
#[tokio::test]
async fn uploads_and_commits_are_held_to_the_quota() {
    let env = start(AgreementSource::None).await;
    env.add_account("carol", 1 << 20).await;
    let t = env.login("carol").await.access_token;
    let chunk = |i: u8| bytes(i, 400 << 10);
    for i in [1, 2] {
        assert_eq!(
            env.put_chunk(&t, &chunk(i)).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        used(&env, &t).await,
        800 << 10,
        "uploaded, not committed, counted"
    );
    // A third would pass the quota: refused whole, alone or in a batch, and
    // nothing of it is kept.
    let r = env.put_chunk(&t, &chunk(3)).await;
    assert_eq!(r.status().as_u16(), 507);
    assert_eq!(common::error_code(r).await, ErrorCode::QuotaExceeded);
    let small = bytes(9, 10);
    let r = env.upload_batch(&t, &[&small, &chunk(3)]).await;
    assert_eq!(common::error_code(r).await, ErrorCode::QuotaExceeded);
    for c in [&chunk(3), &small] {
        let r = env
            .call(&t, M::GET, &format!("/v1/chunks/{}", hash(c)), None)
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    // A commit moves its chunks from waiting to the files: usage stays.
    let root = env.root(&t).await;
    let (h1, h2) = (hash(&chunk(1)), hash(&chunk(2)));
    let body = commit_body(
        root,
        "two.bin",
        800 << 10,
        &[(&h1, 400 << 10), (&h2, 400 << 10)],
    );
    let node: Node = env.ok(&t, M::POST, "/v1/nodes/commit", Some(body)).await;
    assert_eq!(used(&env, &t).await, 800 << 10);
    // Uploads may wait for a commit up to the quota again (a new version
    // of a file uploads before the old one goes), and no further...
    assert_eq!(
        env.put_chunk(&t, &chunk(3)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.put_chunk(&t, &chunk(4)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(env.put_chunk(&t, &chunk(5)).await.status().as_u16(), 507);
    assert_eq!(used(&env, &t).await, 1600 << 10, "all the service holds");
    // ...while a file that would pass the quota is refused.
    let h3 = hash(&chunk(3));
    let third = commit_body(root, "three.bin", 400 << 10, &[(&h3, 400 << 10)]);
    let r = env
        .call(&t, M::POST, "/v1/nodes/commit", Some(third.clone()))
        .await;
    assert_eq!(common::error_code(r).await, ErrorCode::QuotaExceeded);
    // Deleting a file frees its bytes (the trash does not count).
    let del = json!({"base_rev": node.rev});
    env.ok::<Node>(
        &t,
        M::POST,
        &format!("/v1/nodes/{}/delete", node.id),
        Some(del),
    )
    .await;
    env.ok::<Node>(&t, M::POST, "/v1/nodes/commit", Some(third))
        .await;
    assert_eq!(used(&env, &t).await, 800 << 10);
}

#[tokio::test]
async fn a_commit_must_declare_the_sizes_the_service_stored() {
    let env = start(AgreementSource::None).await;
    env.add_account("carol", 1 << 20).await;
    let t = env.login("carol").await.access_token;
    let root = env.root(&t).await;
    let big = bytes(9, 12 << 10);
    let h = hash(&big);
    assert_eq!(
        env.put_chunk(&t, &big).await.status(),
        StatusCode::NO_CONTENT
    );
    // 12 KiB declared as 1 byte: refused, so the file cannot pass for small.
    let r = env
        .call(
            &t,
            M::POST,
            "/v1/nodes/commit",
            Some(commit_body(root, "lie.bin", 1, &[(&h, 1)])),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: ApiError = r.json().await.unwrap();
    assert!(e.message.contains("12288 bytes"), "{}", e.message);
    // The same lie inside a batch is refused for that file alone.
    let batch = json!({"commits": [commit_body(root, "lie.bin", 1, &[(&h, 1)]),
                                   commit_body(root, "true.bin", 12 << 10, &[(&h, 12 << 10)])]});
    let r: CommitBatchResponse = env
        .ok(&t, M::POST, "/v1/nodes/commit-batch", Some(batch))
        .await;
    assert_eq!(
        r.results[0].error.as_ref().unwrap().code,
        ErrorCode::BadRequest
    );
    assert_eq!(r.results[1].node.as_ref().unwrap().size, 12 << 10);
    assert_eq!(used(&env, &t).await, 12 << 10);
}

// ------------------------------------------------------- chunks per account

/// The chunk store's objects of one account (`accounts/<key>/…`), by key.
fn objects_by_account(env: &Env) -> std::collections::BTreeMap<String, Vec<std::path::PathBuf>> {
    let mut out: std::collections::BTreeMap<_, Vec<_>> = Default::default();
    for path in env.chunk_objects("accounts") {
        let s = path.to_string_lossy().into_owned();
        let key = s
            .split("/accounts/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        out.entry(key).or_default().push(path);
    }
    out
}

#[tokio::test]
async fn content_another_account_stored_is_stored_again_the_same_way() {
    let env = start(AgreementSource::None).await;
    let (a, b) = (
        env.login("alice").await.access_token,
        env.login("bob").await.access_token,
    );
    let known = bytes(7, 300 << 10);
    let (small_known, small_new) = (bytes(8, 100), bytes(10, 100));
    assert_eq!(
        env.put_chunk(&a, &known).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.upload_batch(&a, &[&small_known]).await.status(),
        StatusCode::NO_CONTENT
    );
    let before = objects_by_account(&env);
    assert_eq!(before.len(), 1, "alice's objects only: {before:?}");
    let alice_key = before.keys().next().unwrap().clone();
    // Bob stores what alice stored: his own copies are written, as for new
    // content (one object, one pack), and alice's objects stay as they were.
    assert_eq!(
        env.put_chunk(&b, &known).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = env.upload_batch(&b, &[&small_known, &small_new]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let after = objects_by_account(&env);
    assert_eq!(after[&alice_key], before[&alice_key]);
    let bobs: Vec<_> = after
        .iter()
        .filter(|(k, _)| **k != alice_key)
        .flat_map(|(_, v)| v.clone())
        .collect();
    assert_eq!(bobs.len(), 2, "{bobs:?}");
    let written: Vec<Vec<u8>> = bobs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(written.contains(&known), "bob's copy of the large chunk");
    assert!(
        written.contains(&[small_known.clone(), small_new.clone()].concat()),
        "bob's pack holds the known and the new small chunk alike"
    );
    // Within one account, content is stored once.
    assert_eq!(
        env.put_chunk(&b, &known).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.upload_batch(&b, &[&small_new]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(objects_by_account(&env), after);
    // Each reads its own copy back.
    for t in [&a, &b] {
        let got = env
            .call(t, M::GET, &format!("/v1/chunks/{}", hash(&known)), None)
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(got.as_ref(), known.as_slice());
    }
    let fetched = env
        .call(
            &b,
            M::POST,
            "/v1/chunks/fetch",
            Some(json!({"hashes": [hash(&small_new), hash(&small_known)]})),
        )
        .await
        .bytes()
        .await
        .unwrap();
    let parts = frames::decode(&fetched).unwrap();
    assert_eq!(&fetched[parts[0].1.clone()], small_new.as_slice());
    assert_eq!(&fetched[parts[1].1.clone()], small_known.as_slice());
}

/// A data folder written before chunks were kept per account
/// (tests/fixtures/make-data-v9.py): every file reads back, and what comes
/// next is stored per account.
#[tokio::test]
async fn a_data_folder_from_before_chunks_per_account_keeps_working() {
    let env = common::start_on_data_v9().await;
    let (old, other) = (
        env.login("old").await.access_token,
        env.login("other").await.access_token,
    );
    let (first, second) = (
        &b"lone, first content\n"[..],
        &b"lone, second content\n"[..],
    );
    let smalls = [&b"small one\n"[..], &b"small two\n"[..]];
    // A chunk once uploaded alone, its earlier version, and packed ones.
    for c in [first, second] {
        let got = chunk(&env, &old, c).await.bytes().await.unwrap();
        assert_eq!(got.as_ref(), c);
    }
    let fetched = env
        .call(
            &old,
            M::POST,
            "/v1/chunks/fetch",
            Some(json!({"hashes": [hash(smalls[1]), hash(smalls[0])]})),
        )
        .await
        .bytes()
        .await
        .unwrap();
    let parts = frames::decode(&fetched).unwrap();
    assert_eq!(&fetched[parts[0].1.clone()], smalls[1]);
    assert_eq!(&fetched[parts[1].1.clone()], smalls[0]);
    // The copy the two accounts shared serves both; what only one of them
    // uploaded stays its alone.
    assert_eq!(
        chunk(&env, &other, first)
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        first
    );
    assert_eq!(
        chunk(&env, &other, second).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(used(&env, &old).await, (second.len() + 20) as u64);
    // What an account had is not written again; what it had not is, as its own.
    assert_eq!(
        env.put_chunk(&old, first).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.upload_batch(&old, &[smalls[0]]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(objects_by_account(&env).is_empty());
    assert_eq!(
        env.upload_batch(&other, &[smalls[0]]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(objects_by_account(&env).len(), 1);
    assert_eq!(
        chunk(&env, &other, smalls[0])
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        smalls[0]
    );
    // And the old files take new content as ever.
    let root = env.root(&old).await;
    let feed: ChangesResponse = env.ok(&old, M::GET, "/v1/changes?cursor=0", None).await;
    let lone = feed.nodes.iter().find(|n| n.name == "lone.txt").unwrap();
    let r = env
        .put_file(
            &old,
            root,
            "lone.txt",
            b"lone, third content\n",
            Some((lone.id, lone.rev)),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let versions: VersionList = env
        .ok(
            &old,
            M::GET,
            &format!("/v1/nodes/{}/versions", lone.id),
            None,
        )
        .await;
    assert_eq!(versions.versions.len(), 2);
}

/// Cancelling an account of that data folder removes the objects of its
/// own and the old service's copies that no other account needs, and
/// leaves the copy it shared with another account, which still reads it;
/// its summary counts what the old service stored.
#[tokio::test]
async fn a_cancelled_account_of_an_old_data_folder_leaves_what_it_shared() {
    let env = common::start_on_data_v9().await;
    let (old, other) = (
        env.login("old").await.access_token,
        env.login("other").await.access_token,
    );
    let (first, second) = (
        &b"lone, first content\n"[..],
        &b"lone, second content\n"[..],
    );
    let summary: AccountSummary = env.ok(&old, M::GET, "/v1/account/summary", None).await;
    assert_eq!(
        (summary.files, summary.bytes, summary.versions),
        (3, (second.len() + 20) as u64, 1)
    );
    assert_eq!(
        env.put_chunk(&old, b"new, its own").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(objects_by_account(&env).len(), 1);
    let shared_objects = || {
        let listed = |kind| -> std::collections::BTreeSet<_> {
            env.chunk_objects(kind).into_iter().collect()
        };
        (listed("chunks"), listed("packs"))
    };
    let shared = shared_objects();
    assert!(!shared.0.is_empty() && !shared.1.is_empty(), "{shared:?}");

    let r = env
        .call(
            &old,
            M::POST,
            "/v1/account/cancel",
            Some(json!({"confirm": "old"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(objects_by_account(&env).is_empty());
    // The copy shared with `other` stays; those the old service kept for
    // this account alone (lone.txt's second content, the pack) go with it.
    let (lone, packs) = shared_objects();
    assert!(packs.is_empty(), "{packs:?}");
    assert_eq!(lone.len(), 1, "{lone:?}");
    assert!(shared.0.is_superset(&lone));
    assert!(lone.iter().all(|p| p.ends_with(hash(first))), "{lone:?}");
    assert_eq!(
        chunk(&env, &other, first)
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        first
    );
}

// ------------------------------------------------------------------ bounds

/// Strings and lists of a schema (and of every schema inside it) that
/// carry no bound: their paths.
fn unbounded(doc: &serde_json::Value, schema: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
        let name = r.rsplit('/').next().unwrap();
        return unbounded(doc, &doc["components"]["schemas"][name], at, out);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            unbounded(doc, s, at, out);
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        serde_json::Value::String(t) => vec![t.as_str()],
        serde_json::Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).collect(),
        _ => vec![],
    };
    if types.contains(&"string")
        && schema.get("enum").is_none()
        && schema.get("maxLength").is_none()
    {
        out.push(at.to_string());
    }
    if types.contains(&"array") {
        if schema.get("maxItems").is_none() {
            out.push(at.to_string());
        }
        unbounded(doc, &schema["items"], &format!("{at}[]"), out);
    }
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        unbounded(doc, prop, &format!("{at}.{name}"), out);
    }
}

#[tokio::test]
async fn every_string_and_list_a_request_carries_is_bounded_and_documented() {
    let env = start(AgreementSource::None).await;
    let doc = env.openapi().await;
    let mut found = Vec::new();
    let mut bodies = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let at = format!("{method} {path}");
            if let Some(body) = op["requestBody"]["content"].get("application/json") {
                unbounded(&doc, &body["schema"], &at, &mut found);
                bodies += 1;
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    unbounded(
                        &doc,
                        &p["schema"],
                        &format!("{at}?{}", p["name"]),
                        &mut found,
                    );
                }
            }
        }
    }
    assert!(bodies >= 15, "only {bodies} JSON bodies");
    assert!(found.is_empty(), "unbounded: {found:?}");
    // The documented bounds are the ones the service keeps.
    let login = &doc["components"]["schemas"]["LoginRequest"]["properties"];
    assert_eq!(login["password"]["maxLength"], limits::PASSWORD_BYTES);
    assert_eq!(login["device_name"]["maxLength"], limits::DEVICE_NAME_BYTES);
    let commit = &doc["components"]["schemas"]["CommitRequest"]["properties"];
    assert_eq!(commit["name"]["maxLength"], limits::NAME_BYTES);
    assert_eq!(commit["chunks"]["maxItems"], limits::CHUNKS_PER_FILE);
}

#[tokio::test]
async fn requests_past_a_bound_are_refused_before_anything_is_stored() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let post = |path: &'static str, body: serde_json::Value| {
        env.http.post(env.url(path)).json(&body).send()
    };
    // An 8 MiB device name, without any token: refused, nothing stored.
    let r = post(
        "/v1/auth/device",
        json!({"device_name": "x".repeat(8 << 20)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: ApiError = r.json().await.unwrap();
    assert!(
        e.message.contains("device_name is longer than 255 bytes"),
        "{}",
        e.message
    );
    let r = post(
        "/v1/auth/device",
        json!({"device_name": "x".repeat(limits::DEVICE_NAME_BYTES)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "exactly at the bound");
    let r = post(
        "/v1/auth/login",
        json!({"login": "alice", "password": "p".repeat(1025), "device_name": "t"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A list past its bound: 413.
    let many: Vec<String> = (0..100_000).map(|i| format!("{i:064x}")).collect();
    let r = env
        .call(
            &t,
            M::POST,
            "/v1/chunks/missing",
            Some(json!({"hashes": many})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(common::error_code(r).await, ErrorCode::TooLarge);
    // A body past the limit: 413, as an error the client can read.
    let r = env.put_chunk(&t, &vec![7u8; (16 << 20) + 1]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(common::error_code(r).await, ErrorCode::TooLarge);
    // Names, searches and paths.
    let root = env.root(&t).await;
    let name = json!({"parent": root, "name": "n".repeat(limits::NAME_BYTES + 1)});
    for (method, path, body) in [
        (M::POST, "/v1/nodes/mkdir".to_string(), Some(name)),
        (M::GET, format!("/v1/trash?q={}", "q".repeat(256)), None),
        (
            M::GET,
            format!("/v1/lookup?path=/{}", "p".repeat(limits::PATH_BYTES)),
            None,
        ),
    ] {
        let r = env.call(&t, method, &path, body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let feed: ChangesResponse = env.ok(&t, M::GET, "/v1/changes?cursor=0", None).await;
    assert!(feed.nodes.is_empty(), "{:?}", feed.nodes);
}

// --------------------------------------------------- rates and guessing

/// A service behind a "proxy" on 127.0.0.1 (trusted), so that each test
/// request can say which client it comes from (`X-Forwarded-For`).
async fn behind_a_proxy(change: impl FnOnce(&mut nubo_server::throttle::Throttling)) -> Env {
    common::start_configured(common::Storage::from_env(), |cfg| {
        cfg.throttling.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        change(&mut cfg.throttling);
    })
    .await
}

async fn login_from(env: &Env, client: &str, login: &str, password: &str) -> reqwest::Response {
    env.http
        .post(env.url("/v1/auth/login"))
        .header("x-forwarded-for", client)
        .json(&json!({"login": login, "password": password, "device_name": "t"}))
        .send()
        .await
        .unwrap()
}

/// The time a 429 says to come back at.
async fn retry_at(r: reqwest::Response) -> i64 {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, ErrorCode::TooManyAttempts);
    assert!(e.message.contains("try again at"), "{}", e.message);
    e.retry_at.expect("a time to try again at")
}

#[tokio::test]
async fn requests_without_a_token_are_rate_limited_per_client_address() {
    let env = behind_a_proxy(|t| {
        t.public_per_minute = 1;
        t.public_burst = 3;
    })
    .await;
    let token = env.login("alice").await.access_token;
    let refresh = |client: &'static str| {
        env.http
            .post(env.url("/v1/auth/refresh"))
            .header("x-forwarded-for", client)
            .json(&json!({"refresh_token": "not-a-token"}))
            .send()
    };
    for _ in 0..3 {
        let r = refresh("198.51.100.1").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let at = retry_at(refresh("198.51.100.1").await.unwrap()).await;
    assert!(at > env.clock.0.load(std::sync::atomic::Ordering::SeqCst));
    // Another client is not held by the first one's requests; a signed-in
    // device is not held at all.
    assert_eq!(
        refresh("198.51.100.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.call(&token, M::GET, "/v1/account", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_in_codes_wait_in_bounded_numbers_and_expired_ones_go_at_once() {
    let env = behind_a_proxy(|t| t.waiting_sign_ins = 3).await;
    let start = || {
        env.http
            .post(env.url("/v1/auth/device"))
            .json(&json!({"device_name": "d"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(start().await.unwrap().status(), StatusCode::OK);
    }
    retry_at(start().await.unwrap()).await;
    // Ten minutes on, the three expired: gone at the next start, not a day later.
    env.advance(601);
    assert_eq!(start().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn guessing_a_password_slows_down_with_429_and_a_time_to_try_again() {
    let env = behind_a_proxy(|_| {}).await;
    let client = "198.51.100.7";
    for login in ["alice", "nobody"] {
        for _ in 0..5 {
            let r = login_from(&env, client, login, "guess").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        // The sixth waits a second, the right password too, and an account
        // that does not exist answers exactly as one that does.
        let now = env.clock.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            retry_at(login_from(&env, client, login, "guess").await).await,
            now + 1
        );
        let r = login_from(&env, client, login, "pw-of-the-test").await;
        assert_eq!(retry_at(r).await, now + 1);
        // Each further failure doubles the wait.
        env.advance(1);
        let r = login_from(&env, client, login, "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            retry_at(login_from(&env, client, login, "guess").await).await,
            now + 3
        );
        env.advance(2);
    }
    // Once the wait is over, the right password signs in and forgets them.
    assert_eq!(
        login_from(&env, client, "alice", "pw-of-the-test")
            .await
            .status(),
        StatusCode::OK
    );
    for _ in 0..5 {
        let r = login_from(&env, client, "alice", "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The /device page is no second way around it.
    let (_, page) = common::open_page(&env, "").await;
    let form = [
        ("code", "BCDF-GHJK"),
        ("login", "alice"),
        ("password", "pw-of-the-test"),
        ("form", page.token.as_str()),
    ];
    let answer = env
        .http
        .post(env.url("/device"))
        .header("x-forwarded-for", client)
        .header("cookie", format!("nubo_device_form={}", page.token))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        answer.contains("too many wrong passwords; try again at"),
        "{answer}"
    );
}

#[tokio::test]
async fn one_address_guessing_across_many_logins_is_slowed_too() {
    let env = behind_a_proxy(|_| {}).await;
    for i in 0..20 {
        let r = login_from(&env, "203.0.113.5", &format!("user{i}"), "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    retry_at(login_from(&env, "203.0.113.5", "alice", "pw-of-the-test").await).await;
    // Another address signs in to the same account at once.
    let r = login_from(&env, "203.0.113.6", "alice", "pw-of-the-test").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn sign_in_codes_cannot_be_guessed_and_show_their_device_first() {
    let env = behind_a_proxy(|_| {}).await;
    let bob = env.login("bob").await.access_token;
    let r = env
        .http
        .post(env.url("/v1/auth/device"))
        .json(&json!({"device_name": "kitchen-pc", "os": "windows"}))
        .send()
        .await
        .unwrap();
    let code: DeviceCodeResponse = r.json().await.unwrap();
    // Who asks, before approving.
    let shown: PendingSignIn = env
        .ok(
            &bob,
            M::GET,
            &format!("/v1/auth/device/waiting?code={}", code.user_code),
            None,
        )
        .await;
    assert_eq!(
        (shown.device_name.as_str(), shown.os.as_str()),
        ("kitchen-pc", "windows")
    );
    assert_eq!(
        shown.requested_at,
        env.clock.0.load(std::sync::atomic::Ordering::SeqCst)
    );
    // Guessing codes: a few wrong ones, then even the right one waits.
    let approve = |c: String| {
        env.call(
            &bob,
            M::POST,
            "/v1/auth/device/approve",
            Some(json!({"user_code": c})),
        )
    };
    for guess in [
        "BBBB-BBBB",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
        "GGGG-GGGG",
    ] {
        assert_eq!(approve(guess.into()).await.status(), StatusCode::NOT_FOUND);
    }
    retry_at(approve(code.user_code.clone()).await).await;
    env.advance(2);
    assert_eq!(
        approve(code.user_code.clone()).await.status(),
        StatusCode::NO_CONTENT
    );
}

// ------------------------------------------------------------ local users

#[tokio::test]
async fn a_data_folder_open_to_other_users_is_narrowed_and_what_it_gets_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // As an earlier version left it under the usual umask.
    let env = common::start_configured(common::Storage::DataFolder, |cfg| {
        let open = |p: &std::path::Path, m| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        std::fs::write(cfg.data_dir.join("meta.sqlite"), b"").unwrap();
        open(&cfg.data_dir.join("meta.sqlite"), 0o644);
        open(&cfg.data_dir, 0o755);
    })
    .await;
    let t = env.login("alice").await.access_token;
    assert_eq!(
        env.put_chunk(&t, &bytes(1, 1000)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.upload_batch(&t, &[&bytes(2, 10)]).await.status(),
        StatusCode::NO_CONTENT
    );
    let dir = env.data_dir();
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(&dir.join("chunks")), 0o700);
    let objects = env.chunk_objects("accounts");
    assert_eq!(objects.len(), 2);
    for f in objects
        .iter()
        .chain(&[dir.join("meta.sqlite"), dir.join("meta.sqlite-wal")])
    {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}
