//! `setclick import` against the in-process sandbox on 127.0.0.1:0.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{
    IMPORT_CALLS, TestSandbox, Workdir, as_click, click_values, json_lines, leads, write_csv,
};
use setclick::sandbox::SandboxConfig;

/// Multiset of clicks, keyed by their JSON text.
fn bag(values: impl IntoIterator<Item = serde_json::Value>) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for v in values {
        *m.entry(v.to_string()).or_default() += 1;
    }
    m
}

fn expected_clicks(w: &Workdir, file: &str, account: &str) -> Vec<serde_json::Value> {
    let r = w.run(&[
        "validate",
        file,
        "--timezone",
        "Europe/Madrid",
        "--account-id",
        account,
        "--emit",
        "-",
        "-q",
    ]);
    assert!(r.code <= 1, "{}", r.stderr);
    json_lines(&r.stdout).iter().map(as_click).collect()
}

fn report(w: &Workdir) -> serde_json::Value {
    serde_json::from_str(&w.read("report.json")).expect("report")
}

#[test]
fn every_valid_row_arrives_exactly_once_with_the_fields_validate_emits() {
    let w = Workdir::new();
    let data = leads(200, 21, 17);
    write_csv(&w.path("calls.csv"), &data, b';');
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(
        &sb,
        &[
            &IMPORT_CALLS[..],
            &[
                "--concurrency",
                "8",
                "--report",
                "report.json",
                "--rejects",
                "rejects.csv",
            ],
        ]
        .concat(),
    );
    assert_eq!(r.code, 1, "bad rows exist: {}", r.stderr);
    let want = expected_clicks(&w, "calls.csv", sb.sb.account_id());
    assert_eq!(bag(click_values(&sb.sb.clicks())), bag(want.clone()));
    let rep = report(&w);
    assert_eq!(rep["totals"]["sent"], want.len() as u64);
    assert_eq!(rep["totals"]["failed"], 0);
    assert_eq!(rep["totals"]["pending"], 0);
    assert_eq!(rep["http"]["200"], want.len() as u64);
}

#[test]
fn every_lead_arrives_once_through_500s_and_429_storms() {
    through_storms(&[]);
}

/// Without a store the senders run on several threads.
#[test]
fn every_lead_arrives_once_through_storms_without_a_store() {
    through_storms(&["--no-state"]);
}

