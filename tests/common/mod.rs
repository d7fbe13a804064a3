//! Test helpers: run the real binary in a temporary directory, and generate lead
//! files of every format with known contents.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use jiff::civil::{self, DateTime};

/// Import `calls.csv` (Madrid times) as fast as the server takes it; tests add
/// their flags after these.
pub const IMPORT_CALLS: [&str; 6] = [
    "import",
    "calls.csv",
    "--timezone",
    "Europe/Madrid",
    "--rate",
    "unlimited",
];

/// Variables that would send a test's traffic through a proxy.
pub const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

pub struct Workdir {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_setclick"));
        c.current_dir(self.dir.path());
        c.env_remove("SEALMETRICS_TOKEN");
        c.env_remove("SEALMETRICS_ACCOUNT_ID");
        c.env_remove("SEALMETRICS_ENDPOINT");
        for proxy in PROXY_VARS {
            c.env_remove(proxy);
        }
        c.env("SETCLICK_STATE_DIR", self.path(".setclick"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, None)
    }

    pub fn run_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut c = self.cmd();
        c.args(args);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn setclick");
        if let Some(data) = stdin {
            let mut s = child.stdin.take().expect("stdin");
            s.write_all(data).expect("write stdin");
        }
        let out: Output = child.wait_with_output().expect("wait");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Parse JSON Lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// One generated lead row and what setclick must make of it.
#[derive(Debug, Clone)]
pub struct Lead {
    /// Wall-clock time in Europe/Madrid, in summer (UTC+2).
    pub when: DateTime,
    pub email: String,
    pub source: String,
    pub medium: String,
    pub url: Option<String>,
    pub referrer: Option<String>,
    pub micro: bool,
    /// Why this row must be rejected, if it must.
    pub bad: Option<&'static str>,
}

impl Lead {
    /// The click time setclick must send: Madrid summer time is UTC+2.
    pub fn expected_ms(&self) -> i64 {
        let utc = self.when - jiff::SignedDuration::from_hours(2);
        jiff::tz::Offset::UTC
            .to_timestamp(utc)
            .unwrap()
            .as_millisecond()
    }

    pub fn expected_email(&self) -> String {
        self.email.trim().to_lowercase()
    }
}

/// A small deterministic generator (no dependency on rand's algorithms).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SOURCES: [&str; 5] = ["google", "facebook", "newsletter", "bing", "tiktok"];
const MEDIUMS: [&str; 4] = ["cpc", "email", "social", "display"];
const NAMES: [&str; 8] = [
    "ana", "luis", "marta", "jordi", "lucia", "pablo", "sara", "ivan",
];

/// `n` leads from June to August 2024; every `bad_every`-th row is bad in a known way
/// (0 = none).
pub fn leads(n: usize, seed: u64, bad_every: usize) -> Vec<Lead> {
    let mut r = Lcg::new(seed);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let day = civil::date(2024, 6, 1) + jiff::Span::new().days(r.below(90) as i64);
        let when = day.at(r.below(24) as i8, r.below(60) as i8, r.below(60) as i8, 0);
        let name = NAMES[r.below(8) as usize];
        let mut lead = Lead {
            when,
            email: format!(" {}{}@Example.com", name.to_uppercase(), i),
            source: SOURCES[r.below(5) as usize].to_string(),
            medium: MEDIUMS[r.below(4) as usize].to_string(),
            url: (r.below(2) == 0).then(|| {
                format!(
                    "https://shop.example.com/p/{i}?utm_campaign=summer{}&ref=x",
                    i % 3
                )
            }),
            referrer: (r.below(3) == 0).then(|| "https://www.google.com/".to_string()),
            micro: r.below(5) == 0,
            bad: None,
        };
        if bad_every > 0 && i % bad_every == bad_every - 1 {
            match (i / bad_every) % 3 {
                0 => {
                    lead.email = format!("{name}-at-example.com");
                    lead.bad = Some("email");
                }
                1 => {
                    lead.when = civil::date(1999, 12, 31).at(10, 0, 0, 0);
                    lead.bad = Some("click_time");
                }
                _ => {
                    lead.source.clear();
                    lead.medium.clear();
                    lead.url = None;
                    lead.bad = Some("url_parameters");
                }
            }
        }
        out.push(lead);
    }
    out
}

