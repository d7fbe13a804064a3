//! Tests of numbers in time columns: exact rounding, exponent notation, the two
//! Excel date systems, floats; properties of the round trips.

use super::*;

fn num(s: &str) -> Number<'_> {
    Number::parse(s).unwrap().unwrap()
}

#[test]
fn rounding_is_exact_and_half_up_at_any_length() {
    // Seconds to ms: .1234 down, .1235 up, .12349999… down.
    assert_eq!(round_scaled(1, "1234", 1000, 1), Some(1123));
    assert_eq!(round_scaled(1, "1235", 1000, 1), Some(1124));
    let long = format!("1234{}", "9".repeat(60));
    assert_eq!(round_scaled(1, &long, 1000, 1), Some(1123));
    let tie = format!("1235{}", "0".repeat(60));
    assert_eq!(round_scaled(1, &tie, 1000, 1), Some(1124));
    // µs to ms: 499 down, 500 up.
    assert_eq!(round_scaled(1_000_499, "", 1, 1000), Some(1000));
    assert_eq!(round_scaled(1_000_500, "", 1, 1000), Some(1001));
    // Days: 0.6222222222 d = 53,759,999.998 ms.
    assert_eq!(
        round_scaled(0, "6222222222", 86_400_000, 1),
        Some(53_760_000)
    );
    assert_eq!(round_scaled(u128::MAX, "", 1000, 1), None);
    // Past 64 bits: the 128-bit path gives the same rounding.
    let big = u128::from(u64::MAX) * 10 + 7;
    assert_eq!(round_scaled(big, "", 1, 1000), Some((big + 500) / 1000));
    assert_eq!(round_scaled(big, "5", 1, 1), Some(big + 1));
    assert_eq!(
        round_scaled(big, "", 1, 1_000_000),
        Some((big + 500_000) / 1_000_000)
    );
}

#[test]
fn exponent_notation_is_read_exactly_and_its_precision_known() {
    let n = num("1.71557E+12");
    assert_eq!(
        (n.int, n.frac.as_ref(), n.written),
        (1_715_570_000_000, "", Some((7, 6)))
    );
    let n = num("1,715570123456E+12");
    assert_eq!((n.int, n.written), (1_715_570_123_456, Some((0, 13))));
    let n = num("4.54136E+04");
    assert_eq!((n.int, n.frac.as_ref()), (45413, "6"));
    let n = num("15e-1");
    assert_eq!((n.int, n.frac.as_ref()), (1, "5"));
    assert!(Number::parse("1e400").unwrap().is_err());
    assert!(Number::parse("1.5E+x").is_none());
    assert!(Number::parse("1.5E+-3").is_none());
    assert!(Number::parse("E5").is_none());
}

#[test]
fn coarse_numbers_name_their_step() {
    let err = from_number(
        &num("1.71557E+12"),
        TimeUnit::Auto,
        ExcelEpoch::E1900,
        "1.71557E+12",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("2.8 hours") && text.contains("6 significant"),
        "{text}"
    );
    // Thirteen digits of ms: exact.
    let ok = from_number(
        &num("1.715570123456E+12"),
        TimeUnit::Auto,
        ExcelEpoch::E1900,
        "x",
    );
    assert_eq!(
        ok,
        Ok(When::Instant(
            Timestamp::from_millisecond(1_715_570_123_456).unwrap()
        ))
    );
    // A tenth of a second is fine, ten seconds are not.
    assert!(
        from_number(
            &num("1.7155701234E+09"),
            TimeUnit::Auto,
            ExcelEpoch::E1900,
            "x"
        )
        .is_ok()
    );
    assert!(
        from_number(
            &num("1.71557012E+09"),
            TimeUnit::Auto,
            ExcelEpoch::E1900,
            "x"
        )
        .is_err()
    );
}

#[test]
fn the_two_excel_date_systems() {
    let at = |y, mo, d, h, mi| civil::date(y, mo, d).at(h, mi, 0, 0);
    let ms = |days: u128| days * DAY_MS;
    assert_eq!(
        excel_naive(ms(45413), ExcelEpoch::E1900),
        Some(at(2024, 5, 1, 0, 0))
    );
    assert_eq!(
        excel_naive(ms(43951), ExcelEpoch::E1904),
        Some(at(2024, 5, 1, 0, 0))
    );
    // Serial 1 is 1900-01-01, 59 is 1900-02-28, 60 the day that never was, 61 March 1.
    assert_eq!(
        excel_naive(ms(1), ExcelEpoch::E1900),
        Some(at(1900, 1, 1, 0, 0))
    );
    assert_eq!(
        excel_naive(ms(59), ExcelEpoch::E1900),
        Some(at(1900, 2, 28, 0, 0))
    );
    assert_eq!(excel_naive(ms(60), ExcelEpoch::E1900), None);
    assert_eq!(
        excel_naive(ms(61), ExcelEpoch::E1900),
        Some(at(1900, 3, 1, 0, 0))
    );
    assert_eq!(
        excel_naive(ms(0), ExcelEpoch::E1904),
        Some(at(1904, 1, 1, 0, 0))
    );
    // 9999-12-31 is the last day of both.
    assert_eq!(
        excel_naive(ms(2_958_465), ExcelEpoch::E1900),
        Some(at(9999, 12, 31, 0, 0))
    );
    assert_eq!(excel_naive(ms(2_958_466), ExcelEpoch::E1900), None);
    assert_eq!(excel_naive(ms(2_957_004), ExcelEpoch::E1904), None);
}

