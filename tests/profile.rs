//! The profile of the data (issue 15): in the report of every format, exact
//! across DST changes, on stderr after the summary, and the warnings about the
//! classic mistakes, before an import sends its first lead.

mod common;

use std::collections::BTreeMap;

use common::{Lead, TestSandbox, Workdir, leads, write_csv, write_parquet, write_xlsx};
use setclick::sandbox::SandboxConfig;

/// stderr without the timestamps that start its lines off a terminal.
fn untimed(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| match l.split_once("Z ") {
            Some((t, rest)) if t.len() == 19 && t.as_bytes()[10] == b'T' => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn report(w: &Workdir, name: &str) -> serde_json::Value {
    serde_json::from_str(&w.read(name)).expect("report")
}

/// A CSV of `click_time,email,utm_source` rows, one per time, distinct emails.
fn times_csv(w: &Workdir, name: &str, times: &[&str]) {
    let mut text = String::from("click_time,email,utm_source\n");
    for (i, t) in times.iter().enumerate() {
        text.push_str(&format!("{t},lead{i}@example.com,google\n"));
    }
    w.write(name, text);
}

/// What the profile of `leads` must say: the good ones by Madrid hour and day,
/// by source, microconversions.
fn expected(leads: &[Lead]) -> (Vec<u64>, BTreeMap<String, u64>, BTreeMap<String, u64>, u64) {
    let mut hours = vec![0u64; 24];
    let mut days = BTreeMap::new();
    let mut sources = BTreeMap::new();
    let mut micro = 0;
    for l in leads.iter().filter(|l| l.bad.is_none()) {
        hours[l.when.hour() as usize] += 1;
        *days.entry(l.when.date().to_string()).or_default() += 1;
        *sources.entry(l.source.clone()).or_default() += 1;
        micro += u64::from(l.micro);
    }
    (hours, days, sources, micro)
}

#[test]
fn every_format_has_its_profile_in_the_report_and_on_stderr() {
    let w = Workdir::new();
    let data = leads(400, 15, 13);
    write_csv(&w.path("calls.csv"), &data, b';');
    write_xlsx(&w.path("crm.xlsx"), &data);
    write_parquet(&w.path("backfill.parquet"), &data, 150);
    let (hours, days, sources, micro) = expected(&data);
    let good = data.iter().filter(|l| l.bad.is_none()).count() as u64;
    for (file, extra) in [
        ("calls.csv", None),
        ("crm.xlsx", None),
        ("backfill.parquet", Some("click_time=click_ts")),
    ] {
        let mut args = vec![
            "validate",
            file,
            "--timezone",
            "Europe/Madrid",
            "--report",
            "report.json",
        ];
        if let Some(map) = extra {
            args.extend(["--map", map]);
        }
        let r = w.run(&args);
        assert_eq!(r.code, 1, "{file}: bad rows exist: {}", r.stderr);
        let rep = report(&w, "report.json");
        let p = &rep["files"][0]["profile"];
        assert_eq!(p["leads"], good, "{file}");
        assert_eq!(rep["files"][0]["valid"], good, "{file}: every valid row");
        let t = &p["click_time"];
        assert_eq!(t["zone"], "Europe/Madrid");
        let got: Vec<u64> = serde_json::from_value(t["by_hour"].clone()).unwrap();
        assert_eq!(got, hours, "{file}: by_hour");
        let got: BTreeMap<String, u64> = serde_json::from_value(t["by_day"].clone()).unwrap();
        assert_eq!(got, days, "{file}: by_day");
        let got: BTreeMap<String, u64> = serde_json::from_value(p["utm_source"].clone()).unwrap();
        assert_eq!(got, sources, "{file}: utm_source");
        assert_eq!(p["microconversions"], micro, "{file}");
        assert_eq!(p["email_domains"]["example.com"], good, "{file}");
        assert_eq!(p["with_click_id"], 0);
        assert_eq!(p["warnings"], serde_json::json!([]), "{file}");
        // The first click, in UTC: the earliest Madrid summer time minus 2 hours.
        let first = data
            .iter()
            .filter(|l| l.bad.is_none())
            .map(Lead::expected_ms)
            .min()
            .unwrap();
        let first = jiff::Timestamp::from_millisecond(first)
            .unwrap()
            .to_string();
        assert_eq!(t["first"], first.as_str(), "{file}");
        // The run's totals carry the same profile.
        assert_eq!(rep["totals"]["profile"]["leads"], good);
        assert_eq!(
            rep["totals"]["profile"]["click_time"]["by_hour"],
            t["by_hour"]
        );
        // On stderr, after the summary line.
        let summary = r
            .stderr
            .find(&format!("{file}: 400 rows"))
            .expect("summary");
        let clicks = r.stderr.find("  clicks 2024-06-").expect(&r.stderr);
        assert!(summary < clicks, "{}", r.stderr);
        assert!(
            untimed(&r.stderr).contains("(Europe/Madrid)\n  hours  00 ["),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("  utm_source: "), "{}", r.stderr);
    }
}

#[test]
fn a_known_distribution_over_dst_changes_gives_exact_hours_and_days() {
    let w = Workdir::new();
    // Madrid: 2024-03-31 02:00 -> 03:00 (a gap), 2024-10-27 03:00 -> 02:00 (a fold).
    times_csv(
        &w,
        "dst.csv",
        &[
            "2024-03-30 23:30:00",
            "2024-03-30 23:45:00",
            "2024-03-31 01:30:00",
            "2024-03-31 02:30:00", // in the gap: moved to 03:30
            "2024-03-31 02:10:00", // 03:10
            "2024-03-31 02:59:00", // 03:59
            "2024-03-31 03:15:00",
            "2024-10-27 02:30:00", // in the fold: the earlier (CEST) taken
            "2024-10-27 02:45:00",
            "2024-10-27 03:30:00",
        ],
    );
    let r = w.run(&[
        "validate",
        "dst.csv",
        "--timezone",
        "Europe/Madrid",
        "--report",
        "r.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = report(&w, "r.json");
    let f = &rep["files"][0];
    let t = &f["profile"]["click_time"];
    let mut hours = [0u64; 24];
    hours[23] = 2;
    hours[1] = 1;
    hours[3] = 5;
    hours[2] = 2;
    assert_eq!(t["by_hour"], serde_json::json!(hours));
    assert_eq!(
        t["by_day"],
        serde_json::json!({"2024-03-30": 2, "2024-03-31": 5, "2024-10-27": 3})
    );
    assert_eq!(
        (t["dst_gaps"].as_u64(), t["dst_folds"].as_u64()),
        (Some(3), Some(2))
    );
    // The report's keys stay where they were, with the same counts.
    assert_eq!(
        (f["dst_gaps"].as_u64(), f["dst_folds"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(t["first"], "2024-03-30T22:30:00Z");
    // 03:30 CET on the 27th is the latest instant (the fold's 02:45 is CEST).
    assert_eq!(t["last"], "2024-10-27T02:30:00Z");
}

/// A New York shop's evening leads (times with their offset) read on the Madrid
/// clock: 00:00 to 06:00 there.
fn new_york_evenings(w: &Workdir) {
    let times: Vec<String> = (0..30)
        .map(|i| format!("2024-06-{:02}T{}:15:00-04:00", 3 + i % 20, 18 + i % 6))
        .collect();
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    times_csv(w, "ny.csv", &times);
}

#[test]
fn a_night_time_file_questions_the_timezone() {
    let w = Workdir::new();
    new_york_evenings(&w);
    let r = w.run(&[
        "validate",
        "ny.csv",
        "--timezone",
        "Europe/Madrid",
        "--report",
        "r.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: ny.csv: 100% of the leads fall between 00:00 and 06:00 in Europe/Madrid: is --timezone right?"),
        "{}",
        r.stderr
    );
    let rep = report(&w, "r.json");
    let warnings = &rep["files"][0]["profile"]["warnings"];
    assert_eq!(warnings[0]["code"], "night");
    assert_eq!(warnings[0]["flags"], serde_json::json!(["--timezone"]));
    // The shop's own zone: evenings, and no warning.
    let r = w.run(&["validate", "ny.csv", "--timezone", "America/New_York"]);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert!(r.stderr.contains("(America/New_York)"), "{}", r.stderr);
    // -q: nothing but errors.
    let r = w.run(&["validate", "ny.csv", "--timezone", "Europe/Madrid", "-q"]);
    assert_eq!(r.stderr, "");
}

#[test]
fn a_date_only_column_warns_that_the_hour_is_lost() {
    let w = Workdir::new();
    times_csv(&w, "dates.csv", &["02/07/2024", "03/07/2024", "15/07/2024"]);
    let r = w.run(&[
        "validate",
        "dates.csv",
        "--timezone",
        "Europe/Madrid",
        "--report",
        "r.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("every click time is exactly 00:00:00 (Europe/Madrid, or UTC)")
            && r.stderr.contains("--map click_time_of_day=COLUMN"),
        "{}",
        r.stderr
    );
    let rep = report(&w, "r.json");
    let p = &rep["files"][0]["profile"];
    assert_eq!(p["click_time"]["at_midnight"], 3);
    assert_eq!(p["warnings"][0]["code"], "midnight");
    assert_eq!(
        p["warnings"].as_array().map(Vec::len),
        Some(1),
        "not night too"
    );
}

#[test]
fn times_over_five_years_or_in_one_second_warn_of_units() {
    let w = Workdir::new();
    times_csv(
        &w,
        "span.csv",
        &["2012-01-05 10:00:00", "2024-06-01 12:00:00"],
    );
    let r = w.run(&["validate", "span.csv", "--timezone", "Europe/Madrid"]);
    assert!(
        r.stderr.contains("the click times span 12.4 years") && r.stderr.contains("--time-unit"),
        "{}",
        r.stderr
    );
    // An export time in every row: ten leads in one second.
    let same: Vec<String> = (0..10)
        .map(|i| (1_717_236_000_000i64 + i * 9).to_string())
        .collect();
    let same: Vec<&str> = same.iter().map(String::as_str).collect();
    times_csv(&w, "second.csv", &same);
    let r = w.run(&["validate", "second.csv"]);
    assert!(
        r.stderr
            .contains("all 10 click times fall within one second"),
        "{}",
        r.stderr
    );
}

#[test]
fn plain_ascii_where_the_locale_cannot_show_blocks() {
    let w = Workdir::new();
    new_york_evenings(&w);
    let run = |lang: &str| {
        let out = w
            .cmd()
            .args(["validate", "ny.csv", "--timezone", "America/New_York"])
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env("LANG", lang)
            .env("TERM", "xterm")
            .output()
            .expect("run");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let utf8 = run("en_US.UTF-8");
    assert!(utf8.contains('→') && utf8.contains('▇'), "{utf8}");
    let plain = run("C");
    assert!(plain.is_ascii(), "{plain}");
    assert!(plain.contains(" -> ") && plain.contains('#'), "{plain}");
}

#[test]
fn an_import_warns_from_the_first_batch_before_sending_and_again_at_the_end() {
    let w = Workdir::new();
    // 1,500 night-time leads: the first batch holds the first 1,000.
    let times: Vec<String> = (0..1500)
        .map(|i| format!("2024-06-{:02} 0{}:{:02}:00", 1 + i % 28, i % 5, i % 60))
        .collect();
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    times_csv(&w, "night.csv", &times);
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(
        &sb,
        &[
            "import",
            "night.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let early = r
        .stderr
        .find("night.csv: in the first 1000 leads read, before sending: 100% of the leads")
        .expect(&r.stderr);
    let summary = r.stderr.find("night.csv: 1,500 rows").expect(&r.stderr);
    let late = r
        .stderr
        .rfind("warning: night.csv: 100% of the leads")
        .expect(&r.stderr);
    assert!(early < summary && summary < late, "{}", r.stderr);
    let rep = report(&w, "r.json");
    assert_eq!(rep["files"][0]["profile"]["leads"], 1500);
    assert_eq!(rep["files"][0]["profile"]["warnings"][0]["code"], "night");
    assert_eq!(rep["totals"]["profile"]["utm_source"]["google"], 1500);
    assert_eq!(rep["totals"]["sent"], 1500);
}

#[test]
fn several_files_end_with_the_runs_profile() {
    let w = Workdir::new();
    write_csv(&w.path("a.csv"), &leads(50, 1, 0), b',');
    write_csv(&w.path("b.csv"), &leads(70, 2, 0), b',');
    let r = w.run(&[
        "validate",
        "a.csv",
        "b.csv",
        "--timezone",
        "Europe/Madrid",
        "--report",
        "r.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = report(&w, "r.json");
    assert_eq!(rep["files"][0]["profile"]["leads"], 50);
    assert_eq!(rep["files"][1]["profile"]["leads"], 70);
    assert_eq!(rep["totals"]["profile"]["leads"], 120);
    let by_hour =
        |v: &serde_json::Value| -> Vec<u64> { serde_json::from_value(v.clone()).unwrap() };
    let sum: Vec<u64> = by_hour(&rep["files"][0]["profile"]["click_time"]["by_hour"])
        .iter()
        .zip(by_hour(
            &rep["files"][1]["profile"]["click_time"]["by_hour"],
        ))
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(
        by_hour(&rep["totals"]["profile"]["click_time"]["by_hour"]),
        sum
    );
    let total = r.stderr.find("total: 2 files").expect(&r.stderr);
    assert!(
        r.stderr[total..].contains("  clicks 2024-06-"),
        "{}",
        r.stderr
    );
}

#[test]
fn dates_in_utc_or_mostly_dates_warn_of_the_lost_hour_not_of_the_zone() {
    let w = Workdir::new();
    // Midnights written in UTC, read with a zone far from it: 20:00 in New York.
    let utc: Vec<String> = (1..=30)
        .map(|d| format!("2024-06-{d:02}T00:00:00Z"))
        .collect();
    times_csv(
        &w,
        "utc.csv",
        &utc.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // 29 dates and one time of day: most times are midnight, and they are not
    // night-time leads.
    let mut mostly: Vec<String> = (1..=29).map(|d| format!("2024-06-{d:02}")).collect();
    mostly.push("2024-06-30 10:00:00".into());
    times_csv(
        &w,
        "mostly.csv",
        &mostly.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for (file, zone, at_midnight) in [
        ("utc.csv", "America/New_York", 30),
        ("utc.csv", "Europe/Madrid", 30),
        ("mostly.csv", "Europe/Madrid", 29),
    ] {
        let r = w.run(&["validate", file, "--timezone", zone, "--report", "r.json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let p = &report(&w, "r.json")["files"][0]["profile"];
        assert_eq!(p["click_time"]["at_midnight"], at_midnight, "{file} {zone}");
        let codes: Vec<&str> = p["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["midnight"], "{file} {zone}: {}", r.stderr);
        assert!(!r.stderr.contains("--timezone right"), "{}", r.stderr);
    }
}

#[test]
fn a_file_imported_before_has_an_empty_profile_of_the_same_shape() {
    let w = Workdir::new();
    write_csv(&w.path("a.csv"), &leads(20, 3, 0), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    let args = [
        "import",
        "a.csv",
        "--timezone",
        "Asia/Kathmandu",
        "--rate",
        "unlimited",
        "--report",
        "r.json",
    ];
    let first = w.run_against(&sb, &args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = w.run_against(&sb, &args);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let rep = report(&w, "r.json");
    for p in [&rep["files"][0]["profile"], &rep["totals"]["profile"]] {
        assert_eq!(p["leads"], 0, "{p}");
        assert_eq!(p["click_time"]["zone"], "Asia/Kathmandu", "{p}");
        assert_eq!(p["click_time"]["by_day"], serde_json::json!({}), "{p}");
    }
}

#[test]
fn warnings_are_each_files_and_the_totals_have_none() {
    let w = Workdir::new();
    // Two ordinary nights' files six years apart: a backfill, not a unit mistake.
    times_csv(&w, "n2018.csv", &["2018-06-01 10:00:00"; 30]);
    times_csv(&w, "n2024.csv", &["2024-06-01 11:00:00"; 30]);
    let r = w.run(&[
        "validate",
        "n2018.csv",
        "n2024.csv",
        "--timezone",
        "Europe/Madrid",
        "--report",
        "r.json",
    ]);
    let rep = report(&w, "r.json");
    assert_eq!(rep["totals"]["profile"]["warnings"], serde_json::json!([]));
    assert!(!r.stderr.contains("span"), "{}", r.stderr);
}
