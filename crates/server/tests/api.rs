//! The service over real HTTP on 127.0.0.1: accounts cannot see each other,
//! every file endpoint needs a valid token, writes are conditional, and the
//! served OpenAPI document matches the committed one.

mod common;

use std::sync::atomic::Ordering;

use common::{error_code, start};
use nubo_protocol::*;
use nubo_server::AgreementSource;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn one_account_cannot_read_list_or_probe_another() {
    let env = start(AgreementSource::None).await;
    let (a, b) = (
        env.login("alice").await.access_token,
        env.login("bob").await.access_token,
    );
    let b_root = env.root(&b).await;
    let secret = b"bob's secret".to_vec();
    let secret_hash = blake3::hash(&secret).to_hex().to_string();
    let b_file: Node = env
        .put_file(&b, b_root, "secret.txt", &secret, None)
        .await
        .json()
        .await
        .unwrap();

    // Read, list, download: as if nothing existed.
    for path in [
        format!("/v1/nodes/{}", b_file.id),
        format!("/v1/nodes/{}/manifest", b_file.id),
        format!("/v1/nodes/{}/versions", b_file.id),
        format!("/v1/chunks/{secret_hash}"),
    ] {
        let r = env.call(&a, M::GET, &path, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let feed: ChangesResponse = env
        .call(&a, M::GET, "/v1/changes?cursor=0", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        feed.nodes
            .iter()
            .all(|n| n.id != b_file.id && n.id != b_root),
        "alice's feed shows bob's nodes"
    );
    // "Do you have this chunk?" says no to alice even though bob stored it.
    let missing: MissingChunksResponse = env
        .call(
            &a,
            M::POST,
            "/v1/chunks/missing",
            Some(json!({"hashes": [secret_hash]})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(missing.missing, std::slice::from_ref(&secret_hash));
    // Committing bob's chunk without its bytes does not work either.
    let a_root = env.root(&a).await;
    let r = env
        .call(&a, M::POST, "/v1/nodes/commit", Some(json!({"parent": a_root, "name": "x", "node": null, "base_rev": null,
            "size": secret.len(), "hash": secret_hash, "chunks": [{"hash": secret_hash, "size": secret.len()}], "mtime_ms": 0})))
        .await;
    assert_eq!(error_code(r).await, ErrorCode::MissingChunks);
    // Writes into bob's tree.
    let writes = [
        (
            format!("/v1/nodes/{}/move", b_file.id),
            json!({"parent": a_root, "name": "stolen"}),
        ),
        (
            format!("/v1/nodes/{}/delete", b_file.id),
            json!({"base_rev": 1}),
        ),
        (
            "/v1/nodes/mkdir".to_string(),
            json!({"parent": b_root, "name": "intrude"}),
        ),
    ];
    for (path, body) in writes {
        let r = env.call(&a, M::POST, &path, Some(body)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = env.put_file(&a, b_root, "intrude.txt", b"x", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Bob's devices are not alice's to sign out: 404, as for no device at all.
    let bob_devices: DeviceList = env
        .call(&b, M::GET, "/v1/devices", None)
        .await
        .json()
        .await
        .unwrap();
    let bob_device = bob_devices.devices[0].id;
    let r = env
        .call(
            &a,
            M::POST,
            &format!("/v1/devices/{bob_device}/revoke"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        env.call(&b, M::GET, "/v1/account", None).await.status(),
        StatusCode::OK
    );
    // Bob's file is untouched.
    let still: Node = env
        .call(&b, M::GET, &format!("/v1/nodes/{}", b_file.id), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (still.name.as_str(), still.deleted, still.parent),
        ("secret.txt", false, Some(b_root))
    );
}

#[tokio::test]
async fn every_file_endpoint_needs_a_live_token() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await;
    // A token whose time ran out, and one of a device signed out remotely.
    let expiring = env.login("alice").await.access_token;
    let revoked = env.login("alice").await;
    let r = env
        .call(
            &t.access_token,
            reqwest::Method::POST,
            &format!("/v1/devices/{}/revoke", revoked.device_id),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    env.clock.0.fetch_add(601, Ordering::SeqCst);
    let t = env.login("alice").await;
    let doc: serde_json::Value = env.openapi().await;
    let public = [
        "/v1/auth/login",
        "/v1/auth/refresh",
        // Device sign-in: the waiting client has no token yet by design;
        // the device code is its secret (tests/device.rs).
        "/v1/auth/device",
        "/v1/auth/device/token",
        "/v1/agreements",
        "/v1/agreements/{id}/{locale}",
        // Every version ever published: public texts, as the ones in force.
        "/v1/agreements/versions",
        "/v1/openapi.json",
    ];
    let mut tried = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if public.contains(&path.as_str()) {
            continue;
        }
        let concrete = path.replace("{id}", "1").replace("{hash}", &"a".repeat(64));
        for method in ops.as_object().unwrap().keys() {
            let m: reqwest::Method = method.to_uppercase().parse().unwrap();
            for token in [
                None,
                Some("not-a-token"),
                Some(expiring.as_str()),
                Some(revoked.access_token.as_str()),
            ] {
                let mut req = env.http.request(m.clone(), env.url(&concrete));
                if let Some(tok) = token {
                    req = req.bearer_auth(tok);
                }
                let r = req.send().await.unwrap();
                assert_eq!(
                    r.status(),
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {token:?}"
                );
                tried += 1;
            }
        }
    }
    assert!(tried >= 60, "only {tried} calls tried");

    // Expiry: an access token stops working when its time is up...
    env.clock.0.fetch_add(601, Ordering::SeqCst);
    let r = env
        .call(&t.access_token, reqwest::Method::GET, "/v1/account", None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // ...the refresh token rotates: it gives a new pair (a second use of it
    // is a stolen copy's, which signs the device out: tests/attacks.rs).
    let fresh: TokenResponse = env
        .http
        .post(env.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": t.refresh_token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        env.call(
            &fresh.access_token,
            reqwest::Method::GET,
            "/v1/account",
            None
        )
        .await
        .status(),
        StatusCode::OK
    );
    // Signing the device out revokes its tokens at once.
    env.call(
        &fresh.access_token,
        reqwest::Method::POST,
        "/v1/auth/logout",
        None,
    )
    .await;
    assert_eq!(
        env.call(
            &fresh.access_token,
            reqwest::Method::GET,
            "/v1/account",
            None
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let r = env
        .http
        .post(env.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": fresh.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_accounts_look_the_same() {
    let env = start(AgreementSource::None).await;
    for (login, pw) in [("alice", "wrong"), ("nobody", "pw-of-the-test")] {
        let r = env
            .http
            .post(env.url("/v1/auth/login"))
            .json(&json!({"login": login, "password": pw, "device_name": "t"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let e: ApiError = r.json().await.unwrap();
        assert_eq!(e.code, ErrorCode::InvalidCredentials);
        assert_eq!(
            e.message,
            "the account ID, phone number or password is wrong"
        );
    }
}

#[tokio::test]
async fn commits_are_conditional_and_keep_old_versions() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let v1: Node = env
        .put_file(&t, root, "doc.txt", b"one", None)
        .await
        .json()
        .await
        .unwrap();
    let v2: Node = env
        .put_file(&t, root, "doc.txt", b"two", Some((v1.id, v1.rev)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v2.rev, v1.rev + 1);
    // A writer that still thinks revision 1 is current loses the race.
    let stale = env
        .put_file(&t, root, "doc.txt", b"three", Some((v1.id, v1.rev)))
        .await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    // A second create under a taken name is refused too.
    let dup = env.put_file(&t, root, "doc.txt", b"other", None).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let versions: VersionList = env
        .call(
            &t,
            reqwest::Method::GET,
            &format!("/v1/nodes/{}/versions", v1.id),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(versions.versions.len(), 1);
    assert_eq!(
        versions.versions[0].hash,
        blake3::hash(b"one").to_hex().to_string()
    );
    // A chunk whose bytes do not match its name is refused.
    let r = env
        .http
        .put(env.url(&format!("/v1/chunks/{}", "0".repeat(64))))
        .bearer_auth(&t)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, ErrorCode::HashMismatch);
    // Deleting a file that changed since the client saw it is refused; with the current revision it goes to the trash.
    let r = env
        .call(
            &t,
            reqwest::Method::POST,
            &format!("/v1/nodes/{}/delete", v1.id),
            Some(json!({"base_rev": v1.rev})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let gone: Node = env
        .call(
            &t,
            reqwest::Method::POST,
            &format!("/v1/nodes/{}/delete", v1.id),
            Some(json!({"base_rev": v2.rev})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(gone.deleted);
    // Bad names never enter the tree.
    for bad in ["..", "a/b", "", "x\u{0}y"] {
        let r = env
            .call(
                &t,
                reqwest::Method::POST,
                "/v1/nodes/mkdir",
                Some(json!({"parent": root, "name": bad})),
            )
            .await;
        assert_eq!(error_code(r).await, ErrorCode::InvalidName, "{bad:?}");
    }
}

/// A name is as long as the name on the disk it spells: 255 bytes that are
/// not UTF-8 take 1020 in their spelling, and are taken; one byte more on
/// the disk is not, nor a spelling no client makes.
#[tokio::test]
async fn names_are_bounded_by_their_bytes_on_the_disk() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let longest = spelling::encode(&[0xe9; limits::DISK_NAME_BYTES]);
    assert_eq!(longest.len(), limits::NAME_BYTES);
    let made: Node = env
        .ok(
            &t,
            M::POST,
            "/v1/nodes/mkdir",
            Some(json!({"parent": root, "name": longest})),
        )
        .await;
    assert_eq!(made.name, longest);
    let forged = "\u{10FCC3}\u{10FCA9}"; // "é", which is spelled as it is
    for bad in ["x".repeat(limits::DISK_NAME_BYTES + 1), forged.to_string()] {
        let r = env
            .call(
                &t,
                M::POST,
                "/v1/nodes/mkdir",
                Some(json!({"parent": root, "name": bad})),
            )
            .await;
        assert_eq!(error_code(r).await, ErrorCode::InvalidName, "{bad:?}");
    }
}

#[tokio::test]
async fn required_agreements_gate_file_access_and_need_an_age_confirmation() {
    let env = start(AgreementSource::Samples).await;
    let t = env.login("alice").await.access_token;
    let r = env
        .call(&t, reqwest::Method::GET, "/v1/changes", None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, ErrorCode::AgreementsRequired);
    let ids: Vec<&str> = e.pending.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["terms", "privacy"]);

    let items = json!([{"id": "terms", "version": "2026-11-01", "locale": "zh-CN"}, {"id": "privacy", "version": "1", "locale": "en"}]);
    let r = env
        .call(
            &t,
            reqwest::Method::POST,
            "/v1/agreements/accept",
            Some(json!({"acceptances": items})),
        )
        .await;
    assert_eq!(error_code(r).await, ErrorCode::AgeConfirmationRequired);
    let r = env.call(&t, reqwest::Method::POST, "/v1/agreements/accept",
        Some(json!({"acceptances": [{"id": "terms", "version": "2020-01-01", "locale": "en"}], "age": "adult"}))).await;
    assert_eq!(
        error_code(r).await,
        ErrorCode::BadRequest,
        "an old version cannot be accepted"
    );
    let s: AgreementStatus = env
        .call(
            &t,
            reqwest::Method::POST,
            "/v1/agreements/accept",
            Some(json!({"acceptances": items, "age": "guardian"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s.accepted.len(), 2);
    assert_eq!(s.accepted[0].age, AgeConfirmation::Guardian);
    assert_eq!(
        s.pending.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["push"],
        "the optional push terms stay pending"
    );
    assert_eq!(
        env.call(&t, reqwest::Method::GET, "/v1/changes", None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_shared_agreements_are_served_unchanged() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/agreements");
    if !dir.exists() {
        eprintln!("SKIPPED: {} is absent on this machine", dir.display());
        return;
    }
    let env = start(AgreementSource::Dir(dir.clone())).await;
    let list: AgreementList = env
        .http
        .get(env.url("/v1/agreements"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.documents.len(), 5);
    for d in &list.documents {
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        let file = manifest["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == d.id.as_str() && m["locale"] == d.locale.as_str())
            .unwrap()["file"]
            .as_str()
            .unwrap()
            .to_string();
        let served = env
            .http
            .get(env.url(&format!("/v1/agreements/{}/{}", d.id, d.locale)))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            served.as_ref(),
            std::fs::read(dir.join(file)).unwrap().as_slice(),
            "{} {}",
            d.id,
            d.locale
        );
    }
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let env = start(AgreementSource::None).await;
    let served: serde_json::Value = env.openapi().await;
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&committed, &pretty).unwrap();
    }
    let on_disk = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        on_disk == pretty,
        "crates/server/openapi.json is stale; regenerate it with `UPDATE_OPENAPI=1 cargo test -p nubo-server --test api`"
    );
    for path in [
        "/v1/auth/login",
        "/v1/changes",
        "/v1/nodes/commit",
        "/v1/chunks/{hash}",
        "/v1/events",
        "/v1/agreements/accept",
    ] {
        assert!(
            served["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
}

/// Every endpoint that names an id in its path, called by bob with alice's
/// ids: the same answer as for an id that does not exist.
#[tokio::test]
async fn another_accounts_ids_are_not_found_by_any_endpoint() {
    let env = start(AgreementSource::None).await;
    let alice = env.login("alice").await;
    let a_root = env.root(&alice.access_token).await;
    let a_file: Node = env
        .put_file(
            &alice.access_token,
            a_root,
            "private.txt",
            b"alice only",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let bob = env.login("bob").await.access_token;
    let b_root = env.root(&bob).await;
    let doc: serde_json::Value = env.openapi().await;
    let hash = blake3::hash(b"alice only").to_hex().to_string();
    let mut tried = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.contains("{id}") && !path.contains("{hash}") || path.contains("{locale}") {
            continue;
        }
        // A device id where the path names devices, a node id elsewhere.
        let id = if path.starts_with("/v1/devices/") {
            alice.device_id
        } else {
            a_file.id
        };
        let concrete = path
            .replace("{id}", &id.to_string())
            .replace("{hash}", &hash);
        for method in ops.as_object().unwrap().keys() {
            if path.contains("{hash}") && method == "put" {
                continue; // an upload is by content; tried in one_account_cannot_read_list_or_probe_another
            }
            let m: reqwest::Method = method.to_uppercase().parse().unwrap();
            // One body that every such endpoint accepts.
            let body = json!({"parent": b_root, "name": "stolen", "base_rev": 1});
            let r = env.call(&bob, m, &concrete, Some(body)).await;
            assert_eq!(
                r.status(),
                StatusCode::NOT_FOUND,
                "{method} {concrete} by another account"
            );
            tried += 1;
        }
    }
    assert!(tried >= 6, "only {tried} calls tried");
    // Alice's file and device are untouched.
    let still: Node = env
        .ok(
            &alice.access_token,
            reqwest::Method::GET,
            &format!("/v1/nodes/{}", a_file.id),
            None,
        )
        .await;
    assert!(!still.deleted && still.name == "private.txt");
}

/// Many small files in few requests: chunks up and down in one body each,
/// commits in one transaction where each stands or falls alone.
#[tokio::test]
async fn batches_move_many_files_and_judge_each_on_its_own() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let files: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("f{i}.txt"), format!("content {i}").into_bytes()))
        .collect();
    let hash = |b: &[u8]| blake3::hash(b).to_hex().to_string();
    let upload_as = |token: &str, body: Vec<u8>| {
        env.http
            .post(env.url("/v1/chunks/upload"))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };

    // A body whose second chunk lies about its bytes stores nothing.
    let names: Vec<String> = files.iter().map(|(_, c)| hash(c)).collect();
    let lying = frames::encode([
        (names[0].as_str(), files[0].1.as_slice()),
        (names[1].as_str(), &b"not these bytes"[..]),
    ]);
    let r = upload_as(&t, lying).await.unwrap();
    assert_eq!(error_code(r).await, ErrorCode::HashMismatch);
    let missing: MissingChunksResponse = env
        .ok(
            &t,
            M::POST,
            "/v1/chunks/missing",
            Some(json!({"hashes": names})),
        )
        .await;
    assert_eq!(
        missing.missing.len(),
        5,
        "nothing of a refused body is kept"
    );
    let r = upload_as(&t, b"short".to_vec()).await.unwrap();
    assert_eq!(error_code(r).await, ErrorCode::BadRequest);

    let body = frames::encode(
        names
            .iter()
            .zip(&files)
            .map(|(h, (_, c))| (h.as_str(), c.as_slice())),
    );
    assert_eq!(
        upload_as(&t, body.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // The batch's chunks went into one pack object, not an object each.
    let objects = |kind: &str| {
        // accounts/<key>/<kind>/…
        let all = env.chunk_objects("accounts");
        all.into_iter()
            .filter(|p| {
                let s = p.to_string_lossy();
                s.rsplit("/accounts/").next().unwrap().split('/').nth(1) == Some(kind)
            })
            .count()
    };
    assert_eq!(objects("packs"), 1, "one pack for the batch");
    assert_eq!(objects("chunks"), 0, "no object per chunk");
    // Sent again, it writes nothing more.
    assert_eq!(
        upload_as(&t, body).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(objects("packs"), 1);

    // Five commits and one for a name already taken with other content.
    let mut commits: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, c)| {
            json!({"parent": root, "name": name, "size": c.len(), "hash": hash(c),
                   "chunks": [{"hash": hash(c), "size": c.len()}], "mtime_ms": 0})
        })
        .collect();
    let other = &files[1].1;
    commits.push(
        json!({"parent": root, "name": "f0.txt", "size": other.len(), "hash": hash(other),
                        "chunks": [{"hash": hash(other), "size": other.len()}], "mtime_ms": 0}),
    );
    let out: CommitBatchResponse = env
        .ok(
            &t,
            M::POST,
            "/v1/nodes/commit-batch",
            Some(json!({"commits": commits})),
        )
        .await;
    assert_eq!(out.results.len(), 6);
    for (r, (name, _)) in out.results.iter().zip(&files) {
        assert_eq!(
            r.node.as_ref().map(|n| n.name.as_str()),
            Some(name.as_str())
        );
    }
    let refused = out.results[5].error.as_ref().expect("the sixth is refused");
    assert_eq!(refused.code, ErrorCode::Conflict);
    let feed: ChangesResponse = env.ok(&t, M::GET, "/v1/changes?cursor=0", None).await;
    assert_eq!(
        feed.nodes
            .iter()
            .filter(|n| n.kind == NodeKind::File)
            .count(),
        5
    );

    // Down again in one answer, in the order asked.
    let asked = vec![names[3].clone(), names[0].clone()];
    let r = env
        .call(
            &t,
            M::POST,
            "/v1/chunks/fetch",
            Some(json!({"hashes": asked})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.bytes().await.unwrap();
    let parts = frames::decode(&body).unwrap();
    let got: Vec<(&str, &[u8])> = parts
        .iter()
        .map(|(h, range)| (h.as_str(), &body[range.clone()]))
        .collect();
    assert_eq!(
        got,
        [
            (names[3].as_str(), files[3].1.as_slice()),
            (names[0].as_str(), files[0].1.as_slice())
        ]
    );

    // One packed chunk on its own, as a large file's chunk is fetched.
    let r = env
        .call(&t, M::GET, &format!("/v1/chunks/{}", names[2]), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), files[2].1.as_slice());

    // Another account cannot fetch them: the chunks are alice's.
    let bob = env.login("bob").await.access_token;
    let bob_fetches_the_first = || {
        env.call(
            &bob,
            M::POST,
            "/v1/chunks/fetch",
            Some(json!({"hashes": [names[0]]})),
        )
    };
    assert_eq!(
        error_code(bob_fetches_the_first().await).await,
        ErrorCode::NotFound
    );
    // Once bob uploads the same bytes, he reads them: from a pack of his
    // own, written as for content nobody stored (tests/attacks.rs).
    let one = frames::encode([(names[0].as_str(), files[0].1.as_slice())]);
    let r = upload_as(&bob, one).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(objects("packs"), 2);
    let r = bob_fetches_the_first().await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.bytes().await.unwrap();
    let parts = frames::decode(&body).unwrap();
    assert_eq!(&body[parts[0].1.clone()], files[0].1.as_slice());
}
