//! click_time: text, numbers and typed cells to Unix milliseconds (UTC).
//!
//! Text is parsed by a hand-written fast path for the shapes exports use (ISO 8601 /
//! RFC 3339, `D/M/Y` or `M/D/Y` with an order decided once per file, optional
//! AM/PM and offset), then jiff for the rest. Numbers go by magnitude or `--time-unit`.

use jiff::civil::{self, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{Timestamp, fmt::strtime};

pub use crate::lead::DstAdjust;
use crate::source::Cell;

mod days;
mod text;

pub use days::DayOffsets;
use text::parse_common;
pub use text::{OrderVerdict, infer_order, slash_fields};

/// What a number in a time column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    /// Decide by magnitude (see `from_number`).
    #[default]
    Auto,
    Seconds,
    Millis,
    Micros,
    Nanos,
    /// Days since 1899-12-30 (Excel's 1900 date system), a wall-clock time.
    Excel,
}

impl std::str::FromStr for TimeUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<TimeUnit, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => TimeUnit::Auto,
            "s" | "sec" | "seconds" => TimeUnit::Seconds,
            "ms" | "millis" | "milliseconds" => TimeUnit::Millis,
            "us" | "micros" | "microseconds" => TimeUnit::Micros,
            "ns" | "nanos" | "nanoseconds" => TimeUnit::Nanos,
            "excel" => TimeUnit::Excel,
            other => {
                return Err(format!(
                    "unknown time unit '{other}' (auto, s, ms, us, ns, excel)"
                ));
            }
        })
    }
}

/// Order of the first two numbers in a date like `03/04/2021`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    DayFirst,
    MonthFirst,
}

/// A parsed time before zone resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Instant(Timestamp),
    Naive(DateTime),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("empty")]
    Missing,
    #[error("cannot read '{0}' as a date-time")]
    Unparseable(String),
    #[error(
        "'{0}': day/month order is ambiguous in this file; give --time-format (e.g. %d/%m/%Y %H:%M)"
    )]
    Ambiguous(String),
    #[error(
        "'{0}' has no UTC offset; give the zone of such times with --timezone (e.g. Europe/Madrid)"
    )]
    NeedsZone(String),
    #[error("number {0} is neither an Excel date nor a Unix time; give --time-unit")]
    Magnitude(String),
    #[error("'{0}' is out of range")]
    Range(String),
}

/// The parser's settings for one file.
#[derive(Debug, Clone, Default)]
pub struct TimeRules {
    pub zone: Option<TimeZone>,
    pub format: Option<String>,
    pub unit: TimeUnit,
    pub order: Option<DateOrder>,
}

impl TimeRules {
    /// Parse a cell of a click_time column.
    pub fn parse_cell(&self, cell: &Cell) -> Result<When, TimeError> {
        match cell {
            Cell::Empty => Err(TimeError::Missing),
            Cell::Text(s) => self.parse_text(s),
            Cell::Int(i) => from_number_parts(&Number::int(*i), self.unit, &i.to_string()),
            Cell::Float(x) => from_float(*x, self.unit),
            Cell::Bool(b) => Err(TimeError::Unparseable(b.to_string())),
            Cell::Naive(dt) => Ok(When::Naive(*dt)),
            Cell::Instant(ts) => Ok(When::Instant(*ts)),
        }
    }

    /// Parse a click_date cell and a click_time_of_day cell joined by one space.
    pub fn parse_pair(&self, date: &Cell, time: &Cell) -> Result<When, TimeError> {
        let d = match date {
            Cell::Empty => return Err(TimeError::Missing),
            Cell::Naive(dt) => dt.date().to_string(),
            Cell::Instant(ts) => Offset::UTC.to_datetime(*ts).date().to_string(),
            Cell::Float(_) | Cell::Int(_) => match self.parse_cell(date)? {
                When::Naive(dt) => dt.date().to_string(),
                When::Instant(ts) => return Ok(When::Instant(ts)),
            },
            other => other.to_string().trim().to_string(),
        };
        let t = match time {
            Cell::Empty => return self.parse_text(&d),
            Cell::Naive(dt) => dt.time().to_string(),
            Cell::Float(x) if (0.0..1.0).contains(x) => {
                let ms = (x * 86_400_000.0).round() as i64;
                civil::Time::midnight()
                    .checked_add(jiff::SignedDuration::from_millis(ms))
                    .map_err(|_| TimeError::Range(x.to_string()))?
                    .to_string()
            }
            other => other.to_string().trim().to_string(),
        };
        self.parse_text(&format!("{d} {t}"))
    }

