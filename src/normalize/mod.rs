//! Normalization: one framed row in, one lead (or the reasons it was rejected) out.

pub mod columns;
pub mod email;
mod fields;
pub mod limits;
pub mod params;
pub mod time;
pub mod unicode;

use std::sync::OnceLock;

use crate::cell::{Cell, Row};
use crate::lead::{Lead, Tallies};
use columns::{ColumnMap, Field, MappingError};
use time::{DayOffsets, DstAdjust, ExcelEpoch, OrderVerdict, TimeError, TimeRules, When};
use unicode::shown;

/// Earliest accepted click: 2000-01-01T00:00:00Z.
pub const MIN_CLICK_MS: i64 = 946_684_800_000;
/// How far in the future a click may be (clock skew between systems).
pub const MAX_FUTURE_MS: i64 = 3_600_000;
/// Rows looked at before the first one is normalized, to decide file-wide questions
/// (day/month order, naive times without a zone).
pub const SAMPLE_ROWS: usize = 1_000;

/// Everything about normalization that comes from flags.
#[derive(Debug, Clone, Default)]
pub struct NormalizeOptions {
    pub explicit: Vec<(Field, String)>,
    pub rules: TimeRules,
    /// `--setting KEY=VALUE`, in order.
    pub constants: Vec<(String, String)>,
    pub microconversion: bool,
    /// Latest accepted click time (Unix ms): now plus the allowed skew.
    pub max_ms: i64,
}

/// Why one row was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub field: String,
    /// 0-based column index (into the columns as read), when one is to blame.
    pub column: Option<usize>,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Rejected {
    pub row: u64,
    pub pos: u64,
    pub problems: Vec<Problem>,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Valid(Lead),
    Rejected(Rejected),
}

/// A file-wide problem found in the sample: the run stops (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CalibrationError(pub String);

#[derive(Debug, Clone)]
pub struct Normalizer {
    map: ColumnMap,
    header: Vec<String>,
    rules: TimeRules,
    constants: Vec<(String, String)>,
    microconversion: bool,
    max_ms: i64,
    /// The zone's offset for each whole day, built on the first naive time.
    days: OnceLock<Option<DayOffsets>>,
}

impl Normalizer {
    /// The mapping of `header`; a `--setting` constant beyond [`limits::SETTING_MAX`]
    /// is a mapping error too (it would reject every row).
    pub fn new(header: &[String], opts: &NormalizeOptions) -> Result<Normalizer, MappingError> {
        let map = columns::resolve(header, &opts.explicit)?;
        if let Some((key, value)) = opts
            .constants
            .iter()
            .find(|(_, v)| v.len() > limits::SETTING_MAX)
        {
            return Err(MappingError(format!(
                "--setting {key}: {}",
                limits::too_long("a value", value, limits::SETTING_MAX, "a setting may hold")
            )));
        }
        Ok(Normalizer {
            map,
            header: header.to_vec(),
            rules: opts.rules.clone(),
            constants: opts.constants.clone(),
            microconversion: opts.microconversion,
            max_ms: opts.max_ms,
            days: OnceLock::new(),
        })
    }

    /// The date system of the workbook being read (XLSX); the 1900 system otherwise.
    pub fn set_excel_epoch(&mut self, epoch: ExcelEpoch) {
        self.rules.excel_epoch = epoch;
    }

    /// Header indices the mapping reads, sorted.
    pub fn used_columns(&self) -> Vec<usize> {
        self.map.used()
    }

    /// The reader delivers only `projection` (sorted header indices) from now on.
    pub fn project(&mut self, projection: &[usize]) {
        self.map.project(projection);
        self.header = projection
            .iter()
            .map(|&i| self.header.get(i).cloned().unwrap_or_default())
            .collect();
    }

    /// Names of the columns as rows deliver them.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// `field <- column` pairs, for reports and `-v`.
    pub fn describe(&self) -> Vec<(String, String)> {
        let m = &self.map;
        let name = |i: usize| self.header.get(i).cloned().unwrap_or_default();
        let mut out: Vec<(String, String)> = [
            ("click_time", m.click_time),
            ("click_date", m.click_date),
            ("click_time_of_day", m.click_time_of_day),
            ("email", m.email),
            ("referrer", m.referrer),
            ("current_url", m.current_url),
            ("url_parameters", m.url_parameters),
            ("microconversion", m.microconversion),
        ]
        .into_iter()
        .filter_map(|(f, i)| i.map(|i| (f.to_string(), name(i))))
        .collect();
        out.extend(m.params.iter().map(|(k, i)| (k.clone(), name(*i))));
        out.extend(
            m.settings
                .iter()
                .map(|(k, i)| (format!("settings.{k}"), name(*i))),
        );
        out
    }

    fn time_column(&self) -> Option<usize> {
        self.map.click_time.or(self.map.click_date)
    }

