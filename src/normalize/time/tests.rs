//! Tests of the click_time parser: examples, then properties.

use super::*;

fn rules() -> TimeRules {
    TimeRules {
        zone: Some(TimeZone::get("Europe/Madrid").unwrap()),
        ..TimeRules::default()
    }
}

fn ms(r: &TimeRules, s: &str) -> i64 {
    let w = r.parse_text(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    r.resolve(w, || s.to_string()).unwrap().0
}

fn utc(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_millisecond()
}

#[test]
fn rfc3339_with_offsets_and_fractions() {
    let r = TimeRules::default();
    assert_eq!(ms(&r, "2021-10-20T05:31:28Z"), 1_634_707_888_000);
    assert_eq!(ms(&r, "2021-10-20T07:31:28+02:00"), 1_634_707_888_000);
    assert_eq!(ms(&r, "2021-10-20 07:31:28.123456+0200"), 1_634_707_888_123);
    assert_eq!(ms(&r, "2021-10-20T05:31:28.9999Z"), 1_634_707_888_999);
    assert_eq!(ms(&r, "2021-10-20 05:31:28 UTC"), 1_634_707_888_000);
    assert_eq!(ms(&r, "2021-10-19T22:31:28-07:00"), 1_634_707_888_000);
    assert_eq!(
        ms(&r, "2021-10-20T05:31:28Z[Europe/Madrid]"),
        1_634_707_888_000
    );
    assert_eq!(ms(&r, "Wed, 20 Oct 2021 07:31:28 +0200"), 1_634_707_888_000);
}

#[test]
fn naive_times_use_the_zone() {
    let r = rules();
    // Madrid is UTC+2 in October (summer time), UTC+1 in January.
    assert_eq!(ms(&r, "2021-10-20 07:31:28"), utc("2021-10-20T05:31:28Z"));
    assert_eq!(ms(&r, "2021-01-20T07:31"), utc("2021-01-20T06:31:00Z"));
    assert_eq!(ms(&r, "2021-10-20"), utc("2021-10-19T22:00:00Z"));
    assert_eq!(ms(&r, "2021/10/20 7:31:28"), utc("2021-10-20T05:31:28Z"));
    let no_zone = TimeRules::default();
    let w = no_zone.parse_text("2021-10-20 07:31").unwrap();
    assert!(matches!(
        no_zone.resolve(w, || "x".into()),
        Err(TimeError::NeedsZone(_))
    ));
}

#[test]
fn dst_gap_moves_later_and_fold_takes_the_earlier() {
    let r = rules();
    // 2021-03-28 02:30 does not exist in Madrid (02:00 -> 03:00): compatible = 03:30 CEST.
    let w = r.parse_text("2021-03-28 02:30").unwrap();
    let (gap, adj) = r.resolve(w, String::new).unwrap();
    assert_eq!(adj, DstAdjust::Gap);
    assert_eq!(gap, utc("2021-03-28T01:30:00Z"));
    // 2021-10-31 02:30 happens twice (03:00 CEST -> 02:00 CET): the earlier, CEST.
    let w = r.parse_text("2021-10-31 02:30").unwrap();
    let (fold, adj) = r.resolve(w, String::new).unwrap();
    assert_eq!(adj, DstAdjust::Fold);
    assert_eq!(fold, utc("2021-10-31T00:30:00Z"));
    let w = r.parse_text("2021-10-31 04:30").unwrap();
    assert_eq!(r.resolve(w, String::new).unwrap().1, DstAdjust::None);
}

#[test]
fn slash_dates_follow_the_file_order_and_twelve_hour_clock() {
    let mut r = rules();
    r.order = Some(DateOrder::DayFirst);
    assert_eq!(ms(&r, "03/04/2021 10:00"), utc("2021-04-03T08:00:00Z"));
    assert_eq!(ms(&r, "3.4.21 10:00"), utc("2021-04-03T08:00:00Z"));
    r.order = Some(DateOrder::MonthFirst);
    assert_eq!(ms(&r, "03/04/2021 10:00 PM"), utc("2021-03-04T21:00:00Z"));
    assert_eq!(ms(&r, "03/04/2021 12:15 am"), utc("2021-03-03T23:15:00Z"));
    assert!(r.parse_text("13/04/2021").is_err());
    r.order = None;
    assert!(matches!(
        r.parse_text("03/04/2021"),
        Err(TimeError::Ambiguous(_))
    ));
}

#[test]
fn order_is_inferred_from_a_sample() {
    let v = ["01/02/2021", "25/02/2021 10:00", "03/03/2021"];
    assert_eq!(
        infer_order(v.into_iter()),
        OrderVerdict::Decided(DateOrder::DayFirst)
    );
    let v = ["01/02/2021", "02/25/2021"];
    assert_eq!(
        infer_order(v.into_iter()),
        OrderVerdict::Decided(DateOrder::MonthFirst)
    );
    let v = ["01/02/2021", "02/03/2021"];
    assert_eq!(infer_order(v.into_iter()), OrderVerdict::Ambiguous);
    let v = ["13/02/2021", "02/13/2021"];
    assert_eq!(infer_order(v.into_iter()), OrderVerdict::Mixed);
    let v = ["2021-02-01", "1634707888"];
    assert_eq!(infer_order(v.into_iter()), OrderVerdict::NotNeeded);
}

/// Marks before the date (LRM, BOM, a no-break space) do not hide it from the
/// day/month decision.
#[test]
fn order_is_inferred_past_leading_marks() {
    let v = [
        "\u{200E}01/02/2021",
        "\u{FEFF}25/02/2021 10:00",
        "\u{00A0}03/03/2021",
    ];
    assert_eq!(
        infer_order(v.into_iter()),
        OrderVerdict::Decided(DateOrder::DayFirst)
    );
}

#[test]
fn numbers_by_magnitude() {
    let r = TimeRules::default();
    assert_eq!(ms(&r, "1634707888"), 1_634_707_888_000);
    assert_eq!(ms(&r, "1634707888.123"), 1_634_707_888_123);
    // Digits past the millisecond round to the nearest (issue 13: they were cut).
    assert_eq!(ms(&r, "1634707888.1239"), 1_634_707_888_124);
    assert_eq!(ms(&r, "1634707888.1234"), 1_634_707_888_123);
    assert_eq!(ms(&r, "1634707888123"), 1_634_707_888_123);
    assert_eq!(ms(&r, "1634707888123456"), 1_634_707_888_123);
    assert_eq!(ms(&r, "1634707888123456789"), 1_634_707_888_123);
    assert!(matches!(
        r.parse_text("5000000"),
        Err(TimeError::Magnitude(_))
    ));
    let f = r.parse_cell(&Cell::Float(1_634_707_888.123)).unwrap();
    assert_eq!(r.resolve(f, String::new).unwrap().0, 1_634_707_888_123);
    let i = r.parse_cell(&Cell::Int(1_634_707_888_123)).unwrap();
    assert_eq!(r.resolve(i, String::new).unwrap().0, 1_634_707_888_123);
    assert!(r.parse_cell(&Cell::Int(-5)).is_err());
}

#[test]
fn forced_units() {
    let mut r = TimeRules {
        unit: TimeUnit::Millis,
        ..TimeRules::default()
    };
    assert_eq!(ms(&r, "1634707888"), 1_634_707_888);
    r.unit = TimeUnit::Micros;
    assert_eq!(ms(&r, "1634707888123456"), 1_634_707_888_123);
    r.unit = TimeUnit::Seconds;
    assert!(
        r.parse_text("1634707888123").is_err(),
        "year 53,770 is out of range"
    );
}

#[test]
fn excel_serials_1900_system() {
    let r = rules();
    // 44489.5 = 2021-10-20 12:00 (1900 system).
    let w = r.parse_cell(&Cell::Float(44_489.5)).unwrap();
    assert_eq!(w, When::Naive(civil::date(2021, 10, 20).at(12, 0, 0, 0)));
    let w = r.parse_text("44489.25").unwrap();
    assert_eq!(w, When::Naive(civil::date(2021, 10, 20).at(6, 0, 0, 0)));
    // One second past noon survives float noise.
    let w = r
        .parse_cell(&Cell::Float(44_489.5 + 1.0 / 86_400.0))
        .unwrap();
    assert_eq!(w, When::Naive(civil::date(2021, 10, 20).at(12, 0, 1, 0)));
}

#[test]
fn explicit_format() {
    let r = TimeRules {
        format: Some("%d.%m.%Y %Hh%M".into()),
        ..rules()
    };
    assert_eq!(ms(&r, "20.10.2021 07h31"), utc("2021-10-20T05:31:00Z"));
    assert!(r.parse_text("2021-10-20 07:31").is_err());
    let r = TimeRules {
        format: Some("%Y%m%d %H%M%S %z".into()),
        ..TimeRules::default()
    };
    assert_eq!(ms(&r, "20211020 073128 +0200"), 1_634_707_888_000);
}

#[test]
fn date_and_time_pair() {
    let r = rules();
    let w = r
        .parse_pair(
            &Cell::Text("2021-10-20".into()),
            &Cell::Text("07:31:28".into()),
        )
        .unwrap();
    assert_eq!(w, When::Naive(civil::date(2021, 10, 20).at(7, 31, 28, 0)));
    let d = Cell::Naive(civil::date(2021, 10, 20).at(0, 0, 0, 0));
    let w = r.parse_pair(&d, &Cell::Float(0.25)).unwrap();
    assert_eq!(w, When::Naive(civil::date(2021, 10, 20).at(6, 0, 0, 0)));
    let w = r.parse_pair(&d, &Cell::Empty).unwrap();
    assert_eq!(w, When::Naive(civil::date(2021, 10, 20).at(0, 0, 0, 0)));
}

/// Found by the `time` fuzz target: 60 fraction digits overflowed the digit scanner.
#[test]
fn very_long_fractions_are_truncated_not_overflowed() {
    let r = rules();
    let s = format!("2021-10-20 07:31:28.662{}", "4".repeat(60));
    assert_eq!(ms(&r, &s), utc("2021-10-20T05:31:28.662Z"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let r = rules();
    for s in [
        "yesterday",
        "2021-13-01",
        "2021-02-30 10:00",
        "2021-10-20 25:00",
        "99:99",
        "2021-10-20T10:00+99:00",
        "--",
        "1e400",
    ] {
        assert!(
            r.parse_text(s)
                .and_then(|w| r.resolve(w, String::new))
                .is_err(),
            "{s}"
        );
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the text, parsing returns a value or an error, never a panic.
        #[test]
        fn parsing_never_panics(s in "(?s).{0,40}") {
            let r = TimeRules { zone: Some(TimeZone::UTC), order: Some(DateOrder::DayFirst), ..TimeRules::default() };
            if let Ok(w) = r.parse_text(&s) {
                let _ = r.resolve(w, || s.clone());
            }
        }

        /// Shapes close to real ones, with noise: still no panic.
        #[test]
        fn near_misses_never_panic(y in 0u32..10000, m in 0u32..20, d in 0u32..40, h in 0u32..30, mi in 0u32..70, sep in "[-/. T]", tail in "[ +-:Z0-9apmAPM]{0,8}") {
            let r = TimeRules { zone: Some(TimeZone::UTC), ..TimeRules::default() };
            let s = format!("{y:04}{sep}{m:02}{sep}{d:02} {h}:{mi:02}{tail}");
            let _ = r.parse_text(&s).and_then(|w| r.resolve(w, String::new));
            let s = format!("{d}{sep}{m}{sep}{y} {h}:{mi:02}{tail}");
            let _ = r.parse_text(&s).and_then(|w| r.resolve(w, String::new));
        }

        /// Milliseconds survive every text form setclick reads.
        #[test]
        fn milliseconds_round_trip(ms in MIN_MS..MAX_MS) {
            let r = TimeRules::default();
            let ts = Timestamp::from_millisecond(ms).unwrap();
            let forms = [
                ts.to_string(),
                ms.to_string(),
                format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000)),
                (i128::from(ms) * 1_000).to_string(),
                (i128::from(ms) * 1_000_000).to_string(),
                ts.strftime("%Y-%m-%d %H:%M:%S%.3f+00:00").to_string(),
            ];
            for f in forms {
                let w = r.parse_text(&f).unwrap();
                prop_assert_eq!(r.resolve(w, String::new).unwrap().0, ms, "{}", f);
            }
        }

        /// A naive time resolved in a zone and printed back in that zone is the same
        /// wall-clock time (outside DST gaps).
        #[test]
        fn naive_times_round_trip_through_a_zone(ms in MIN_MS..MAX_MS) {
            let zone = TimeZone::get("America/New_York").unwrap();
            let r = TimeRules { zone: Some(zone.clone()), ..TimeRules::default() };
            let ts = Timestamp::from_millisecond(ms).unwrap();
            let wall = ts.to_zoned_datetime(zone).datetime();
            let text = wall.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string();
            let (back, adj) = r.resolve(r.parse_text(&text).unwrap(), String::new).unwrap();
            if adj == DstAdjust::Fold {
                prop_assert!(back <= ms);
            } else {
                prop_assert_eq!(back, ms);
            }
        }
    }

    /// White space exporters put in time text: ASCII, no-break (U+00A0), narrow
    /// no-break (ICU 72+, U+202F), thin (U+2009), figure (U+2007), ideographic
    /// (U+3000), tab.
    const SPACES: [&str; 7] = [
        " ", "\u{00A0}", "\u{202F}", "\u{2009}", "\u{2007}", "\u{3000}", "\t",
    ];
    /// How a date meets its time: a space of any kind, a comma and a space (JavaScript
    /// `toLocaleString`), a word (en, fr, pt, de, es).
    const JOINS: [&str; 7] = [" ", ", ", "\u{202F}", " at ", " à ", " às ", " um "];
    /// Before-noon and after-noon designators of en, es, pt, fr, de and it, with the
    /// no-break space ICU puts inside the Spanish ones.
    const DESIGNATORS: [(&str, &str); 7] = [
        ("AM", "PM"),
        ("am", "pm"),
        ("a.m.", "p.m."),
        ("A.M.", "P.M."),
        ("a. m.", "p. m."),
        ("a.\u{00A0}m.", "p.\u{00A0}m."),
        ("vorm.", "nachm."),
    ];
    /// Format characters that ride along unseen: LRM (U+200E), ZWSP (U+200B), BOM.
    const INVISIBLE: [&str; 4] = ["", "\u{200E}", "\u{200B}", "\u{FEFF}"];

    proptest! {
        /// A 12-hour time as any locale's software writes it (any space, join and
        /// designator, invisible marks around) is the same wall-clock time as the
        /// plain 24-hour text, to the second.
        #[test]
        fn twelve_hour_text_in_any_spacing_and_designator_is_the_same_time(
            ms in MIN_MS..MAX_MS,
            join in 0..JOINS.len(),
            space in 0..SPACES.len(),
            designator in 0..DESIGNATORS.len(),
            lead in 0..INVISIBLE.len(),
            trail in 0..INVISIBLE.len(),
            day_first in any::<bool>(),
        ) {
            let wall = Offset::UTC.to_datetime(Timestamp::from_millisecond(ms).unwrap());
            let wall = wall.with().subsec_nanosecond(0).build().unwrap();
            let hour12 = match wall.hour() % 12 { 0 => 12, h => h };
            let (am, pm) = DESIGNATORS[designator];
            let date = if day_first {
                format!("{}/{}/{}", wall.day(), wall.month(), wall.year())
            } else {
                format!("{}/{}/{}", wall.month(), wall.day(), wall.year())
            };
            let text = format!(
                "{}{date}{}{hour12}:{:02}:{:02}{}{}{}",
                INVISIBLE[lead],
                JOINS[join],
                wall.minute(),
                wall.second(),
                SPACES[space],
                if wall.hour() < 12 { am } else { pm },
                INVISIBLE[trail],
            );
            let r = TimeRules {
                zone: Some(TimeZone::UTC),
                order: Some(if day_first { DateOrder::DayFirst } else { DateOrder::MonthFirst }),
                ..TimeRules::default()
            };
            prop_assert_eq!(r.parse_text(&text), Ok(When::Naive(wall)), "{:?}", text);
        }
    }

    /// 2000-01-01 and 2100-01-01.
    const MIN_MS: i64 = 946_684_800_000;
    const MAX_MS: i64 = 4_102_444_800_000;
}
