//! One file's books, kept by the thread that owns its rows' fates: the fates,
//! rejections by field, the examples shown on stderr, and, at the end, the file's
//! report (with its profile, built alongside by the pipeline).

use std::io;

use super::fate::{Fates, RowFate};
use super::pipeline::FileInfo;
use crate::normalize::Rejected;
use crate::profile::{Profiler, render};
use crate::report::FileReport;
use crate::report::rejects::{Reject, Rejects};
use crate::source::Locator;
use crate::ui::say;

/// Rejected rows shown on stderr per file when no rejects file is written.
const EXAMPLES: usize = 5;

pub struct FileTally {
    pub fates: Fates,
    /// Everything but the counts, which are read off `fates` at the end.
    pub report: FileReport,
    pub locator: Locator,
    /// Column names as rows deliver them.
    header: Vec<String>,
    examples: Vec<String>,
}

impl FileTally {
    pub fn new(name: &str) -> FileTally {
        FileTally {
            fates: Fates::default(),
            report: FileReport {
                path: name.to_string(),
                ..FileReport::default()
            },
            locator: Locator::Lines,
            header: Vec::new(),
            examples: Vec::new(),
        }
    }

    /// The file's shape is known: its format, header and mapping.
    pub fn start(&mut self, info: &FileInfo, rejects: Option<&mut Rejects>) {
        let r = &mut self.report;
        r.format = info.format.name().to_string();
        r.header_row = info.header_pos;
        r.mapping = info.mapping.iter().cloned().collect();
        self.locator = info.locator.clone();
        self.header = info.header.clone();
        for (field, column) in &info.mapping {
            tracing::info!("{}: {field} <- '{column}'", r.path);
        }
        if let Some(w) = rejects {
            w.start_file(&r.path, &info.header);
        }
    }

    /// Where a row (or its cell in `column`) is, for the rejects file: the line,
    /// the sheet's cell or row, or for Parquet (whose row number is the row) the
    /// column.
    fn location(&self, pos: u64, column: Option<usize>) -> String {
        match (&self.locator, column) {
            (Locator::Rows, Some(c)) => {
                format!("column {}", self.header.get(c).map_or("?", String::as_str))
            }
            (Locator::Rows, None) => String::new(),
            _ => self.locator.describe(pos, column),
        }
    }

    /// A row read, in its first state.
    pub fn enter(&mut self, fate: RowFate) {
        if let Err(e) = self.fates.enter(fate) {
            internal(&e);
        }
    }

    /// `n` rows move from `from` to `to`.
    pub fn advance(&mut self, from: RowFate, to: RowFate, n: u64) {
        for _ in 0..n {
            if let Err(e) = self.fates.advance(from, to) {
                internal(&e);
                return;
            }
        }
    }

    /// A row whose problems go to the rejects file (or the examples): rejected
    /// while reading (these come in file order), refused by the API (both counted
    /// by field) or failed.
    pub fn reject(
        &mut self,
        rej: &Rejected,
        fate: RowFate,
        rejects: Option<&mut Rejects>,
    ) -> io::Result<()> {
        if fate != RowFate::Failed {
            for p in &rej.problems {
                *self
                    .report
                    .rejected_by_field
                    .entry(p.field.clone())
                    .or_default() += 1;
            }
        }
        match rejects {
            Some(w) => {
                let r = self.as_reject(rej);
                match fate {
                    RowFate::Rejected => w.in_order(&r)?,
                    _ => w.later(r),
                }
            }
            None if fate == RowFate::Failed => {}
            None => {
                if self.examples.len() < EXAMPLES {
                    self.examples.push(self.example(rej));
                }
            }
        }
        Ok(())
    }

    fn as_reject(&self, rej: &Rejected) -> Reject {
        let column = rej.problems.first().and_then(|p| p.column);
        let reason = if rej.problems.len() == 1 {
            rej.problems[0].reason.clone()
        } else {
            reasons(rej)
        };
        Reject {
            row: rej.row,
            location: self.location(rej.pos, column),
            field: rej
                .problems
                .iter()
                .map(|p| p.field.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            reason,
            cells: rej.cells.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn example(&self, rej: &Rejected) -> String {
        let column = rej.problems.first().and_then(|p| p.column);
        let at = self.location(rej.pos, column);
        let at = if at.is_empty() {
            String::new()
        } else {
            format!(" ({at})")
        };
        format!("  row {}{at}: {}", rej.row, reasons(rej))
    }

    /// The file's report, with the counts read off the fates.
    pub fn finish(mut self) -> (FileReport, Vec<String>) {
        self.report.counts = self.fates.counts();
        self.report.uncertain_rows = self.fates.uncertain_rows();
        (self.report, self.examples)
    }
}

/// `field: reason; field: reason`.
pub fn reasons(r: &Rejected) -> String {
    r.problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The file's profile into its report, and the DST counts it keeps into the
/// report's `dst_gaps` and `dst_folds`.
pub fn profiled(report: &mut FileReport, profile: &Profiler) {
    *report.profile = profile.summary();
    (report.dst_gaps, report.dst_folds) = profile.dst();
}

/// A transition the state machine refuses is a bug: said loudly in tests, logged
/// in a release build, and the counts left as they were.
fn internal(e: &super::fate::Illegal) {
    debug_assert!(false, "internal error: {e}");
    tracing::error!("internal error: {e}");
}

/// The summary line, examples and hints for stderr.
pub fn print_file(report: &FileReport, examples: &[String], import: bool, rejects_written: bool) {
    if report.error.is_some() && report.counts.rows == 0 {
        return; // the error said it all
    }
    say(crate::report::summary_line(report, import));
    for ex in examples {
        say(ex);
    }
    if !rejects_written && report.counts.rejected as usize > examples.len() {
        say("  ... write every rejected row with --rejects FILE.csv");
    }
    render::print(&report.profile);
    for w in &report.profile.warnings {
        tracing::warn!("{}: {}", report.path, w.message);
    }
}
