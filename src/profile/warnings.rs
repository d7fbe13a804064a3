//! The classic mistakes of offline conversions, caught in a profile before a lead
//! is sent: a file read in the wrong zone (most leads at night), dates without a
//! time of day (every lead at midnight), a unit or format mistake (times that span
//! more than five years, or all fall in one second). Each warning names the flag
//! that fixes it.

use serde::Serialize;

use super::days::{DAY_MS, HOUR_MS};

/// The night: local hours 00:00 to 06:00 (hours 0 to 5 of `by_hour`).
const NIGHT_HOURS: usize = 6;
/// Share of the leads at night, at least, that makes the zone suspect: people
/// seldom fill forms or call at night, and a file read in a zone 6 to 9 hours off
/// (New York read as Madrid) moves its evening peak there.
const NIGHT_SHARE: f64 = 0.6;
/// Leads needed before a share says anything.
const NIGHT_MIN: u64 = 20;
/// Leads needed before "all in one second" is a mistake rather than a coincidence.
const ONE_SECOND_MIN: u64 = 10;
/// Leads needed before "(most) at midnight" is.
const MIDNIGHT_MIN: u64 = 2;
/// Five years (of 365.2425 days), in milliseconds.
const FIVE_YEARS_MS: i64 = 5 * 31_556_952_000;

/// A likely mistake in a file's click times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// `night`, `midnight`, `span` or `one_second`.
    pub code: &'static str,
    /// The flags that fix it.
    pub flags: &'static [&'static str],
    /// What was seen and what to do, for people.
    pub message: String,
}

/// What the checks look at, from a profile.
pub struct Shape<'a> {
    pub leads: u64,
    /// UTC milliseconds of the first and last click.
    pub first: i64,
    pub last: i64,
    /// The first and last click on the zone's clock (`YYYY-MM-DD HH:MM:SS`).
    pub first_local: &'a str,
    pub last_local: &'a str,
    /// Leads by local hour of day.
    pub hours: &'a [u64; 24],
    /// Leads at exactly 00:00:00.000 on the zone's clock or in UTC.
    pub midnight: u64,
    /// The zone's name; `None` when the run has no `--timezone` (UTC).
    pub zone: Option<&'a str>,
}

/// The warnings a profile deserves, in a fixed order.
pub fn check(s: &Shape<'_>) -> Vec<Warning> {
    let mut out = Vec::new();
    if s.leads == 0 {
        return out;
    }
    let zone = s.zone.unwrap_or("UTC");
    // Dates without a time of day: all, or most (a few rows with a time do not
    // hide it, and the midnights must not pass for night-time leads).
    let midnight = s.leads >= MIDNIGHT_MIN && s.midnight as f64 >= NIGHT_SHARE * s.leads as f64;
    if midnight {
        let how_many = match s.midnight == s.leads {
            true => "every click time is".to_string(),
            false => format!("{} of {} click times are", s.midnight, s.leads),
        };
        out.push(Warning {
            code: "midnight",
            flags: &["--map click_time_of_day=COLUMN"],
            message: format!(
                "{how_many} exactly 00:00:00 ({zone}, or UTC): the file gives dates without \
                 a time of day, so the click's hour is lost (each lead is sent at the start \
                 of its day, before that day's clicks); map the column with the time of day \
                 (--map click_time_of_day=COLUMN) or export the time with the date"
            ),
        });
    }
    let night: u64 = s.hours[..NIGHT_HOURS].iter().sum();
    if !midnight && s.leads >= NIGHT_MIN && night as f64 >= NIGHT_SHARE * s.leads as f64 {
        let pct = (100 * night / s.leads) as u32;
        let message = match s.zone {
            Some(zone) => format!(
                "{pct}% of the leads fall between 00:00 and 06:00 in {zone}: is --timezone \
                 right? Times without a UTC offset are read in it (an export from another zone is moved by the difference: New York read as \
                 Europe/Madrid, 6 hours early); times with an offset are exact, so local \
                 times marked as UTC or with another zone's offset are off by that offset"
            ),
            None => format!(
                "{pct}% of the leads fall between 00:00 and 06:00 UTC: give --timezone with \
                 the leads' zone to see their hours there; if the file's times are local times \
                 marked as UTC, every lead is that zone's offset off"
            ),
        };
        out.push(Warning {
            code: "night",
            flags: &["--timezone"],
            message,
        });
    }
    let span = s.last - s.first;
    if span > FIVE_YEARS_MS {
        out.push(Warning {
            code: "span",
            flags: &["--time-unit", "--time-format"],
            message: format!(
                "the click times span {:.1} years ({} to {}, {zone}): a unit or format \
                 mistake? Numbers: check --time-unit; text: check --time-format (day/month \
                 order, two-digit years)",
                span as f64 / (365.2425 * DAY_MS as f64),
                s.first_local,
                s.last_local
            ),
        });
    }
    if s.leads >= ONE_SECOND_MIN && span < 1000 {
        out.push(Warning {
            code: "one_second",
            flags: &["--map click_time=COLUMN", "--time-unit"],
            message: format!(
                "all {} click times fall within one second ({}, {zone}): is the click time \
                 column the right one (an export or upload time? --map click_time=COLUMN), \
                 and its unit (--time-unit)?",
                s.leads, s.first_local
            ),
        });
    }
    out
}