    pub fn parse_text(&self, s: &str) -> Result<When, TimeError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TimeError::Missing);
        }
        if let Some(format) = &self.format {
            return parse_with_format(format, s);
        }
        if let Some(n) = Number::parse(s) {
            return from_number_parts(&n, self.unit, s);
        }
        if let Some(w) = parse_common(s, self.order)? {
            return Ok(w);
        }
        parse_fallback(s)
    }

    /// Resolve to Unix milliseconds; naive times need the zone.
    pub fn resolve(
        &self,
        when: When,
        raw: impl Fn() -> String,
    ) -> Result<(i64, DstAdjust), TimeError> {
        match when {
            When::Instant(ts) => Ok((ts.as_millisecond(), DstAdjust::None)),
            When::Naive(dt) => {
                let zone = self
                    .zone
                    .as_ref()
                    .ok_or_else(|| TimeError::NeedsZone(raw()))?;
                let amb = zone.to_ambiguous_timestamp(dt);
                let adjust = match amb.offset() {
                    AmbiguousOffset::Unambiguous { .. } => DstAdjust::None,
                    AmbiguousOffset::Gap { .. } => DstAdjust::Gap,
                    AmbiguousOffset::Fold { .. } => DstAdjust::Fold,
                };
                let ts = amb.compatible().map_err(|_| TimeError::Range(raw()))?;
                Ok((ts.as_millisecond(), adjust))
            }
        }
    }
}

fn parse_with_format(format: &str, s: &str) -> Result<When, TimeError> {
    let tm = strtime::parse(format, s).map_err(|_| TimeError::Unparseable(s.to_string()))?;
    if tm.offset().is_some() || tm.timestamp().is_some() {
        return tm
            .to_timestamp()
            .map(When::Instant)
            .map_err(|_| TimeError::Unparseable(s.to_string()));
    }
    tm.to_datetime()
        .map(When::Naive)
        .map_err(|_| TimeError::Unparseable(s.to_string()))
}

/// RFC 3339 with brackets, RFC 2822, anything jiff knows.
fn parse_fallback(s: &str) -> Result<When, TimeError> {
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(When::Instant(ts));
    }
    if let Ok(zdt) = jiff::fmt::rfc2822::parse(s) {
        return Ok(When::Instant(zdt.timestamp()));
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return Ok(When::Naive(dt));
    }
    Err(TimeError::Unparseable(s.to_string()))
}

/// A number written in a cell, kept exact: integer part and fraction digits.
#[derive(Debug, Clone)]
struct Number<'a> {
    int: u128,
    frac: &'a str,
    /// Scientific notation or beyond u128: only as a float.
    float: Option<f64>,
}

