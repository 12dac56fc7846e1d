//! Sign-in by device code (RFC 8628) over real HTTP: pending until approved,
//! slow_down when polled too fast, expired after 10 minutes; approved from a
//! signed-in device or on the service's page with the password.

mod common;

use common::{error_code, start, Env};
use nubo_protocol::*;
use nubo_server::AgreementSource;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

async fn begin(env: &Env, name: &str) -> DeviceCodeResponse {
    let r = env
        .http
        .post(env.url("/v1/auth/device"))
        .json(&json!({"device_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn poll(env: &Env, code: &DeviceCodeResponse) -> reqwest::Response {
    env.http
        .post(env.url("/v1/auth/device/token"))
        .json(&json!({"device_code": code.device_code}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_in_device_approves_and_the_waiting_one_gets_its_own_tokens() {
    let env = start(AgreementSource::None).await;
    let alice = env.login("alice").await.access_token;
    let code = begin(&env, "new-laptop").await;
    assert_eq!(code.user_code.len(), 9);
    assert!(code
        .verification_uri_complete
        .ends_with(&format!("/device?code={}", code.user_code)));
    assert_eq!(code.interval, 5);

    assert_eq!(
        error_code(poll(&env, &code).await).await,
        ErrorCode::AuthorizationPending
    );
    assert_eq!(
        error_code(poll(&env, &code).await).await,
        ErrorCode::SlowDown,
        "polled again at once"
    );

    // Typed back in lower case with a space: still the code.
    let typed = code.user_code.to_lowercase().replace('-', " ");
    let r = env
        .call(
            &alice,
            M::POST,
            "/v1/auth/device/approve",
            Some(json!({"user_code": typed})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    env.advance(5);
    let tokens: TokenResponse = poll(&env, &code).await.json().await.unwrap();
    assert_eq!(tokens.account_id, "alice");
    let devices: DeviceList = env
        .ok(&tokens.access_token, M::GET, "/v1/devices", None)
        .await;
    assert!(devices
        .devices
        .iter()
        .any(|d| d.name == "new-laptop" && d.current));
    // Spent: the code signs in once.
    env.advance(5);
    assert_eq!(
        error_code(poll(&env, &code).await).await,
        ErrorCode::ExpiredToken
    );
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes_and_cannot_be_approved_then() {
    let env = start(AgreementSource::None).await;
    let code = begin(&env, "late").await;
    env.advance(601);
    let alice = env.login("alice").await.access_token;
    let r = env
        .call(
            &alice,
            M::POST,
            "/v1/auth/device/approve",
            Some(json!({"user_code": code.user_code})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(poll(&env, &code).await).await,
        ErrorCode::ExpiredToken
    );
}

#[tokio::test]
async fn the_service_page_approves_with_the_password_only() {
    let env = start(AgreementSource::None).await;
    let code = begin(&env, "tablet").await;
    let page = env
        .http
        .get(env.url(&format!("/device?code={}", code.user_code)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("value=\"{}\"", code.user_code)));

    let submit = |password: &'static str| {
        let form = [
            ("code", code.user_code.clone()),
            ("login", "alice".to_string()),
            ("password", password.to_string()),
        ];
        let req = env.http.post(env.url("/device")).form(&form);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let wrong = submit("guess").await;
    assert!(wrong.contains("password is wrong"), "{wrong}");
    assert_eq!(
        error_code(poll(&env, &code).await).await,
        ErrorCode::AuthorizationPending
    );

    let ok = submit("pw-of-the-test").await;
    assert!(ok.contains("Approved"), "{ok}");
    env.advance(5);
    let tokens: TokenResponse = poll(&env, &code).await.json().await.unwrap();
    assert_eq!(tokens.account_id, "alice");
}
