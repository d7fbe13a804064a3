//! Tests of the profile's counters: batches gathered as the normalizing threads
//! do, counted in order, files into a run, and the report's shape.

use super::*;
use crate::normalize::time::TimeRules;
use crate::normalize::{NormalizeOptions, Normalizer, Outcome};
use crate::source::{Cell, Row};

const HEADER: [&str; 7] = [
    "click_time",
    "email",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "url_parameters",
    "microconversion",
];

/// A row's cells under `HEADER`.
fn cells_of(cells: [&str; 7]) -> Vec<Cell> {
    cells
        .iter()
        .map(|c| match *c {
            "" => Cell::Empty,
            c => Cell::Text(c.into()),
        })
        .collect()
}

/// A row at `time` from google, a@x.com.
fn at(time: &str) -> Vec<Cell> {
    cells_of([time, "a@x.com", "google", "", "", "", ""])
}

/// The row normalized (naive times are Madrid's) and profiled as the pipeline
/// does: its values gathered into `b` as its JSON is written, then its click.
/// Whether it made a lead.
fn profiled(b: &mut BatchProfile, cells: &[Cell]) -> bool {
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let opts = NormalizeOptions {
        rules: TimeRules {
            zone: Some(madrid()),
            ..TimeRules::default()
        },
        max_ms: i64::MAX,
        ..NormalizeOptions::default()
    };
    let n = Normalizer::new(&header, &opts).unwrap();
    let row = Row {
        ordinal: 1,
        pos: 1,
        cells: cells.to_vec(),
        defect: None,
    };
    match n.normalize_counted(row, b) {
        Outcome::Valid(l) => {
            b.add(&l);
            true
        }
        Outcome::Rejected(_) => false,
    }
}

/// [`profiled`], for a row that makes a lead.
fn add(b: &mut BatchProfile, cells: &[Cell]) {
    assert!(profiled(b, cells), "{cells:?} rejected");
}

fn madrid() -> TimeZone {
    TimeZone::get("Europe/Madrid").unwrap()
}

/// Leads at these instants, in batches of `per_batch`, profiled in Madrid.
fn profile_of(times: &[&str], per_batch: usize) -> Profiler {
    let mut p = Profiler::new(Some(&madrid()));
    for chunk in times.chunks(per_batch) {
        let mut b = BatchProfile::default();
        for t in chunk {
            add(&mut b, &at(t));
        }
        p.add_batch(&b);
    }
    p
}

#[test]
fn hours_and_days_are_on_the_zones_clock_across_a_dst_change() {
    // Madrid springs forward at 2024-03-31 01:00Z (02:00 -> 03:00 local).
    let times = [
        "2024-03-30T22:59:59Z", // 23:59:59 CET, the 30th
        "2024-03-30T23:00:00Z", // 00:00 CET, the 31st
        "2024-03-31T00:30:00Z", // 01:30 CET
        "2024-03-31T01:00:00Z", // 03:00 CEST
        "2024-03-31T01:30:00Z", // 03:30 CEST
        "2024-03-31T21:59:00Z", // 23:59 CEST
        "2024-03-31T22:00:00Z", // 00:00 CEST, April 1st
    ];
    for per_batch in [1, 3, 7] {
        let s = profile_of(&times, per_batch).summary();
        let mut hours = [0u64; 24];
        hours[23] = 2;
        hours[0] = 2;
        hours[1] = 1;
        hours[3] = 2;
        assert_eq!(s.click_time.by_hour, hours, "batches of {per_batch}");
        let days: Vec<(String, u64)> = s.click_time.by_day.unwrap().into_iter().collect();
        assert_eq!(
            days,
            [
                ("2024-03-30".to_string(), 1),
                ("2024-03-31".into(), 5),
                ("2024-04-01".into(), 1)
            ]
        );
        assert_eq!(s.click_time.at_midnight, 2);
        assert_eq!(s.click_time.first.as_deref(), Some("2024-03-30T22:59:59Z"));
        assert_eq!(s.click_time.last.as_deref(), Some("2024-03-31T22:00:00Z"));
        assert_eq!(s.click_time.first_local, "2024-03-30 23:59:59");
        assert_eq!(s.click_time.zone, "Europe/Madrid");
    }
}

