//! Import throughput against `setclick sandbox` on loopback, run as separate
//! processes: requests/s with and without the state store, the same sandbox under
//! oha (when installed) for reference, pacing accuracy against a rate-limited
//! sandbox, and the time to re-run a finished 1M-row file.
//! Run with `cargo bench --bench import`; SETCLICK_BENCH_LEADS sets the lead count.

#[path = "../tests/common/mod.rs"]
mod common;
mod measure;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_setclick");

struct Sandbox {
    child: Child,
    base: String,
}

impl Sandbox {
    fn start(extra: &[&str]) -> Sandbox {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sandbox");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_string();
        Sandbox { child, base }
    }

    fn endpoint(&self) -> String {
        format!("{}/api/auth/v1.0/set-click", self.base)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Measured {
    secs: f64,
    rss_mib: f64,
    report: serde_json::Value,
}

/// Run an import; time, peak RSS and its report.
fn import(sb: &Sandbox, dir: &Path, args: &[&str]) -> Measured {
    let report = dir.join("report.json");
    let r = measure::run(
        Command::new(BIN)
            .current_dir(dir)
            .env("SEALMETRICS_TOKEN", "sandbox-token")
            .env("SEALMETRICS_ACCOUNT_ID", "sandbox-account")
            .env("SEALMETRICS_ENDPOINT", sb.endpoint())
            .arg("import")
            .args(args)
            .args(["--report", report.to_str().unwrap(), "-q"])
            .stdout(Stdio::null()),
    );
    assert!((0..=1).contains(&r.code), "import exited {}", r.code);
    let report =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    Measured {
        secs: r.secs,
        rss_mib: r.rss_mib,
        report,
    }
}

fn oha(sb: &Sandbox, n: usize, concurrency: usize, body: &str) -> Option<f64> {
    let out = Command::new("oha")
        .args([
            "-n",
            &n.to_string(),
            "-c",
            &concurrency.to_string(),
            "--no-tui",
            "-m",
            "POST",
        ])
        .args([
            "-H",
            "Authorization: Bearer sandbox-token",
            "-H",
            "Accept: application/json",
        ])
        .args([
            "-T",
            "application/x-www-form-urlencoded",
            "-d",
            body,
            &sb.endpoint(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() {
    // Measure from a fresh process (see benches/e2e.rs: peak RSS of vfork children).
    if std::env::var_os("SETCLICK_BENCH_MEASURE").is_none() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
        std::fs::create_dir_all(&dir).unwrap();
        let n: usize = std::env::var("SETCLICK_BENCH_LEADS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000);
        let csv = dir.join(format!("import-{n}.csv"));
        if !csv.exists() {
            common::write_csv(&csv, &common::leads(n, 99, 0), b',');
        }
        let ok = Command::new(std::env::current_exe().unwrap())
            .env("SETCLICK_BENCH_MEASURE", "1")
            .status()
            .unwrap()
            .success();
        assert!(ok);
        return;
    }
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let n: usize = std::env::var("SETCLICK_BENCH_LEADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let csv = data.join(format!("import-{n}.csv"));
    let csv = csv.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let c = "16";

    // 1-2. Throughput with --no-state, with the state store, and oha sending the same
    //      form body at the same concurrency: alternating rounds, each against a
    //      fresh sandbox, compared by their medians (this machine's rates vary by
    //      +-20% from run to run).
    let body = "url_parameters=%7B%22utm_medium%22%3A%22cpc%22%2C%22utm_source%22%3A%22google%22%7D&click_time=1719828000000&settings=%7B%22email%22%3A%22ana%40example.com%22%7D&current_url=https%3A%2F%2Fshop.example.com%2Fp%2F1&account_id=sandbox-account";
    let rounds: usize = std::env::var("SETCLICK_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let (mut plain, mut state, mut reference, mut rss) = (vec![], vec![], vec![], vec![]);
    let args = [
        csv,
        "--timezone",
        "Europe/Madrid",
        "--rate",
        "unlimited",
        "--concurrency",
        c,
    ];
    for round in 0..rounds {
        let sb = Sandbox::start(&[]);
        if let Some(rps) = oha(&sb, n, 16, body) {
            reference.push(rps);
        }
        let m = import(&sb, work.path(), &[&args[..], &["--no-state"]].concat());
        plain.push(m.report["totals"]["sent"].as_u64().unwrap() as f64 / m.secs);
        rss.push(m.rss_mib);
        let dir = work.path().join(format!("state-{round}"));
        let dir = dir.to_str().unwrap();
        let m = import(
            &sb,
            work.path(),
            &[&args[..], &["--state-dir", dir]].concat(),
        );
        state.push(m.report["totals"]["sent"].as_u64().unwrap() as f64 / m.secs);
        rss.push(m.rss_mib);
        if round == 0 {
            let again = import(
                &sb,
                work.path(),
                &[&args[..], &["--state-dir", dir]].concat(),
            );
            println!(
                "re-run finished     {n} leads  {:.2} s  (sent {})",
                again.secs, again.report["totals"]["sent"]
            );
        }
    }
    let show = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (plain_rps, state_rps) = (median(&plain), median(&state));
    println!(
        "import --no-state   {n} leads  median {plain_rps:.0} req/s  [{}]  peak RSS max {:.1} MiB",
        show(&plain),
        rss.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "import (state)      {n} leads  median {state_rps:.0} req/s  [{}]  ({:.2} of --no-state)",
        show(&state),
        state_rps / plain_rps
    );
    if reference.is_empty() {
        println!("oha not installed (cargo install oha): no reference rate");
    } else {
        let rps = median(&reference);
        println!(
            "oha, same body      {n} requests  median {rps:.0} req/s  [{}]  (setclick: {:.2} of oha)",
            show(&reference),
            plain_rps / rps
        );
    }

    // 3. Resuming a fully done 1M-row file, against validating it (the file comes
    //    from `cargo bench --bench e2e`).
    let big = data.join("leads-1000000.csv");
    if big.exists() {
        let big = big.to_str().unwrap();
        let sb = Sandbox::start(&[]);
        let big_args = [
            big,
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
            "--concurrency",
            c,
        ];
        // Memory stays flat with 10x the leads of section 1.
        let plain = import(&sb, work.path(), &[&big_args[..], &["--no-state"]].concat());
        println!(
            "1M-row file --no-state: {:.1} s ({:.0} req/s), peak RSS {:.1} MiB",
            plain.secs,
            plain.report["totals"]["sent"].as_u64().unwrap() as f64 / plain.secs,
            plain.rss_mib
        );
        let first = import(&sb, work.path(), &big_args);
        let again = import(
            &sb,
            work.path(),
            &[big, "--timezone", "Europe/Madrid", "--rate", "unlimited"],
        );
        let start = Instant::now();
        let ok = Command::new(BIN)
            .args(["validate", big, "--timezone", "Europe/Madrid", "-q"])
            .status()
            .unwrap();
        let validate = start.elapsed().as_secs_f64();
        assert!(ok.code().is_some_and(|c| c <= 1));
        println!(
            "1M-row file: first import {:.1} s ({:.0} req/s, peak RSS {:.1} MiB); resume of the finished file {:.2} s; validate {validate:.2} s ({:.2}x)",
            first.secs,
            first.report["totals"]["sent"].as_u64().unwrap() as f64 / first.secs,
            first.rss_mib,
            again.secs,
            again.secs / validate
        );
    }

    // 4. Pacing against a sandbox that allows R requests a second.
    let r = 100.0;
    let leads = 1500;
    let small = data.join(format!("import-{leads}.csv"));
    if !small.exists() {
        common::write_csv(&small, &common::leads(leads, 98, 0), b',');
    }
    let small = small.to_str().unwrap();
    for (label, rate) in [("--rate = limit", "100/s"), ("--rate = 2 x limit", "200/s")] {
        let sb = Sandbox::start(&["--rate-limit", "100/s"]);
        let m = import(
            &sb,
            work.path(),
            &[
                small,
                "--timezone",
                "Europe/Madrid",
                "--rate",
                rate,
                "--concurrency",
                "8",
                "--no-state",
            ],
        );
        let sent = m.report["totals"]["sent"].as_u64().unwrap() as f64;
        let refused = m.report["http"]["429"].as_u64().unwrap_or(0);
        let ideal = sent / r;
        println!(
            "{label:<20} {leads} leads  {:.2} s  {:.1} req/s ({:.3} of the limit)  429s: {refused}  time / ideal: {:.3}",
            m.secs,
            sent / m.secs,
            sent / m.secs / r,
            m.secs / ideal
        );
    }
}