/// Local wall-clock milliseconds as `YYYY-MM-DD HH:MM:SS`.
pub fn wall(local_ms: i64) -> String {
    let date = super::days::date_of(local_ms.div_euclid(DAY_MS));
    let of_day = local_ms.rem_euclid(DAY_MS);
    format!(
        "{date} {:02}:{:02}:{:02}",
        of_day / HOUR_MS,
        of_day % HOUR_MS / 60_000,
        of_day % 60_000 / 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(hours: &[u64; 24], midnight: u64, first: i64, last: i64) -> Vec<Warning> {
        let leads = hours.iter().sum();
        check(&Shape {
            leads,
            first,
            last,
            first_local: "2024-06-01 00:00:00",
            last_local: "2024-06-30 00:00:00",
            hours,
            midnight,
            zone: Some("Europe/Madrid"),
        })
    }

    fn codes(w: &[Warning]) -> Vec<&str> {
        w.iter().map(|w| w.code).collect()
    }

    const JUNE: i64 = 1_717_200_000_000;

    #[test]
    fn a_daytime_file_is_quiet() {
        let mut hours = [0; 24];
        hours[8..22].fill(10);
        hours[2] = 5;
        assert!(shape(&hours, 0, JUNE, JUNE + 29 * DAY_MS).is_empty());
    }

    #[test]
    fn most_leads_at_night_question_the_zone() {
        let mut hours = [0; 24];
        hours[1] = 30;
        hours[4] = 30;
        hours[15] = 40; // 60% at night
        let w = shape(&hours, 0, JUNE, JUNE + DAY_MS);
        assert_eq!(codes(&w), ["night"]);
        assert_eq!(w[0].flags, ["--timezone"]);
        assert!(
            w[0].message.starts_with("60% of the leads"),
            "{}",
            w[0].message
        );
        assert!(w[0].message.contains("Europe/Madrid"));
        hours[15] = 41; // 59%
        assert!(shape(&hours, 0, JUNE, JUNE + DAY_MS).is_empty());
        // Too few leads to say.
        let mut few = [0; 24];
        few[3] = 19;
        assert!(shape(&few, 0, JUNE, JUNE + DAY_MS).is_empty());
        few[3] = 20;
        assert_eq!(codes(&shape(&few, 0, JUNE, JUNE + DAY_MS)), ["night"]);
    }

    #[test]
    fn every_lead_at_midnight_is_a_date_without_a_time() {
        let mut hours = [0; 24];
        hours[0] = 50;
        let w = shape(&hours, 50, JUNE, JUNE + 20 * DAY_MS);
        assert_eq!(codes(&w), ["midnight"], "and not night as well");
        assert!(w[0].message.contains("--map click_time_of_day"));
        // Most at midnight (a few rows with a time): still dates without a
        // time, and the midnights are not taken for night-time leads.
        let w = shape(&hours, 30, JUNE, JUNE + 20 * DAY_MS);
        assert_eq!(codes(&w), ["midnight"]);
        assert!(
            w[0].message.starts_with("30 of 50 click times"),
            "{}",
            w[0].message
        );
        // Under 60% at midnight, the rest at night: the night it is.
        assert_eq!(
            codes(&shape(&hours, 29, JUNE, JUNE + 20 * DAY_MS)),
            ["night"]
        );
        // A single date proves nothing.
        let mut one = [0; 24];
        one[0] = 1;
        assert!(shape(&one, 1, JUNE, JUNE).is_empty());
    }

    #[test]
    fn five_years_or_one_second_are_unit_mistakes() {
        let mut hours = [0; 24];
        hours[12] = 10;
        let w = shape(&hours, 0, JUNE, JUNE + FIVE_YEARS_MS + 1);
        assert_eq!(codes(&w), ["span"]);
        assert!(w[0].message.contains("5.0 years"), "{}", w[0].message);
        assert!(shape(&hours, 0, JUNE, JUNE + FIVE_YEARS_MS).is_empty());
        let w = shape(&hours, 0, JUNE, JUNE + 999);
        assert_eq!(codes(&w), ["one_second"]);
        assert!(w[0].message.contains("all 10 click times"));
        assert!(shape(&hours, 0, JUNE, JUNE + 1000).is_empty());
        hours[12] = 9;
        assert!(shape(&hours, 0, JUNE, JUNE).is_empty(), "too few to say");
    }

    #[test]
    fn without_a_zone_the_night_is_utcs() {
        let mut hours = [0; 24];
        hours[2] = 25;
        let w = check(&Shape {
            leads: 25,
            first: JUNE,
            last: JUNE + DAY_MS,
            first_local: "",
            last_local: "",
            hours: &hours,
            midnight: 0,
            zone: None,
        });
        assert_eq!(codes(&w), ["night"]);
        assert!(
            w[0].message.contains("UTC: give --timezone"),
            "{}",
            w[0].message
        );
    }

    #[test]
    fn wall_clock_text() {
        assert_eq!(wall(1_717_243_930_000), "2024-06-01 12:12:10");
        assert_eq!(wall(-1000), "1969-12-31 23:59:59");
    }
}
