//! A local Set-Click-compatible server with fault injection, for trials, tests and
//! benchmarks. It answers as the endpoint page describes (bearer check, form body,
//! `Missing required parameter: X`, 200 with an empty body) and can rate-limit,
//! fail, slow down, or cut connections after applying a click.

mod faults;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use faults::Bucket;

/// The path of the set-click endpoint on the real API and on the sandbox.
pub const SET_CLICK_PATH: &str = "/api/auth/v1.0/set-click";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub listen: SocketAddr,
    pub token: String,
    pub account_id: String,
    /// Password accepted by the login endpoint (any email).
    pub password: String,
    /// Requests per second before answering 429.
    pub rate_limit: Option<f64>,
    /// Share of valid requests answered 500 (not applied).
    pub fail_rate: f64,
    /// Share of valid requests applied, then answered by cutting the connection.
    pub drop_rate: f64,
    /// Share of valid requests refused with 400 (a lead the server will not take).
    pub reject_rate: f64,
    /// 429 storms: every this often, half a second of 429 + `Retry-After: 1` for all.
    pub storm_every: Option<Duration>,
    pub latency: Duration,
    pub seed: u64,
    /// Append accepted clicks to this JSON Lines file.
    pub record: Option<PathBuf>,
    /// Keep accepted clicks in memory (tests); off for long runs.
    pub keep_clicks: bool,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: "sandbox-token".into(),
            account_id: "sandbox-account".into(),
            password: "sandbox".into(),
            rate_limit: None,
            fail_rate: 0.0,
            drop_rate: 0.0,
            reject_rate: 0.0,
            storm_every: None,
            latency: Duration::ZERO,
            seed: 1,
            record: None,
            keep_clicks: true,
        }
    }
}

/// What the sandbox has answered so far.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    /// Clicks applied (including those whose connection was then cut).
    pub accepted: u64,
    pub unauthorized: u64,
    pub forbidden: u64,
    pub bad_request: u64,
    pub rate_limited: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// One accepted click, as received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Click {
    pub account_id: String,
    pub click_time: i64,
    pub url_parameters: Value,
    pub settings: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_url: Option<String>,
    /// Applied, then answered by cutting the connection (`--drop-rate`): the client
    /// never heard it went through.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

struct Shared {
    cfg: SandboxConfig,
    stats: Mutex<Stats>,
    clicks: Mutex<Vec<Click>>,
    record: Mutex<Option<std::io::BufWriter<std::fs::File>>>,
    bucket: Option<Mutex<Bucket>>,
    dice: Mutex<faults::Dice>,
    started: std::time::Instant,
}

/// Marks a response whose connection is to be cut instead of answered.
#[derive(Clone, Copy)]
struct CutConnection;

