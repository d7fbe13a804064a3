//! What a nightly import meets when the network or the API misbehaves, at process
//! level against the sandbox's faults: outages waited out, timeouts listed
//! uncertain, long waits announced, failed rows sent by the next run. Checked from
//! the sandbox's record and the store: no valid lead missing, every lead that
//! arrived twice listed uncertain, no row failed for a fault of the endpoint.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{IMPORT_CALLS, TestSandbox, Workdir, leads, write_csv};
use setclick::sandbox::{ResetFormat, SandboxConfig};

fn report(w: &Workdir) -> serde_json::Value {
    serde_json::from_str(&w.read("report.json")).expect("report")
}

fn uncertain_rows(rep: &serde_json::Value) -> HashSet<u64> {
    rep["files"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["uncertain_rows"].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// How often each lead (by email) reached the sandbox.
fn arrivals(sb: &TestSandbox) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for c in sb.sb.clicks() {
        *m.entry(c.settings["email"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

/// Every lead arrived; those that arrived more than once are in `uncertain`.
fn all_arrived_duplicates_listed(
    sb: &TestSandbox,
    data: &[common::Lead],
    uncertain: &HashSet<u64>,
) {
    let got = arrivals(sb);
    for (i, lead) in data.iter().enumerate() {
        let row = i as u64 + 1;
        let n = got.get(&lead.expected_email()).copied().unwrap_or(0);
        assert!(n >= 1, "row {row} never arrived");
        assert!(
            n == 1 || uncertain.contains(&row),
            "row {row} arrived {n} times and was not listed uncertain"
        );
    }
}

fn status(w: &Workdir) -> serde_json::Value {
    let st = w.run(&["status", "--json"]);
    serde_json::from_str::<serde_json::Value>(&st.stdout).expect("status")[0].clone()
}

fn import_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [&IMPORT_CALLS[..], &["--report", "report.json"], extra].concat()
}

#[test]
fn an_outage_is_waited_out_announced_and_loses_no_lead() {
    let w = Workdir::new();
    let data = leads(150, 41, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let log = std::fs::File::create(w.path("cron.log")).unwrap();
    let mut child = w
        .cmd_against(&sb)
        .args([
            "import",
            "calls.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "40/s",
            "--concurrency",
            "4",
            "--report",
            "report.json",
        ])
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sb.sb.stats().accepted < 30 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    sb.sb.outage(Duration::from_secs(8));
    let code = child.wait().unwrap().code();
    let stderr = w.read("cron.log");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(sb.sb.stats().outages >= 1);
    assert!(
        stderr.contains("API unreachable since")
            && stderr.contains("retrying with backoff, up to every 30 s")
            && stderr.contains("leads waiting"),
        "the outage is said, with the time: {stderr}"
    );
    assert!(stderr.contains("API reachable again"), "{stderr}");
    let rep = report(&w);
    assert_eq!(
        rep["totals"]["failed"], 0,
        "an outage fails no lead: {stderr}"
    );
    assert_eq!(rep["totals"]["pending"], 0);
    all_arrived_duplicates_listed(&sb, &data, &uncertain_rows(&rep));
}

#[test]
fn an_outage_past_max_outage_stops_with_exit_3_and_the_next_run_sends_the_rest() {
    let w = Workdir::new();
    let data = leads(80, 42, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    sb.sb.outage(Duration::from_secs(6));
    while !sb.sb.refusing() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = w.run_against(&sb, &import_args(&["--max-outage", "2s"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("unreachable"), "{}", r.stderr);
    assert!(r.stderr.contains("--max-outage"), "{}", r.stderr);
    let rep = report(&w);
    assert_eq!(rep["exit_code"], 3);
    assert_eq!(rep["totals"]["failed"], 0, "{}", r.stderr);
    assert_eq!(rep["totals"]["sent"], 0);
    let st = status(&w);
    assert_eq!(st["failed"], 0, "nothing recorded against the leads");
    while sb.sb.refusing() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = w.run_against(&sb, &import_args(&[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report(&w)["totals"]["sent"], 80);
    all_arrived_duplicates_listed(&sb, &data, &HashSet::new());
}

#[test]
fn requests_that_time_out_are_listed_uncertain_and_sent_at_most_twice() {
    let w = Workdir::new();
    let data = leads(120, 43, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let sb = TestSandbox::start(SandboxConfig {
        slow_rate: 0.1,
        slow: Duration::from_millis(1500),
        seed: 5,
        ..SandboxConfig::default()
    });
    let r = w.run_against(&sb, &import_args(&["--timeout", "1", "--concurrency", "8"]));
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let rep = report(&w);
    let uncertain = uncertain_rows(&rep);
    assert!(sb.sb.stats().slow > 0, "some answers were slow");
    let row_of: HashMap<String, u64> = data
        .iter()
        .enumerate()
        .map(|(i, l)| (l.expected_email(), i as u64 + 1))
        .collect();
    for c in sb.sb.clicks().iter().filter(|c| c.slow) {
        let row = row_of[c.settings["email"].as_str().unwrap()];
        assert!(
            uncertain.contains(&row),
            "row {row} timed out and is not listed"
        );
    }
    all_arrived_duplicates_listed(&sb, &data, &uncertain);
    assert!(
        arrivals(&sb).values().all(|n| *n <= 2),
        "a timed-out lead is sent once more at most"
    );
    assert_eq!(rep["totals"]["failed"], 0, "a timeout is not a failure");
    assert_eq!(rep["totals"]["uncertain"], uncertain.len() as u64);
}

#[test]
fn when_every_request_times_out_the_run_stops_naming_the_timeout() {
    let w = Workdir::new();
    let data = leads(60, 44, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let sb = TestSandbox::start(SandboxConfig {
        slow_rate: 1.0,
        slow: Duration::from_millis(2500),
        ..SandboxConfig::default()
    });
    let r = w.run_against(&sb, &import_args(&["--timeout", "1", "--concurrency", "3"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("--timeout"), "{}", r.stderr);
    let rep = report(&w);
    let uncertain = uncertain_rows(&rep);
    let clicks = sb.sb.clicks().len();
    assert!(
        clicks <= 6,
        "a few leads applied, not every lead many times: {clicks}"
    );
    assert!(uncertain.len() >= clicks.min(3), "{uncertain:?}");
    assert_eq!(rep["totals"]["failed"], 0);
    // The leads applied without an answer are uncertain in the store too.
    assert_eq!(
        status(&w)["uncertain"].as_u64(),
        Some(uncertain.len() as u64)
    );
}

#[test]
fn failed_rows_are_sent_by_the_next_run_of_a_finished_file() {
    let w = Workdir::new();
    let data = leads(60, 45, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let failing = TestSandbox::start(SandboxConfig {
        fail_rate: 0.3,
        seed: 9,
        ..SandboxConfig::default()
    });
    let r = w.run_against(
        &failing,
        &import_args(&["--max-attempts", "1", "--concurrency", "1"]),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let failed = report(&w)["totals"]["failed"].as_u64().unwrap();
    assert!(failed > 0, "{}", r.stderr);
    assert_eq!(status(&w)["failed"].as_u64(), Some(failed));
    assert_eq!(status(&w)["finished"], true);

    // With --no-retry-failed the finished file has nothing to send.
    let healthy = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(&healthy, &import_args(&["--no-retry-failed"]));
    assert_eq!(r.code, 1, "the failed rows stand: {}", r.stderr);
    assert_eq!(healthy.sb.stats().requests, 0);
    assert!(!r.stderr.contains("unreachable"), "{}", r.stderr);

    // By default the next run sends exactly the failed rows (--retry-failed is
    // accepted and changes nothing).
    let r = w.run_against(&healthy, &import_args(&["--retry-failed"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(healthy.sb.stats().accepted, failed);
    assert_eq!(report(&w)["totals"]["sent"], failed);
    assert_eq!(status(&w)["failed"], 0);

    // And then nothing: exit 0, no claim of an outage.
    let r = w.run_against(&healthy, &import_args(&[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("already imported"), "{}", r.stderr);
    assert!(!r.stderr.contains("unreachable"), "{}", r.stderr);
    assert_eq!(healthy.sb.stats().accepted, failed);
}

#[test]
fn a_long_retry_after_is_announced_and_one_past_max_outage_stops() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(20, 46, 0), b',');
    let sb = TestSandbox::start(SandboxConfig {
        retry_after: Some(6),
        ..SandboxConfig::default()
    });
    // Eight senders hear the same 429: the one wait is told once.
    let r = w.run_against(&sb, &import_args(&["--concurrency", "8"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.matches("waits until").count(), 1, "{}", r.stderr);
    assert_eq!(sb.sb.stats().accepted, 20);

    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(20, 47, 0), b',');
    let sb = TestSandbox::start(SandboxConfig {
        retry_after: Some(3600),
        ..SandboxConfig::default()
    });
    let started = Instant::now();
    let r = w.run_against(&sb, &import_args(&[]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "no silent hour"
    );
    assert!(
        r.stderr.contains("--max-outage") && r.stderr.contains("run the same command again"),
        "{}",
        r.stderr
    );
    let rep = report(&w);
    assert_eq!(rep["totals"]["pending"], 20, "the leads stay pending");
    assert_eq!(rep["totals"]["failed"], 0);
}

#[test]
fn a_rate_limit_reset_in_epoch_milliseconds_is_a_short_wait() {
    let w = Workdir::new();
    let data = leads(60, 48, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let sb = TestSandbox::start(SandboxConfig {
        rate_limit: Some(30.0),
        reset_format: ResetFormat::EpochMs,
        ..SandboxConfig::default()
    });
    let started = Instant::now();
    let r = w.run_against(&sb, &import_args(&["--concurrency", "4"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "read as a moment, not as 1.7e12 seconds: {:?}",
        started.elapsed()
    );
    assert_eq!(sb.sb.stats().accepted, 60);
}