#[test]
fn floats_read_as_their_shortest_decimal() {
    let want = When::Naive(civil::date(2024, 5, 1).at(14, 56, 0, 0));
    for (x, epoch) in [
        (45413.6222222222, ExcelEpoch::E1900),
        (43951.6222222222, ExcelEpoch::E1904),
    ] {
        assert_eq!(from_float(x, TimeUnit::Auto, epoch), Ok(want));
    }
    // 1714568159.9996 s is closer to …160.000 than to …159.999.
    assert_eq!(
        from_float(1_714_568_159.999_6, TimeUnit::Auto, ExcelEpoch::E1900),
        Ok(When::Instant(
            Timestamp::from_millisecond(1_714_568_160_000).unwrap()
        ))
    );
    assert_eq!(day_fraction_ms(0.25), Some(21_600_000));
    assert_eq!(day_fraction_ms(0.999_999_999_999), Some(86_400_000));
    assert_eq!(day_fraction_ms(1.5), None);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// 2000-01-01 and 2100-01-01 as Unix ms; days 0 of both systems, Unix ms.
    const MIN_MS: i64 = 946_684_800_000;
    const MAX_MS: i64 = 4_102_444_800_000;
    const DAY0_1900: i64 = -2_209_161_600_000;
    const DAY0_1904: i64 = -2_082_844_800_000;

    proptest! {
        /// A whole millisecond written as serial days, in either system, as a float
        /// (a number cell) or as its text at any length of 10 or more decimals,
        /// comes back as the same millisecond.
        #[test]
        fn whole_milliseconds_round_trip_through_serial_days(
            ms in MIN_MS..MAX_MS,
            e1904 in any::<bool>(),
            decimals in 10usize..=17,
        ) {
            let (epoch, day0) = if e1904 {
                (ExcelEpoch::E1904, DAY0_1904)
            } else {
                (ExcelEpoch::E1900, DAY0_1900)
            };
            let days = (ms - day0) as f64 / 86_400_000.0;
            let want = jiff::tz::Offset::UTC
                .to_datetime(Timestamp::from_millisecond(ms).unwrap());
            prop_assert_eq!(from_float(days, TimeUnit::Excel, epoch), Ok(When::Naive(want)));
            let text = format!("{days:.decimals$}");
            let n = Number::parse(&text).unwrap().unwrap();
            prop_assert_eq!(from_number(&n, TimeUnit::Auto, epoch, &text), Ok(When::Naive(want)), "{}", text);
        }

        /// Whole ms in seconds (any number of extra digits), µs and ns, rounded
        /// by what follows: below half a millisecond down, from half up.
        #[test]
        fn sub_millisecond_digits_round_half_up(
            ms in MIN_MS..MAX_MS,
            extra in 0u32..1_000_000,
        ) {
            let want = |up: bool| When::Instant(Timestamp::from_millisecond(ms + i64::from(up)).unwrap());
            let up = extra >= 500_000;
            let secs = format!("{}.{:03}{extra:06}", ms.div_euclid(1000), ms.rem_euclid(1000));
            let n = Number::parse(&secs).unwrap().unwrap();
            prop_assert_eq!(from_number(&n, TimeUnit::Auto, ExcelEpoch::E1900, &secs), Ok(want(up)));
            let nanos = i128::from(ms) * 1_000_000 + i128::from(extra);
            let n = Number::int(nanos as u128);
            prop_assert_eq!(from_number(&n, TimeUnit::Nanos, ExcelEpoch::E1900, "x"), Ok(want(up)));
            let micros = i128::from(ms) * 1_000 + i128::from(extra / 1000);
            let n = Number::int(micros as u128);
            prop_assert_eq!(from_number(&n, TimeUnit::Micros, ExcelEpoch::E1900, "x"), Ok(want(extra / 1000 >= 500)));
        }
    }
}
