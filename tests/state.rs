//! The state store from the outside: resume, crash safety (SIGKILL), overlapping
//! nightly exports, the one-import-per-directory lock, status.

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{IMPORT_CALLS, TestSandbox, Workdir, leads, write_csv};
use setclick::sandbox::SandboxConfig;

fn report(w: &Workdir, name: &str) -> serde_json::Value {
    serde_json::from_str(&w.read(name)).expect("report")
}

/// How often each email arrived at the sandbox.
fn arrivals(sb: &TestSandbox) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for c in sb.sb.clicks() {
        *m.entry(c.settings["email"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

const IMPORT: [&str; 6] = [
    "import",
    "calls.csv",
    "--timezone",
    "Europe/Madrid",
    "--report",
    "report.json",
];

/// A sandbox answering after `latency`, and an import of calls.csv against it
/// started as a child process with `args` added.
fn spawn_import(
    w: &Workdir,
    latency: Duration,
    args: &[&str],
    stderr: Stdio,
) -> (TestSandbox, std::process::Child) {
    let sb = TestSandbox::start(SandboxConfig {
        latency,
        ..SandboxConfig::default()
    });
    let child = w
        .cmd_against(&sb)
        .args(IMPORT)
        .args(args)
        .stderr(stderr)
        .spawn()
        .unwrap();
    (sb, child)
}

#[cfg(unix)]
fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[cfg(unix)]
#[test]
fn an_interrupted_import_resumes_where_it_stopped_and_sends_nothing_twice() {
    let w = Workdir::new();
    let data = leads(120, 31, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let (sb, child) = spawn_import(
        &w,
        Duration::from_millis(20),
        &["--rate", "40/s", "-q"],
        Stdio::null(),
    );
    std::thread::sleep(Duration::from_millis(1200));
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let first = sb.sb.stats().accepted;
    assert!(first > 0 && first < 120, "{first}");

    let r = w.run_against(&sb, &[&IMPORT[..], &["--rate", "unlimited"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = report(&w, "report.json");
    assert_eq!(
        rep["totals"]["skipped"], first,
        "rows sent before are skipped"
    );
    assert_eq!(rep["totals"]["sent"], 120 - first);
    assert_eq!(
        rep["totals"]["uncertain"], 0,
        "a graceful stop leaves nothing uncertain"
    );
    let a = arrivals(&sb);
    assert_eq!(a.len(), 120);
    assert!(a.values().all(|&n| n == 1), "every lead exactly once");

    // Finished: a third run sends nothing and says so; a renamed copy is the same file.
    std::fs::copy(w.path("calls.csv"), w.path("renamed.csv")).unwrap();
    let r = w.run_against(
        &sb,
        &["import", "renamed.csv", "--timezone", "Europe/Madrid"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("already imported"), "{}", r.stderr);
    assert_eq!(sb.sb.stats().accepted, 120);

    // Other settings for the same file stop the run unless --restart.
    let r = w.run_against(&sb, &["import", "calls.csv", "--timezone", "UTC"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--restart"), "{}", r.stderr);
}

/// SIGKILL at a moment chosen by `kill_when` (sandbox stats), then run again: no
/// lead is lost, and every lead that arrived twice was reported uncertain.
#[cfg(unix)]
fn crash_and_resume(kill_when: impl Fn(u64) -> bool, seed: u64) {
    // --concurrency (4) + a batch marked ahead (32) + the queue's low-water mark (16),
    // plus answers that arrived but were not yet committed (a commit window).
    crash_and_resume_with(
        150,
        Duration::from_millis(30),
        4 + 32 + 16 + 32,
        kill_when,
        seed,
    );
}

#[cfg(unix)]
fn crash_and_resume_with(
    n: usize,
    latency: Duration,
    max_uncertain: usize,
    kill_when: impl Fn(u64) -> bool,
    seed: u64,
) {
    let w = Workdir::new();
    let data = leads(n, seed, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let (sb, mut child) = spawn_import(
        &w,
        latency,
        &["--rate", "unlimited", "--concurrency", "4", "-q"],
        Stdio::null(),
    );
    let start = Instant::now();
    loop {
        let s = sb.sb.stats();
        if kill_when(s.requests) || start.elapsed() > Duration::from_secs(20) {
            signal(&child, libc::SIGKILL);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.wait();
    resume_and_check(&w, &sb, &data, max_uncertain);
}

/// Run the import again after a failed first run: it succeeds, every lead has
/// arrived, and every lead that arrived twice was reported uncertain.
fn resume_and_check(w: &Workdir, sb: &TestSandbox, data: &[common::Lead], max_uncertain: usize) {
    let before = arrivals(sb);
    let r = w.run_against(sb, &[&IMPORT[..], &["--rate", "unlimited"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = report(w, "report.json");
    let uncertain: Vec<u64> = rep["files"][0]["uncertain_rows"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_u64().unwrap()).collect())
        .unwrap_or_default();
    assert!(
        uncertain.len() <= max_uncertain,
        "uncertain rows bounded: {}",
        uncertain.len()
    );
    // stderr names the rows sent again (the first of them at least).
    if let Some(first) = uncertain.iter().min()
        && !r.stderr.contains("already imported")
    {
        assert!(
            r.stderr.contains(&format!("(rows {first}"))
                && r.stderr.contains("the API may have them twice"),
            "{}",
            r.stderr
        );
    }
    let after = arrivals(sb);
    for (i, lead) in data.iter().enumerate() {
        let email = lead.expected_email();
        let times = after.get(&email).copied().unwrap_or(0);
        assert!(times >= 1, "row {} never arrived", i + 1);
        if times > 1 {
            assert!(
                uncertain.contains(&(i as u64 + 1)),
                "row {} arrived {times} times but was not reported uncertain",
                i + 1
            );
        }
    }
    // Leads the first run finished are not sent again.
    let resent: usize = before.iter().filter(|(e, _)| after[*e] > 1).count();
    assert!(resent <= uncertain.len());
}

/// The store stops taking writes mid-run (another process holds its write lock
/// past the 10 s busy timeout): the import stops sending, exits 2 naming the
/// store, counts what it did not send as pending; the next run loses nothing.
#[cfg(unix)]
#[test]
fn a_store_that_fails_mid_run_stops_the_import_and_loses_nothing() {
    let w = Workdir::new();
    // Several batches of rows (the first is 1,000): the run takes the batch it
    // is on whole (its rest pending) and reads no further.
    let data = leads(2500, 45, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let (sb, child) = spawn_import(
        &w,
        Duration::from_millis(20),
        &["--rate", "unlimited", "--concurrency", "4", "-q"],
        Stdio::piped(),
    );
    let start = Instant::now();
    while sb.sb.stats().requests < 40 {
        assert!(start.elapsed() < Duration::from_secs(20), "no requests");
        std::thread::sleep(Duration::from_millis(2));
    }
    let db = rusqlite::Connection::open(w.path(".setclick/state.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Past the busy timeout; then let go, so that the run's end is recorded.
    std::thread::sleep(Duration::from_secs(11));
    drop(db);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("state store"), "{stderr}");
    let rep = report(&w, "report.json");
    let t = &rep["totals"];
    let sent = sb.sb.stats().accepted;
    let read = t["rows"].as_u64().unwrap();
    assert!(read < 2500, "the run went on reading: {t}");
    assert_eq!(t["sent"].as_u64().unwrap(), sent);
    assert_eq!(t["pending"].as_u64().unwrap() + sent, read, "{t}");
    // Answers that came while the store was locked were never recorded.
    resume_and_check(&w, &sb, &data, 4 + 32 + 16 + 32);
}

#[cfg(unix)]
#[test]
fn sigkill_before_the_first_request() {
    crash_and_resume(|_| true, 41);
}

#[cfg(unix)]
#[test]
fn sigkill_mid_run() {
    crash_and_resume(|requests| requests >= 60, 42);
}

/// Without latency the marked batches grow (up to 512 leads, about 10 ms of
/// sending): still nothing lost, and every lead sent twice was reported uncertain.
#[cfg(unix)]
#[test]
fn sigkill_mid_run_at_full_speed() {
    // --concurrency (4) + three and a half of the largest batches.
    crash_and_resume_with(
        4000,
        Duration::ZERO,
        4 + 512 * 7 / 2,
        |requests| requests >= 2000,
        44,
    );
}

#[cfg(unix)]
#[test]
fn sigkill_during_the_last_batch() {
    crash_and_resume(|requests| requests >= 145, 43);
}

#[test]
fn overlapping_nightly_exports_send_only_new_leads() {
    let w = Workdir::new();
    let data = leads(150, 32, 0);
    write_csv(&w.path("night1.csv"), &data[..100], b',');
    write_csv(&w.path("night2.csv"), &data[50..], b';');
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(
        &sb,
        &[
            "import",
            "night1.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = w.run_against(
        &sb,
        &[
            "import",
            "night2.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
            "--report",
            "report.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = report(&w, "report.json");
    assert_eq!(rep["totals"]["sent"], 50);
    assert_eq!(rep["totals"]["skipped"], 50);
    assert_eq!(sb.sb.stats().accepted, 150);
    assert!(arrivals(&sb).values().all(|&n| n == 1));

    let st = w.run(&["status", "--json"]);
    assert_eq!(st.code, 0);
    let files: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    let n2 = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "night2.csv")
        .unwrap();
    assert_eq!(
        (
            n2["rows"].as_u64(),
            n2["sent"].as_u64(),
            n2["skipped"].as_u64(),
            n2["pending"].as_u64()
        ),
        (Some(100), Some(50), Some(50), Some(0))
    );
    let st = w.run(&["status", "night1.csv"]);
    assert!(
        st.stdout.contains("night1.csv") && !st.stdout.contains("night2.csv"),
        "{}",
        st.stdout
    );
}

#[test]
fn a_second_import_on_the_same_state_dir_exits_2_naming_the_first() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(40, 33, 0), b',');
    let (sb, mut first) = spawn_import(
        &w,
        Duration::from_millis(200),
        &["--rate", "unlimited", "-q"],
        Stdio::null(),
    );
    let start = Instant::now();
    while sb.sb.stats().requests == 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = w.run_against(&sb, &["import", "calls.csv", "--timezone", "Europe/Madrid"]);
    let _ = first.wait();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("another import") && r.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        r.stderr
    );
}

#[test]
fn a_damaged_state_file_is_a_clear_error() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(5, 34, 0), b',');
    std::fs::create_dir(w.path(".setclick")).unwrap();
    w.write(".setclick/state.db", b"garbage, not a database".repeat(200));
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(&sb, &["import", "calls.csv", "--timezone", "Europe/Madrid"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("state.db") && r.stderr.contains("--state-dir"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
    assert_eq!(sb.sb.stats().requests, 0, "nothing sent");
}

#[test]
fn no_state_sends_again_and_keeps_nothing() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(10, 35, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    for _ in 0..2 {
        let r = w.run_against(&sb, &[&IMPORT_CALLS[..], &["--no-state"]].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(sb.sb.stats().accepted, 20);
    assert!(!w.path(".setclick").exists());
}
