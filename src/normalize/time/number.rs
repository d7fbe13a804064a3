//! Numbers in a click_time column: Unix times of any unit and Excel serial days (both
//! date systems), kept exact as written and rounded to the nearest millisecond; numbers
//! in exponent notation too coarse for a second are refused.

use std::borrow::Cow;

use jiff::{SignedDuration, Span, Timestamp, civil};

use super::{TimeError, TimeUnit, When};
pub use crate::cell::ExcelEpoch;
use crate::normalize::unicode::shown;

/// Serial days of the 1900 system at or past 9999-12-31 + 1 day (Excel's last date).
const EXCEL_1900_END: u128 = 2_958_466;
/// Milliseconds in a day.
const DAY_MS: u128 = 86_400_000;

/// A number as written in a cell: integer part and fraction digits, exact.
#[derive(Debug, Clone)]
pub(super) struct Number<'a> {
    int: u128,
    frac: Cow<'a, str>,
    /// Exponent notation: the power of ten of the last digit written (7 for
    /// `1.71557E+12`), and the count of significant digits written (6).
    written: Option<(i32, usize)>,
}

impl<'a> Number<'a> {
    pub(super) fn int(i: u128) -> Number<'static> {
        Number {
            int: i,
            frac: Cow::Borrowed(""),
            written: None,
        }
    }

    /// `123`, `123.456`, or exponent notation (`1.5E+12`, `1,5E+12`, `15e11`).
    /// `None`: not a number. `Some(Err)`: a number no time can be (beyond 39 digits).
    ///
    /// One pass over the bytes, the integer part gathered in 64 bits while it fits:
    /// this runs for every text cell of a time column.
    #[inline]
    pub(super) fn parse(s: &'a str) -> Option<Result<Number<'a>, TimeError>> {
        let b = s.as_bytes();
        if !b.first()?.is_ascii_digit() {
            return None;
        }
        let mut dot = None;
        let mut small: Option<u64> = Some(0);
        for (i, &c) in b.iter().enumerate() {
            match c {
                b'0'..=b'9' if dot.is_none() => {
                    small = small
                        .and_then(|v| v.checked_mul(10))
                        .and_then(|v| v.checked_add(u64::from(c - b'0')));
                }
                b'0'..=b'9' => {}
                b'.' if dot.is_none() => dot = Some(i),
                _ if b[i..].iter().any(|&c| c == b'e' || c == b'E') => return exponent(s),
                _ => return None,
            }
        }
        let (int_part, frac) = match dot {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        };
        let int = match small {
            Some(v) => u128::from(v),
            None => match int_part.parse() {
                Ok(v) => v,
                Err(_) => return Some(Err(TimeError::range(s))),
            },
        };
        Some(Ok(Number {
            int,
            frac: Cow::Borrowed(frac),
            written: None,
        }))
    }
}

/// `D[.D]E[+-]N` (or with a decimal comma) as an exact decimal.
fn exponent(s: &str) -> Option<Result<Number<'static>, TimeError>> {
    let (mantissa, exp) = s.split_once(['e', 'E'])?;
    let (mi, mf) = match mantissa.split_once(['.', ',']) {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let digits = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
    if mi.is_empty() || !digits(mi) || !digits(mf) {
        return None;
    }
    let exp: i32 = match exp.strip_prefix('+') {
        Some(e) if e.starts_with('-') => return None,
        Some(e) => e.parse().ok()?,
        None => exp.parse().ok()?,
    };
    let all: String = [mi, mf].concat();
    let significant = all.trim_start_matches('0').len().max(1);
    let last = exp - mf.len() as i32;
    // Where the decimal point falls in `all`.
    let point = mi.len() as i64 + i64::from(exp);
    if point > 39 {
        return Some(Err(TimeError::range(s)));
    }
    let (int, frac) = if point <= 0 {
        let zeros = usize::try_from(-point).unwrap_or(0).min(400);
        ("0".to_string(), "0".repeat(zeros) + &all)
    } else {
        let p = point as usize;
        if p >= all.len() {
            (all.clone() + &"0".repeat(p - all.len()), String::new())
        } else {
            (all[..p].to_string(), all[p..].to_string())
        }
    };
    Some(match int.parse() {
        Ok(int) => Ok(Number {
            int,
            frac: Cow::Owned(frac),
            written: Some((last, significant)),
        }),
        Err(_) => Err(TimeError::range(s)),
    })
}