impl<'a> Number<'a> {
    fn int(i: i64) -> Number<'static> {
        Number {
            int: u128::from(i.unsigned_abs()),
            frac: "",
            float: (i < 0).then_some(i as f64),
        }
    }

    fn parse(s: &'a str) -> Option<Number<'a>> {
        let b = s.as_bytes();
        if !b.first()?.is_ascii_digit() {
            return None;
        }
        let (int_part, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int_part.bytes().all(|c| c.is_ascii_digit()) && frac.bytes().all(|c| c.is_ascii_digit())
        {
            return Some(Number {
                int: int_part.parse().ok()?,
                frac,
                float: None,
            });
        }
        if s.contains(['e', 'E']) {
            let x: f64 = s.parse().ok()?;
            return Some(Number {
                int: 0,
                frac: "",
                float: Some(x),
            });
        }
        None
    }
}

/// Digits of a fraction scaled to `places` digits (truncating), as an integer.
fn frac_scaled(frac: &str, places: usize) -> u128 {
    let mut v: u128 = 0;
    for i in 0..places {
        let d = frac.as_bytes().get(i).map_or(0, |c| c - b'0');
        v = v * 10 + u128::from(d);
    }
    v
}

fn magnitude_unit(value: f64, raw: &str) -> Result<TimeUnit, TimeError> {
    Ok(match value {
        v if v < 1e6 => TimeUnit::Excel,
        v if v < 1e8 => return Err(TimeError::Magnitude(raw.to_string())),
        v if v < 1e11 => TimeUnit::Seconds,
        v if v < 1e14 => TimeUnit::Millis,
        v if v < 1e17 => TimeUnit::Micros,
        _ => TimeUnit::Nanos,
    })
}

fn from_number_parts(n: &Number<'_>, unit: TimeUnit, raw: &str) -> Result<When, TimeError> {
    if let Some(x) = n.float {
        return from_float(x, unit);
    }
    let unit = match unit {
        TimeUnit::Auto => magnitude_unit(n.int as f64, raw)?,
        u => u,
    };
    let range = || TimeError::Range(raw.to_string());
    let ms: u128 = match unit {
        TimeUnit::Seconds => n.int.checked_mul(1000).ok_or_else(range)? + frac_scaled(n.frac, 3),
        TimeUnit::Millis => n.int,
        TimeUnit::Micros => n.int / 1_000,
        TimeUnit::Nanos => n.int / 1_000_000,
        TimeUnit::Excel | TimeUnit::Auto => {
            let x: f64 = raw.parse().map_err(|_| range())?;
            return excel_serial(x, raw);
        }
    };
    let ms = i64::try_from(ms).map_err(|_| range())?;
    Timestamp::from_millisecond(ms)
        .map(When::Instant)
        .map_err(|_| range())
}

/// Floats (spreadsheet and Parquet numbers): to the millisecond, truncating, but
/// without letting binary noise (…122.99999) drop a millisecond.
fn from_float(x: f64, unit: TimeUnit) -> Result<When, TimeError> {
    let raw = || x.to_string();
    if !x.is_finite() || x < 0.0 {
        return Err(TimeError::Range(raw()));
    }
    let unit = match unit {
        TimeUnit::Auto => magnitude_unit(x, &raw())?,
        u => u,
    };
    let per_ms = match unit {
        TimeUnit::Seconds => 1e-3,
        TimeUnit::Millis => 1.0,
        TimeUnit::Micros => 1e3,
        TimeUnit::Nanos => 1e6,
        TimeUnit::Excel | TimeUnit::Auto => return excel_serial(x, &raw()),
    };
    let ms = float_ms(x / per_ms);
    Timestamp::from_millisecond(ms)
        .map(When::Instant)
        .map_err(|_| TimeError::Range(raw()))
}

fn float_ms(ms: f64) -> i64 {
    let r = ms.round();
    if (ms - r).abs() < 1e-3 {
        r as i64
    } else {
        ms.floor() as i64
    }
}

/// Excel serial days (1900 date system) to a wall-clock time.
fn excel_serial(days: f64, raw: &str) -> Result<When, TimeError> {
    if !days.is_finite() || !(0.0..2_958_466.0).contains(&days) {
        return Err(TimeError::Range(raw.to_string()));
    }
    let ms = float_ms(days * 86_400_000.0);
    civil::date(1899, 12, 30)
        .to_datetime(civil::Time::midnight())
        .checked_add(jiff::SignedDuration::from_millis(ms))
        .map(When::Naive)
        .map_err(|_| TimeError::Range(raw.to_string()))
}

#[cfg(test)]
mod tests;
