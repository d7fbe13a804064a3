//! The answer policy, answer by answer.

use std::time::Duration;

use super::*;
use crate::api::answer::RateHeaders;

fn status(code: u16, retry_after: Option<u64>) -> Answer {
    Answer::Status(Status {
        status: code,
        retry_after: retry_after.map(Duration::from_secs),
        limit: RateHeaders::default(),
        message: Some(format!("HTTP {code}: x")),
        error_body: None,
        location: None,
    })
}

const BODY: &[u8] = b"url_parameters=%7B%7D&click_time=1&settings=%7B%7D&referrer=r&account_id=a";

fn cx(any_success: bool) -> Context<'static> {
    Context {
        endpoint: "https://api.example/api/auth/v1.0/set-click",
        any_success,
        body: BODY,
    }
}

fn fault_kind(v: Verdict) -> Option<FaultKind> {
    match v {
        Verdict::Fault(f) => Some(f.kind),
        _ => None,
    }
}

#[test]
fn classification_follows_the_design() {
    let c = cx(true);
    assert_eq!(classify(&status(200, None), &c), Verdict::Done);
    assert_eq!(classify(&status(204, None), &c), Verdict::Done);
    for code in [408, 425, 500, 502, 503, 504] {
        assert!(
            matches!(
                classify(&status(code, None), &c),
                Verdict::Retry {
                    pause_all: false,
                    wait: None,
                    failure: Failure::Server,
                    ..
                }
            ),
            "{code}"
        );
    }
    assert!(matches!(
        classify(&status(503, Some(5)), &c),
        Verdict::Retry { pause_all: true, wait: Some(w), .. } if w == Duration::from_secs(5)
    ));
    assert!(matches!(
        classify(&status(429, None), &c),
        Verdict::Retry { pause_all: true, wait: Some(w), failure: Failure::RateLimited, .. }
            if w == DEFAULT_429_PAUSE
    ));
    assert!(matches!(classify(&status(400, None), &c), Verdict::Refuse(m) if m.contains("400")));
    assert!(matches!(
        classify(&status(422, None), &c),
        Verdict::Refuse(_)
    ));
    assert!(matches!(classify(&status(501, None), &c), Verdict::Fail(_)));
    assert!(matches!(
        classify(&Answer::Transport(Transport::Connect("refused".into())), &c),
        Verdict::Retry {
            failure: Failure::Connect,
            ..
        }
    ));
    assert!(matches!(
        classify(&Answer::Transport(Transport::NoAnswer("reset".into())), &c),
        Verdict::Uncertain {
            timed_out: false,
            ..
        }
    ));
    assert!(matches!(
        classify(&Answer::Transport(Transport::TimedOut("30 s".into())), &c),
        Verdict::Uncertain {
            timed_out: true,
            ..
        }
    ));
    assert_eq!(
        fault_kind(classify(
            &Answer::Transport(Transport::connect(
                "connection failed: invalid peer certificate: NotValidForName".into()
            )),
            &c
        )),
        Some(FaultKind::Endpoint),
        "waiting will not make a certificate valid"
    );
}

#[test]
fn answers_about_the_endpoint_are_run_faults() {
    let c = cx(true);
    for (code, kind) in [
        (401, FaultKind::Credentials),
        (403, FaultKind::Credentials),
        (404, FaultKind::Endpoint),
        (405, FaultKind::Endpoint),
        (410, FaultKind::Endpoint),
        (415, FaultKind::Endpoint),
        (301, FaultKind::Redirected),
        (302, FaultKind::Redirected),
        (303, FaultKind::Redirected),
        (307, FaultKind::Redirected),
    ] {
        assert_eq!(
            fault_kind(classify(&status(code, None), &c)),
            Some(kind),
            "{code}"
        );
    }
    let mut moved = status(302, None);
    if let Answer::Status(s) = &mut moved {
        s.location = Some("https://login.example/".into());
    }
    match classify(&moved, &c) {
        Verdict::Fault(f) => assert!(f.message.contains("https://login.example/"), "{f}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_404_names_the_set_click_url_on_the_same_host() {
    let c = Context {
        endpoint: "http://127.0.0.1:8787/",
        any_success: false,
        body: BODY,
    };
    match classify(&status(404, None), &c) {
        Verdict::Fault(f) => assert!(
            f.message
                .contains("http://127.0.0.1:8787/api/auth/v1.0/set-click"),
            "{f}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_parameter_setclick_sent_is_a_fault_and_one_it_did_not_a_refusal() {
    let answer = |field: &str| {
        let mut a = status(400, None);
        if let Answer::Status(s) = &mut a {
            s.message = Some(format!("HTTP 400: Missing required parameter: {field}"));
        }
        a
    };
    let c = cx(true);
    for sent in [
        "account_id",
        "click_time",
        "settings",
        "url_parameters",
        "referrer",
    ] {
        assert_eq!(
            fault_kind(classify(&answer(sent), &c)),
            Some(FaultKind::Field),
            "{sent}"
        );
    }
    assert!(
        matches!(classify(&answer("current_url"), &c), Verdict::Refuse(_)),
        "current_url was not sent: the lead lacks it"
    );
}

#[test]
fn a_2xx_error_body_is_a_fault_before_any_lead_went_in_and_retried_after() {
    let mut a = status(200, None);
    if let Answer::Status(s) = &mut a {
        s.error_body = Some(r#"{"status":"error","message":"Invalid account"}"#.into());
    }
    assert_eq!(
        fault_kind(classify(&a, &cx(false))),
        Some(FaultKind::Account)
    );
    assert!(matches!(
        classify(&a, &cx(true)),
        Verdict::Retry { failure: Failure::ErrorBody, reason, .. } if reason.contains("Invalid account")
    ));
    if let Answer::Status(s) = &mut a {
        s.error_body = Some("<html><h1>Maintenance</h1></html>".into());
    }
    assert_eq!(
        fault_kind(classify(&a, &cx(false))),
        Some(FaultKind::Endpoint)
    );
}

#[test]
fn backoff_is_capped_and_jittered() {
    let b = Backoff::default();
    assert_eq!(b.ceiling(1), Duration::from_millis(500));
    assert_eq!(b.ceiling(2), Duration::from_secs(1));
    assert_eq!(b.ceiling(4), Duration::from_secs(4));
    assert_eq!(b.ceiling(10), Duration::from_secs(30));
    assert_eq!(b.ceiling(200), Duration::from_secs(30));
    let mut rng = rand::rng();
    let waits: Vec<Duration> = (0..200).map(|_| b.delay(3, &mut rng)).collect();
    assert!(waits.iter().all(|w| *w <= Duration::from_secs(2)));
    assert!(
        waits.iter().any(|w| *w < Duration::from_millis(500)),
        "full jitter reaches low values"
    );
}
