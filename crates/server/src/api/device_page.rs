//! The service's `/device` page (not part of the JSON API): approve a
//! sign-in by code in a browser, with the account's password; the QR code
//! a waiting device shows leads here. It shows which device asks (its
//! name, system, and when) before anything is approved, so that a person
//! can tell their own device from a request someone sent them. Every
//! answer forbids framing, sniffing, caching and referrers; a POST must
//! come from the page itself: from the service's own origin, with the
//! token the page put both in a cookie and in the form (double submit).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use nubo_protocol::{limits, PendingSignIn};
use rand::Rng;
use serde::Deserialize;

use super::device::{approve_code, base_url, normalize_code};
use super::signin::check_password;
use super::{AppError, AppState};
use crate::clock::date_time;
use crate::throttle::{too_many, Public};

const FORM_COOKIE: &str = "nubo_device_form";

/// No framing (clickjacking), no guessing of types, no caching of the
/// page, no address leaking to other sites, nothing loaded from anywhere.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

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
    /// The token the page set (`FORM_COOKIE`).
    #[serde(default)]
    form: String,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn new_form_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill(&mut bytes);
    hex::encode(bytes)
}

fn alert(text: &str) -> String {
    format!(
        "<p style=\"color:#b00020\" role=\"alert\">{}</p>",
        html_escape(text)
    )
}

/// The waiting device, as a person should see it before approving.
fn device_box(d: &PendingSignIn) -> String {
    let os = if d.os.is_empty() { "?" } else { d.os.as_str() };
    format!(
        "<p style=\"border:1px solid #888;padding:.5rem\">Device · 设备: <b>{}</b> ({})<br>\
         Asked at · 请求时间: {} UTC<br>\
         Approve only if this is your own device, asking now. · 仅当这是您自己的、正在请求的设备时才批准。</p>",
        html_escape(&d.device_name),
        html_escape(os),
        date_time(d.requested_at)
    )
}

/// The approval page with `note` above the form, and the form's token.
fn form_page(code: &str, note: &str, token: &str) -> String {
    // Only letters and a dash survive `normalize_code`.
    let code = normalize_code(code);
    format!(
        r#"<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Nubo: approve a sign-in</title>
<body style="font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem">
<h1>Approve a sign-in · 批准登录</h1>
<p>Another device shows a code and waits. Enter it with your account to sign that device in.<br>
另一台设备正显示一个代码并等待。请输入该代码和您的账号以让该设备登录。</p>
{note}
<form method="post" action="/device">
<input type="hidden" name="form" value="{token}">
<p><label>Code · 代码<br><input name="code" value="{code}" required autocomplete="off" maxlength="32"></label></p>
<p><label>Account ID or phone · 账号或手机号<br><input name="login" required autocomplete="username" maxlength="254"></label></p>
<p><label>Password · 密码<br><input name="password" type="password" required autocomplete="current-password" maxlength="1024"></label></p>
<p><button type="submit">Approve · 批准</button></p>
</form></body></html>"#
    )
}

fn approved_page(d: &PendingSignIn) -> String {
    format!(
        "<!doctype html><meta charset=utf-8><title>Nubo</title><body style=\"font-family:sans-serif;max-width:32rem;margin:2rem auto\">\
         <h1>Approved · 已批准</h1>{}<p>The device with the code {code} is signing in now; you can close this page.<br>\
         显示代码 {code} 的设备正在登录，您可以关闭此页面。</p></body>",
        device_box(d),
        code = d.user_code
    )
}

/// An answer of the page: its headers, and a fresh form token when it
/// holds a form.
fn answer(state: &AppState, status: StatusCode, body: String, token: Option<&str>) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let headers = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Some(token) = token {
        let secure = if state.https { "; Secure" } else { "" };
        let cookie = format!(
            "{FORM_COOKIE}={token}; Path=/device; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The form again, with `note` and a new token.
fn form_again(state: &AppState, status: StatusCode, code: &str, note: &str) -> Response {
    let token = new_form_token();
    answer(state, status, form_page(code, note, &token), Some(&token))
}

/// The page, with the device waiting with `code` shown when there is one.
pub async fn page_get(
    State(state): State<AppState>,
    Public(client): Public,
    Query(q): Query<PageQuery>,
) -> Response {
    let code = normalize_code(&q.code);
    if code.is_empty() {
        return form_again(&state, StatusCode::OK, "", "");
    }
    let now = state.now();
    let note = match state.throttle.address_waits_until(client, now) {
        Some(at) => alert(&too_many(at, "wrong sign-in codes").0.message),
        None => {
            let c = code.clone();
            match state.store(move |s| s.waiting_grant(&c, now)).await {
                Ok(Some(d)) => device_box(&d),
                Ok(None) => {
                    state.throttle.address_failed(client, now);
                    alert(&format!(
                        "No sign-in is waiting with the code {code}; it may have expired."
                    ))
                }
                Err(AppError(e)) => alert(&e.message),
            }
        }
    };
    form_again(&state, StatusCode::OK, &code, &note)
}

/// The cookie's form token, if the request carries one.
fn form_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(FORM_COOKIE)?.strip_prefix('='))
}

/// Why a POST does not come from the page itself, if it does not.
fn forged(state: &AppState, headers: &HeaderMap, form: &PageForm) -> Option<&'static str> {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if origin != base_url(headers, state.https) {
            return Some("This form was sent from another site, so nothing was approved.");
        }
    }
    match form_cookie(headers) {
        Some(c) if !form.form.is_empty() && c == form.form => None,
        _ => Some("This form expired. It is shown again: send it once more."),
    }
}

pub async fn page_post(
    State(state): State<AppState>,
    Public(client): Public,
    headers: HeaderMap,
    Form(f): Form<PageForm>,
) -> Response {
    if let Some(why) = forged(&state, &headers, &f) {
        return form_again(&state, StatusCode::FORBIDDEN, &f.code, &alert(why));
    }
    let bounds = limits::text("code", &f.code, limits::USER_CODE_BYTES)
        .and(limits::text("login", &f.login, limits::LOGIN_BYTES))
        .and(limits::text(
            "password",
            &f.password,
            limits::PASSWORD_BYTES,
        ));
    if let Err(over) = bounds {
        return form_again(
            &state,
            StatusCode::BAD_REQUEST,
            "",
            &alert(&over.to_string()),
        );
    }
    let outcome = match check_password(&state, client, f.login, f.password).await {
        Ok(account) => approve_code(&state, client, &f.code, account.key).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(device) => answer(&state, StatusCode::OK, approved_page(&device), None),
        Err(AppError(e)) => form_again(&state, StatusCode::OK, &f.code, &alert(&e.message)),
    }
}
