//! What the service keeps about a person, over real HTTP: a cancelled
//! account leaves nothing personal in the database (in its rows, and on
//! SQLite in the bytes of its files too) nor any chunk object of its own;
//! what it keeps is the reserved account ID and the record of consent.
//! Also the summary shown before cancelling, and the password changed by
//! its owner.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{error_code, start, Env};
use nubo_protocol::*;
use nubo_server::AgreementSource;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

/// What identifies Carol or her files: none of it may stay.
const PERSONAL: &[&str] = &[
    "+8613800138000",
    "carols-laptop-7f3a",
    "carols-secret-plans.txt",
    "carols-trashed-diary.txt",
    "carols-folder-of-letters",
];

async fn carol(env: &Env) -> TokenResponse {
    let cfg = env.config.clone();
    tokio::task::spawn_blocking(move || {
        nubo_server::add_account(&cfg, "carol", Some("+8613800138000"), 1 << 30, "carols-pw")
            .unwrap()
    })
    .await
    .unwrap();
    // Signed in with the phone number.
    let r = env
        .http
        .post(env.url("/v1/auth/login"))
        .json(&json!({"login": "+8613800138000", "password": "carols-pw", "device_name": "carols-laptop-7f3a", "os": "linux"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Carol's account with a file, a folder, a version and a trash entry.
async fn carol_with_files(env: &Env) -> TokenResponse {
    let t = carol(env).await;
    add_files(env, &t).await;
    t
}

async fn add_files(env: &Env, t: &TokenResponse) {
    let a = &t.access_token;
    let root = env.root(a).await;
    let file = env
        .new_file(a, root, "carols-secret-plans.txt", b"plan one", None)
        .await;
    env.new_file(
        a,
        root,
        "carols-secret-plans.txt",
        b"plan two!",
        Some((file.id, file.rev)),
    )
    .await;
    let dir: Node = env
        .ok(
            a,
            M::POST,
            "/v1/nodes/mkdir",
            Some(json!({"parent": root, "name": "carols-folder-of-letters"})),
        )
        .await;
    env.new_file(a, dir.id, "letter.txt", b"dear", None).await;
    let gone = env
        .new_file(a, root, "carols-trashed-diary.txt", b"diary", None)
        .await;
    let _: Node = env
        .ok(
            a,
            M::POST,
            &format!("/v1/nodes/{}/delete", gone.id),
            Some(json!({"base_rev": gone.rev})),
        )
        .await;
}

/// The chunk objects of every account (each account's own, under
/// `accounts/`), in the folder or in the S3 server.
fn own_objects(env: &Env) -> BTreeSet<PathBuf> {
    env.chunk_objects("accounts").into_iter().collect()
}

/// Every personal item still found: in the bytes of the data folder's
/// database files (SQLite), or in any row (PostgreSQL).
async fn personal_items_left(env: &Env) -> Vec<String> {
    match &env.config.database {
        None => {
            let mut left = Vec::new();
            for e in std::fs::read_dir(env.data_dir()).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with("meta.sqlite") {
                    continue;
                }
                let bytes = std::fs::read(e.path()).unwrap();
                for p in PERSONAL {
                    if bytes.windows(p.len()).any(|w| w == p.as_bytes()) {
                        left.push(format!("{p} in the bytes of {name}"));
                    }
                }
            }
            left
        }
        Some(url) => {
            let url = url.clone();
            tokio::task::spawn_blocking(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                let mut left = Vec::new();
                for table in [
                    "accounts",
                    "devices",
                    "tokens",
                    "acceptances",
                    "nodes",
                    "versions",
                    "account_chunks",
                    "device_grants",
                    "failed_attempts",
                ] {
                    for p in PERSONAL {
                        let n: i64 = client
                            .query_one(
                                &format!("SELECT COUNT(*) FROM {table} t WHERE t::text LIKE $1"),
                                &[&format!("%{p}%")],
                            )
                            .unwrap()
                            .get(0);
                        if n > 0 {
                            left.push(format!("{p} in {n} rows of {table}"));
                        }
                    }
                }
                left
            })
            .await
            .unwrap()
        }
    }
}

/// Accepts the required sample documents, as the user read them.
async fn accept_required(env: &Env, token: &str) {
    let _: AgreementStatus = env
        .ok(
            token,
            M::POST,
            "/v1/agreements/accept",
            Some(json!({"acceptances": [
            {"id": "terms", "version": "2026-11-01", "locale": "zh-CN"},
            {"id": "privacy", "version": "1", "locale": "en"}], "age": "adult"})),
        )
        .await;
}

#[tokio::test]
async fn a_cancelled_account_leaves_nothing_personal_behind() {
    let env = start(AgreementSource::Samples).await;
    let alice = env.login("alice").await.access_token;
    accept_required(&env, &alice).await;
    let alice_root = env.root(&alice).await;
    env.new_file(&alice, alice_root, "alices.txt", b"alice's", None)
        .await;
    let alices_objects = own_objects(&env);
    assert_eq!(alices_objects.len(), 1, "{alices_objects:?}");
    let t = carol(&env).await;
    let a = &t.access_token;
    accept_required(&env, a).await;
    add_files(&env, &t).await;
    // Chunks no commit used yet, in a pack of their own.
    let r = env
        .upload_batch(a, &[b"half an upload", b"and its rest"])
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    // A wrong password typed with the phone number: counted under it.
    let r = env
        .http
        .post(env.url("/v1/auth/login"))
        .json(&json!({"login": "+8613800138000", "password": "wrong", "device_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, ErrorCode::InvalidCredentials);
    assert!(
        !personal_items_left(&env).await.is_empty(),
        "the test looks where the items are while the account is alive"
    );
    let before = own_objects(&env);
    assert!(
        before.len() >= alices_objects.len() + 5,
        "carol's four files and her pack: {before:?}"
    );

    let r = env
        .call(
            a,
            M::POST,
            "/v1/account/cancel",
            Some(json!({"confirm": "carol"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    assert_eq!(personal_items_left(&env).await, Vec::<String>::new());
    assert_eq!(
        own_objects(&env),
        alices_objects,
        "carol's chunk objects are gone, alice's stay"
    );
    let f: ChangesResponse = env.ok(&alice, M::GET, "/v1/changes", None).await;
    let file = f.nodes.iter().find(|n| n.name == "alices.txt").unwrap();
    let r = env
        .call(&alice, M::GET, &format!("/v1/chunks/{}", file.hash), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&r.bytes().await.unwrap()[..], b"alice's");
    // A device still signed in learns that the account is gone.
    let r = env.call(a, M::GET, "/v1/account", None).await;
    assert_eq!(error_code(r).await, ErrorCode::AccountDeleted);
    // The password hash is gone too: the old password signs in no one.
    let r = env
        .http
        .post(env.url("/v1/auth/login"))
        .json(&json!({"login": "carol", "password": "carols-pw", "device_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, ErrorCode::InvalidCredentials);
    // The account ID stays reserved: no one else can take it.
    let cfg = env.config.clone();
    let again = tokio::task::spawn_blocking(move || {
        nubo_server::add_account(&cfg, "carol", None, 1 << 30, "someone-else")
    })
    .await
    .unwrap();
    assert!(again.is_err(), "the cancelled account's ID is reserved");
}

/// The record of consent outlives the cancellation for three years, with
/// no device attached, then goes too.
#[tokio::test]
async fn the_record_of_consent_is_kept_three_years_then_deleted() {
    let env = start(AgreementSource::Samples).await;
    let t = carol(&env).await;
    let a = &t.access_token;
    let _: AgreementStatus = env
        .ok(
            a,
            M::POST,
            "/v1/agreements/accept",
            Some(json!({"acceptances": [
            {"id": "terms", "version": "2026-11-01", "locale": "en"}], "age": "adult"})),
        )
        .await;
    let r = env
        .call(
            a,
            M::POST,
            "/v1/account/cancel",
            Some(json!({"confirm": "carol"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.expired_records, 0, "kept for now");
    env.advance(3 * 366 * 86_400);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.expired_records, 1, "{report:?}");
}

#[tokio::test]
async fn before_cancelling_the_owner_sees_what_would_be_lost() {
    let env = start(AgreementSource::None).await;
    let t = carol_with_files(&env).await;
    let r = env
        .upload_batch(&t.access_token, &[b"not committed yet"])
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let s: AccountSummary = env
        .ok(&t.access_token, M::GET, "/v1/account/summary", None)
        .await;
    assert_eq!((s.files, s.bytes), (2, 9 + 4), "plans and the letter");
    assert_eq!((s.trash_files, s.trash_bytes), (1, 5));
    assert_eq!((s.versions, s.version_bytes), (1, 8));
    assert_eq!(s.pending_bytes, 17, "the upload no file uses yet");
    let top: Vec<(&str, u64, u64)> = s
        .top
        .iter()
        .map(|i| (i.name.as_str(), i.files, i.bytes))
        .collect();
    assert_eq!(
        top,
        [
            ("carols-secret-plans.txt", 1, 9),
            ("carols-folder-of-letters", 1, 4)
        ]
    );
}

#[tokio::test]
async fn the_owner_changes_the_password_and_chooses_whether_other_devices_stay() {
    let env = start(AgreementSource::None).await;
    let here = env.login("alice").await.access_token;
    let other = env.login("alice").await.access_token;
    let change = |current: &str, new: &str, others: bool| json!({"current": current, "new": new, "sign_out_others": others});
    let r = env
        .call(
            &here,
            M::POST,
            "/v1/account/password",
            Some(change("wrong", "new-pw-1", false)),
        )
        .await;
    assert_eq!(error_code(r).await, ErrorCode::InvalidCredentials);
    let r = env
        .call(
            &here,
            M::POST,
            "/v1/account/password",
            Some(change("pw-of-the-test", "", false)),
        )
        .await;
    assert_eq!(error_code(r).await, ErrorCode::BadRequest);

    let r = env
        .call(
            &here,
            M::POST,
            "/v1/account/password",
            Some(change("pw-of-the-test", "new-pw-1", false)),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let _: AccountInfo = env.ok(&other, M::GET, "/v1/account", None).await;
    let login = |pw: &'static str| {
        env.http
            .post(env.url("/v1/auth/login"))
            .json(&json!({"login": "alice", "password": pw, "device_name": "x"}))
            .send()
    };
    assert_eq!(
        error_code(login("pw-of-the-test").await.unwrap()).await,
        ErrorCode::InvalidCredentials
    );
    assert_eq!(login("new-pw-1").await.unwrap().status(), StatusCode::OK);

    let r = env
        .call(
            &here,
            M::POST,
            "/v1/account/password",
            Some(change("new-pw-1", "new-pw-2", true)),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let _: AccountInfo = env.ok(&here, M::GET, "/v1/account", None).await;
    let r = env.call(&other, M::GET, "/v1/account", None).await;
    assert_eq!(
        error_code(r).await,
        ErrorCode::Unauthorized,
        "signed out, as chosen"
    );
}

#[tokio::test]
async fn an_operator_resets_a_password_and_every_device_signs_in_again() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let cfg = env.config.clone();
    tokio::task::spawn_blocking(move || nubo_server::reset_password(&cfg, "alice", "reset-pw"))
        .await
        .unwrap()
        .unwrap();
    let r = env.call(&t, M::GET, "/v1/account", None).await;
    assert_eq!(error_code(r).await, ErrorCode::Unauthorized);
    let r = env
        .http
        .post(env.url("/v1/auth/login"))
        .json(&json!({"login": "alice", "password": "reset-pw", "device_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cfg = env.config.clone();
    let unknown =
        tokio::task::spawn_blocking(move || nubo_server::reset_password(&cfg, "nobody", "x"))
            .await
            .unwrap();
    assert!(unknown.is_err());
}
