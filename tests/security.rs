//! The attack surface: the token never shows, token files readable by others are
//! flagged, outputs are not written through planted links, cells cannot become
//! formulas in the rejects file, the sandbox listens on loopback by default.

mod common;

use common::{IMPORT_CALLS, TestSandbox, Workdir, leads, write_csv};
use setclick::sandbox::SandboxConfig;

/// A token that would be easy to spot anywhere.
const TOKEN: &str = "tok-SECRET-3f9a1c7e5b2d4f6a8c0e";

fn all_text(w: &Workdir) -> String {
    let mut out = String::new();
    let mut stack = vec![w.dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}

#[test]
fn the_token_never_appears_in_output_logs_reports_rejects_or_the_store() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(60, 71, 7), b',');
    let sb = TestSandbox::start(SandboxConfig {
        token: TOKEN.into(),
        fail_rate: 0.2,
        reject_rate: 0.1,
        seed: 5,
        ..SandboxConfig::default()
    });
    for extra in [vec!["-vv"], vec!["-vv", "--log-format", "json"]] {
        let mut args = IMPORT_CALLS.to_vec();
        args.extend([
            "--max-attempts",
            "2",
            "--report",
            "report.json",
            "--rejects",
            "rejects.csv",
            "--no-dedupe",
            "--restart",
        ]);
        args.extend(extra);
        let r = w.run_against(&sb, &args);
        assert!(r.code <= 1, "{}", r.stderr);
        assert!(
            !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
            "token in output"
        );
    }
    // Refused credentials: the message names the variable, not the value.
    let mut c = w.cmd_against(&sb);
    c.env("SEALMETRICS_TOKEN", "tok-WRONG-0000000000000000");
    let out = c
        .args(["import", "calls.csv", "--timezone", "Europe/Madrid", "-vv"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        err.contains("SEALMETRICS_TOKEN") && !err.contains("tok-WRONG"),
        "{err}"
    );
    assert!(
        !all_text(&w).contains(TOKEN),
        "token in a file the run wrote (report, rejects, state store)"
    );
}

#[cfg(unix)]
#[test]
fn a_token_file_readable_by_others_is_flagged() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(3, 72, 0), b',');
    let sb = TestSandbox::start(SandboxConfig {
        token: TOKEN.into(),
        ..SandboxConfig::default()
    });
    let tf = w.write("token", format!("{TOKEN}\n"));
    std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = w.cmd_against(&sb);
    c.env_remove("SEALMETRICS_TOKEN");
    let out = c
        .args(IMPORT_CALLS)
        .args(["--token-file", "token"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(TOKEN));
    std::fs::set_permissions(&tf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = w.cmd_against(&sb);
    let out = c
        .args([
            "import",
            "calls.csv",
            "--timezone",
            "Europe/Madrid",
            "--token-file",
            "token",
            "--no-state",
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("chmod"));
}

#[cfg(unix)]
#[test]
fn reports_and_rejects_are_not_written_through_planted_links() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(20, 73, 5), b',');
    let victim = w.write("victim.txt", "precious");
    std::os::unix::fs::symlink(&victim, w.path("report.json")).unwrap();
    std::os::unix::fs::symlink(&victim, w.path("rejects.csv")).unwrap();
    let r = w.run(&[
        "validate",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--report",
        "report.json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    let r = w.run(&[
        "validate",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--rejects",
        "rejects.csv",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn cells_cannot_become_formulas_in_the_rejects_file() {
    let w = Workdir::new();
    w.write(
        "evil.csv",
        "click_time,email,utm_source\n=HYPERLINK(\"http://x\"),@SUM(A1),+cmd|' /C calc'!A0\n2024-07-01T10:00:00Z,-2+3,x\n",
    );
    let r = w.run(&["validate", "evil.csv", "--rejects", "rejects.csv"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut rd = csv::Reader::from_path(w.path("rejects.csv")).unwrap();
    for rec in rd.records() {
        for cell in rec.unwrap().iter() {
            let live = cell.starts_with(['=', '+', '@'])
                || (cell.starts_with('-') && cell.parse::<f64>().is_err());
            assert!(!live, "live formula: {cell}");
        }
    }
}

#[test]
fn the_sandbox_listens_on_loopback_by_default() {
    let w = Workdir::new();
    let r = w.run(&["sandbox", "--help"]);
    assert!(r.stdout.contains("127.0.0.1:8787]"), "{}", r.stdout);
    // And it says where it listens on its first line.
    let mut child = w
        .cmd()
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
}
