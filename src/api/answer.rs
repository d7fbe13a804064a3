//! What came back for one request, as the dispatcher needs it: the status, the
//! server's message, whether a 2xx body is an error, where a redirect points,
//! `Retry-After` and `X-RateLimit-*`; or why no answer came, and whether the request
//! may have reached the server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// How much of an error body is kept for messages and the rejects file.
pub const ERROR_TEXT: usize = 200;

/// What came back for one request.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(Status),
    /// No HTTP answer.
    Transport(Transport),
}

/// An HTTP answer.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub limit: RateHeaders,
    /// The server's message, for error statuses.
    pub message: Option<String>,
    /// A 2xx whose body says it is an error (`"status":"error"` JSON, an HTML
    /// page): its text, cut to [`ERROR_TEXT`] bytes. The endpoint's success
    /// answer is an empty body.
    pub error_body: Option<String>,
    /// `Location` of a redirect.
    pub location: Option<String>,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// No connection (refused, reset, timed out): the request never left; it may
    /// work later.
    Connect(String),
    /// No connection, and none will come by waiting: the server's certificate is
    /// refused, or its name does not exist. The request never left.
    Unusable(String),
    /// The request was written, or may have been, and the connection broke before
    /// a whole answer came: the API may have applied it.
    NoAnswer(String),
    /// The request was written and no answer came within `--timeout`: the API may
    /// have applied it, and may be slower than the timeout.
    TimedOut(String),
}

impl Transport {
    /// A failure to connect, told apart by its message: a refused certificate or
    /// an unknown host name will not heal by waiting (`Unusable`), anything else may.
    pub fn connect(message: String) -> Transport {
        const FINAL: [&str; 6] = [
            "certificate",
            "UnknownIssuer",
            "NotValidForName",
            "Name or service not known",
            "No address associated with hostname",
            "nodename nor servname provided",
        ];
        if FINAL.iter().any(|f| message.contains(f)) {
            Transport::Unusable(message)
        } else {
            Transport::Connect(message)
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Transport::Connect(m)
            | Transport::Unusable(m)
            | Transport::NoAnswer(m)
            | Transport::TimedOut(m) => m,
        }
    }
}

/// `X-RateLimit-*` headers, when present.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Time until the window resets (see [`reset_wait`] for how it is read).
    pub reset: Option<Duration>,
}

/// An HTTP answer as the dispatcher sees it. A body that breaks off after a 2xx
/// does not undo the success.
pub fn answer(status: u16, headers: &HeaderMap, body: Result<Bytes, String>) -> Answer {
    let (message, error_body) = match (status, body) {
        (200..=299, Ok(body)) => (None, error_body(headers, &body)),
        (200..=299, Err(_)) => (None, None),
        (_, Ok(body)) => (Some(server_message(&body, status)), None),
        (_, Err(e)) => (Some(e), None),
    };
    Answer::Status(Status {
        status,
        retry_after: retry_after(headers),
        limit: rate_headers(headers),
        message,
        error_body,
        location: headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string()),
    })
}

/// The text of a 2xx body that is an error: JSON saying `"status": "error"` (or
/// `"success": false`, or carrying an `"error"`), or an HTML page (maintenance
/// pages and login forms answer 200). An empty body, or any other, is a success.
pub fn error_body(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let html = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.to_ascii_lowercase().contains("text/html"))
        || text.starts_with('<');
    let error_json = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .is_some_and(|v| {
            v["status"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("error"))
                || v["success"] == serde_json::Value::Bool(false)
                || v.get("error").is_some_and(|e| !e.is_null())
        });
    (html || error_json).then(|| cut(text, ERROR_TEXT))
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The message of an error answer: `{"message": ...}`, `{"error": {"message": ...}}`,
/// or the body text itself (truncated).
pub fn server_message(body: &[u8], status: u16) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let msg = v["message"]
            .as_str()
            .or_else(|| v["error"]["message"].as_str())
            .or_else(|| v["error"].as_str())
            .or_else(|| v["error"]["code"].as_str());
        if let Some(m) = msg {
            return format!("HTTP {status}: {m}");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", cut(text, ERROR_TEXT))
    }
}

/// `Retry-After`: seconds or an HTTP date (RFC 9110, 10.2.3).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(u32::MAX as f64)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// `X-RateLimit-Reset`, whose unit the API's sources disagree on, read by
/// magnitude: below 10^9 it is seconds to wait; from 10^9 to 10^12 a Unix time in
/// seconds (10^9 s is 2001); from 10^12 a Unix time in milliseconds. A reset in the
/// past is no wait.
pub fn reset_wait(value: f64, now: SystemTime) -> Duration {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let secs = if value < 1e9 {
        value
    } else if value < 1e12 {
        value - now
    } else {
        value / 1000.0 - now
    };
    Duration::from_secs_f64(secs.clamp(0.0, u32::MAX as f64))
}

/// `X-RateLimit-Limit/Remaining/Reset`.
pub fn rate_headers(headers: &HeaderMap) -> RateHeaders {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|x| x.is_finite() && *x >= 0.0)
    };
    RateHeaders {
        limit: num("x-ratelimit-limit").map(|x| x as u64),
        remaining: num("x-ratelimit-remaining").map(|x| x as u64),
        reset: num("x-ratelimit-reset").map(|r| reset_wait(r, SystemTime::now())),
    }
}

#[cfg(test)]
mod tests;
