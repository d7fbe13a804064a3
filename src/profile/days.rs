//! Clicks on the run's clock: the local date and hour of a UTC instant in the
//! run's `--timezone` (UTC without one), read off a table of each UTC day's
//! offset; and the counts of leads by local day, in bounded memory.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;

/// The first UTC day in the offsets table, in days since 1970-01-01: 1999-12-31
/// (no valid click is earlier than 2000-01-01T00:00Z).
const FIRST_DAY: i64 = 10_956;
/// UTC days in the table: to 2045, past any click a file can hold; later (and
/// earlier) days ask the zone.
const TABLE_DAYS: i64 = 46 * 366;
/// A UTC day with a transition in it: the zone is asked.
const MIXED: i32 = i32::MIN;

/// UTC milliseconds to local wall-clock milliseconds (as if the local date and
/// time were UTC: `div_euclid(DAY_MS)` is the local day, the rest its time of day).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: UTC.
    zone: Option<TimeZone>,
    /// UTC offset in seconds of each UTC day from `FIRST_DAY` on, or `MIXED`.
    offsets: Vec<i32>,
}

impl Clock {
    /// The table is built from the zone's transitions in one pass (about 17,000
    /// days, a few dozen transitions): microseconds, once a file.
    pub fn new(zone: Option<&TimeZone>) -> Clock {
        let Some(tz) = zone else {
            return Clock::default();
        };
        let start = Timestamp::from_second(FIRST_DAY * 86_400).unwrap_or(Timestamp::UNIX_EPOCH);
        let end = (FIRST_DAY + TABLE_DAYS) * 86_400;
        let transitions: Vec<(i64, i32)> = tz
            .following(start)
            .map(|t| (t.timestamp().as_second(), t.offset().seconds()))
            .take_while(|(at, _)| *at < end)
            .collect();
        let mut offset = tz.to_offset(start).seconds();
        let mut next = 0;
        let mut offsets = Vec::with_capacity(TABLE_DAYS as usize);
        for day in FIRST_DAY..FIRST_DAY + TABLE_DAYS {
            let (from, to) = (day * 86_400, (day + 1) * 86_400);
            while let Some(&(at, after)) = transitions.get(next)
                && at <= from
            {
                offset = after;
                next += 1;
            }
            let mixed = transitions.get(next).is_some_and(|&(at, _)| at < to);
            offsets.push(if mixed { MIXED } else { offset });
        }
        Clock {
            zone: Some(tz.clone()),
            offsets,
        }
    }

    pub fn zone(&self) -> Option<&TimeZone> {
        self.zone.as_ref()
    }

    /// The zone's IANA name, or `UTC`.
    pub fn name(&self) -> String {
        self.zone
            .as_ref()
            .and_then(|z| z.iana_name())
            .unwrap_or("UTC")
            .to_string()
    }

    /// Local wall-clock milliseconds of `utc_ms`.
    #[inline]
    pub fn local(&self, utc_ms: i64) -> i64 {
        let Some(tz) = &self.zone else {
            return utc_ms;
        };
        // Truncating division: an instant before 1970 gives a day outside the
        // table either way (the table starts in 1999).
        let day = (utc_ms / DAY_MS).wrapping_sub(FIRST_DAY);
        match usize::try_from(day).ok().and_then(|i| self.offsets.get(i)) {
            Some(&o) if o != MIXED => utc_ms + i64::from(o) * 1000,
            _ => self.asked(tz, utc_ms),
        }
    }

    /// Local milliseconds of an instant outside the table or on a day with a
    /// transition: the zone asked.
    #[inline(never)]
    fn asked(&self, tz: &TimeZone, utc_ms: i64) -> i64 {
        let offset = Timestamp::from_millisecond(utc_ms).map_or(0, |ts| tz.to_offset(ts).seconds());
        utc_ms + i64::from(offset) * 1000
    }
}

/// The day (days since 1970-01-01) and time of day (milliseconds) of local
/// wall-clock milliseconds.
#[inline(always)]
pub fn day_and_time(local: i64) -> (i64, i64) {
    // Unsigned division by a constant is a multiply and a shift; every valid
    // click is after 1970.
    match u64::try_from(local) {
        Ok(l) => ((l / DAY_MS as u64) as i64, (l % DAY_MS as u64) as i64),
        Err(_) => (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS)),
    }
}

/// Days counted in an array from this local day (1999-12-31, the earliest local
/// date of a valid click in any zone)...
const DENSE_FROM: i64 = FIRST_DAY - 1;
/// ...for this many days (to 2054); others, which no valid click has, in a map.
const DENSE_DAYS: usize = 20_000;

/// Leads by local day (days since 1970-01-01). Memory: at most the array of
/// `DENSE_DAYS` counts (160 KB), grown as far as the latest day seen, whatever
/// the number of rows; the report lists only days with leads.
#[derive(Debug, Clone, Default)]
pub struct DayCounts {
    dense: Vec<u64>,
    other: BTreeMap<i64, u64>,
}

impl DayCounts {
    #[inline]
    pub fn add(&mut self, day: i64, n: u64) {
        match usize::try_from(day - DENSE_FROM) {
            Ok(i) if i < DENSE_DAYS => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, 0);
                }
                self.dense[i] += n;
            }
            _ => *self.other.entry(day).or_default() += n,
        }
    }

    pub fn merge(&mut self, other: &DayCounts) {
        for (day, n) in other.days() {
            self.add(day, n);
        }
    }

    /// `(day, leads)` of the days with leads, in order.
    pub fn days(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (DENSE_FROM + i as i64, *n));
        let before = self.other.range(..DENSE_FROM).map(|(d, n)| (*d, *n));
        let after = self.other.range(DENSE_FROM..).map(|(d, n)| (*d, *n));
        before.chain(dense).chain(after)
    }

    /// `YYYY-MM-DD -> leads`, or, past `max_days` days with leads,
    /// `YYYY-MM -> leads` (the `bool` says which).
    pub fn keyed(&self, max_days: usize) -> (BTreeMap<String, u64>, bool) {
        let by_month = self.days().nth(max_days).is_some();
        let mut out = BTreeMap::new();
        for (day, n) in self.days() {
            let date = date_of(day);
            let key = if by_month {
                date.strftime("%Y-%m").to_string()
            } else {
                date.to_string()
            };
            *out.entry(key).or_default() += n;
        }
        (out, by_month)
    }
}