    /// Decide, from the first rows, the day/month order, and stop early on naive
    /// times without `--timezone`. `describe_pos` renders a row position.
    pub fn calibrate(
        &mut self,
        sample: &[Row],
        describe_pos: &dyn Fn(u64) -> String,
    ) -> Result<(), CalibrationError> {
        let Some(col) = self.time_column() else {
            return Ok(());
        };
        let column = self.header.get(col).cloned().unwrap_or_default();
        if self.rules.format.is_none() {
            let texts = sample.iter().filter_map(|r| match r.cells.get(col) {
                Some(Cell::Text(s)) => Some(s.as_str()),
                _ => None,
            });
            match time::infer_order(texts) {
                OrderVerdict::Decided(order) => self.rules.order = Some(order),
                OrderVerdict::NotNeeded => {}
                OrderVerdict::Ambiguous => {
                    let example = sample
                        .iter()
                        .find_map(|r| match r.cells.get(col) {
                            Some(Cell::Text(s)) if time::slash_fields(s).is_some() => {
                                Some(s.trim())
                            }
                            _ => None,
                        })
                        .unwrap_or("");
                    return Err(CalibrationError(format!(
                        "column '{column}': dates like '{example}' are ambiguous: day/month order \
                         cannot be told from the first {} rows; give --time-format \
                         '%d/%m/%Y %H:%M' (day first) or '%m/%d/%Y %H:%M' (month first)",
                        sample.len()
                    )));
                }
                OrderVerdict::Mixed => {
                    return Err(CalibrationError(format!(
                        "column '{column}' mixes day-first and month-first dates; give \
                         --time-format to say which one the file uses"
                    )));
                }
            }
        }
        if self.rules.zone.is_none() {
            for row in sample {
                if let Ok(When::Naive(_)) = self.parse_time(&row.cells) {
                    let raw = row
                        .cells
                        .get(col)
                        .map(|c| shown(&c.to_string()).into_owned())
                        .unwrap_or_default();
                    return Err(CalibrationError(format!(
                        "column '{column}' holds times without a UTC offset (e.g. '{raw}' at {}); \
                         give their zone with --timezone (IANA name, e.g. Europe/Madrid)",
                        describe_pos(row.pos)
                    )));
                }
            }
        }
        Ok(())
    }

    fn parse_time(&self, cells: &[Cell]) -> Result<When, TimeError> {
        let get = |i: Option<usize>| i.and_then(|i| cells.get(i)).unwrap_or(&Cell::Empty);
        match (self.map.click_time, self.map.click_date) {
            (Some(c), _) => self.rules.parse_cell(get(Some(c))),
            (None, Some(d)) => self
                .rules
                .parse_pair(get(Some(d)), get(self.map.click_time_of_day)),
            (None, None) => Err(TimeError::Missing),
        }
    }

    fn click_time(&self, cells: &[Cell], problems: &mut Vec<Problem>) -> Option<(i64, DstAdjust)> {
        let column = self.time_column();
        let raw = || {
            column
                .and_then(|c| cells.get(c))
                .map(|c| shown(&c.to_string()).into_owned())
                .unwrap_or_default()
        };
        let mut fail = |reason: String| {
            problems.push(Problem {
                field: "click_time".into(),
                column,
                reason,
            });
            None
        };
        let when = match self.parse_time(cells) {
            Ok(w) => w,
            Err(TimeError::Missing) => return fail("missing".into()),
            Err(e) => return fail(e.to_string()),
        };
        // Most naive times fall on days with one offset throughout: resolved with a
        // lookup, the others (and instants) as the time rules say.
        let fast = match when {
            When::Naive(dt) => self
                .days
                .get_or_init(|| self.rules.zone.as_ref().map(DayOffsets::new))
                .as_ref()
                .and_then(|d| d.millis(dt)),
            When::Instant(_) => None,
        };
        let resolved = match fast {
            Some(ms) => Ok((ms, DstAdjust::None)),
            None => self.rules.resolve(when, raw),
        };
        match resolved {
            Ok((ms, _)) if ms < MIN_CLICK_MS => fail(format!("'{}' is before 2000-01-01", raw())),
            Ok((ms, _)) if ms > self.max_ms => {
                fail(format!("'{}' is more than 1 hour in the future", raw()))
            }
            Ok(v) => Some(v),
            Err(e) => fail(e.to_string()),
        }
    }

    pub fn normalize(&self, row: Row) -> Outcome {
        self.normalize_counted(row, &mut ())
    }

    /// [`Normalizer::normalize`], handing `tallies` what the data's profile counts
    /// of a valid row as its JSON is written (nothing for a rejected row).
    pub fn normalize_counted(&self, row: Row, tallies: &mut impl Tallies) -> Outcome {
        let Row {
            ordinal,
            pos,
            cells,
            defect,
        } = row;
        let mut problems = Vec::new();
        if let Some(d) = defect {
            problems.push(Problem {
                field: "row".into(),
                column: d.column,
                reason: d.reason,
            });
            let rejected = Rejected {
                row: ordinal,
                pos,
                problems,
                cells,
            };
            return Outcome::Rejected(rejected);
        }
        let time = self.click_time(&cells, &mut problems);
        // With a valid click_time, the fields' checks decide: their values are
        // counted once they have all passed, as the JSON is written.
        let fields = match time {
            Some(_) => self.fields(&cells, &mut problems, tallies),
            None => self.fields(&cells, &mut problems, &mut ()),
        };
        match (time, fields) {
            (Some((click_time, dst)), Some(f)) if problems.is_empty() => {
                let lead = Lead {
                    row: ordinal,
                    pos,
                    click_time,
                    url_parameters: f.url_parameters,
                    settings: f.settings,
                    referrer: f.referrer,
                    current_url: f.current_url,
                    dst,
                    cells,
                    body: None,
                    known_fingerprint: None,
                };
                Outcome::Valid(lead)
            }
            _ => {
                let rejected = Rejected {
                    row: ordinal,
                    pos,
                    problems,
                    cells,
                };
                Outcome::Rejected(rejected)
            }
        }
    }
}

#[cfg(test)]
mod tests;
