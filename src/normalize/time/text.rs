//! The fast path for time text: ISO 8601 / RFC 3339 shapes and `D/M/Y` or `M/D/Y`
//! dates with optional AM/PM and offset, scanned by hand (this runs for every row);
//! and the once-per-file decision on day/month order.

use jiff::civil;
use jiff::tz::Offset;

use super::{DateOrder, TimeError, When};
use crate::normalize::unicode::is_format;

/// A cursor over ASCII bytes for the fast path.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Between `min` and `max` digits: (value, count). The value saturates (long
    /// runs of digits are only skipped, or rejected by the caller's range checks).
    fn digits(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    v = v.saturating_mul(10).saturating_add(u32::from(c - b'0'));
                    self.i += 1;
                }
                _ => break,
            }
        }
        let n = self.i - start;
        (n >= min).then_some((v, n))
    }
    fn skip_spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i - start
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn rest_eq_ignore_case(&self, s: &str) -> bool {
        self.b[self.i..].eq_ignore_ascii_case(s.as_bytes())
    }
}

/// The first two numbers of a `D/M/Y`-shaped date (not year-first), for inferring
/// the order.
pub fn slash_fields(s: &str) -> Option<(u32, u32)> {
    // Leading marks some exporters add (LRM, BOM) do not hide the date.
    let s = s.trim_start_matches(|c: char| c.is_whitespace() || is_format(c));
    let mut sc = Scan {
        b: s.trim_end().as_bytes(),
        i: 0,
    };
    let (a, _) = sc.digits(1, 2)?;
    let sep = sc.peek().filter(|c| matches!(c, b'/' | b'.' | b'-'))?;
    sc.i += 1;
    let (b, _) = sc.digits(1, 2)?;
    if !sc.eat(sep) {
        return None;
    }
    sc.digits(2, 4)?;
    Some((a, b))
}

/// The fast path. `Ok(None)`: not a shape it knows (try the fallback).
pub(super) fn parse_common(s: &str, order: Option<DateOrder>) -> Result<Option<When>, TimeError> {
    let mut sc = Scan {
        b: s.as_bytes(),
        i: 0,
    };
    let bad = || TimeError::Unparseable(s.to_string());
    let Some((year, month, day)) = date_fields(&mut sc, s, order)? else {
        return Ok(None);
    };
    let date = civil::Date::new(year as i16, month as i8, day as i8).map_err(|_| bad())?;

    // Date only.
    if sc.done() {
        return Ok(Some(When::Naive(date.to_datetime(civil::Time::midnight()))));
    }
    if !(sc.eat(b'T') || sc.eat(b't') || sc.skip_spaces() > 0) {
        return Ok(None);
    }
    sc.skip_spaces();
    let Some(clock) = clock(&mut sc, s) else {
        return Ok(None);
    };
    sc.skip_spaces();
    let hour = twelve_hour(&mut sc, clock.hour).ok_or_else(bad)?;
    let time = civil::Time::new(
        hour as i8,
        clock.minute as i8,
        clock.second as i8,
        clock.nanos,
    )
    .map_err(|_| bad())?;
    let dt = date.to_datetime(time);
    if sc.done() {
        return Ok(Some(When::Naive(dt)));
    }
    let Some(offset_secs) = offset(&mut sc).map_err(|()| bad())? else {
        return Ok(None);
    };
    sc.skip_spaces();
    if !sc.done() {
        return Ok(None);
    }
    let offset = Offset::from_seconds(offset_secs).map_err(|_| bad())?;
    let ts = offset.to_timestamp(dt).map_err(|_| bad())?;
    Ok(Some(When::Instant(ts)))
}

/// `Y-M-D` (with `-`, `/` or `.`), or `D/M/Y` / `M/D/Y` (with `/`, `.` or `-`, a
/// two- or four-digit year) read in `order`: (year, month, day), unchecked.
/// `Ok(None)`: not a date shape the fast path knows.
#[inline]
fn date_fields(
    sc: &mut Scan<'_>,
    s: &str,
    order: Option<DateOrder>,
) -> Result<Option<(u32, u32, u32)>, TimeError> {
    Ok(match sc.digits(1, 4) {
        Some((y, 4)) => {
            let Some(sep) = sc.peek().filter(|c| matches!(c, b'-' | b'/' | b'.')) else {
                return Ok(None);
            };
            sc.i += 1;
            let Some((m, _)) = sc.digits(1, 2) else {
                return Ok(None);
            };
            if !sc.eat(sep) {
                return Ok(None);
            }
            let Some((d, _)) = sc.digits(1, 2) else {
                return Ok(None);
            };
            Some((y, m, d))
        }
        Some((a, 1 | 2)) => {
            let Some(sep) = sc.peek().filter(|c| matches!(c, b'/' | b'.' | b'-')) else {
                return Ok(None);
            };
            sc.i += 1;
            let Some((b, _)) = sc.digits(1, 2) else {
                return Ok(None);
            };
            if !sc.eat(sep) {
                return Ok(None);
            }
            let Some((y, n)) = sc.digits(2, 4) else {
                return Ok(None);
            };
            let y = match n {
                2 => 2000 + y,
                4 => y,
                _ => return Ok(None),
            };
            match order {
                Some(DateOrder::DayFirst) => Some((y, b, a)),
                Some(DateOrder::MonthFirst) => Some((y, a, b)),
                None if a > 12 => Some((y, b, a)),
                None if b > 12 => Some((y, a, b)),
                None => return Err(TimeError::Ambiguous(s.to_string())),
            }
        }
        _ => None,
    })
}

