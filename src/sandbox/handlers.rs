//! The sandbox's routes, and set-click's answer as a sequence of steps (checks and
//! faults), each of which may answer instead of applying the click.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use super::config::ErrorBody;
use super::endpoints::{accounts, login, login_page, stats};
use super::faults::LimitHeaders;
use super::form::{self, Refusal};
use super::record::Click;
use super::server::CutConnection;
use super::{LOGIN_PAGE_PATH, MOVED_PATH, SET_CLICK_PATH, Shared, lock};

/// The body of `--error-200 --error-200-body html` answers.
const MAINTENANCE_PAGE: &str = "<html><body><h1>Maintenance</h1>\
    <p>The service is down for maintenance. Please come back later.</p></body></html>\n";

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new()
        .route(SET_CLICK_PATH, post(set_click))
        .route("/api/auth/login", post(login))
        .route("/api/auth/accounts", get(accounts))
        .route("/_sandbox/stats", get(stats));
    if shared.cfg.redirect.is_some() {
        router = router
            .route(MOVED_PATH, post(set_click_moved))
            .route(LOGIN_PAGE_PATH, any(login_page));
    }
    router.with_state(shared)
}

/// A step's verdict: go on (with what it found), or answer this instead (boxed: the
/// way on is the common one, and should not carry a response's size).
type Step<T = ()> = Result<T, Box<Response>>;

/// Which path a set-click request came by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    SetClick,
    /// Where 307 and 308 point: set-click without the path's own faults.
    Moved,
}

async fn set_click(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match serve_click(&s, Route::SetClick, &headers, &body).await {
        Ok(resp) => resp,
        Err(resp) => *resp,
    }
}

async fn set_click_moved(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serve_click(&s, Route::Moved, &headers, &body).await {
        Ok(resp) => resp,
        Err(resp) => *resp,
    }
}

async fn serve_click(s: &Shared, route: Route, headers: &HeaderMap, body: &[u8]) -> Step<Response> {
    s.count(|st| st.requests += 1);
    if !s.cfg.latency.is_zero() {
        tokio::time::sleep(s.cfg.latency).await;
        down(s)?;
    }
    path_faults(s, route)?;
    hold_off(s)?;
    authorize(s, headers)?;
    storm(s)?;
    let limit = take_token(s)?;
    let click = read_click(s, headers, body)?;
    let click = roll_faults(s, click)?;
    let (cut, slow) = (click.cut, click.slow);
    apply(s, click);
    if slow {
        tokio::time::sleep(s.cfg.slow).await;
    }
    let mut resp = StatusCode::OK.into_response();
    if let Some(h) = limit {
        h.apply(resp.headers_mut(), s.cfg.reset_format);
    }
    if cut {
        resp.extensions_mut().insert(CutConnection);
    }
    Ok(resp)
}

/// Cut a request that waited (`latency`) into an outage; the connection goes too.
fn down(s: &Shared) -> Step {
    if !s.outages.active(Instant::now()) {
        return Ok(());
    }
    s.count(|st| st.outage_cut += 1);
    let mut resp = StatusCode::SERVICE_UNAVAILABLE.into_response();
    resp.extensions_mut().insert(CutConnection);
    Err(Box::new(resp))
}

/// `not_found` and `redirect`, on the set-click path only: 404, or the redirect
/// with an absolute `Location` on this sandbox.
fn path_faults(s: &Shared, route: Route) -> Step {
    if route != Route::SetClick {
        return Ok(());
    }
    if s.cfg.not_found {
        s.count(|st| st.not_found += 1);
        return Err(Box::new(StatusCode::NOT_FOUND.into_response()));
    }
    let Some(code) = s.cfg.redirect else {
        return Ok(());
    };
    s.count(|st| st.redirected += 1);
    let to = if matches!(code, 307 | 308) {
        MOVED_PATH
    } else {
        LOGIN_PAGE_PATH
    };
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    let location = format!("http://{}{to}", s.addr);
    Err(Box::new(
        (status, [(header::LOCATION, location)]).into_response(),
    ))
}

