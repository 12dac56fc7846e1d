//! The records of consent are true, over real HTTP against a folder of
//! agreements that the test publishes into, as an operator would: each
//! document recorded in the language and the exact version the user was
//! shown; a version replaced while it was read is refused, with the new
//! one; a declined agreement is recorded; a revision with a future
//! effective date is announced and only required from that date; every
//! published version stays readable; the push stream needs push consent.

mod common;

use std::path::Path;

use common::{error_code, start, Env};
use nubo_protocol::*;
use nubo_server::AgreementSource;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

const DAY: i64 = 86_400;

/// The test clock starts on 2027-01-15.
fn publish(dir: &Path, entries: &[(&str, &str, &str, &str, &str)]) {
    let mut docs = Vec::new();
    for (id, locale, version, effective, required) in entries {
        let file = format!("{id}.{version}.{locale}.md");
        std::fs::write(
            dir.join(&file),
            format!("# {id} {version} {locale}\n\nThe **text** of {id}, version {version}.\n"),
        )
        .unwrap();
        docs.push(json!({"id": id, "locale": locale, "file": file, "title": format!("Title of {id} ({locale})"),
            "version": version, "effective": effective, "required": required}));
    }
    // The service notices a new manifest by its time and size; a new
    // version changes the size.
    std::fs::write(
        dir.join("manifest.json"),
        json!({"documents": docs}).to_string(),
    )
    .unwrap();
}

const V1: &[(&str, &str, &str, &str, &str)] = &[
    ("terms", "en", "1", "2026-01-01", "sign-in"),
    ("terms", "zh-CN", "1", "2026-01-01", "sign-in"),
    ("cloud", "zh-CN", "7", "2026-01-01", "sync"),
    ("push", "en", "1", "2026-01-01", "optional"),
];

async fn env_with(entries: &[(&str, &str, &str, &str, &str)]) -> (Env, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), entries);
    (
        start(AgreementSource::Dir(dir.path().to_path_buf())).await,
        dir,
    )
}

async fn accept(env: &Env, t: &str, items: serde_json::Value) -> reqwest::Response {
    env.call(
        t,
        M::POST,
        "/v1/agreements/accept",
        Some(json!({"acceptances": items, "age": "adult"})),
    )
    .await
}

async fn status(env: &Env, t: &str) -> AgreementStatus {
    env.ok(t, M::GET, "/v1/agreements/status", None).await
}

