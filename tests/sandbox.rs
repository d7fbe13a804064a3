//! `setclick sandbox` as a process: what it prints for pointing an import at it,
//! how it refuses fault flags it cannot honour, and that a planned outage reaches
//! the running server. The faults themselves are tested in `src/sandbox/tests/`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Workdir;

/// A running `setclick sandbox`, killed on drop, and the lines it printed.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(w: &Workdir, extra: &[&str]) -> Running {
        Running::spawn(w.cmd(), extra)
    }

    /// Run `cmd` (setclick, with its environment) as `sandbox --listen 127.0.0.1:0`
    /// and `extra` flags.
    fn spawn(mut cmd: Command, extra: &[&str]) -> Running {
        let mut child = cmd
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the sandbox");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// The next line on stdout (a minute at most, however loaded the machine).
    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .expect("a line from the sandbox")
    }

    /// The address in the first line.
    fn addr(&self) -> SocketAddr {
        let first = self.line();
        let addr = first.strip_prefix("listening on http://");
        addr.and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("{first}"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POST one valid lead over plain HTTP/1.1; the status line of the answer.
fn post(url: &str, token: &str, account: &str) -> String {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("account_id", account)
        .append_pair("url_parameters", r#"{"utm_source":"test"}"#)
        .append_pair("click_time", "1700000000000")
        .append_pair("settings", "{}")
        .finish();
    let mut conn = TcpStream::connect(host).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("an answer");
    answer.lines().next().unwrap_or_default().to_string()
}

#[test]
fn the_sandbox_prints_its_url_token_account_and_an_import_line_to_paste() {
    let w = Workdir::new();
    let sb = Running::start(&w, &[]);
    let addr = sb.addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let base = format!("http://{addr}");
    let endpoint = format!("{base}/api/auth/v1.0/set-click");
    assert_eq!(sb.line(), format!("set-click URL: {endpoint}"));
    assert_eq!(
        sb.line(),
        "token: sandbox-token (give it as SEALMETRICS_TOKEN)"
    );
    assert_eq!(sb.line(), "account: sandbox-account");
    assert_eq!(
        sb.line(),
        format!(
            "SEALMETRICS_TOKEN=sandbox-token setclick import FILE --endpoint {endpoint} \
             --account-id sandbox-account"
        )
    );
    // What it printed is what it takes.
    assert_eq!(
        post(&endpoint, "sandbox-token", "sandbox-account"),
        "HTTP/1.1 200 OK"
    );
}

#[test]
fn the_import_line_quotes_a_token_or_account_the_shell_would_split() {
    let w = Workdir::new();
    let mut cmd = w.cmd();
    cmd.env("SETCLICK_SANDBOX_TOKEN", "it's mine");
    let sb = Running::spawn(cmd, &["--account-id", "acc 1"]);
    let addr = sb.addr();
    let lines: Vec<String> = (0..4).map(|_| sb.line()).collect();
    assert_eq!(lines[1], "token: it's mine (give it as SEALMETRICS_TOKEN)");
    assert_eq!(lines[2], "account: acc 1");
    assert_eq!(
        lines[3],
        format!(
            "SEALMETRICS_TOKEN='it'\\''s mine' setclick import FILE --endpoint \
             http://{addr}/api/auth/v1.0/set-click --account-id 'acc 1'"
        )
    );
}

#[test]
fn fault_flags_out_of_range_are_refused_naming_the_flag() {
    let w = Workdir::new();
    for (args, named) in [
        (&["--slow-rate", "1.5"][..], "--slow-rate"),
        (&["--error-200", "2"], "--error-200"),
        (&["--reject-rate", "7"], "--reject-rate"),
        (&["--fail-rate", "NaN"], "--fail-rate"),
        (&["--outage", "5"], "--outage"),
        (&["--outage", "5:0"], "--outage"),
        (&["--outage", "x:1"], "--outage"),
        (&["--outage", "1:2", "--outage=-1:2"], "--outage"),
        (&["--retry-after", "0"], "--retry-after"),
        (&["--redirect", "305"], "--redirect"),
        (&["--reset-format", "epoch"], "--reset-format"),
        (&["--error-200-body", "xml"], "--error-200-body"),
        (
            &["--retry-after", "1", "--retry-after-status", "500"],
            "--retry-after-status",
        ),
        (&["--retry-after-status", "503"], "--retry-after"),
        (&["--not-found", "--redirect", "307"], "--redirect"),
        (&["--storm-every", "0.5"], "--storm-every"),
    ] {
        let mut all = vec!["sandbox", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let r = w.run(&all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(named), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?} started: {}", r.stdout);
    }
}

#[test]
fn every_fault_flag_explains_itself_in_the_help() {
    let w = Workdir::new();
    let help = w.run(&["sandbox", "--help"]).stdout;
    for (flag, unit) in [
        ("--outage <START:SECS>", "seconds"),
        ("--slow-rate <P>", "0 to 1"),
        ("--slow-ms <MS>", "milliseconds"),
        ("--error-200 <P>", "0 to 1"),
        ("--error-200-body <json|html>", "text/html"),
        ("--redirect <STATUS>", "307"),
        ("--retry-after <SECS>", "seconds"),
        ("--retry-after-status <429|503>", "--retry-after answers"),
        ("--reset-format <FORMAT>", "milliseconds"),
        ("--not-found", "404"),
    ] {
        let at = help.find(flag).unwrap_or_else(|| panic!("{flag}: {help}"));
        let text = &help[at..];
        let end = text[flag.len()..]
            .find("\n  -")
            .map_or(text.len(), |e| e + flag.len());
        assert!(text[..end].contains(unit), "{flag}: {}", &text[..end]);
    }
}

#[test]
fn a_planned_outage_refuses_connections_to_the_running_sandbox() {
    let w = Workdir::new();
    let sb = Running::start(&w, &["--outage", "0:600"]);
    let addr = sb.addr();
    let deadline = Instant::now() + Duration::from_secs(60);
    let refused = loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break true,
            _ if Instant::now() > deadline => break false,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    assert!(refused, "{addr} still took connections");
}