/// `retry_after`: every request answered 429 (or 503) with `Retry-After: N`, until
/// N seconds after the first such answer.
fn hold_off(s: &Shared) -> Step {
    let Some(secs) = s.cfg.retry_after else {
        return Ok(());
    };
    let now = Instant::now();
    let first = *lock(&s.held_off_since).get_or_insert(now);
    if now.duration_since(first) >= Duration::from_secs(secs) {
        return Ok(());
    }
    s.count(|st| st.retry_after += 1);
    let (status, message) = match s.cfg.retry_after_status {
        503 => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        _ => (StatusCode::TOO_MANY_REQUESTS, "Too Many Attempts."),
    };
    let mut resp = error(status, message);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    Err(Box::new(resp))
}

/// 401 unless the bearer token is the sandbox's.
fn authorize(s: &Shared, headers: &HeaderMap) -> Step {
    if bearer_ok(headers, &s.cfg.token) {
        return Ok(());
    }
    s.count(|st| st.unauthorized += 1);
    Err(Box::new(error(StatusCode::UNAUTHORIZED, "Unauthenticated")))
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
    Err(Box::new(resp))
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
            h.apply(resp.headers_mut(), s.cfg.reset_format);
            Err(Box::new(resp))
        }
    }
}

/// The click in the form, or the 400/403 the endpoint gives for it.
fn read_click(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Step<Click> {
    form::parse(headers, body, &s.cfg.account_id).map_err(|refusal| match refusal {
        Refusal::Bad(message) => {
            s.count(|st| st.bad_request += 1);
            Box::new(error(StatusCode::BAD_REQUEST, &message))
        }
        Refusal::Forbidden => {
            s.count(|st| st.forbidden += 1);
            Box::new(error(
                StatusCode::FORBIDDEN,
                "account_id does not match your credentials",
            ))
        }
    })
}

/// The dice for a valid click: refused (400), failed (500), answered 200 with an
/// error body, or applied and maybe cut, maybe answered late.
fn roll_faults(s: &Shared, mut click: Click) -> Step<Click> {
    let c = &s.cfg;
    let (reject, fail, error_200, cut, slow) = {
        let mut d = lock(&s.dice);
        // A share of 0 rolls no die, so old seeds give the old runs.
        let rolls = [
            c.reject_rate,
            c.fail_rate,
            c.error_200_rate,
            c.drop_rate,
            c.slow_rate,
        ]
        .map(|p| d.roll(p));
        (rolls[0], rolls[1], rolls[2], rolls[3], rolls[4])
    };
    if reject {
        s.count(|st| st.bad_request += 1);
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "Invalid lead: refused by the sandbox (--reject-rate)",
        )));
    }
    if fail {
        s.count(|st| st.failed += 1);
        return Err(Box::new(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
        )));
    }
    if error_200 {
        s.count(|st| st.error_200 += 1);
        return Err(Box::new(error_as_200(c.error_200_body)));
    }
    click.cut = cut;
    click.slow = slow;
    Ok(click)
}

/// A 200 that is not a success.
fn error_as_200(body: ErrorBody) -> Response {
    match body {
        ErrorBody::Json => (
            StatusCode::OK,
            Json(json!({"status": "error", "message": "Invalid account"})),
        )
            .into_response(),
        ErrorBody::Html => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            MAINTENANCE_PAGE,
        )
            .into_response(),
    }
}

/// Record, count and keep an accepted click.
fn apply(s: &Shared, click: Click) {
    s.record.write(&click);
    s.count(|st| {
        st.accepted += 1;
        st.dropped += u64::from(click.cut);
        st.slow += u64::from(click.slow);
    });
    if s.cfg.keep_clicks {
        lock(&s.clicks).push(click);
    }
}

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": "error", "message": message}))).into_response()
}

pub(super) fn bearer_ok(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .is_some_and(|t| t.trim() == token)
}
