//! The service under attack, over real HTTP on 127.0.0.1 (and on
//! PostgreSQL + S3 when the suite runs there): stolen and raced refresh
//! tokens.

mod common;

use common::{start, Env};
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

fn hash(content: &[u8]) -> String {
    blake3::hash(content).to_hex().to_string()
}

async fn used(env: &Env, token: &str) -> u64 {
    let info: AccountInfo = env.ok(token, M::GET, "/v1/account", None).await;
    info.used_bytes
}

async fn upload_batch(env: &Env, token: &str, chunks: &[&[u8]]) -> reqwest::Response {
    let hashes: Vec<String> = chunks.iter().map(|c| hash(c)).collect();
    let body = frames::encode(hashes.iter().zip(chunks).map(|(h, c)| (h.as_str(), *c)));
    env.http
        .post(env.url("/v1/chunks/upload"))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn commit_body(parent: i64, name: &str, size: u64, chunks: &[(&str, u64)]) -> serde_json::Value {
    let list: Vec<_> = chunks
        .iter()
        .map(|(h, s)| json!({"hash": h, "size": s}))
        .collect();
    json!({"parent": parent, "name": name, "node": null, "base_rev": null, "size": size,
           "hash": chunks.first().map_or("", |c| c.0), "chunks": list, "mtime_ms": 0})
}

#[tokio::test]
async fn uploads_count_against_the_quota_before_any_commit() {
    let env = start(AgreementSource::None).await;
    env.add_account("carol", 1 << 20).await;
    let t = env.login("carol").await.access_token;
    let (one, two, three) = (
        bytes(1, 400 << 10),
        bytes(2, 400 << 10),
        bytes(3, 400 << 10),
    );
    for c in [&one, &two] {
        assert_eq!(env.put_chunk(&t, c).await.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(used(&env, &t).await, 800 << 10, "uploaded, not committed");
    // A third would pass the quota: refused whole, alone or in a batch,
    // and nothing of it is kept.
    let r = env.put_chunk(&t, &three).await;
    assert_eq!(r.status().as_u16(), 507);
    assert_eq!(common::error_code(r).await, ErrorCode::QuotaExceeded);
    let small = bytes(4, 10);
    let r = upload_batch(&env, &t, &[&small, &three]).await;
    assert_eq!(common::error_code(r).await, ErrorCode::QuotaExceeded);
    for c in [&three, &small] {
        let r = env
            .call(&t, M::GET, &format!("/v1/chunks/{}", hash(c)), None)
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(used(&env, &t).await, 800 << 10);
    // Committing what was uploaded moves it from pending to the files:
    // usage stays, and the quota still holds.
    let root = env.root(&t).await;
    let (h1, h2) = (hash(&one), hash(&two));
    let body = commit_body(
        root,
        "two.bin",
        800 << 10,
        &[(&h1, 400 << 10), (&h2, 400 << 10)],
    );
    let node: Node = env.ok(&t, M::POST, "/v1/nodes/commit", Some(body)).await;
    assert_eq!(used(&env, &t).await, 800 << 10);
    assert_eq!(env.put_chunk(&t, &three).await.status().as_u16(), 507);
    // Deleting the file frees its bytes (the trash does not count).
    let del = json!({"base_rev": node.rev});
    env.ok::<Node>(
        &t,
        M::POST,
        &format!("/v1/nodes/{}/delete", node.id),
        Some(del),
    )
    .await;
    assert_eq!(used(&env, &t).await, 0);
    assert_eq!(
        env.put_chunk(&t, &three).await.status(),
        StatusCode::NO_CONTENT
    );
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
        upload_batch(&env, &a, &[&small_known]).await.status(),
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
    let r = upload_batch(&env, &b, &[&small_known, &small_new]).await;
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
        upload_batch(&env, &b, &[&small_new]).await.status(),
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

async fn chunk(env: &Env, token: &str, content: &[u8]) -> reqwest::Response {
    env.call(
        token,
        M::GET,
        &format!("/v1/chunks/{}", hash(content)),
        None,
    )
    .await
}

/// A data folder written before chunks were kept per account
/// (tests/fixtures/make-data-v9.py): every file reads back, and what comes
/// next is stored per account.
#[tokio::test]
async fn a_data_folder_from_before_chunks_per_account_keeps_working() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-v9");
    let env = common::start_on_copy(&fixture).await;
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
        upload_batch(&env, &old, &[smalls[0]]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(objects_by_account(&env).is_empty());
    assert_eq!(
        upload_batch(&env, &other, &[smalls[0]]).await.status(),
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
