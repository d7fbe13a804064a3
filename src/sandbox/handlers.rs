//! The sandbox's HTTP routes: set-click (as a sequence of checks and faults, each
//! of which may answer instead of applying the click), login, accounts and stats.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::faults::LimitHeaders;
use super::form::{self, Refusal};
use super::record::Click;
use super::server::CutConnection;
use super::{SET_CLICK_PATH, Shared, lock};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(SET_CLICK_PATH, post(set_click))
        .route("/api/auth/login", post(login))
        .route("/api/auth/accounts", get(accounts))
        .route("/_sandbox/stats", get(stats))
        .with_state(shared)
}

/// A step's verdict: go on (with what it found), or answer this instead.
type Step<T = ()> = Result<T, Response>;

async fn set_click(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match serve_click(&s, &headers, &body).await {
        Ok(resp) | Err(resp) => resp,
    }
}

async fn serve_click(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Step<Response> {
    s.count(|st| st.requests += 1);
    if !s.cfg.latency.is_zero() {
        tokio::time::sleep(s.cfg.latency).await;
    }
    authorize(s, headers)?;
    storm(s)?;
    let limit = take_token(s)?;
    let click = read_click(s, headers, body)?;
    let click = roll_faults(s, click)?;
    let cut = click.cut;
    apply(s, click);
    let mut resp = StatusCode::OK.into_response();
    if let Some(h) = limit {
        h.apply(resp.headers_mut());
    }
    if cut {
        resp.extensions_mut().insert(CutConnection);
    }
    Ok(resp)
}

/// 401 unless the bearer token is the sandbox's.
fn authorize(s: &Shared, headers: &HeaderMap) -> Step {
    if bearer_ok(headers, &s.cfg.token) {
        return Ok(());
    }
    s.count(|st| st.unauthorized += 1);
    Err(error(StatusCode::UNAUTHORIZED, "Unauthenticated"))
}

/// `--storm-every`: 429 + `Retry-After: 1` for everyone in the first half second of
/// each period.
fn storm(s: &Shared) -> Step {
    let Some(every) = s.cfg.storm_every else {
        return Ok(());
    };
    if (s.started.elapsed().as_millis() % every.as_millis().max(1)) >= 500 {
        return Ok(());
    }
    s.count(|st| st.rate_limited += 1);
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"message": "Rate limit exceeded. You can only make 1 request per minute."})),
    )
        .into_response();
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from(1));
    Err(resp)
}

/// `--rate-limit`: a token from the bucket (and the headers to send with the
/// answer), or 429 with the wait.
fn take_token(s: &Shared) -> Step<Option<LimitHeaders>> {
    let Some(bucket) = &s.bucket else {
        return Ok(None);
    };
    let taken = lock(bucket).take();
    match taken {
        Ok(h) => Ok(Some(h)),
        Err(h) => {
            s.count(|st| st.rate_limited += 1);
            let body = json!({
                "message": "Rate limit exceeded.",
                "error": {"code": "RATE_LIMIT_EXCEEDED", "retry_after": h.retry_after},
            });
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            h.apply(resp.headers_mut());
            Err(resp)
        }
    }
}

/// The click in the form, or the 400/403 the endpoint gives for it.
fn read_click(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Step<Click> {
    form::parse(headers, body, &s.cfg.account_id).map_err(|refusal| match refusal {
        Refusal::Bad(message) => {
            s.count(|st| st.bad_request += 1);
            error(StatusCode::BAD_REQUEST, &message)
        }
        Refusal::Forbidden => {
            s.count(|st| st.forbidden += 1);
            error(
                StatusCode::FORBIDDEN,
                "account_id does not match your credentials",
            )
        }
    })
}

/// The dice for a valid click: refused (400), failed (500), or applied and maybe
/// cut.
fn roll_faults(s: &Shared, mut click: Click) -> Step<Click> {
    let (reject, fail, cut) = {
        let mut d = lock(&s.dice);
        (
            d.roll(s.cfg.reject_rate),
            d.roll(s.cfg.fail_rate),
            d.roll(s.cfg.drop_rate),
        )
    };
    if reject {
        s.count(|st| st.bad_request += 1);
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Invalid lead: refused by the sandbox (--reject-rate)",
        ));
    }
    if fail {
        s.count(|st| st.failed += 1);
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
        ));
    }
    click.cut = cut;
    Ok(click)
}

/// Record, count and keep an accepted click.
fn apply(s: &Shared, click: Click) {
    s.record.write(&click);
    s.count(|st| {
        st.accepted += 1;
        if click.cut {
            st.dropped += 1;
        }
    });
    if s.cfg.keep_clicks {
        lock(&s.clicks).push(click);
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": "error", "message": message}))).into_response()
}

fn bearer_ok(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .is_some_and(|t| t.trim() == token)
}

async fn login(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
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

async fn accounts(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !bearer_ok(&headers, &s.cfg.token) {
        return error(StatusCode::UNAUTHORIZED, "Unauthenticated");
    }
    Json(json!({ s.cfg.account_id.clone(): "Sandbox account" })).into_response()
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    let mut resp = Json(lock(&s.stats).clone()).into_response();
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}
