//! click_time: text, numbers and typed cells to Unix milliseconds (UTC).
//!
//! Text is parsed by a hand-written fast path for the shapes exports use (ISO 8601 /
//! RFC 3339, `D/M/Y` or `M/D/Y` with an order decided once per file, optional
//! AM/PM and offset), then jiff for the rest; text neither reads is brought to those
//! shapes (Unicode spaces, locale AM/PM designators, words between date and time) and
//! read again. Numbers go by magnitude or `--time-unit`, rounded to the millisecond.

use jiff::civil::{self, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{Timestamp, fmt::strtime};

use crate::cell::Cell;
pub use crate::lead::DstAdjust;
use crate::normalize::unicode::shown;

mod days;
mod locale;
mod number;
mod text;

pub use days::DayOffsets;
pub use number::{ExcelEpoch, excel_float_naive, excel_naive};
use number::{Number, day_fraction_ms, from_float, from_number};
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
    /// Excel serial days, a wall-clock time: since 1899-12-30 (the 1900 date
    /// system), or since 1904-01-01 in a workbook of the 1904 system.
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

/// Why a click_time cell was not taken. Values in messages are shown as written, with
/// invisible characters escaped (`3:27:05\u{202F}PM`) and long values cut.
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
    /// A number in exponent notation whose last written digit is worth more than a
    /// second: the exporting program rounded the time (Excel shows numbers of 12 or
    /// more digits so in a General column, and saves them so to CSV).
    #[error(
        "'{raw}' is in exponent notation with {significant} significant digits: it is \
         precise only to {step}, so the time was rounded away before export; format the \
         column as a number (no decimals) or as text before exporting"
    )]
    Coarse {
        raw: String,
        significant: usize,
        step: String,
    },
}

impl TimeError {
    fn unparseable(s: &str) -> TimeError {
        TimeError::Unparseable(shown(s).into_owned())
    }

    fn range(s: &str) -> TimeError {
        TimeError::Range(shown(s).into_owned())
    }

    /// The same error naming `raw` (the value as written, escaped) instead of the
    /// text that was parsed.
    fn naming(self, raw: &str) -> TimeError {
        let raw = || shown(raw).into_owned();
        match self {
            TimeError::Missing => TimeError::Missing,
            TimeError::Unparseable(_) => TimeError::Unparseable(raw()),
            TimeError::Ambiguous(_) => TimeError::Ambiguous(raw()),
            TimeError::NeedsZone(_) => TimeError::NeedsZone(raw()),
            TimeError::Magnitude(_) => TimeError::Magnitude(raw()),
            TimeError::Range(_) => TimeError::Range(raw()),
            TimeError::Coarse {
                significant, step, ..
            } => TimeError::Coarse {
                raw: raw(),
                significant,
                step,
            },
        }
    }
}

/// The parser's settings for one file.
#[derive(Debug, Clone, Default)]
pub struct TimeRules {
    pub zone: Option<TimeZone>,
    pub format: Option<String>,
    pub unit: TimeUnit,
    pub order: Option<DateOrder>,
    /// The date system of the workbook the cells come from (1900 for other files).
    pub excel_epoch: ExcelEpoch,
}

impl TimeRules {
    /// Parse a cell of a click_time column.
    pub fn parse_cell(&self, cell: &Cell) -> Result<When, TimeError> {
        match cell {
            Cell::Empty => Err(TimeError::Missing),
            Cell::Text(s) => self.parse_text(s),
            Cell::Int(i) => match u128::try_from(*i) {
                Ok(n) => from_number(&Number::int(n), self.unit, self.excel_epoch, &i.to_string()),
                Err(_) => Err(TimeError::range(&i.to_string())),
            },
            Cell::Float(x) => from_float(*x, self.unit, self.excel_epoch),
            Cell::Bool(b) => Err(TimeError::unparseable(&b.to_string())),
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
                let ms = day_fraction_ms(*x).ok_or_else(|| TimeError::range(&x.to_string()))?;
                civil::Time::midnight()
                    .checked_add(jiff::SignedDuration::from_millis(ms))
                    .map_err(|_| TimeError::range(&x.to_string()))?
                    .to_string()
            }
            other => other.to_string().trim().to_string(),
        };
        self.parse_text(&format!("{d} {t}"))
    }

    /// Parse the text of a click_time cell. Text the parser cannot read as it is,
    /// is read again after [`locale::normalized`] (or, with `--time-format`,
    /// [`locale::normalized_chars`]) has rewritten what exporters put in it; errors
    /// name the text as written.
    pub fn parse_text(&self, s: &str) -> Result<When, TimeError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TimeError::Missing);
        }
        let first = self.parse_as_is(s);
        if !matches!(first, Err(TimeError::Unparseable(_))) {
            return first.map_err(|e| e.naming(s));
        }
        let rewritten = match &self.format {
            Some(_) => locale::normalized_chars(s),
            None => locale::normalized(s),
        };
        match rewritten.as_deref().map(str::trim) {
            Some("") => Err(TimeError::Missing),
            Some(t) => self.parse_as_is(t).map_err(|e| e.naming(s)),
            None => Err(TimeError::unparseable(s)),
        }
    }

    /// `s` (trimmed, not empty) by the format, as a number, by the fast path, then
    /// by jiff.
    #[inline]
    fn parse_as_is(&self, s: &str) -> Result<When, TimeError> {
        if let Some(format) = &self.format {
            return parse_with_format(format, s);
        }
        if let Some(n) = Number::parse(s) {
            return from_number(&n?, self.unit, self.excel_epoch, s);
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
                    .ok_or_else(|| TimeError::NeedsZone(shown(&raw()).into_owned()))?;
                let amb = zone.to_ambiguous_timestamp(dt);
                let adjust = match amb.offset() {
                    AmbiguousOffset::Unambiguous { .. } => DstAdjust::None,
                    AmbiguousOffset::Gap { .. } => DstAdjust::Gap,
                    AmbiguousOffset::Fold { .. } => DstAdjust::Fold,
                };
                let ts = amb
                    .compatible()
                    .map_err(|_| TimeError::Range(shown(&raw()).into_owned()))?;
                Ok((ts.as_millisecond(), adjust))
            }
        }
    }
}

fn parse_with_format(format: &str, s: &str) -> Result<When, TimeError> {
    let tm = strtime::parse(format, s).map_err(|_| TimeError::unparseable(s))?;
    if tm.offset().is_some() || tm.timestamp().is_some() {
        return tm
            .to_timestamp()
            .map(When::Instant)
            .map_err(|_| TimeError::unparseable(s));
    }
    tm.to_datetime()
        .map(When::Naive)
        .map_err(|_| TimeError::unparseable(s))
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
    Err(TimeError::unparseable(s))
}

#[cfg(test)]
mod tests;