pub const CSV_HEADER: [&str; 7] = [
    "Fecha",
    "Email",
    "UTM Source",
    "utm_medium",
    "Landing Page",
    "Referrer",
    "Microconversion",
];

/// A call-centre style CSV: `;`-separated, day-first dates, a title line on top.
pub fn write_csv(path: &Path, leads: &[Lead], delimiter: u8) {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_path(path)
        .expect("csv");
    w.write_record(["Call centre export"]).unwrap();
    w.write_record(CSV_HEADER).unwrap();
    for l in leads {
        w.write_record([
            l.when.strftime("%d/%m/%Y %H:%M:%S").to_string(),
            l.email.clone(),
            l.source.clone(),
            l.medium.clone(),
            l.url.clone().unwrap_or_default(),
            l.referrer.clone().unwrap_or_default(),
            if l.micro { "sí".into() } else { "no".into() },
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

/// A CRM style XLSX: title rows, a header on row 3, date cells, boolean cells.
/// Every 7th good row has its date as text instead of a date cell.
pub fn write_xlsx(path: &Path, leads: &[Lead]) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Leads").unwrap();
    ws.write_string(0, 0, "CRM leads").unwrap();
    let header = [
        "Created At",
        "E-mail",
        "utm_source",
        "utm_medium",
        "URL",
        "Referer",
        "micro_conversion",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(2, c as u16, *h).unwrap();
    }
    let fmt = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for (i, l) in leads.iter().enumerate() {
        let r = 3 + i as u32;
        let d = l.when;
        if i % 7 == 3 {
            ws.write_string(r, 0, d.strftime("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap();
        } else {
            let dt = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                .unwrap()
                .and_hms(d.hour() as u16, d.minute() as u8, d.second() as f64)
                .unwrap();
            ws.write_datetime_with_format(r, 0, &dt, &fmt).unwrap();
        }
        ws.write_string(r, 1, &l.email).unwrap();
        if !l.source.is_empty() {
            ws.write_string(r, 2, &l.source).unwrap();
        }
        if !l.medium.is_empty() {
            ws.write_string(r, 3, &l.medium).unwrap();
        }
        if let Some(u) = &l.url {
            ws.write_string(r, 4, u).unwrap();
        }
        if let Some(u) = &l.referrer {
            ws.write_string(r, 5, u).unwrap();
        }
        ws.write_boolean(r, 6, l.micro).unwrap();
    }
    wb.save(path).unwrap();
}

/// A backfill Parquet: zoned ms timestamps (as UTC instants), categorical sources,
/// nulls for missing values, several row groups.
pub fn write_parquet(path: &Path, leads: &[Lead], row_group: usize) {
    use polars::prelude::*;
    let times: Vec<i64> = leads.iter().map(|l| l.expected_ms()).collect();
    let time = Series::new("click_ts".into(), times)
        .into_datetime(TimeUnit::Milliseconds, Some(polars::prelude::TimeZone::UTC));
    let email = Series::new(
        "email".into(),
        leads.iter().map(|l| l.email.clone()).collect::<Vec<_>>(),
    );
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let source = Series::new(
        "utm_source".into(),
        leads.iter().map(|l| opt(&l.source)).collect::<Vec<_>>(),
    )
    .cast(&DataType::from_categories(Categories::global()))
    .unwrap();
    let medium = Series::new(
        "utm_medium".into(),
        leads.iter().map(|l| opt(&l.medium)).collect::<Vec<_>>(),
    );
    let url = Series::new(
        "current_url".into(),
        leads.iter().map(|l| l.url.clone()).collect::<Vec<_>>(),
    );
    let referrer = Series::new(
        "referrer".into(),
        leads.iter().map(|l| l.referrer.clone()).collect::<Vec<_>>(),
    );
    let micro = Series::new(
        "microconversion".into(),
        leads.iter().map(|l| l.micro).collect::<Vec<_>>(),
    );
    let unused = Series::new(
        "notes".into(),
        leads.iter().map(|_| "x").collect::<Vec<_>>(),
    );
    let mut df = DataFrame::new(
        leads.len(),
        vec![
            time.into(),
            email.into(),
            source.into(),
            medium.into(),
            url.into(),
            referrer.into(),
            micro.into(),
            unused.into(),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(path).unwrap();
    ParquetWriter::new(f)
        .with_row_group_size(Some(row_group))
        .finish(&mut df)
        .unwrap();
}

/// Check emitted leads against the generated ones, field by field.
pub fn assert_emitted(emitted: &[serde_json::Value], leads: &[Lead]) {
    let good: Vec<(usize, &Lead)> = leads
        .iter()
        .enumerate()
        .filter(|(_, l)| l.bad.is_none())
        .collect();
    assert_eq!(emitted.len(), good.len(), "number of emitted leads");
    for (e, (i, l)) in emitted.iter().zip(good) {
        assert_eq!(e["row"], (i + 1) as u64, "row number of {l:?}");
        assert_eq!(
            e["click_time"],
            l.expected_ms(),
            "click_time of row {}",
            i + 1
        );
        assert_eq!(
            e["settings"]["email"],
            l.expected_email(),
            "email of row {}",
            i + 1
        );
        if l.micro {
            assert_eq!(e["settings"]["microconversion"], "1", "row {}", i + 1);
        } else {
            assert!(
                e["settings"].get("microconversion").is_none(),
                "row {}",
                i + 1
            );
        }
        assert_eq!(
            e["url_parameters"]["utm_source"],
            l.source.as_str(),
            "row {}",
            i + 1
        );
        assert_eq!(
            e["url_parameters"]["utm_medium"],
            l.medium.as_str(),
            "row {}",
            i + 1
        );
        match &l.url {
            Some(u) => {
                assert_eq!(e["current_url"], u.as_str());
                let campaign = u
                    .split("utm_campaign=")
                    .nth(1)
                    .unwrap()
                    .split('&')
                    .next()
                    .unwrap();
                assert_eq!(e["url_parameters"]["utm_campaign"], campaign);
                assert!(
                    e["url_parameters"].get("ref").is_none(),
                    "only utm_* and click ids from the URL"
                );
            }
            None => {
                assert!(e.get("current_url").is_none());
                assert!(e["url_parameters"].get("utm_campaign").is_none());
            }
        }
        match &l.referrer {
            Some(r) => assert_eq!(e["referrer"], r.as_str()),
            None => assert!(e.get("referrer").is_none()),
        }
    }
}

/// A sandbox running in this test process, on 127.0.0.1:0.
pub struct TestSandbox {
    pub rt: tokio::runtime::Runtime,
    pub sb: setclick::sandbox::Sandbox,
}

impl TestSandbox {
    pub fn start(cfg: setclick::sandbox::SandboxConfig) -> TestSandbox {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sb = rt
            .block_on(setclick::sandbox::Sandbox::start(cfg))
            .expect("sandbox");
        TestSandbox { rt, sb }
    }

    /// Environment for an import into this sandbox.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("SEALMETRICS_TOKEN", self.sb.token());
        cmd.env("SEALMETRICS_ACCOUNT_ID", self.sb.account_id());
        cmd.env("SEALMETRICS_ENDPOINT", self.sb.endpoint());
    }
}

impl Workdir {
    /// `setclick` with the sandbox's endpoint and credentials in the environment.
    pub fn cmd_against(&self, sb: &TestSandbox) -> Command {
        let mut c = self.cmd();
        sb.env(&mut c);
        c
    }

    /// Run `setclick` against the sandbox and wait for it.
    pub fn run_against(&self, sb: &TestSandbox, args: &[&str]) -> Run {
        let mut c = self.cmd_against(sb);
        c.args(args).stdin(Stdio::null());
        let out = c.output().expect("run setclick");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Clicks as JSON values comparable with `validate --emit` lines (row dropped).
pub fn click_values(clicks: &[setclick::sandbox::Click]) -> Vec<serde_json::Value> {
    clicks
        .iter()
        .map(|c| serde_json::to_value(c).expect("click json"))
        .collect()
}

/// An emitted lead as the sandbox would record it.
pub fn as_click(emitted: &serde_json::Value) -> serde_json::Value {
    let mut v = emitted.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("row");
    }
    v
}
