//! Answers as the dispatcher reads them: messages, error bodies, waits.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue};

use super::*;

#[test]
fn retry_after_in_seconds_or_http_date() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("7"));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    h.insert("retry-after", HeaderValue::from_static("3600"));
    assert_eq!(
        retry_after(&h),
        Some(Duration::from_secs(3600)),
        "long waits are kept, not cut: the dispatcher decides"
    );
    let later = SystemTime::now() + Duration::from_secs(30);
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
        server_message(
            br#"{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many","retry_after":60}}"#,
            429
        ),
        "HTTP 429: Too many"
    );
    assert_eq!(
        server_message(b"<html>oops</html>", 502),
        "HTTP 502: <html>oops</html>"
    );
    assert_eq!(server_message(b"", 500), "HTTP 500");
    let long = "é".repeat(400);
    let m = server_message(long.as_bytes(), 500);
    assert!(m.len() <= ERROR_TEXT + 10, "cut to a few hundred bytes");
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

#[test]
fn a_reset_is_read_as_a_wait_epoch_seconds_or_epoch_milliseconds_by_magnitude() {
    let now = UNIX_EPOCH + Duration::from_secs(1_764_460_000);
    let secs = 1_764_460_000.0;
    assert_eq!(reset_wait(45.0, now), Duration::from_secs(45));
    assert_eq!(reset_wait(secs + 60.0, now), Duration::from_secs(60));
    assert_eq!(
        reset_wait((secs + 60.0) * 1000.0, now),
        Duration::from_secs(60),
        "epoch milliseconds are not a 50,000-year wait"
    );
    assert_eq!(reset_wait(secs - 10.0, now), Duration::ZERO, "in the past");
    assert_eq!(reset_wait(0.0, now), Duration::ZERO);
}

fn status_of(a: &Answer) -> &Status {
    match a {
        Answer::Status(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_2xx_is_a_success_unless_its_body_is_an_error() {
    let json = HeaderMap::new();
    let mut html = HeaderMap::new();
    html.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let ok = |h: &HeaderMap, body: &'static str| {
        status_of(&answer(200, h, Ok(Bytes::from_static(body.as_bytes()))))
            .error_body
            .clone()
    };
    assert_eq!(ok(&json, ""), None, "the endpoint's success: no body");
    assert_eq!(ok(&json, "  \n"), None);
    assert_eq!(ok(&json, r#"{"status":"ok"}"#), None);
    assert_eq!(ok(&json, "OK"), None);
    assert_eq!(
        ok(&json, r#"{"status":"error","message":"Invalid account"}"#).as_deref(),
        Some(r#"{"status":"error","message":"Invalid account"}"#)
    );
    assert!(ok(&json, r#"{"success":false}"#).is_some());
    assert!(ok(&json, r#"{"error":{"code":"X"}}"#).is_some());
    assert!(ok(&json, r#"{"error":null}"#).is_none());
    assert!(ok(&html, "Maintenance").is_some(), "an HTML page");
    let page = format!("<html><body>{}</body></html>", "x".repeat(1000));
    let b = status_of(&answer(200, &json, Ok(Bytes::from(page))))
        .error_body
        .clone()
        .unwrap();
    assert_eq!(b.len(), ERROR_TEXT, "its first 200 bytes");
    // A body that breaks off after a 2xx does not undo the success.
    assert_eq!(
        status_of(&answer(200, &json, Err("cut".into()))).error_body,
        None
    );
}

#[test]
fn redirects_carry_their_location() {
    let mut h = HeaderMap::new();
    h.insert(
        "location",
        HeaderValue::from_static("https://x.example/moved"),
    );
    let a = answer(308, &h, Ok(Bytes::new()));
    assert_eq!(
        status_of(&a).location.as_deref(),
        Some("https://x.example/moved")
    );
}
