//! A time zone's offset for each whole day, so that a naive time on an ordinary day
//! resolves with one table lookup and some arithmetic instead of a search of the
//! zone's transitions (this runs for every row of most files).

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// Days from this date on are in the table.
const FIRST: (i16, i8, i8) = (2000, 1, 1);
/// Days in the table: to about 2040, well past the clicks a file can hold.
const DAYS: usize = 40 * 366;
/// A day near a transition: resolved the slow way.
const NONE: i32 = i32::MIN;

#[derive(Debug, Clone)]
pub struct DayOffsets {
    first: i64,
    /// UTC offset in seconds of each day whose 24 hours all have it, else `NONE`.
    offsets: Vec<i32>,
}

impl DayOffsets {
    /// About 15,000 days, each checked with the zone's own rules: about a
    /// millisecond in a release build, once a file.
    pub fn new(tz: &TimeZone) -> DayOffsets {
        let (y, m, d) = FIRST;
        let mut day = Date::constant(y, m, d);
        let mut offsets = Vec::with_capacity(DAYS);
        for _ in 0..DAYS {
            offsets.push(whole_day_offset(tz, day).unwrap_or(NONE));
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        DayOffsets {
            first: epoch_day(y.into(), m.into(), d.into()),
            offsets,
        }
    }

    /// Unix milliseconds of `dt`, when its day has one offset throughout; `None`
    /// for days near a transition (gaps and folds) and days outside the table.
    pub fn millis(&self, dt: DateTime) -> Option<i64> {
        let day = epoch_day(dt.year().into(), dt.month().into(), dt.day().into());
        let index = usize::try_from(day - self.first).ok()?;
        let offset = *self.offsets.get(index)?;
        if offset == NONE {
            return None;
        }
        let seconds = day * 86_400
            + i64::from(dt.hour()) * 3600
            + i64::from(dt.minute()) * 60
            + i64::from(dt.second())
            - i64::from(offset);
        Some(seconds * 1000 + i64::from(dt.subsec_nanosecond()) / 1_000_000)
    }
}

/// The offset of `day` when every wall-clock time in it has that offset and no
/// other: no transition within two days of it. A transition's gap or fold spans
/// the wall-clock times between its two offsets, which can fall on the day before
/// or after its instant's (clocks set back at 00:30 repeat the previous day's last
/// half hour), and offsets are within a day of UTC, so two days is enough.
fn whole_day_offset(tz: &TimeZone, day: Date) -> Option<i32> {
    let midnight = day.to_datetime(Time::midnight());
    let AmbiguousOffset::Unambiguous { offset } = tz.to_ambiguous_timestamp(midnight).offset()
    else {
        return None;
    };
    let start: Timestamp = offset.to_timestamp(midnight).ok()?;
    let margin = SignedDuration::from_hours(48);
    let from = start.checked_sub(margin).ok()?;
    let to = start
        .checked_add(SignedDuration::from_hours(24))
        .and_then(|end| end.checked_add(margin))
        .ok()?;
    match tz.following(from).next() {
        Some(t) if t.timestamp() <= to => None,
        _ => Some(offset.seconds()),
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn epoch_day(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zones with the awkward cases: transitions at midnight (Sao Paulo), half-hour
    /// DST (Lord Howe), two-hour DST (Troll), odd offsets (Kathmandu, St Johns), a
    /// skipped day (Apia, 2011-12-30), offset changes without DST (Moscow), none at
    /// all (UTC).
    const ZONES: [&str; 10] = [
        "Antarctica/Troll",
        "Europe/Madrid",
        "America/New_York",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "America/St_Johns",
        "Pacific/Apia",
        "Europe/Moscow",
        "UTC",
    ];

    /// jiff's answer, and whether it found the time unambiguous (the table's
    /// answers must be: a gap or fold is reported).
    fn slow(tz: &TimeZone, dt: DateTime) -> (i64, bool) {
        let amb = tz.to_ambiguous_timestamp(dt);
        let unambiguous = matches!(amb.offset(), AmbiguousOffset::Unambiguous { .. });
        (amb.compatible().unwrap().as_millisecond(), unambiguous)
    }

    #[test]
    fn epoch_days_are_jiffs() {
        let epoch = Date::constant(1970, 1, 1);
        let mut d = Date::constant(1999, 12, 1);
        for _ in 0..20_000 {
            let want = (d - epoch).get_days();
            assert_eq!(
                epoch_day(d.year().into(), d.month().into(), d.day().into()),
                i64::from(want),
                "{d}"
            );
            d = d.tomorrow().unwrap();
        }
    }

    #[test]
    fn transition_days_are_left_to_the_zone() {
        let madrid = DayOffsets::new(&TimeZone::get("Europe/Madrid").unwrap());
        // Spring forward and fall back in 2024, and the days two days around them
        // (left to the zone too); days further away are in the table.
        for (y, m, d, whole) in [
            (2024, 3, 28, true),
            (2024, 3, 29, false),
            (2024, 3, 31, false),
            (2024, 4, 2, false),
            (2024, 4, 3, true),
            (2024, 10, 27, false),
            (2024, 11, 1, true),
        ] {
            let dt = DateTime::constant(y, m, d, 12, 0, 0, 0);
            assert_eq!(madrid.millis(dt).is_some(), whole, "{dt}");
        }
        // Before and after the table.
        assert_eq!(
            madrid.millis(DateTime::constant(1999, 12, 31, 12, 0, 0, 0)),
            None
        );
        assert_eq!(
            madrid.millis(DateTime::constant(2050, 1, 1, 12, 0, 0, 0)),
            None
        );
        // Apia skipped 2011-12-30 (the day is in the gap): never resolved here.
        let apia = DayOffsets::new(&TimeZone::get("Pacific/Apia").unwrap());
        assert_eq!(
            apia.millis(DateTime::constant(2011, 12, 30, 12, 0, 0, 0)),
            None
        );
    }

    static TABLES: std::sync::LazyLock<Vec<(TimeZone, DayOffsets)>> =
        std::sync::LazyLock::new(|| {
            ZONES
                .iter()
                .map(|name| {
                    let tz = TimeZone::get(name).unwrap();
                    let days = DayOffsets::new(&tz);
                    (tz, days)
                })
                .collect()
        });

    proptest::proptest! {
        #[test]
        fn whole_days_resolve_as_the_zone_does(
            zone in 0..ZONES.len(),
            seconds in 946_684_800i64..2_208_988_800,
            ms in 0i32..1000,
        ) {
            let (tz, days) = &TABLES[zone];
            // A wall-clock time anywhere from 2000 to 2040.
            let dt = jiff::tz::Offset::UTC
                .to_datetime(Timestamp::from_second(seconds).unwrap())
                .with()
                .subsec_nanosecond(ms * 1_000_000)
                .build()
                .unwrap();
            if let Some(fast) = days.millis(dt) {
                proptest::prop_assert_eq!((fast, true), slow(tz, dt), "{} in {}", dt, ZONES[zone]);
            }
        }
    }

    #[test]
    fn every_hour_of_two_decades_resolves_as_the_zone_does() {
        for (name, (tz, days)) in ZONES.iter().zip(TABLES.iter()) {
            let mut dt = DateTime::constant(2005, 1, 1, 0, 30, 15, 250_000_000);
            let mut fast = 0;
            while dt.year() < 2025 {
                if let Some(ms) = days.millis(dt) {
                    assert_eq!((ms, true), slow(tz, dt), "{dt} in {name}");
                    fast += 1;
                }
                dt = dt.checked_add(SignedDuration::from_mins(61)).unwrap();
            }
            // All but the days near transitions (of 172,000 times).
            assert!(fast > 160_000, "{name}: {fast}");
        }
    }
}