/// `round_half_up((int + 0.frac) × num / den)`, exactly, for any number of fraction
/// digits: `None` on overflow.
///
/// `floor(10·x)` is worked out from the last fraction digit up, each carry being
/// `floor((digit·10·num + carry) / 10)` (nested floors of integers: exact); its last
/// digit is then the first digit past the unit, which half-up rounding needs alone.
fn round_scaled(int: u128, frac: &str, num: u64, den: u128) -> Option<u128> {
    // Whole numbers (most Unix times): one multiplication, one division at most;
    // x / den rounded half up is (2x + den) / 2den.
    if frac.is_empty() {
        let scaled = int.checked_mul(u128::from(num))?;
        if den == 1 {
            return Some(scaled);
        }
        if let (Ok(x), Ok(d)) = (u64::try_from(scaled), u64::try_from(den))
            && let Some(t) = x.checked_mul(2).and_then(|t| t.checked_add(d))
        {
            return Some(u128::from(t / (2 * d)));
        }
        return Some(scaled.checked_mul(2)?.checked_add(den)? / (2 * den));
    }
    let k = num.checked_mul(10)?;
    let mut carry: u64 = 0;
    for d in frac.bytes().rev() {
        // carry < k always, so this stays below 10·k.
        carry = (u64::from(d.wrapping_sub(b'0')) * k + carry) / 10;
    }
    // In 64 bits when it fits (every Unix time and serial of this millennium does):
    // 128-bit division is a library call, and this runs for every numeric cell.
    if let (Ok(int), Ok(den)) = (u64::try_from(int), u64::try_from(den))
        && let Some(tenths) = int.checked_mul(k).and_then(|t| t.checked_add(carry))
    {
        return Some(u128::from((tenths / den + 5) / 10));
    }
    let tenths = int
        .checked_mul(u128::from(k))?
        .checked_add(u128::from(carry))?;
    Some((tenths / den + 5) / 10)
}

/// Milliseconds per unit as a fraction `num / den`.
fn scale(unit: TimeUnit) -> (u64, u128) {
    match unit {
        TimeUnit::Seconds => (1_000, 1),
        TimeUnit::Millis => (1, 1),
        TimeUnit::Micros => (1, 1_000),
        TimeUnit::Nanos => (1, 1_000_000),
        TimeUnit::Excel | TimeUnit::Auto => (86_400_000, 1),
    }
}

/// The unit of a number by its magnitude (its integer part decides: the bounds are
/// whole numbers): below 1e6 Excel days, 1e8 to 1e11 seconds, to 1e14 ms, to 1e17 µs,
/// beyond ns; between 1e6 and 1e8 nothing a click time can be.
fn magnitude_unit(int: u128, raw: &str) -> Result<TimeUnit, TimeError> {
    Ok(match int {
        v if v < 1_000_000 => TimeUnit::Excel,
        v if v < 100_000_000 => return Err(TimeError::Magnitude(shown(raw).into_owned())),
        v if v < 100_000_000_000 => TimeUnit::Seconds,
        v if v < 100_000_000_000_000 => TimeUnit::Millis,
        v if v < 100_000_000_000_000_000 => TimeUnit::Micros,
        _ => TimeUnit::Nanos,
    })
}

/// A number of `unit` (decided by magnitude for `Auto`) to a time: Unix units to an
/// instant, Excel serial days to a wall-clock time in `epoch`'s system. Rounded to the
/// nearest millisecond, halves up.
#[inline]
pub(super) fn from_number(
    n: &Number<'_>,
    unit: TimeUnit,
    epoch: ExcelEpoch,
    raw: &str,
) -> Result<When, TimeError> {
    let unit = match unit {
        TimeUnit::Auto => magnitude_unit(n.int, raw)?,
        u => u,
    };
    let (num, den) = scale(unit);
    if let Some((last, significant)) = n.written {
        let step_ms = 10f64.powi(last) * num as f64 / den as f64;
        if step_ms > 1000.0 {
            return Err(TimeError::Coarse {
                raw: shown(raw).into_owned(),
                significant,
                step: human_duration(step_ms),
            });
        }
    }
    let range = || TimeError::range(raw);
    let ms = round_scaled(n.int, &n.frac, num, den).ok_or_else(range)?;
    if matches!(unit, TimeUnit::Excel | TimeUnit::Auto) {
        return excel_naive(ms, epoch).map(When::Naive).ok_or_else(range);
    }
    let ms = i64::try_from(ms).map_err(|_| range())?;
    Timestamp::from_millisecond(ms)
        .map(When::Instant)
        .map_err(|_| range())
}

