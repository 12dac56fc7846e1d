//! The account lifecycle over real HTTP, with the service's clock moved:
//! frozen after 12 months unused, reactivated by a sign-in, its content
//! deleted 30 days after freezing, the account cancelled after 24 months
//! unused; cancelled by its owner with a typed confirmation.

mod common;

use common::{error_code, start, Env};
use nubo_protocol::*;
use nubo_server::AgreementSource;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

const DAY: i64 = 86_400;

async fn login(env: &Env, who: &str) -> reqwest::Response {
    env.http
        .post(env.url("/v1/auth/login"))
        .json(&json!({"login": who, "password": "pw-of-the-test", "device_name": "test"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unused_account_freezes_and_a_sign_in_reactivates_it() {
    let env = start(AgreementSource::None).await;
    let tokens = env.login("alice").await;
    let root = env.root(&tokens.access_token).await;
    let r = env
        .put_file(&tokens.access_token, root, "kept.txt", b"kept", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    env.advance(366 * DAY);
    // Every door says the same, with the date the files go.
    let r = env
        .call(&tokens.access_token, M::GET, "/v1/changes", None)
        .await;
    assert_eq!(r.status().as_u16(), 423);
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, ErrorCode::AccountFrozen);
    let deletes_at = e.deletes_at.expect("the deletion date is given");
    assert!(deletes_at > env.clock.0.load(std::sync::atomic::Ordering::SeqCst));
    assert!(
        e.message.contains("Sign in with your password before"),
        "{}",
        e.message
    );
    let r = env
        .http
        .post(env.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": tokens.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, ErrorCode::AccountFrozen);

    // A sign-in within the 30 days: active again, files all there.
    let t = env.login("alice").await.access_token;
    let feed: ChangesResponse = env.ok(&t, M::GET, "/v1/changes", None).await;
    assert!(feed
        .nodes
        .iter()
        .any(|n| n.name == "kept.txt" && !n.deleted));
}

#[tokio::test]
async fn thirty_days_after_freezing_the_content_is_deleted() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    env.put_file(&t, root, "gone.txt", b"gone", None).await;
    let bob = env.login("bob").await.access_token;
    assert_eq!(env.chunk_objects("accounts").len(), 1, "gone.txt's chunk");

    env.advance(365 * DAY + 31 * DAY);
    let r = env.call(&t, M::GET, "/v1/changes", None).await;
    assert_eq!(r.status().as_u16(), 410);
    assert_eq!(error_code(r).await, ErrorCode::AccountDeleted);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.emptied_accounts, 2, "alice and bob were both unused");
    assert_eq!(report.deleted_accounts, 0, "the accounts themselves stay");
    assert_eq!(
        env.chunk_objects("accounts"),
        Vec::<std::path::PathBuf>::new(),
        "the content's chunk objects went with it"
    );
    assert_eq!(
        error_code(env.call(&bob, M::GET, "/v1/account", None).await).await,
        ErrorCode::AccountDeleted
    );
    let again = env.server.run_jobs_once().await.unwrap();
    assert_eq!(again.emptied_accounts, 0, "emptied once");
    // A sign-in starts the account over, empty.
    let r = login(&env, "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: TokenResponse = r.json().await.unwrap();
    let feed: ChangesResponse = env.ok(&t.access_token, M::GET, "/v1/changes", None).await;
    assert!(
        feed.nodes.iter().all(|n| n.name != "gone.txt"),
        "{:?}",
        feed.nodes
    );
    let info: AccountInfo = env.ok(&t.access_token, M::GET, "/v1/account", None).await;
    assert_eq!(info.used_bytes, 0);
    assert_ne!(
        info.root_id, root,
        "a new top folder: nothing old is found under it"
    );
    // What the account stores since stays.
    env.new_file(&t.access_token, info.root_id, "new.txt", b"new", None)
        .await;
    let again = env.server.run_jobs_once().await.unwrap();
    assert_eq!(again.emptied_accounts, 0);
    assert_eq!(env.chunk_objects("accounts").len(), 1, "new.txt's chunk");
}

#[tokio::test]
async fn an_account_unused_for_24_months_is_cancelled() {
    let env = start(AgreementSource::None).await;
    let t = env.login("alice").await.access_token;
    env.login("bob").await;
    env.advance(2 * 365 * DAY - DAY);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!((report.emptied_accounts, report.deleted_accounts), (2, 0));
    env.advance(DAY);
    let report = env.server.run_jobs_once().await.unwrap();
    assert_eq!(report.deleted_accounts, 2, "{report:?}");
    let r = env.call(&t, M::GET, "/v1/account", None).await;
    assert_eq!(error_code(r).await, ErrorCode::AccountDeleted);
    // Its password is not kept: a sign-in finds no such account.
    assert_eq!(
        error_code(login(&env, "alice").await).await,
        ErrorCode::InvalidCredentials
    );
}

#[tokio::test]
async fn an_owner_cancels_with_the_account_id_and_every_device_stops() {
    let env = start(AgreementSource::None).await;
    let here = env.login("alice").await.access_token;
    let other = env.login("alice").await.access_token;
    let root = env.root(&here).await;
    env.put_file(&here, root, "a.txt", b"a", None).await;

    let r = env
        .call(
            &here,
            M::POST,
            "/v1/account/cancel",
            Some(json!({"confirm": "alic"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let feed: ChangesResponse = env.ok(&other, M::GET, "/v1/changes", None).await;
    assert!(
        feed.nodes.iter().any(|n| n.name == "a.txt"),
        "a wrong confirmation deletes nothing"
    );

    let r = env
        .call(
            &here,
            M::POST,
            "/v1/account/cancel",
            Some(json!({"confirm": "alice"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = env.call(&other, M::GET, "/v1/changes", None).await;
    assert_eq!(error_code(r).await, ErrorCode::AccountDeleted);
    assert_eq!(
        error_code(login(&env, "alice").await).await,
        ErrorCode::InvalidCredentials,
        "the password is not kept"
    );
    // Bob is untouched.
    let b = env.login("bob").await.access_token;
    let _: ChangesResponse = env.ok(&b, M::GET, "/v1/changes", None).await;
}
