//! Faults that answer: slow answers, 200s with an error body, redirects,
//! Retry-After, the rate limit's reset header, 404.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::*;
use crate::sandbox::{ErrorBody, LOGIN_PAGE_PATH, MOVED_PATH, ResetFormat};

#[tokio::test]
async fn slow_answers_apply_the_click_at_once_and_answer_late() {
    let slow = Duration::from_secs(4);
    let sb = start(SandboxConfig {
        slow_rate: 1.0,
        slow,
        ..SandboxConfig::default()
    })
    .await;
    let (url, patient) = (sb.endpoint(), client());
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let sent = Instant::now();
    let waits = {
        let (url, form) = (url.clone(), lead(&sb, 1));
        let token = sb.token().to_string();
        tokio::spawn(async move {
            let r = patient.post(&url).bearer_auth(token).form(&form).send();
            r.await.map(|r| r.status())
        })
    };
    let gives_up = send(&impatient, &sb, &url, 2).await;
    assert!(gives_up.unwrap_err().is_timeout());
    assert!(
        eventually(|| sb.stats().accepted == 2).await,
        "{:?}",
        sb.stats()
    );
    // Both applied at once, while the patient client still waits for its answer.
    assert!(
        sent.elapsed() < slow,
        "applied only after {:?}",
        sent.elapsed()
    );
    assert!(!waits.is_finished(), "answered before {slow:?}");
    assert_eq!(waits.await.unwrap().unwrap(), 200);
    assert!(sent.elapsed() >= slow);
    assert_eq!(sb.stats().slow, 2);
    let clicks = sb.clicks();
    assert!(clicks.iter().all(|c| c.slow && !c.cut), "{clicks:?}");
    assert_eq!(serde_json::to_value(&clicks[0]).unwrap()["slow"], true);
    let mut quick = clicks[0].clone();
    quick.slow = false;
    assert!(serde_json::to_value(&quick).unwrap().get("slow").is_none());
}

#[tokio::test]
async fn a_200_with_an_error_body_is_not_applied() {
    for (body, content_type, text) in [
        (
            ErrorBody::Json,
            "application/json",
            r#"{"message":"Invalid account","status":"error"}"#,
        ),
        (ErrorBody::Html, "text/html", "<h1>Maintenance</h1>"),
    ] {
        let sb = start(SandboxConfig {
            error_200_rate: 1.0,
            error_200_body: body,
            ..SandboxConfig::default()
        })
        .await;
        let r = send(&client(), &sb, &sb.endpoint(), 1).await.unwrap();
        assert_eq!(r.status(), 200);
        let got_type = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(got_type.starts_with(content_type), "{got_type}");
        let got = r.text().await.unwrap();
        match body {
            ErrorBody::Json => assert_eq!(
                serde_json::from_str::<Value>(&got).unwrap(),
                serde_json::from_str::<Value>(text).unwrap()
            ),
            ErrorBody::Html => assert!(got.contains(text), "{got}"),
        }
        let s = sb.stats();
        assert_eq!((s.error_200, s.accepted), (1, 0), "{s:?}");
        assert!(sb.clicks().is_empty());
    }
}

#[tokio::test]
async fn a_share_of_error_200s_leaves_the_rest_applied() {
    let sb = start(SandboxConfig {
        error_200_rate: 0.5,
        ..SandboxConfig::default()
    })
    .await;
    let c = client();
    let mut empty = 0;
    for n in 0..40 {
        let r = send(&c, &sb, &sb.endpoint(), n).await.unwrap();
        assert_eq!(r.status(), 200);
        empty += u64::from(r.text().await.unwrap().is_empty());
    }
    let s = sb.stats();
    assert_eq!(s.accepted, empty);
    assert_eq!(s.accepted + s.error_200, 40);
    assert!(s.accepted > 0 && s.error_200 > 0, "{s:?}");
}

#[tokio::test]
async fn temporary_and_permanent_redirects_point_to_a_path_that_serves_set_click() {
    for code in [307, 308] {
        let sb = start(SandboxConfig {
            redirect: Some(code),
            ..SandboxConfig::default()
        })
        .await;
        let c = client();
        let r = send(&c, &sb, &sb.endpoint(), 1).await.unwrap();
        assert_eq!(r.status(), code);
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("http://{}{MOVED_PATH}", sb.addr));
        assert_eq!(
            sb.stats().accepted,
            0,
            "the redirect itself applies nothing"
        );
        let moved = send(&c, &sb, &location, 1).await.unwrap();
        assert_eq!(moved.status(), 200);
        // Served like the real path: the token is checked there too.
        let anonymous = c.post(&location).form(&lead(&sb, 2)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let s = sb.stats();
        assert_eq!(
            (s.redirected, s.accepted, s.unauthorized),
            (1, 1, 1),
            "{s:?}"
        );
        assert_eq!(sb.clicks()[0].click_time, 1_700_000_000_001);
    }
}

#[tokio::test]
async fn other_redirects_point_to_a_login_page_that_applies_nothing() {
    for code in [301, 302, 303] {
        let sb = start(SandboxConfig {
            redirect: Some(code),
            ..SandboxConfig::default()
        })
        .await;
        let c = client();
        let r = send(&c, &sb, &sb.endpoint(), 1).await.unwrap();
        assert_eq!(r.status(), code);
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("http://{}{LOGIN_PAGE_PATH}", sb.addr));
        for page in [
            c.get(&location).send().await.unwrap(),
            send(&c, &sb, &location, 1).await.unwrap(),
        ] {
            assert_eq!(page.status(), 200);
            assert!(
                page.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            assert!(page.text().await.unwrap().contains("<html>"));
        }
        let s = sb.stats();
        assert_eq!((s.redirected, s.login_page, s.accepted), (1, 2, 0), "{s:?}");
    }
}