fn through_storms(extra: &[&str]) {
    let w = Workdir::new();
    let data = leads(80, 22, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    // 30 requests at once against a bucket of 20: a storm of 429s at the start.
    let sb = TestSandbox::start(SandboxConfig {
        fail_rate: 0.05,
        rate_limit: Some(20.0),
        seed: 7,
        ..SandboxConfig::default()
    });
    let r = w.run_against(
        &sb,
        &IMPORT_CALLS
            .iter()
            .chain(&[
                "--concurrency",
                "30",
                "--max-attempts",
                "10",
                "--report",
                "report.json",
            ])
            .chain(extra)
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = sb.sb.stats();
    assert!(
        stats.failed > 0,
        "the sandbox failed some requests: {stats:?}"
    );
    assert!(
        stats.rate_limited > 0,
        "the sandbox rate-limited some requests: {stats:?}"
    );
    let want = expected_clicks(&w, "calls.csv", sb.sb.account_id());
    assert_eq!(bag(click_values(&sb.sb.clicks())), bag(want));
    let rep = report(&w);
    assert_eq!(rep["totals"]["sent"], 80);
    assert!(rep["files"][0]["retries"].as_u64().unwrap() >= stats.failed + stats.rate_limited);
}

#[test]
fn refused_credentials_stop_the_run_with_exit_3() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(40, 23, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let mut c = w.cmd_against(&sb);
    c.env("SEALMETRICS_TOKEN", "wrong-token-value");
    c.args(IMPORT_CALLS)
        .args(["--concurrency", "4", "--report", "report.json"]);
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("SEALMETRICS_TOKEN"), "{stderr}");
    assert!(
        !stderr.contains("wrong-token-value"),
        "the token never appears in output"
    );
    assert!(
        sb.sb.stats().requests <= 4,
        "at most --concurrency set-click requests"
    );
    assert_eq!(sb.sb.stats().accepted, 0);
}

#[test]
fn missing_token_is_exit_2_and_plain_http_elsewhere_is_refused() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(5, 24, 0), b',');
    let r = w.run(&[
        "import",
        "calls.csv",
        "--timezone",
        "UTC",
        "--account-id",
        "a",
    ]);
    // A token not given is a setting to fix (2), not a refusal by the API (3).
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("SEALMETRICS_TOKEN"), "{}", r.stderr);
    let mut c = w.cmd();
    c.env("SEALMETRICS_TOKEN", "t").args([
        "import",
        "calls.csv",
        "--timezone",
        "UTC",
        "--account-id",
        "a",
        "--endpoint",
        "http://example.com/api/auth/v1.0/set-click",
    ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn server_refusals_land_in_rejects_with_the_servers_message() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(120, 25, 0), b',');
    let sb = TestSandbox::start(SandboxConfig {
        reject_rate: 0.1,
        seed: 3,
        ..SandboxConfig::default()
    });
    let r = w.run_against(
        &sb,
        &[
            &IMPORT_CALLS[..],
            &["--rejects", "rejects.csv", "--report", "report.json"],
        ]
        .concat(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let stats = sb.sb.stats();
    assert!(stats.bad_request > 0);
    let rep = report(&w);
    assert_eq!(rep["totals"]["rejected"], stats.bad_request);
    assert_eq!(rep["totals"]["sent"], stats.accepted);
    assert_eq!(
        rep["totals"]["rows"].as_u64(),
        Some(rep["totals"]["valid"].as_u64().unwrap() + stats.bad_request)
    );
    let rejects = w.read("rejects.csv");
    let lines: Vec<&str> = rejects.lines().skip(1).collect();
    assert_eq!(lines.len() as u64, stats.bad_request);
    assert!(
        lines
            .iter()
            .all(|l| l.contains(",server,HTTP 400: Invalid lead")),
        "{rejects}"
    );
}

#[test]
fn the_pace_never_exceeds_the_rate() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(30, 26, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let start = Instant::now();
    let r = w.run_against(
        &sb,
        &[
            "import",
            "calls.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "20/s",
            "--concurrency",
            "8",
        ],
    );
    let elapsed = start.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sb.sb.stats().accepted, 30);
    // 30 requests at 20/s with a burst of 1: at least 29 intervals of 50 ms.
    assert!(elapsed >= Duration::from_millis(1450), "{elapsed:?}");
}

#[cfg(unix)]
#[test]
fn interrupting_leaves_a_consistent_report() {
    interrupted(&[]);
}

/// The same with the senders on several threads.
#[cfg(unix)]
#[test]
fn interrupting_leaves_a_consistent_report_without_a_store() {
    interrupted(&["--no-state"]);
}

#[cfg(unix)]
fn interrupted(extra: &[&str]) {
    let w = Workdir::new();
    // More than one batch of rows (the first is 1,000), so that the stop comes
    // with batches read and not yet taken.
    write_csv(&w.path("calls.csv"), &leads(2500, 27, 0), b',');
    let sb = TestSandbox::start(SandboxConfig {
        latency: Duration::from_millis(100),
        ..SandboxConfig::default()
    });
    let mut c = w.cmd_against(&sb);
    c.args([
        "import",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--rate",
        "20/s",
        "--concurrency",
        "4",
        "--report",
        "report.json",
        "-q",
    ]);
    c.args(extra);
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let rep = report(&w);
    let t = &rep["totals"];
    let accepted = sb.sb.stats().accepted;
    assert!(accepted > 0 && accepted < 200, "{accepted}");
    // The profile covers exactly the rows counted: a batch is taken whole, the
    // rest of it left pending, and the batches read ahead are in neither.
    for part in [&rep["files"][0], t] {
        assert_eq!(part["profile"]["leads"], part["valid"], "{part}");
    }
    assert_eq!(
        t["sent"].as_u64(),
        Some(accepted),
        "every answered request is counted"
    );
    let sent = t["sent"].as_u64().unwrap();
    let pending = t["pending"].as_u64().unwrap();
    assert!(pending > 0);
    // Everything read is accounted for; nothing read was lost.
    assert_eq!(
        t["valid"].as_u64().unwrap(),
        sent + pending + t["failed"].as_u64().unwrap() + t["duplicates"].as_u64().unwrap()
    );
    assert_eq!(rep["exit_code"], 130);
}

#[test]
fn the_endpoint_pages_curl_example_is_accepted_by_the_sandbox() {
    let sb = TestSandbox::start(SandboxConfig {
        token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImp0aSI:ImpoaS1Nzg5MzQzIn0...".into(),
        account_id: "60a52f6ac660b269d13c3f53".into(),
        ..SandboxConfig::default()
    });
    let status = sb.rt.block_on(async {
        reqwest::Client::new()
            .post(sb.sb.endpoint())
            .header(
                "Authorization",
                "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImp0aSI:ImpoaS1Nzg5MzQzIn0...",
            )
            .header("Accept", "application/json")
            .form(&[
                (
                    "url_parameters",
                    r#"{"utm_medium":"my-medium-01","utm_source":"my-source-01"}"#,
                ),
                ("click_time", "1634707888"),
                ("settings", r#"{"email":"[email protected]"}"#),
                ("referrer", r#""https://facebook.com/""#),
                ("current_url", r#""https://sealmetrics.com/""#),
                ("account_id", "60a52f6ac660b269d13c3f53"),
            ])
            .send()
            .await
            .unwrap()
    });
    assert_eq!(status.status().as_u16(), 200);
    let body = sb.rt.block_on(status.text()).unwrap();
    assert!(body.is_empty());
    assert_eq!(sb.sb.clicks().len(), 1);

    // And its documented errors.
    let (code, body) = sb.rt.block_on(async {
        let r = reqwest::Client::new()
            .post(sb.sb.endpoint())
            .bearer_auth("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiIsImp0aSI:ImpoaS1Nzg5MzQzIn0...")
            .form(&[("click_time", "1")])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(code, 400);
    // As the page writes it, status first.
    assert_eq!(
        body,
        r#"{"status":"error","message":"Missing required parameter: account_id"}"#
    );
    let code = sb.rt.block_on(async {
        reqwest::Client::new()
            .post(sb.sb.endpoint())
            .form(&[("a", "b")])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(code, 401);
}

#[test]
fn import_dry_run_sends_nothing() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(10, 28, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(
        &sb,
        &[
            "import",
            "calls.csv",
            "--timezone",
            "Europe/Madrid",
            "--dry-run",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sb.sb.stats().requests, 0);
}

#[test]
fn import_sandbox_flag_runs_the_whole_flow_without_a_token() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(25, 29, 0), b',');
    let r = w.run(&[
        "import",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--sandbox",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("sandbox received 25 requests: 25 clicks accepted"),
        "{}",
        r.stderr
    );
}

/// Each lead arrives once, with or without a store (several sending threads would
/// share reqwest's pool across runtimes: a connection whose runtime ended failed
/// mid-request and the lead went out twice).
#[test]
fn behind_a_proxy_leads_go_through_it() {
    proxied_import(&[]);
    proxied_import(&["--no-state"]);
}

fn proxied_import(extra: &[&str]) {
    let w = Workdir::new();
    let data = leads(40, 23, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    // Nothing listens on the endpoint's port: only the proxy (the sandbox, which
    // takes absolute-form requests) can deliver the leads.
    let out = w
        .cmd_against(&sb)
        .env(
            "SEALMETRICS_ENDPOINT",
            "http://127.0.0.1:1/api/auth/v1.0/set-click",
        )
        .env("HTTP_PROXY", sb.sb.base_url())
        .args(IMPORT_CALLS)
        .args(["--report", "report.json"])
        .args(extra)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let want = expected_clicks(&w, "calls.csv", sb.sb.account_id());
    assert_eq!(bag(click_values(&sb.sb.clicks())), bag(want));
    assert_eq!(report(&w)["totals"]["sent"], 40);
}
