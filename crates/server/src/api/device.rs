//! Sign-in by device code (RFC 8628): a client without the password shows a
//! short code; a person already signed in elsewhere approves it (from
//! `nubo approve CODE`, or on the service's `/device` page with the
//! password); the waiting client then receives its own tokens.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::{Form, Json};
use nubo_protocol::{
    ApiError, ApproveRequest, DeviceCodeRequest, DeviceCodeResponse, DeviceTokenRequest, ErrorCode,
    TokenResponse,
};
use rand::Rng;
use serde::Deserialize;

use super::auth::check_password;
use super::session::{hash_token, issue_tokens, Session};
use super::{ApiResult, AppError, AppState};
use crate::store::GrantPoll;

pub const CODE_TTL_SECS: u64 = 600;
pub const POLL_INTERVAL_SECS: u64 = 5;

/// Consonants only: no vowels (no words), no look-alikes.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

fn user_code() -> String {
    let mut rng = rand::thread_rng();
    let mut s: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    s.insert(4, '-');
    s
}

/// What a person typed, as the service stores it: `abcd efgh` -> `ABCD-EFGH`.
pub fn normalize_code(typed: &str) -> String {
    let mut s: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_uppercase())
        .take(8)
        .collect();
    if s.len() > 4 {
        s.insert(4, '-');
    }
    s
}

/// The address people reach this service at, as this request came in.
fn base_url(headers: &HeaderMap, https: bool) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(axum::http::header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(if https { "https" } else { "http" });
    format!("{scheme}://{host}")
}

#[utoipa::path(post, path = "/v1/auth/device", tag = "auth", request_body = DeviceCodeRequest,
    responses((status = 200, body = DeviceCodeResponse)))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<DeviceCodeRequest>,
) -> ApiResult<DeviceCodeResponse> {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill(&mut secret);
    let device_code = hex::encode(secret);
    let code = user_code();
    let expires_at = state.now() + CODE_TTL_SECS as i64;
    let (h, c, name, os) = (
        hash_token(&device_code),
        code.clone(),
        req.device_name,
        req.os,
    );
    state
        .store(move |s| s.create_grant(&h, &c, &name, &os, expires_at))
        .await?;
    let base = base_url(&headers, state.https);
    Ok(Json(DeviceCodeResponse {
        device_code,
        verification_uri: format!("{base}/device"),
        verification_uri_complete: format!("{base}/device?code={code}"),
        user_code: code,
        expires_in: CODE_TTL_SECS,
        interval: POLL_INTERVAL_SECS,
    }))
}

#[utoipa::path(post, path = "/v1/auth/device/token", tag = "auth", request_body = DeviceTokenRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ApiError)))]
pub async fn token(
    State(state): State<AppState>,
    Json(req): Json<DeviceTokenRequest>,
) -> ApiResult<TokenResponse> {
    let (h, now) = (hash_token(&req.device_code), state.now());
    let interval = POLL_INTERVAL_SECS as i64;
    let poll = state
        .store(move |s| s.poll_grant(&h, now, interval))
        .await?;
    let (account, device_name, os) = match poll {
        GrantPoll::Approved {
            account,
            device_name,
            os,
        } => (account, device_name, os),
        GrantPoll::Pending => {
            return Err(AppError::new(
                ErrorCode::AuthorizationPending,
                "waiting for approval from a signed-in device",
            ))
        }
        GrantPoll::SlowDown => {
            return Err(AppError::new(
                ErrorCode::SlowDown,
                format!("poll at most every {POLL_INTERVAL_SECS} seconds"),
            ))
        }
        GrantPoll::Expired | GrantPoll::Unknown => {
            return Err(AppError::new(
                ErrorCode::ExpiredToken,
                "the sign-in code expired or is unknown; start again for a new code",
            ))
        }
    };
    let device = state
        .store(move |s| s.create_device(account, &device_name, &os, now))
        .await?;
    let row = state.store(move |s| s.account(account)).await?;
    Ok(Json(issue_tokens(&state, device, row.account_id).await?))
}

async fn approve_code(state: &AppState, typed: &str, account: i64) -> Result<String, AppError> {
    let code = normalize_code(typed);
    let (c, now) = (code.clone(), state.now());
    if !state
        .store(move |s| s.approve_grant(&c, account, now))
        .await?
    {
        return Err(AppError::new(
            ErrorCode::NotFound,
            format!("no sign-in is waiting with the code {code}; it may have expired (codes last {} minutes)", CODE_TTL_SECS / 60),
        ));
    }
    Ok(code)
}

/// A signed-in device approves a waiting sign-in into its own account.
#[utoipa::path(post, path = "/v1/auth/device/approve", tag = "auth", security(("bearer" = [])),
    request_body = ApproveRequest,
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn approve(
    State(state): State<AppState>,
    session: Session,
    Json(req): Json<ApproveRequest>,
) -> Result<axum::http::StatusCode, AppError> {
    approve_code(&state, &req.user_code, session.account).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    code: String,
}

#[derive(Debug, Deserialize)]
pub struct PageForm {
    code: String,
    login: String,
    password: String,
}

fn page(code: &str, note: &str) -> Html<String> {
    // Only letters and a dash survive `normalize_code`: nothing to escape.
    let code = normalize_code(code);
    Html(format!(
        r#"<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Nubo: approve a sign-in</title>
<body style="font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem">
<h1>Approve a sign-in · 批准登录</h1>
<p>Another device shows a code and waits. Enter it with your account to sign that device in.<br>
另一台设备正显示一个代码并等待。请输入该代码和您的账号以让该设备登录。</p>
{note}
<form method="post" action="/device">
<p><label>Code · 代码<br><input name="code" value="{code}" required autocomplete="off"></label></p>
<p><label>Account ID or phone · 账号或手机号<br><input name="login" required autocomplete="username"></label></p>
<p><label>Password · 密码<br><input name="password" type="password" required autocomplete="current-password"></label></p>
<p><button type="submit">Approve · 批准</button></p>
</form></body></html>"#
    ))
}

/// The approval page (not part of the JSON API).
pub async fn page_get(Query(q): Query<PageQuery>) -> Html<String> {
    page(&q.code, "")
}

pub async fn page_post(State(state): State<AppState>, Form(f): Form<PageForm>) -> Html<String> {
    let outcome = match check_password(&state, f.login, f.password).await {
        Ok(account) => approve_code(&state, &f.code, account.key).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(code) => Html(format!(
            "<!doctype html><meta charset=utf-8><title>Nubo</title><body style=\"font-family:sans-serif;max-width:32rem;margin:2rem auto\">\
             <h1>Approved · 已批准</h1><p>The device with the code {code} is signing in now; you can close this page.<br>\
             显示代码 {code} 的设备正在登录，您可以关闭此页面。</p></body>"
        )),
        Err(AppError(e)) => page(
            &f.code,
            &format!(
                "<p style=\"color:#b00020\" role=\"alert\">{}</p>",
                html_escape(&e.message)
            ),
        ),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_back_in_any_case_and_spacing() {
        let c = user_code();
        assert_eq!(c.len(), 9);
        assert_eq!(normalize_code(&c.to_lowercase().replace('-', " ")), c);
        assert_eq!(normalize_code("<script>bcdf"), "SCRI-PTBC");
    }
}
