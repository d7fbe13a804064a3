//! Tests of row normalization.

use super::*;
use jiff::tz::TimeZone;

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn row(cells: &[&str]) -> Row {
    Row {
        ordinal: 1,
        pos: 2,
        cells: cells.iter().map(|s| Cell::from_text(s)).collect(),
        defect: None,
    }
}

fn opts() -> NormalizeOptions {
    NormalizeOptions {
        rules: TimeRules {
            zone: Some(TimeZone::get("Europe/Madrid").unwrap()),
            ..TimeRules::default()
        },
        max_ms: i64::MAX,
        ..NormalizeOptions::default()
    }
}

fn valid(o: Outcome) -> Lead {
    match o {
        Outcome::Valid(l) => l,
        Outcome::Rejected(r) => panic!("rejected: {:?}", r.problems),
    }
}

fn rejected(o: Outcome) -> Vec<Problem> {
    match o {
        Outcome::Valid(l) => panic!("valid: {l:?}"),
        Outcome::Rejected(r) => r.problems,
    }
}

#[test]
fn a_full_row() {
    let h = header(&[
        "fecha",
        "email",
        "utm_source",
        "url",
        "referrer",
        "micro",
        "settings.conversion_type",
    ]);
    let mut o = opts();
    o.explicit.push((Field::Microconversion, "micro".into()));
    o.constants
        .push(("conversion_type".into(), "default".into()));
    o.constants.push(("team".into(), "north".into()));
    let n = Normalizer::new(&h, &o).unwrap();
    let lead = valid(n.normalize(row(&[
        "2021-10-20 07:31:28",
        " Ana@Example.com ",
        "google",
        "\"https://shop.es/?utm_source=bing&utm_medium=cpc&x=1\"",
        "",
        "Sí",
        "venta",
    ])));
    assert_eq!(lead.click_time, 1_634_707_888_000);
    assert_eq!(
        lead.url_parameters,
        r#"{"utm_medium":"cpc","utm_source":"google"}"#
    );
    assert_eq!(
        lead.settings,
        r#"{"conversion_type":"venta","email":"ana@example.com","microconversion":"1","team":"north"}"#
    );
    assert_eq!(
        lead.current_url.as_deref(),
        Some("https://shop.es/?utm_source=bing&utm_medium=cpc&x=1")
    );
    assert_eq!(lead.referrer, None);
}

#[test]
fn every_problem_of_a_row_is_reported() {
    let h = header(&["date", "email", "utm_source"]);
    let n = Normalizer::new(&h, &opts()).unwrap();
    let p = rejected(n.normalize(row(&["1999-12-31 10:00", "nope", ""])));
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["click_time", "email", "url_parameters"]);
    assert!(p[0].reason.contains("before 2000-01-01"));
    assert_eq!(p[1].column, Some(1));
}

#[test]
fn future_clicks_and_bad_microconversion_are_rejected() {
    let h = header(&["date", "email", "utm_source", "microconversion"]);
    let mut o = opts();
    o.max_ms = 1_634_707_888_000;
    let n = Normalizer::new(&h, &o).unwrap();
    let p = rejected(n.normalize(row(&["2021-10-20T05:31:29Z", "a@b.co", "x", "maybe"])));
    assert!(p[0].reason.contains("future"), "{p:?}");
    assert_eq!(p[1].field, "microconversion");
    let lead = valid(n.normalize(row(&["2021-10-20T05:31:28Z", "a@b.co", "x", "no"])));
    assert_eq!(lead.settings, r#"{"email":"a@b.co"}"#);
}

#[test]
fn microconversion_flag_applies_to_every_row() {
    let h = header(&["date", "email", "utm_source"]);
    let mut o = opts();
    o.microconversion = true;
    let n = Normalizer::new(&h, &o).unwrap();
    let lead = valid(n.normalize(row(&["2021-10-20T05:31:28Z", "a@b.co", "x"])));
    assert_eq!(lead.settings, r#"{"email":"a@b.co","microconversion":"1"}"#);
}

#[test]
fn calibration_decides_order_and_stops_on_ambiguity_or_missing_zone() {
    let h = header(&["date", "email", "utm_source"]);
    let mut n = Normalizer::new(&h, &opts()).unwrap();
    let sample = vec![
        row(&["25/12/2021 10:00", "a@b.co", "x"]),
        row(&["03/04/2021 10:00", "a@b.co", "x"]),
    ];
    n.calibrate(&sample, &|p| format!("line {p}")).unwrap();
    let lead = valid(n.normalize(row(&["03/04/2021 10:00", "a@b.co", "x"])));
    assert_eq!(
        lead.click_time,
        "2021-04-03T08:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond()
    );

    let mut n = Normalizer::new(&h, &opts()).unwrap();
    let err = n
        .calibrate(&[row(&["03/04/2021", "a@b.co", "x"])], &|p| {
            format!("line {p}")
        })
        .unwrap_err();
    assert!(
        err.0.contains("ambiguous") && err.0.contains("--time-format"),
        "{err}"
    );

    let mut o = opts();
    o.rules.zone = None;
    let mut n = Normalizer::new(&h, &o).unwrap();
    let err = n
        .calibrate(&[row(&["2021-04-03 10:00", "a@b.co", "x"])], &|p| {
            format!("line {p}")
        })
        .unwrap_err();
    assert!(
        err.0.contains("'date'") && err.0.contains("--timezone") && err.0.contains("line 2"),
        "{err}"
    );
    let mut n = Normalizer::new(&h, &o).unwrap();
    n.calibrate(&[row(&["2021-04-03T10:00Z", "a@b.co", "x"])], &|p| {
        format!("line {p}")
    })
    .unwrap();
}

#[test]
fn defects_reject_the_row() {
    let h = header(&["date", "email", "utm_source"]);
    let n = Normalizer::new(&h, &opts()).unwrap();
    let mut r = row(&["2021-10-20T05:31:28Z", "a@b.co", "x"]);
    r.defect = Some(crate::cell::Defect {
        column: None,
        reason: "row has 4 fields, the header has 3".into(),
    });
    let p = rejected(n.normalize(r));
    assert_eq!(p[0].field, "row");
}