#[test]
fn values_click_ids_microconversions_and_dst_are_counted() {
    let mut p = Profiler::new(Some(&madrid()));
    let mut b = BatchProfile::default();
    let rows = [
        // Madrid springs forward at 02:00 on 2024-03-31 (a gap), falls back at
        // 03:00 on 2024-10-27 (a fold).
        [
            "2024-03-31 02:30:00",
            " A@Gmail.com",
            "google",
            "cpc",
            "summer",
            r#"{"gclid":"x"}"#,
            "yes",
        ],
        [
            "2024-10-27 02:30:00",
            "b@gmail.com",
            "google",
            "cpc",
            "",
            "",
            "no",
        ],
        [
            "2024-06-01 10:00:00",
            "c@corp.es",
            "Bing",
            "",
            "",
            r#"{"fbclid":"y","plan":"x"}"#,
            "",
        ],
        [
            "2024-06-01 10:00:00",
            "d@corp.es",
            "say \"hi\"",
            "",
            "",
            r#"{"utm_content":"z"}"#,
            "",
        ],
    ];
    for cells in rows {
        add(&mut b, &cells_of(cells));
    }
    p.add_batch(&b);
    let s = p.summary();
    assert_eq!(s.leads, 4);
    assert_eq!(
        s.utm_source,
        Top(vec![
            ("google".into(), 2),
            ("Bing".into(), 1),
            ("say \"hi\"".into(), 1)
        ]),
        "escaped values unescaped"
    );
    assert_eq!(s.utm_medium, Top(vec![("cpc".into(), 2)]));
    assert_eq!(s.utm_campaign, Top(vec![("summer".into(), 1)]));
    assert_eq!(
        s.email_domains,
        Top(vec![("corp.es".into(), 2), ("gmail.com".into(), 2)])
    );
    assert_eq!((s.with_click_id, s.microconversions), (2, 1));
    assert_eq!((s.click_time.dst_gaps, s.click_time.dst_folds), (1, 1));
    assert_eq!(p.dst(), (1, 1));
    assert_eq!(s.click_time.by_hour[10], 2);
    assert_eq!(s.click_time.by_hour[3], 1, "02:30 in the gap is 03:30");
    assert_eq!(s.click_time.by_hour[2], 1, "02:30 in the fold, the earlier");
    assert!(s.top_error.is_empty(), "exact");
}

#[test]
fn only_the_ten_most_frequent_values_are_reported() {
    let mut p = Profiler::new(None);
    let mut b = BatchProfile::default();
    for i in 0..30u64 {
        let campaign = format!("c{i:02}");
        let l = cells_of(["2024-06-01T10:00:00Z", "a@x.com", "", "", &campaign, "", ""]);
        for _ in 0..=i {
            add(&mut b, &l);
        }
    }
    p.add_batch(&b);
    let s = p.summary();
    assert_eq!(s.click_time.zone, "UTC");
    let top = s.utm_campaign.0;
    assert_eq!(top.len(), TOP);
    assert_eq!(top[0], ("c29".to_string(), 30));
    assert_eq!(top[9], ("c20".to_string(), 21));
}

#[test]
fn a_rejected_row_is_not_profiled() {
    let mut p = Profiler::new(None);
    let mut b = BatchProfile::default();
    // Every field valid but the click_time; then the other way round.
    let bad_time = cells_of([
        "tomorrow",
        "a@x.com",
        "google",
        "cpc",
        "c",
        r#"{"gclid":"g"}"#,
        "1",
    ]);
    let bad_email = cells_of([
        "2024-06-01T10:00:00Z",
        "not an email",
        "bing",
        "",
        "",
        "",
        "1",
    ]);
    assert!(!profiled(&mut b, &bad_time));
    assert!(!profiled(&mut b, &bad_email));
    add(&mut b, &at("2024-06-01 12:00:00"));
    p.add_batch(&b);
    let s = p.summary();
    assert_eq!(s.leads, 1);
    assert_eq!(s.utm_source, Top(vec![("google".into(), 1)]));
    assert_eq!((s.utm_medium.0.len(), s.utm_campaign.0.len()), (0, 0));
    assert_eq!(s.email_domains, Top(vec![("x.com".into(), 1)]));
    assert_eq!((s.with_click_id, s.microconversions), (0, 0));
}