#[tokio::test]
async fn a_client_that_follows_302_with_a_get_sees_200_and_nothing_is_applied() {
    let following = reqwest::Client::builder().no_proxy().build().unwrap();
    let sb = start(SandboxConfig {
        redirect: Some(302),
        ..SandboxConfig::default()
    })
    .await;
    let r = send(&following, &sb, &sb.endpoint(), 1).await.unwrap();
    assert_eq!(r.status(), 200, "the trap: a success");
    assert_eq!(r.url().path(), LOGIN_PAGE_PATH);
    assert_eq!(sb.stats().accepted, 0);
    // While a 307 is followed with the POST and its body.
    let sb = start(SandboxConfig {
        redirect: Some(307),
        ..SandboxConfig::default()
    })
    .await;
    let r = send(&following, &sb, &sb.endpoint(), 1).await.unwrap();
    assert_eq!((r.status().as_u16(), r.url().path()), (200, MOVED_PATH));
    assert_eq!(sb.stats().accepted, 1);
}

#[tokio::test]
async fn the_redirect_targets_exist_only_with_a_redirect() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    for path in [MOVED_PATH, LOGIN_PAGE_PATH] {
        let url = format!("{}{path}", sb.base_url());
        assert_eq!(
            send(&c, &sb, &url, 1).await.unwrap().status(),
            404,
            "{path}"
        );
    }
    assert_eq!(sb.stats().accepted, 0);
}

#[tokio::test]
async fn retry_after_answers_until_its_delay_has_passed_then_serves() {
    for (status, secs) in [(429, 2), (503, 1)] {
        let sb = start(SandboxConfig {
            retry_after: Some(secs),
            retry_after_status: status,
            ..SandboxConfig::default()
        })
        .await;
        let c = client();
        for n in 0..2 {
            let r = send(&c, &sb, &sb.endpoint(), n).await.unwrap();
            assert_eq!(r.status(), status);
            assert_eq!(r.headers()["retry-after"], secs.to_string().as_str());
        }
        assert_eq!(sb.stats().accepted, 0);
        // A client that honours it.
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let r = send(&c, &sb, &sb.endpoint(), 2).await.unwrap();
        assert_eq!(r.status(), 200);
        let s = sb.stats();
        assert_eq!((s.retry_after, s.accepted), (2, 1), "{s:?}");
    }
}

/// `X-RateLimit-Reset` of an answer from a sandbox limited to 1 request a second.
async fn reset_header(format: ResetFormat) -> Vec<(u16, u64)> {
    let sb = start(SandboxConfig {
        rate_limit: Some(1.0),
        reset_format: format,
        ..SandboxConfig::default()
    })
    .await;
    let c = client();
    let mut seen = Vec::new();
    for n in 0..2 {
        let r = send(&c, &sb, &sb.endpoint(), n).await.unwrap();
        let reset = r.headers()["x-ratelimit-reset"].to_str().unwrap();
        seen.push((r.status().as_u16(), reset.parse().unwrap()));
    }
    seen
}

#[tokio::test]
async fn the_reset_header_counts_seconds_to_wait_or_the_epoch_in_s_or_ms() {
    let unix = || {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
    };
    let before = unix();
    let delta = reset_header(ResetFormat::Delta).await;
    let epoch_s = reset_header(ResetFormat::EpochS).await;
    let epoch_ms = reset_header(ResetFormat::EpochMs).await;
    let after = unix() + Duration::from_secs(2);
    for seen in [&delta, &epoch_s, &epoch_ms] {
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [200, 429]);
    }
    assert!(delta.iter().all(|&(_, v)| v <= 1), "{delta:?}");
    let (lo, hi) = (before.as_secs(), after.as_secs() + 1);
    assert!(
        epoch_s.iter().all(|&(_, v)| (lo..=hi).contains(&v)),
        "{epoch_s:?}"
    );
    let (lo, hi) = (before.as_millis() as u64, after.as_millis() as u64);
    assert!(
        epoch_ms.iter().all(|&(_, v)| (lo..=hi).contains(&v)),
        "{epoch_ms:?}"
    );
}

#[tokio::test]
async fn not_found_answers_404_on_the_set_click_path() {
    let sb = start(SandboxConfig {
        not_found: true,
        redirect: Some(307),
        ..SandboxConfig::default()
    })
    .await;
    let r = send(&client(), &sb, &sb.endpoint(), 1).await.unwrap();
    assert_eq!(r.status(), 404);
    let s = sb.stats();
    assert_eq!((s.not_found, s.redirected, s.accepted), (1, 0, 0), "{s:?}");
}

#[tokio::test]
async fn the_router_answers_404_to_other_paths_and_405_to_other_methods() {
    let sb = start(SandboxConfig::default()).await;
    let c = client();
    let base = sb.base_url();
    for path in ["/api/auth/v1.0/set-clicks", "/api/auth/v1.1/set-click", "/"] {
        let r = send(&c, &sb, &format!("{base}{path}"), 1).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = c.get(sb.endpoint()).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        sb.stats(),
        Default::default(),
        "no set-click request counted"
    );
}

#[tokio::test]
async fn a_config_the_sandbox_cannot_serve_is_refused() {
    for cfg in [
        SandboxConfig {
            redirect: Some(304),
            ..SandboxConfig::default()
        },
        SandboxConfig {
            retry_after: Some(1),
            retry_after_status: 500,
            ..SandboxConfig::default()
        },
    ] {
        let err = Sandbox::start(cfg).await.err().expect("refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
