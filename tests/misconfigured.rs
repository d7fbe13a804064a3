//! Answers that say the endpoint as a whole is wrong stop the run at once, name
//! the cause and the fix, and record nothing against the leads: the corrected run
//! sends them all. Redirects behave the same on the direct path and through a
//! proxy. Directories read only lead files.

mod common;

use std::process::Command;

use common::{IMPORT_CALLS, Run, TestSandbox, Workdir, leads, write_csv};
use setclick::sandbox::{ErrorBody, SandboxConfig};

fn report(w: &Workdir) -> serde_json::Value {
    serde_json::from_str(&w.read("report.json")).expect("report")
}

fn import_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [&IMPORT_CALLS[..], &["--report", "report.json"], extra].concat()
}

fn run(mut c: Command) -> Run {
    let out = c.output().expect("run setclick");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An import against `sb`, through it as a proxy when `proxied` (the endpoint's
/// own port has nothing listening, so only the proxy can deliver).
fn import_via(w: &Workdir, sb: &TestSandbox, proxied: bool, extra: &[&str]) -> Run {
    let mut c = w.cmd_against(sb);
    if proxied {
        c.env(
            "SEALMETRICS_ENDPOINT",
            "http://127.0.0.1:1/api/auth/v1.0/set-click",
        )
        .env("HTTP_PROXY", sb.sb.base_url());
    }
    c.args(import_args(extra));
    run(c)
}

/// The run stopped at once and recorded no row: the store has nothing failed or
/// rejected, and a corrected run against a healthy sandbox sends every lead.
fn nothing_recorded_then_all_sent(w: &Workdir, n: u64) {
    let rep = report(w);
    assert_eq!(rep["totals"]["failed"], 0);
    assert_eq!(rep["totals"]["rejected"], 0);
    assert_eq!(rep["totals"]["sent"], 0);
    let healthy = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(&healthy, &import_args(&[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("already imported"), "{}", r.stderr);
    assert_eq!(healthy.sb.stats().accepted, n);
}

#[test]
fn an_endpoint_without_the_set_click_path_stops_naming_the_url_and_poisons_nothing() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(40, 51, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let mut c = w.cmd_against(&sb);
    c.env("SEALMETRICS_ENDPOINT", sb.sb.base_url())
        .args(import_args(&["--concurrency", "4"]));
    let r = run(c);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{}/api/auth/v1.0/set-click", sb.sb.base_url())),
        "the set-click URL on that host: {}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("https://app.sealmetrics.com/api/auth/v1.0/set-click"),
        "the default: {}",
        r.stderr
    );
    assert_eq!(sb.sb.stats().accepted, 0);
    nothing_recorded_then_all_sent(&w, 40);
}

#[test]
fn a_404_on_the_set_click_path_stops_after_at_most_concurrency_leads() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(40, 52, 0), b',');
    let sb = TestSandbox::start(SandboxConfig {
        not_found: true,
        ..SandboxConfig::default()
    });
    let r = w.run_against(&sb, &import_args(&["--concurrency", "3"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(sb.sb.stats().requests <= 3, "{:?}", sb.sb.stats());
    nothing_recorded_then_all_sent(&w, 40);
}

#[test]
fn a_200_whose_body_is_an_error_is_not_counted_sent() {
    for (body, word) in [
        (ErrorBody::Json, "Invalid account"),
        (ErrorBody::Html, "Maintenance"),
    ] {
        let w = Workdir::new();
        write_csv(&w.path("calls.csv"), &leads(30, 53, 0), b',');
        let sb = TestSandbox::start(SandboxConfig {
            error_200_rate: 1.0,
            error_200_body: body,
            ..SandboxConfig::default()
        });
        let r = w.run_against(&sb, &import_args(&[]));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(word), "{}", r.stderr);
        nothing_recorded_then_all_sent(&w, 30);
    }
}

#[test]
fn error_bodies_after_leads_went_in_are_retried_and_their_text_kept() {
    let w = Workdir::new();
    let data = leads(80, 54, 0);
    write_csv(&w.path("calls.csv"), &data, b',');
    let sb = TestSandbox::start(SandboxConfig {
        error_200_rate: 0.2,
        seed: 1,
        ..SandboxConfig::default()
    });
    let r = w.run_against(
        &sb,
        &import_args(&[
            "--concurrency",
            "1",
            "--max-attempts",
            "2",
            "--rejects",
            "rejects.csv",
        ]),
    );
    // The seed lets the first lead in, then answers a fifth of requests with an
    // error body.
    assert!(sb.sb.stats().error_200 > 0, "{}", r.stderr);
    let rep = report(&w);
    let (sent, failed) = (
        rep["totals"]["sent"].as_u64().unwrap(),
        rep["totals"]["failed"].as_u64().unwrap(),
    );
    assert_eq!(sent, sb.sb.stats().accepted, "sent means applied");
    assert_eq!(sent + failed, 80, "{}", r.stderr);
    if failed > 0 {
        assert_eq!(r.code, 1);
        assert!(w.read("rejects.csv").contains("Invalid account"));
    }
}

fn redirect(code: u16) -> SandboxConfig {
    SandboxConfig {
        redirect: Some(code),
        ..SandboxConfig::default()
    }
}

#[test]
fn redirects_307_and_308_are_followed_with_a_warning_on_both_paths() {
    for code in [307, 308] {
        for proxied in [false, true] {
            let w = Workdir::new();
            write_csv(&w.path("calls.csv"), &leads(25, 55, 0), b',');
            let sb = TestSandbox::start(redirect(code));
            let r = import_via(&w, &sb, proxied, &[]);
            let what = format!("{code}, proxied: {proxied}: {}", r.stderr);
            assert_eq!(r.code, 0, "{what}");
            assert_eq!(sb.sb.stats().accepted, 25, "{what}");
            assert!(r.stderr.contains("set-click-moved"), "{what}");
            assert_eq!(
                r.stderr.matches("redirects (307/308)").count(),
                1,
                "warned once: {what}"
            );
        }
    }
}

#[test]
fn redirects_that_would_turn_the_post_into_a_get_stop_with_exit_3_on_both_paths() {
    for code in [301, 302, 303] {
        for proxied in [false, true] {
            let w = Workdir::new();
            write_csv(&w.path("calls.csv"), &leads(25, 56, 0), b',');
            let sb = TestSandbox::start(redirect(code));
            let r = import_via(&w, &sb, proxied, &["--concurrency", "2"]);
            let what = format!("{code}, proxied: {proxied}: {}", r.stderr);
            assert_eq!(r.code, 3, "{what}");
            assert!(r.stderr.contains("/login"), "names the Location: {what}");
            let s = sb.sb.stats();
            assert_eq!((s.accepted, s.login_page), (0, 0), "{what}");
            assert!(s.redirected <= 2, "{what}");
            nothing_recorded_then_all_sent(&w, 25);
        }
    }
}

#[test]
fn a_directory_reads_its_lead_files_and_lists_what_it_skips() {
    let w = Workdir::new();
    std::fs::create_dir_all(w.path("exports/old")).unwrap();
    let data = leads(30, 57, 0);
    write_csv(&w.path("exports/a.csv"), &data[..15], b',');
    write_csv(&w.path("exports/c.csv"), &data[15..], b',');
    w.write("exports/b.csv", "");
    w.write("exports/notes.txt", "Fecha,Email\nnot a lead file\n");
    write_csv(&w.path("exports/old/z.csv"), &leads(5, 58, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(
        &sb,
        &[
            "import",
            "exports",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
            "--report",
            "report.json",
        ],
    );
    assert_eq!(
        r.code, 1,
        "leads went through, one file did not: {}",
        r.stderr
    );
    assert_eq!(sb.sb.stats().accepted, 30);
    assert!(r.stderr.contains("notes.txt"), "{}", r.stderr);
    assert!(r.stderr.contains("old/"), "{}", r.stderr);
    assert!(r.stderr.contains("--recursive"), "{}", r.stderr);
    let rep = report(&w);
    assert_eq!(rep["files"].as_array().unwrap().len(), 3);
    assert_eq!(rep["skipped_files"].as_array().unwrap().len(), 2);

    // Nothing sent at all (the only file unreadable): 2.
    let w = Workdir::new();
    std::fs::create_dir(w.path("exports")).unwrap();
    w.write("exports/b.csv", "");
    let r = w.run_against(&sb, &["import", "exports", "--timezone", "UTC"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// A wrong account is a setting to fix, like a wrong endpoint: exit 2, naming the
/// flag, in `check` and in `import` (which sends nothing and records nothing).
#[test]
fn an_account_the_token_does_not_have_exits_2_in_check_and_import() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(20, 82, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let mut c = w.cmd_against(&sb);
    c.args(["check", "--account-id", "wrong-acct"]);
    let r = run(c);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not belong"), "{}", r.stderr);
    assert!(r.stderr.contains("--account-id"), "{}", r.stderr);
    let mut c = w.cmd_against(&sb);
    c.args(import_args(&["--account-id", "wrong-acct"]));
    let r = run(c);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not belong"), "{}", r.stderr);
    assert_eq!(sb.sb.stats().requests, 0);
    // Nothing recorded: the corrected run sends every lead.
    let r = w.run_against(&sb, &import_args(&[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sb.sb.stats().accepted, 20);
}

/// `check` against an endpoint that does not answer gives its own advice: it
/// sent no lead, so nothing is "pending".
#[test]
fn check_against_an_unreachable_endpoint_says_what_to_check_not_what_is_pending() {
    let w = Workdir::new();
    let sb = TestSandbox::start(SandboxConfig::default());
    let mut c = w.cmd_against(&sb);
    c.env(
        "SEALMETRICS_ENDPOINT",
        "http://127.0.0.1:1/api/auth/v1.0/set-click",
    )
    .arg("check");
    let r = run(c);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!r.stderr.contains("pending"), "{}", r.stderr);
    assert!(r.stderr.contains("setclick check"), "{}", r.stderr);
}