#[test]
fn email_domains() {
    assert_eq!(domain("ana@example.com"), Some("example.com"));
    assert_eq!(domain("no-at"), None);
    assert_eq!(domain("x@"), None);
}

#[test]
fn email_domains_are_those_of_the_addresses_as_normalized() {
    // Trimmed, lowercased, out of a mailto: link, invisible characters taken
    // out, non-ASCII: the domain counted is the one sent.
    let mut p = Profiler::new(Some(&madrid()));
    let mut b = BatchProfile::default();
    for email in [
        "  Ana@Example.COM ",
        "mailto:luis@example.com?subject=Hola",
        "marta@exam\u{200C}ple.com",
        "josé@correo.es",
        "\u{200E}Pilar@Correo.ES\u{200F}",
    ] {
        let cells = cells_of(["2024-06-01T10:00:00Z", email, "google", "", "", "", ""]);
        add(&mut b, &cells);
    }
    p.add_batch(&b);
    assert_eq!(
        p.summary().email_domains,
        Top(vec![("example.com".into(), 3), ("correo.es".into(), 2)])
    );
}

#[test]
fn a_run_is_its_files_merged() {
    let a = profile_of(&["2024-06-01T10:00:00Z", "2024-06-02T10:00:00Z"], 1);
    let b = profile_of(&["2024-05-01T08:00:00Z"], 1);
    let mut run = Profiler::default();
    run.merge(&a);
    run.merge(&b);
    run.merge(&Profiler::default());
    let s = run.summary();
    assert_eq!(s.leads, 3);
    assert_eq!(s.click_time.zone, "Europe/Madrid", "the files' clock");
    assert_eq!(s.click_time.first.as_deref(), Some("2024-05-01T08:00:00Z"));
    assert_eq!(s.click_time.last.as_deref(), Some("2024-06-02T10:00:00Z"));
    assert_eq!(s.click_time.by_hour[12], 2);
    assert_eq!(s.click_time.by_hour[10], 1);
    assert_eq!(s.utm_source, Top(vec![("google".into(), 3)]));
    assert_eq!(s.click_time.by_day.map(|d| d.len()), Some(3));
}

#[test]
fn the_report_shape() {
    let s = profile_of(&["2024-06-01T10:00:00Z"], 1).summary();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["leads"], 1);
    assert_eq!(v["click_time"]["zone"], "Europe/Madrid");
    assert_eq!(v["click_time"]["by_hour"].as_array().unwrap().len(), 24);
    assert_eq!(v["click_time"]["by_hour"][12], 1);
    assert_eq!(v["click_time"]["by_day"]["2024-06-01"], 1);
    assert!(v["click_time"].get("by_month").is_none());
    assert!(v["click_time"].get("first_local").is_none());
    assert_eq!(v["utm_source"]["google"], 1);
    assert_eq!(v["email_domains"]["x.com"], 1);
    assert!(v.get("top_error").is_none());
    assert_eq!(v["warnings"], serde_json::json!([]));
    // Most frequent first in the text, whatever the values' order.
    let top = Top(vec![("zeta".into(), 5), ("alpha".into(), 2)]);
    assert_eq!(
        serde_json::to_string(&top).unwrap(),
        r#"{"zeta":5,"alpha":2}"#
    );
    // Without leads: no first or last.
    let empty = serde_json::to_value(Profiler::default().summary()).unwrap();
    assert_eq!(empty["click_time"]["first"], serde_json::Value::Null);
}

#[test]
fn a_batch_profile_grown_large_by_long_values_is_not_kept() {
    let long = "c".repeat(150);
    let row = cells_of(["2024-06-01 10:00:00", "a@x.com", "g", "", &long, "", ""]);
    let mut b = BatchProfile::default();
    add(&mut b, &row);
    assert!(b.reusable(), "a lead's long value is small");
    for _ in 0..BatchProfile::KEPT_TEXT / long.len() {
        add(&mut b, &row);
    }
    assert!(
        !b.reusable(),
        "past {} bytes of long values",
        BatchProfile::KEPT_TEXT
    );
    b.clear();
    assert!(
        !b.reusable(),
        "clearing keeps the room: the pipeline drops it"
    );
}
