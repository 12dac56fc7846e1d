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
