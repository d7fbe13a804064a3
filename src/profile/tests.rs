//! Tests of the profile's counters: batches on normalizing threads, merged in
//! order, files into a run, and the report's shape.

use super::*;

fn lead(click_time: i64, params: &str, settings: &str, dst: DstAdjust) -> Lead {
    Lead {
        row: 1,
        pos: 1,
        click_time,
        url_parameters: params.into(),
        settings: settings.into(),
        referrer: None,
        current_url: None,
        dst,
        cells: vec![],
        body: None,
        known_fingerprint: None,
    }
}

fn ms(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_millisecond()
}

fn madrid() -> TimeZone {
    TimeZone::get("Europe/Madrid").unwrap()
}

/// Leads at these UTC instants, in batches of `per_batch`, profiled in Madrid.
fn profile_of(times: &[&str], per_batch: usize) -> Profiler {
    let mut p = Profiler::new(Some(&madrid()));
    let clock = p.clock();
    for chunk in times.chunks(per_batch) {
        let mut b = BatchProfile::default();
        for t in chunk {
            b.add(
                &clock,
                &lead(
                    ms(t),
                    r#"{"utm_source":"google"}"#,
                    r#"{"email":"a@x.com"}"#,
                    DstAdjust::None,
                ),
            );
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
    let mut p = Profiler::new(None);
    let clock = p.clock();
    let mut b = BatchProfile::default();
    let t = ms("2024-06-01T10:00:00Z");
    let rows = [
        (
            r#"{"gclid":"x","utm_campaign":"summer","utm_medium":"cpc","utm_source":"google"}"#,
            r#"{"email":"a@gmail.com","microconversion":"1"}"#,
            DstAdjust::Gap,
        ),
        (
            r#"{"utm_medium":"cpc","utm_source":"google"}"#,
            r#"{"email":"b@gmail.com"}"#,
            DstAdjust::Fold,
        ),
        (
            r#"{"fbclid":"y","utm_source":"Bing"}"#,
            r#"{"email":"c@corp.es","plan":"x"}"#,
            DstAdjust::None,
        ),
        (
            r#"{"utm_content":"z"}"#,
            r#"{"email":"d@corp.es"}"#,
            DstAdjust::None,
        ),
    ];
    for (params, settings, dst) in rows {
        b.add(&clock, &lead(t, params, settings, dst));
    }
    p.add_batch(&b);
    let s = p.summary();
    assert_eq!(s.leads, 4);
    assert_eq!(
        s.utm_source,
        Top(vec![("google".into(), 2), ("Bing".into(), 1)])
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
    assert_eq!(s.click_time.zone, "UTC");
    assert_eq!(s.click_time.by_hour[10], 4);
    assert!(s.top_error.is_empty(), "exact");
}

#[test]
fn only_the_ten_most_frequent_values_are_reported() {
    let mut p = Profiler::new(None);
    let clock = p.clock();
    let mut b = BatchProfile::default();
    for i in 0..30u64 {
        for _ in 0..=i {
            let params = format!(r#"{{"utm_campaign":"c{i:02}"}}"#);
            b.add(
                &clock,
                &lead(ms("2024-06-01T10:00:00Z"), &params, "{}", DstAdjust::None),
            );
        }
    }
    p.add_batch(&b);
    let top = p.summary().utm_campaign.0;
    assert_eq!(top.len(), TOP);
    assert_eq!(top[0], ("c29".to_string(), 30));
    assert_eq!(top[9], ("c20".to_string(), 21));
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