/// A spreadsheet or Parquet float: as the shortest decimal that reads back as the same
/// float (what the file most likely holds as text: an XLSX cell's `<v>` is decimal),
/// then exactly as a written number, so that a number cell and a text cell of the same
/// digits give the same millisecond.
pub(super) fn from_float(x: f64, unit: TimeUnit, epoch: ExcelEpoch) -> Result<When, TimeError> {
    let raw = || x.to_string();
    if !x.is_finite() || x < 0.0 {
        return Err(TimeError::range(&raw()));
    }
    if x.fract() == 0.0 && x < 1e38 {
        return from_number(&Number::int(x as u128), unit, epoch, &raw());
    }
    let text = raw();
    match Number::parse(&text) {
        Some(Ok(n)) => from_number(&n, unit, epoch, &text),
        _ => Err(TimeError::range(&text)),
    }
}

/// A fraction of a day (a time-of-day cell) to milliseconds, rounded as numbers are.
pub(super) fn day_fraction_ms(x: f64) -> Option<i64> {
    if !(0.0..1.0).contains(&x) {
        return None;
    }
    let text = x.to_string();
    let frac = text.split_once('.').map_or("", |(_, f)| f);
    i64::try_from(round_scaled(0, frac, 86_400_000, 1)?).ok()
}

/// Milliseconds since day 0 of `epoch` to a wall-clock time; `None` outside Excel's
/// dates (to 9999-12-31) and on the 1900 system's 1900-02-29, which never was.
pub fn excel_naive(ms: u128, epoch: ExcelEpoch) -> Option<civil::DateTime> {
    let day0 = match epoch {
        ExcelEpoch::E1904 => civil::date(1904, 1, 1),
        ExcelEpoch::E1900 if ms >= EXCEL_1900_END * DAY_MS => return None,
        // Serials 1 to 59 count from 1899-12-31: Lotus 1-2-3's leap day is serial 60.
        ExcelEpoch::E1900 if ms < 60 * DAY_MS => civil::date(1899, 12, 31),
        ExcelEpoch::E1900 if ms < 61 * DAY_MS => return None,
        ExcelEpoch::E1900 => civil::date(1899, 12, 30),
    };
    // Whole days as a span of days (a duration of 8,000 years overflows jiff's
    // nanoseconds), then the rest of the day.
    let days = i64::try_from(ms / DAY_MS).ok()?;
    let rest = i64::try_from(ms % DAY_MS).ok()?;
    day0.checked_add(Span::new().days(days))
        .ok()?
        .to_datetime(civil::Time::midnight())
        .checked_add(SignedDuration::from_millis(rest))
        .ok()
}

/// Excel serial days (a float, as calamine reads a date cell) to a wall-clock time,
/// rounded to the nearest millisecond as every other number is.
pub fn excel_float_naive(days: f64, epoch: ExcelEpoch) -> Option<civil::DateTime> {
    match from_float(days, TimeUnit::Excel, epoch) {
        Ok(When::Naive(dt)) => Some(dt),
        _ => None,
    }
}

/// `10000000` ms as "2.8 hours": the step of a coarse number, for its reason.
fn human_duration(ms: f64) -> String {
    let (value, unit) = match ms {
        m if m >= 86_400_000.0 => (m / 86_400_000.0, "days"),
        m if m >= 3_600_000.0 => (m / 3_600_000.0, "hours"),
        m if m >= 60_000.0 => (m / 60_000.0, "minutes"),
        m => (m / 1000.0, "seconds"),
    };
    format!("{} {unit}", (value * 10.0).round() / 10.0)
}

#[cfg(test)]
#[path = "number_tests.rs"]
mod tests;
