//! What an operator sees, lived as they live it: a cron run with stderr to a file,
//! JSON logs, a job file driving a whole import, `check` before the first night,
//! `status` while an import runs, flags that say their units, stdin twice.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestSandbox, Workdir, leads, write_csv};
use setclick::sandbox::SandboxConfig;

/// `2026-11-30T02:31:05Z ` at the start of a line.
fn timestamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 21
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'Z'
        && b[20] == b' '
        && b[..4].iter().all(u8::is_ascii_digit)
}

#[test]
fn a_cron_run_writes_a_timestamped_progress_line_every_ten_seconds() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(300, 71, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let log = std::fs::File::create(w.path("cron.log")).unwrap();
    let status = w
        .cmd_against(&sb)
        .args([
            "import",
            "calls.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "25/s",
        ])
        .stderr(Stdio::from(log))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let log = w.read("cron.log");
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.iter().all(|l| timestamped(l)), "{log}");
    let progress: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("calls.csv: ") && l.contains("/300 sent") && l.contains("ETA "))
        .collect();
    assert!(
        !progress.is_empty(),
        "a line every 10 s, leads done of 300: {log}"
    );
    assert!(
        lines.last().unwrap().contains("300 sent") || log.contains("300 sent"),
        "{log}"
    );

    // -q: nothing but errors.
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(20, 72, 0), b',');
    let r = w.run_against(
        &sb,
        &["import", "calls.csv", "--timezone", "Europe/Madrid", "-q"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
}

#[test]
fn json_logs_make_every_stderr_line_json_the_summary_included() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(50, 73, 7), b',');
    let r = w.run(&[
        "validate",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--log-format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(lines.len() >= 2, "{}", r.stderr);
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["fields"]["message"].is_string(), "{l}");
    }
    assert!(
        r.stderr.contains("50 rows"),
        "the summary too: {}",
        r.stderr
    );
    // Errors before the plan is built too: a --config file that cannot be read,
    // a bad flag value, a missing output directory.
    for args in [
        &["validate", "calls.csv", "--config", "nosuch.toml"][..],
        &["validate", "calls.csv", "--timezone", "Nowhere/Nothing"],
        &[
            "validate",
            "calls.csv",
            "--timezone",
            "UTC",
            "--report",
            "no/r.json",
        ],
    ] {
        let r = w.run(&[args, &["--log-format=json"][..]].concat());
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(!r.stderr.is_empty());
        for l in r.stderr.lines() {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert_eq!(v["level"], "ERROR", "{l}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_job_file_drives_a_whole_nightly_import() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::new();
    std::fs::create_dir_all(w.path("exports")).unwrap();
    std::fs::create_dir_all(w.path("logs")).unwrap();
    write_csv(&w.path("exports/2024-08-31.csv"), &leads(40, 74, 9), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let token = w.write("token", sb.sb.token());
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    w.write(
        "nightly.toml",
        format!(
            "files = [\"exports/\"]\nendpoint = \"{}\"\naccount-id = \"{}\"\ntoken-file = \"{}\"\n\
             timezone = \"Europe/Madrid\"\nrate = \"unlimited\"\nrejects = \"logs/rejects-{{date}}.csv\"\n\
             report = \"logs/report-{{date}}.json\"\n[settings]\nconversion_type = \"call\"\n",
            sb.sb.endpoint(),
            sb.sb.account_id(),
            token.display()
        ),
    );
    let mut c = w.cmd();
    c.args(["import", "--config", "nightly.toml"]);
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "bad rows in the file: {stderr}");
    let good = 40 - 40 / 9;
    assert_eq!(sb.sb.stats().accepted, good as u64, "{stderr}");
    assert!(
        sb.sb
            .clicks()
            .iter()
            .all(|c| c.settings["conversion_type"] == "call")
    );
    let logs: Vec<String> = std::fs::read_dir(w.path("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        logs.iter()
            .any(|n| n.starts_with("rejects-20") && n.ends_with(".csv"))
            && logs.iter().any(|n| n.starts_with("report-20")),
        "dated outputs: {logs:?}"
    );
    // The next night: a flag on the command line wins over the job file.
    let r = w.run(&["import", "--config", "nightly.toml", "--rate", "1/s"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("already imported"), "{}", r.stderr);
    // A token in a job file is refused.
    w.write("bad.toml", "token = \"secret-value\"\n");
    let r = w.run(&["import", "x.csv", "--config", "bad.toml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("token-file") && !r.stderr.contains("secret-value"));
}

#[test]
fn check_says_whether_an_import_would_work_without_sending_a_lead() {
    let w = Workdir::new();
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(&sb, &["check"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("account: sandbox-account"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("answers as set-click does"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ready"), "{}", r.stdout);
    assert_eq!(sb.sb.stats().accepted, 0, "no lead");

    let mut c = w.cmd_against(&sb);
    c.env("SEALMETRICS_TOKEN", "wrong").arg("check");
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(3));

    let mut c = w.cmd_against(&sb);
    c.env("SEALMETRICS_ENDPOINT", sb.sb.base_url()).arg("check");
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");

    let r = w.run(&["check", "--account-id", "a"]);
    assert_eq!(r.code, 2, "no token: a setting to fix: {}", r.stderr);
}

#[cfg(unix)]
#[test]
fn status_during_a_live_import_says_so_and_counts_its_rows_in_flight_as_such() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(200, 75, 0), b',');
    let sb = TestSandbox::start(SandboxConfig {
        latency: Duration::from_millis(100),
        ..SandboxConfig::default()
    });
    let mut child = w
        .cmd_against(&sb)
        .args([
            "import",
            "calls.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "20/s",
            "-q",
        ])
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sb.sb.stats().accepted < 20 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = w.run(&["status"]);
    let json = w.run(&["status", "--json"]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("an import is running on this store now (pid "),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("being imported now"), "{}", r.stdout);
    assert!(!r.stdout.contains("uncertain rows"), "{}", r.stdout);
    assert!(r.stdout.contains("(running)"), "{}", r.stdout);
    let files: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(files[0]["importing"], true);
    assert_eq!(files[0]["uncertain"], 0);

    // After the kill, a second run: LAST RUN is that run, not the first.
    let first = files[0]["last_run"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let r = w.run_against(&sb, &common::IMPORT_CALLS);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = w.run(&["status", "--json"]);
    let files: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_ne!(files[0]["last_run"].as_str().unwrap(), first);
    assert_eq!(files[0]["last_exit"], 0);
    assert_eq!(files[0]["importing"], false);
}

#[test]
fn a_rate_without_its_unit_is_refused_with_the_fix() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(5, 76, 0), b',');
    let r = w.run(&[
        "import",
        "calls.csv",
        "--rate",
        "5",
        "--sandbox",
        "--timezone",
        "UTC",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("5/s"), "{}", r.stderr);
}

#[test]
fn the_same_csv_piped_twice_is_imported_once() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(30, 77, 0), b',');
    let data = std::fs::read(w.path("calls.csv")).unwrap();
    let sb = TestSandbox::start(SandboxConfig::default());
    let run = |w: &Workdir| {
        let mut c = w.cmd_against(&sb);
        c.args([
            "import",
            "-",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&data).unwrap();
        child.wait_with_output().unwrap()
    };
    let first = run(&w);
    assert_eq!(first.status.code(), Some(0));
    let second = run(&w);
    assert_eq!(second.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already imported"));
    assert_eq!(sb.sb.stats().accepted, 30);
}

/// README's SQL examples, run on a store after failures were sent again by a
/// second run, give status's numbers.
#[test]
fn the_readme_queries_agree_with_status() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(60, 78, 11), b',');
    let failing = TestSandbox::start(SandboxConfig {
        fail_rate: 0.3,
        seed: 9,
        ..SandboxConfig::default()
    });
    let args = [
        "import",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--rate",
        "unlimited",
        "--concurrency",
        "1",
        "--max-attempts",
        "1",
    ];
    let r = w.run_against(&failing, &args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let healthy = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(&healthy, &args);
    assert_eq!(r.code, 1, "rejected rows remain: {}", r.stderr);
    let st = w.run(&["status", "--json"]);
    let f = &serde_json::from_str::<serde_json::Value>(&st.stdout).unwrap()[0];
    let db = rusqlite::Connection::open(w.path(".setclick/state.db")).unwrap();
    let sent: i64 = db
        .query_row(
            "SELECT sum(length(s.rows) / 8) FROM sent s JOIN files f ON f.id = s.file_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let by_state = |state: &str| -> i64 {
        db.query_row("SELECT count(*) FROM rows WHERE state = ?1", [state], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(f["sent"].as_i64(), Some(sent));
    assert_eq!(f["failed"].as_i64(), Some(by_state("failed")));
    assert_eq!(f["rejected"].as_i64(), Some(by_state("rejected")));
    assert_eq!(
        f["skipped"].as_i64(),
        Some(by_state("duplicate") + by_state("skipped"))
    );
    assert_eq!(f["failed"], 0, "every failed row went in the second run");
}

/// Every command's stdout read by a reader that went away (`| head -1`): the run
/// ends quietly, no panic, the exit code of the work itself.
#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(30, 81, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let closed = || -> Stdio {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        writer.into()
    };
    let run = |c: &mut std::process::Command, what: &str| {
        let out = c.stdout(closed()).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{what}: {stderr}");
    };
    run(
        w.cmd().args(["status", "--json"]),
        "status --json, no store",
    );
    let r = w.run_against(&sb, &[&common::IMPORT_CALLS[..], &["-q"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    run(w.cmd().arg("status"), "status");
    run(w.cmd().args(["status", "--json"]), "status --json");
    run(w.cmd_against(&sb).arg("check"), "check");
}