/// The date `day` days after 1970-01-01 (clamped to jiff's range).
pub fn date_of(day: i64) -> Date {
    let seconds = day.saturating_mul(86_400);
    let ts = Timestamp::from_second(seconds).unwrap_or(if seconds < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    jiff::tz::Offset::UTC.to_datetime(ts).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONES: [&str; 7] = [
        "Europe/Madrid",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Apia",
        "America/Sao_Paulo",
        "UTC",
    ];

    fn jiffs(tz: &TimeZone, ms: i64) -> i64 {
        let ts = Timestamp::from_millisecond(ms).unwrap();
        ms + i64::from(tz.to_offset(ts).seconds()) * 1000
    }

    #[test]
    fn every_quarter_hour_of_two_decades_is_local_as_the_zone_says() {
        for name in ZONES {
            let tz = TimeZone::get(name).unwrap();
            let clock = Clock::new(Some(&tz));
            // 2004 to 2026 in steps of 15 min and 7 s (every minute of the hour in turn).
            let mut ms = 1_072_915_200_000i64;
            while ms < 1_767_225_600_000 {
                assert_eq!(clock.local(ms), jiffs(&tz, ms), "{name} at {ms}");
                ms += 907_000;
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_instant_is_local_as_the_zone_says(
            zone in 0..ZONES.len(),
            ms in -1_000_000_000_000i64..4_000_000_000_000,
        ) {
            let tz = TimeZone::get(ZONES[zone]).unwrap();
            let clock = Clock::new(Some(&tz));
            proptest::prop_assert_eq!(clock.local(ms), jiffs(&tz, ms));
        }
    }

    #[test]
    fn without_a_zone_the_clock_is_utc() {
        let c = Clock::new(None);
        assert_eq!(c.local(1_719_792_000_123), 1_719_792_000_123);
        assert_eq!(c.name(), "UTC");
        assert_eq!(
            Clock::new(Some(&TimeZone::get("Europe/Madrid").unwrap())).name(),
            "Europe/Madrid"
        );
    }

    #[test]
    fn days_are_listed_in_order_with_their_dates() {
        let mut d = DayCounts::default();
        d.add(19_875, 2); // 2024-06-01
        d.add(19_876, 1);
        d.add(19_875, 3);
        d.add(-5, 1); // outside the array: 1969-12-27
        d.add(DENSE_FROM + DENSE_DAYS as i64 + 3, 4);
        let days: Vec<(i64, u64)> = d.days().collect();
        assert_eq!(
            days,
            [
                (-5, 1),
                (19_875, 5),
                (19_876, 1),
                (DENSE_FROM + DENSE_DAYS as i64 + 3, 4)
            ]
        );
        let (keyed, by_month) = d.keyed(10_000);
        assert!(!by_month);
        assert_eq!(keyed["2024-06-01"], 5);
        assert_eq!(keyed["1969-12-27"], 1);
        let mut m = DayCounts::default();
        m.merge(&d);
        m.merge(&d);
        assert_eq!(m.days().nth(1), Some((19_875, 10)));
    }

    #[test]
    fn days_in_and_around_the_dense_array_are_counted_in_order() {
        // Days near 2024-06-01, years away, before 1999 and across the start of
        // the dense array (in the map), in file order.
        let days = [
            19_875,
            19_876,
            19_875,
            19_875 - 500,
            19_875 + 513,
            12,
            -40,
            DENSE_FROM + 3,
            DENSE_FROM - 2,
            DENSE_FROM + 3,
        ];
        let mut counts = DayCounts::default();
        let mut truth = BTreeMap::<i64, u64>::new();
        for d in days {
            counts.add(d, 1);
            *truth.entry(d).or_default() += 1;
        }
        let got: Vec<(i64, u64)> = counts.days().collect();
        assert_eq!(got, truth.into_iter().collect::<Vec<_>>());
        assert_eq!(got.iter().map(|(_, n)| n).sum::<u64>(), days.len() as u64);
        assert_eq!(DayCounts::default().days().count(), 0);
    }

    #[test]
    fn day_and_time_splits_before_and_after_1970() {
        assert_eq!(day_and_time(DAY_MS + 5), (1, 5));
        assert_eq!(day_and_time(0), (0, 0));
        assert_eq!(day_and_time(-1), (-1, DAY_MS - 1));
        assert_eq!(day_and_time(-DAY_MS), (-1, 0));
    }

    #[test]
    fn past_the_limit_days_become_months() {
        let mut d = DayCounts::default();
        for day in 19_875..19_875 + 40 {
            d.add(day, 1); // 2024-06-01 to 2024-07-10
        }
        let (keyed, by_month) = d.keyed(40);
        assert!(!by_month, "40 days are within a limit of 40");
        assert_eq!(keyed.len(), 40);
        let (keyed, by_month) = d.keyed(39);
        assert!(by_month);
        assert_eq!(
            keyed.into_iter().collect::<Vec<_>>(),
            [("2024-06".to_string(), 30), ("2024-07".to_string(), 10)]
        );
    }
}