/// A time of day as written, before the 12-hour clock is applied.
struct Clock {
    hour: u32,
    minute: u32,
    second: u32,
    nanos: i32,
}

/// `H:MM[:SS[.f…]]` (`.` or `,` before the fraction); fraction digits past the
/// nanosecond are dropped. `None`: not that shape.
#[inline]
fn clock(sc: &mut Scan<'_>, s: &str) -> Option<Clock> {
    let (hour, _) = sc.digits(1, 2)?;
    if !sc.eat(b':') {
        return None;
    }
    let Some((minute, 2)) = sc.digits(2, 2) else {
        return None;
    };
    let mut c = Clock {
        hour,
        minute,
        second: 0,
        nanos: 0,
    };
    if sc.eat(b':') {
        let Some((sec, 2)) = sc.digits(2, 2) else {
            return None;
        };
        c.second = sec;
        if sc.eat(b'.') || sc.eat(b',') {
            let start = sc.i;
            sc.digits(1, 9)?;
            c.nanos = frac_scaled(&s[start..sc.i], 9) as i32;
            // Finer digits beyond nanoseconds are dropped.
            sc.digits(0, 64);
        }
    }
    Some(c)
}

/// An `AM`/`PM` designator (any case) after the time, applied to `hour`; the hour
/// unchanged without one. `None`: a designator with an hour outside 1 to 12.
#[inline]
fn twelve_hour(sc: &mut Scan<'_>, hour: u32) -> Option<u32> {
    let meridiem = match sc.b.get(sc.i..sc.i + 2) {
        Some(two) if two.eq_ignore_ascii_case(b"am") => false,
        Some(two) if two.eq_ignore_ascii_case(b"pm") => true,
        _ => return Some(hour),
    };
    sc.i += 2;
    if !(1..=12).contains(&hour) {
        return None;
    }
    sc.skip_spaces();
    Some(match (hour, meridiem) {
        (12, false) => 0,
        (12, true) => 12,
        (h, true) => h + 12,
        (h, false) => h,
    })
}

/// A UTC offset: `Z`, `UTC`, `GMT`, `+HH[[:]MM]` or `-HH[[:]MM]`, in seconds.
/// `Ok(None)`: not an offset; `Err`: an offset out of range.
#[inline]
fn offset(sc: &mut Scan<'_>) -> Result<Option<i32>, ()> {
    if sc.eat(b'Z') || sc.eat(b'z') {
        return Ok(Some(0));
    }
    if sc.rest_eq_ignore_case("UTC") || sc.rest_eq_ignore_case("GMT") {
        sc.i += 3;
        return Ok(Some(0));
    }
    let sign = match sc.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Ok(None),
    };
    sc.i += 1;
    let Some((oh, 2)) = sc.digits(2, 2) else {
        return Ok(None);
    };
    sc.eat(b':');
    let om = sc.digits(2, 2).map_or(0, |(m, _)| m);
    if oh > 23 || om > 59 {
        return Err(());
    }
    Ok(Some(sign * (oh as i32 * 3600 + om as i32 * 60)))
}

/// Digits of a fraction scaled to `places` (at most 18) digits (truncating), as an
/// integer.
#[inline]
fn frac_scaled(frac: &str, places: usize) -> u64 {
    let mut v: u64 = 0;
    for i in 0..places {
        let d = frac.as_bytes().get(i).map_or(0, |c| c - b'0');
        v = v * 10 + u64::from(d);
    }
    v
}

/// What a sample of a file's time column says about day/month order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderVerdict {
    /// No `D/M/Y`-shaped values: nothing to decide.
    NotNeeded,
    Decided(DateOrder),
    /// Every value has both numbers at most 12.
    Ambiguous,
    /// Some values are day-first and others month-first.
    Mixed,
}

pub fn infer_order<'a>(values: impl Iterator<Item = &'a str>) -> OrderVerdict {
    let (mut day, mut month, mut neutral) = (0, 0, 0);
    for v in values {
        match slash_fields(v) {
            Some((a, b)) if a > 12 && b <= 12 => day += 1,
            Some((a, b)) if b > 12 && a <= 12 => month += 1,
            Some((a, b)) if a <= 12 && b <= 12 => neutral += 1,
            _ => {}
        }
    }
    match (day > 0, month > 0) {
        (true, true) => OrderVerdict::Mixed,
        (true, false) => OrderVerdict::Decided(DateOrder::DayFirst),
        (false, true) => OrderVerdict::Decided(DateOrder::MonthFirst),
        (false, false) if neutral > 0 => OrderVerdict::Ambiguous,
        _ => OrderVerdict::NotNeeded,
    }
}