#[tokio::test]
async fn each_document_is_recorded_in_the_language_and_version_shown() {
    let (env, _dir) = env_with(V1).await;
    let t = env.login("alice").await.access_token;
    let r = accept(
        &env,
        &t,
        json!([
        {"id": "terms", "version": "1", "locale": "en"},
        {"id": "cloud", "version": "7", "locale": "zh-CN"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = status(&env, &t).await;
    let got: Vec<(&str, &str, &str)> = s
        .accepted
        .iter()
        .map(|a| (a.id.as_str(), a.version.as_str(), a.locale.as_str()))
        .collect();
    assert_eq!(got, [("terms", "1", "en"), ("cloud", "7", "zh-CN")]);
}

#[tokio::test]
async fn a_version_replaced_while_it_was_read_is_refused_with_the_new_one() {
    let (env, dir) = env_with(V1).await;
    let t = env.login("alice").await.access_token;
    // Alice reads version 1...
    let text = env
        .http
        .get(env.url("/v1/agreements/terms/en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("terms 1 en"));
    // ...while the operator publishes version 2, in force today, and drops version 1.
    publish(
        dir.path(),
        &[
            ("terms", "en", "2", "2027-01-01", "sign-in"),
            ("terms", "zh-CN", "2", "2027-01-01", "sign-in"),
            ("cloud", "zh-CN", "7", "2026-01-01", "sync"),
            ("push", "en", "1", "2026-01-01", "optional"),
        ],
    );
    let r = accept(
        &env,
        &t,
        json!([{"id": "terms", "version": "1", "locale": "en"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, ErrorCode::AgreementOutdated);
    let terms = e
        .pending
        .iter()
        .find(|p| p.id == "terms")
        .expect("the new version is named");
    assert_eq!(terms.version, "2");
    assert!(
        status(&env, &t).await.accepted.is_empty(),
        "nothing was recorded"
    );
    // Both versions stay readable, the old one from the service's archive.
    for (v, want) in [("1", "terms 1 en"), ("2", "terms 2 en")] {
        let text = env
            .http
            .get(env.url(&format!("/v1/agreements/terms/en?version={v}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains(want), "{text}");
    }
    let all: AgreementList = env
        .http
        .get(env.url("/v1/agreements/versions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let terms: Vec<(&str, &str)> = all
        .documents
        .iter()
        .filter(|d| d.id == "terms")
        .map(|d| (d.version.as_str(), d.locale.as_str()))
        .collect();
    assert_eq!(
        terms,
        [("1", "en"), ("1", "zh-CN"), ("2", "en"), ("2", "zh-CN")]
    );
}

#[tokio::test]
async fn a_decline_is_recorded_and_accepts_nothing() {
    let (env, _dir) = env_with(V1).await;
    let t = env.login("alice").await.access_token;
    let s: AgreementStatus = env
        .ok(
            &t,
            M::POST,
            "/v1/agreements/decline",
            Some(json!({"documents": [
            {"id": "terms", "version": "1", "locale": "zh-CN"}]})),
        )
        .await;
    assert_eq!(s.accepted.len(), 1);
    let d = &s.accepted[0];
    assert!(d.declined && !d.withdrawn, "{d:?}");
    assert_eq!(
        (d.id.as_str(), d.version.as_str(), d.locale.as_str()),
        ("terms", "1", "zh-CN")
    );
    assert!(s.pending.iter().any(|p| p.id == "terms"), "still to accept");
    let r = env.call(&t, M::GET, "/v1/changes", None).await;
    assert_eq!(error_code(r).await, ErrorCode::AgreementsRequired);
}

#[tokio::test]
async fn a_revision_is_announced_before_its_date_and_required_from_it() {
    let mut entries = V1.to_vec();
    entries.push(("terms", "en", "2", "2027-02-01", "sign-in"));
    let (env, _dir) = env_with(&entries).await;
    let t = env.login("alice").await.access_token;
    let r = accept(
        &env,
        &t,
        json!([
        {"id": "terms", "version": "1", "locale": "en"},
        {"id": "cloud", "version": "7", "locale": "zh-CN"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = status(&env, &t).await;
    let announced: Vec<(&str, &str, &str)> = s
        .upcoming
        .iter()
        .map(|p| (p.id.as_str(), p.version.as_str(), p.effective.as_str()))
        .collect();
    assert_eq!(announced, [("terms", "2", "2027-02-01")]);
    assert!(s
        .pending
        .iter()
        .all(|p| p.required == Requirement::Optional));
    let r = env.call(&t, M::GET, "/v1/changes", None).await;
    assert_eq!(r.status(), StatusCode::OK, "not required before its date");

    env.advance(20 * DAY);
    let t = env.login("alice").await.access_token;
    let r = env.call(&t, M::GET, "/v1/changes", None).await;
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, ErrorCode::AgreementsRequired);
    assert_eq!(e.pending.len(), 1);
    assert_eq!(
        (e.pending[0].id.as_str(), e.pending[0].version.as_str()),
        ("terms", "2")
    );
    let r = accept(
        &env,
        &t,
        json!([{"id": "terms", "version": "2", "locale": "en"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        env.call(&t, M::GET, "/v1/changes", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_push_stream_refuses_a_device_without_push_consent() {
    let (env, _dir) = env_with(V1).await;
    let t = env.login("alice").await.access_token;
    let r = accept(
        &env,
        &t,
        json!([
        {"id": "terms", "version": "1", "locale": "en"},
        {"id": "cloud", "version": "7", "locale": "zh-CN"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = env.call(&t, M::GET, "/v1/events", None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, ErrorCode::ConsentRequired);

    let r = accept(
        &env,
        &t,
        json!([{"id": "push", "version": "1", "locale": "en"}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = env.call(&t, M::GET, "/v1/events", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    drop(r);

    let _: AgreementStatus = env
        .ok(
            &t,
            M::POST,
            "/v1/agreements/withdraw",
            Some(json!({"id": "push"})),
        )
        .await;
    let r = env.call(&t, M::GET, "/v1/events", None).await;
    assert_eq!(error_code(r).await, ErrorCode::ConsentRequired, "withdrawn");
}