/// A running sandbox. Dropping it stops accepting connections.
pub struct Sandbox {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl Sandbox {
    /// Bind and serve on the current tokio runtime.
    pub async fn start(cfg: SandboxConfig) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let record = match &cfg.record {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
            None => None,
        };
        let shared = Arc::new(Shared {
            bucket: cfg.rate_limit.map(|r| Mutex::new(Bucket::new(r))),
            dice: Mutex::new(faults::Dice::new(cfg.seed)),
            started: std::time::Instant::now(),
            cfg,
            stats: Mutex::default(),
            clicks: Mutex::default(),
            record: Mutex::new(record),
        });
        let router = Router::new()
            .route(SET_CLICK_PATH, post(set_click))
            .route("/api/auth/login", post(login))
            .route("/api/auth/accounts", get(accounts))
            .route("/_sandbox/stats", get(stats))
            .with_state(Arc::clone(&shared));
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                };
                let router = router.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let mut router = router.clone();
                        async move {
                            let resp = match tower_service::Service::call(&mut router, req).await {
                                Ok(r) => r,
                                Err(never) => match never {},
                            };
                            if resp.extensions().get::<CutConnection>().is_some() {
                                return Err(CutError);
                            }
                            Ok::<_, CutError>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop_tx),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:8787`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full set-click URL.
    pub fn endpoint(&self) -> String {
        format!("{}{SET_CLICK_PATH}", self.base_url())
    }

    pub fn token(&self) -> &str {
        &self.shared.cfg.token
    }

    pub fn account_id(&self) -> &str {
        &self.shared.cfg.account_id
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Accepted clicks, in arrival order (when `keep_clicks`).
    pub fn clicks(&self) -> Vec<Click> {
        lock(&self.shared.clicks).clone()
    }

    pub fn flush(&self) {
        if let Some(w) = lock(&self.shared.record).as_mut() {
            let _ = w.flush();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.flush();
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

#[derive(Debug)]
struct CutError;
impl std::fmt::Display for CutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut by the sandbox")
    }
}
impl std::error::Error for CutError {}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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

async fn set_click(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    lock(&s.stats).requests += 1;
    if !s.cfg.latency.is_zero() {
        tokio::time::sleep(s.cfg.latency).await;
    }
    if !bearer_ok(&headers, &s.cfg.token) {
        lock(&s.stats).unauthorized += 1;
        return error(StatusCode::UNAUTHORIZED, "Unauthenticated");
    }
    if let Some(every) = s.cfg.storm_every
        && (s.started.elapsed().as_millis() % every.as_millis().max(1)) < 500
    {
        lock(&s.stats).rate_limited += 1;
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(
                json!({"message": "Rate limit exceeded. You can only make 1 request per minute."}),
            ),
        )
            .into_response();
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(1));
        return resp;
    }
    let limit = match &s.bucket {
        Some(b) => match lock(b).take() {
            Ok(h) => Some(h),
            Err(h) => {
                lock(&s.stats).rate_limited += 1;
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"message": "Rate limit exceeded.", "error": {"code": "RATE_LIMIT_EXCEEDED", "retry_after": h.retry_after}})),
                )
                    .into_response();
                h.apply(resp.headers_mut());
                return resp;
            }
        },
        None => None,
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        lock(&s.stats).bad_request += 1;
        return error(
            StatusCode::BAD_REQUEST,
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty())
    };
    let bad = |msg: String| {
        lock(&s.stats).bad_request += 1;
        error(StatusCode::BAD_REQUEST, &msg)
    };
    for name in ["account_id", "url_parameters", "click_time", "settings"] {
        if field(name).is_none() {
            return bad(format!("Missing required parameter: {name}"));
        }
    }
    let account_id = field("account_id").unwrap_or_default();
    if account_id != s.cfg.account_id {
        lock(&s.stats).forbidden += 1;
        return error(
            StatusCode::FORBIDDEN,
            "account_id does not match your credentials",
        );
    }
    let object = |name: &str| match serde_json::from_str::<Value>(&field(name).unwrap_or_default())
    {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    };
    let Some(url_parameters) = object("url_parameters") else {
        return bad("Invalid parameter: url_parameters must be a JSON object".into());
    };
    let Some(settings) = object("settings") else {
        return bad("Invalid parameter: settings must be a JSON object".into());
    };
    let Ok(click_time) = field("click_time")
        .unwrap_or_default()
        .trim()
        .parse::<i64>()
    else {
        return bad("Invalid parameter: click_time must be a number".into());
    };
    let (reject, fail, cut) = {
        let mut d = lock(&s.dice);
        (
            d.roll(s.cfg.reject_rate),
            d.roll(s.cfg.fail_rate),
            d.roll(s.cfg.drop_rate),
        )
    };
    if reject {
        return bad("Invalid lead: refused by the sandbox (--reject-rate)".into());
    }
    if fail {
        lock(&s.stats).failed += 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    let click = Click {
        account_id,
        click_time,
        url_parameters,
        settings,
        referrer: field("referrer").or_else(|| field("referrer_url")),
        current_url: field("current_url"),
        cut,
    };
    if let Some(w) = lock(&s.record).as_mut() {
        let _ = serde_json::to_writer(&mut *w, &click);
        let _ = w.write_all(b"\n");
    }
    {
        let mut st = lock(&s.stats);
        st.accepted += 1;
        if cut {
            st.dropped += 1;
        }
    }
    if s.cfg.keep_clicks {
        lock(&s.clicks).push(click);
    }
    let mut resp = StatusCode::OK.into_response();
    if let Some(h) = limit {
        h.apply(resp.headers_mut());
    }
    if cut {
        resp.extensions_mut().insert(CutConnection);
    }
    resp
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
