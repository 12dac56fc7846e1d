//! Sign-in by device code (RFC 8628) over real HTTP: pending until approved,
//! slow_down when polled too fast, expired after 10 minutes; approved from a
//! signed-in device or on the service's page with the password.

mod common;

use common::{error_code, open_page, start, Env};
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
    let (got, page) = open_page(&env, &format!("?code={}", code.user_code)).await;
    assert!(page.text.contains(&format!("value=\"{}\"", code.user_code)));
    // The page says which device asks before anything is approved.
    assert!(page.text.contains("<b>tablet</b>"), "{}", page.text);
    // Not to be framed, sniffed, cached or referred.
    for (name, has) in [
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        let v = got.get(name).map(|v| v.to_str().unwrap().to_string());
        assert!(
            v.as_deref().is_some_and(|v| v.contains(has)),
            "{name}: {v:?}"
        );
    }

    let post = |password: &'static str, token: Option<&str>, origin: Option<&str>| {
        let form = [
            ("code", code.user_code.clone()),
            ("login", "alice".to_string()),
            ("password", password.to_string()),
            ("form", page.token.clone()),
        ];
        let mut req = env.http.post(env.url("/device")).form(&form);
        if let Some(t) = token {
            req = req.header("cookie", format!("nubo_device_form={t}"));
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let own = env.server.url();
    let submit = |password: &'static str| post(password, Some(&page.token), Some(&own));
    // Sent from another site (the browser says so), or without the page's
    // token (a cross-site form gets no SameSite=Strict cookie): refused,
    // even with the right password.
    let (status, text) = post(
        "pw-of-the-test",
        Some(&page.token),
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("another site"), "{text}");
    let (status, _) = post("pw-of-the-test", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post("pw-of-the-test", Some("another-token"), Some(&own)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error_code(poll(&env, &code).await).await,
        ErrorCode::AuthorizationPending
    );

    let (_, wrong) = submit("guess").await;
    assert!(wrong.contains("password is wrong"), "{wrong}");
    env.advance(5);
    assert_eq!(
        error_code(poll(&env, &code).await).await,
        ErrorCode::AuthorizationPending
    );
    let (_, ok) = submit("pw-of-the-test").await;
    assert!(
        ok.contains("Approved") && ok.contains("<b>tablet</b>"),
        "{ok}"
    );
    env.advance(5);
    let tokens: TokenResponse = poll(&env, &code).await.json().await.unwrap();
    assert_eq!(tokens.account_id, "alice");
}
