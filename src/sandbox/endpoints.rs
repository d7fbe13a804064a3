//! The sandbox's endpoints besides set-click: login, accounts, its own stats, and
//! the HTML login page that 301, 302 and 303 redirects point to.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::handlers::{bearer_ok, error};
use super::{Shared, lock};

pub(super) async fn login(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    let (email, password) = if json_body {
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (
            v["email"].as_str().unwrap_or_default().to_string(),
            v["password"].as_str().unwrap_or_default().to_string(),
        )
    } else {
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let get = |n: &str| {
            form.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        (get("email"), get("password"))
    };
    if email.is_empty() || password != s.cfg.password {
        return error(StatusCode::UNAUTHORIZED, "Invalid credentials");
    }
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365);
    Json(json!({
        "access_token": s.cfg.token,
        "token_type": "Bearer",
        "expires_at": expires.strftime("%Y-%m-%d %H:%M:%S").to_string(),
    }))
    .into_response()
}

pub(super) async fn accounts(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !bearer_ok(&headers, &s.cfg.token) {
        return error(StatusCode::UNAUTHORIZED, "Unauthenticated");
    }
    Json(json!({ s.cfg.account_id.clone(): "Sandbox account" })).into_response()
}

pub(super) async fn stats(State(s): State<Arc<Shared>>) -> Response {
    let mut resp = Json(lock(&s.stats).clone()).into_response();
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

/// Where 301, 302 and 303 point: a sign-in page, 200 to any method. A client that
/// follows the redirect with a GET takes it for a success; nothing is applied.
pub(super) async fn login_page(State(s): State<Arc<Shared>>) -> Response {
    s.count(|st| st.login_page += 1);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><body><h1>Sign in</h1><form method=\"post\" action=\"/login\">\
         <input name=\"email\"><input name=\"password\" type=\"password\">\
         <button>Sign in</button></form></body></html>\n",
    )
        .into_response()
}
