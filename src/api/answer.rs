//! What came back for one request, as the dispatcher needs it: status, the
//! server's message, `Retry-After` and `X-RateLimit-*`.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// What came back for one request.
#[derive(Debug, Clone)]
pub enum Answer {
    Status {
        status: u16,
        retry_after: Option<Duration>,
        limit: RateHeaders,
        /// The server's message, for errors.
        message: Option<String>,
    },
    /// No HTTP answer: connect error, timeout, cut connection.
    Transport(String),
}

/// `X-RateLimit-*` headers, when present.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Time until the window resets.
    pub reset: Option<Duration>,
}

/// An HTTP answer as the dispatcher sees it. A body that breaks off after a 2xx
/// does not undo the success.
pub fn answer(status: u16, headers: &HeaderMap, body: Result<Bytes, String>) -> Answer {
    let message = if (200..300).contains(&status) {
        None
    } else {
        Some(match body {
            Ok(body) => server_message(&body, status),
            Err(e) => e,
        })
    };
    Answer::Status {
        status,
        retry_after: retry_after(headers),
        limit: rate_headers(headers),
        message,
    }
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
        let cut: String = text.chars().take(300).collect();
        format!("HTTP {status}: {cut}")
    }
}

/// `Retry-After`: seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// `X-RateLimit-Limit/Remaining/Reset`; a reset above 1e9 is a Unix time.
pub fn rate_headers(headers: &HeaderMap) -> RateHeaders {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|x| x.is_finite() && *x >= 0.0)
    };
    let reset = num("x-ratelimit-reset").map(|r| {
        if r > 1e9 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            Duration::from_secs_f64((r - now).clamp(0.0, 3600.0))
        } else {
            Duration::from_secs_f64(r.min(3600.0))
        }
    });
    RateHeaders {
        limit: num("x-ratelimit-limit").map(|x| x as u64),
        remaining: num("x-ratelimit-remaining").map(|x| x as u64),
        reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "retry-after",
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn server_messages_in_both_body_shapes() {
        assert_eq!(
            server_message(
                br#"{"status":"error","message":"Missing required parameter: account_id"}"#,
                400
            ),
            "HTTP 400: Missing required parameter: account_id"
        );
        assert_eq!(
            server_message(br#"{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many","retry_after":60}}"#, 429),
            "HTTP 429: Too many"
        );
        assert_eq!(
            server_message(b"<html>oops</html>", 502),
            "HTTP 502: <html>oops</html>"
        );
        assert_eq!(server_message(b"", 500), "HTTP 500");
    }

    #[test]
    fn rate_headers_parse() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("120"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("119"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("30"));
        let r = rate_headers(&h);
        assert_eq!(
            (r.limit, r.remaining, r.reset),
            (Some(120), Some(119), Some(Duration::from_secs(30)))
        );
        assert_eq!(rate_headers(&HeaderMap::new()), RateHeaders::default());
    }
}
