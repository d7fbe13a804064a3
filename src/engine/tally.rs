//! One file's books, kept by the thread that owns its rows' fates: the fates,
//! rejections by field, the examples shown on stderr, and, at the end, the file's
//! report (with its profile, built alongside by the pipeline).

use std::io;

use super::fate::{Fates, RowFate};
use super::pipeline::FileInfo;
use crate::normalize::Rejected;
use crate::profile::{Profiler, render};
use crate::report::{FileReport, RejectsWriter};
use crate::source::Locator;

/// Rejected rows shown on stderr per file when no rejects file is written.
const EXAMPLES: usize = 5;

pub struct FileTally {
    pub fates: Fates,
    /// Everything but the counts, which are read off `fates` at the end.
    pub report: FileReport,
    pub locator: Locator,
    examples: Vec<String>,
    /// Name used in rejects locations when several files share one rejects file.
    shared_name: Option<String>,
}

impl FileTally {
    pub fn new(name: &str, several_files: bool) -> FileTally {
        FileTally {
            fates: Fates::default(),
            report: FileReport {
                path: name.to_string(),
                ..FileReport::default()
            },
            locator: Locator::Lines,
            examples: Vec::new(),
            shared_name: several_files.then(|| name.to_string()),
        }
    }

    /// The file's shape is known: its format, header and mapping.
    pub fn start(
        &mut self,
        info: &FileInfo,
        rejects: Option<&mut RejectsWriter>,
    ) -> io::Result<()> {
        let r = &mut self.report;
        r.format = info.format.name().to_string();
        r.header_row = info.header_pos;
        r.mapping = info.mapping.iter().cloned().collect();
        self.locator = info.locator.clone();
        for (field, column) in &info.mapping {
            tracing::info!("{}: {field} <- '{column}'", r.path);
        }
        match rejects {
            Some(w) => w.start_file(&info.header),
            None => Ok(()),
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
    /// before sending, refused by the API (both counted by field) or failed.
    pub fn reject(
        &mut self,
        rej: &Rejected,
        fate: RowFate,
        rejects: Option<&mut RejectsWriter>,
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
            Some(w) => w.write(self.shared_name.as_deref(), &self.locator, rej),
            None if fate == RowFate::Failed => Ok(()),
            None => {
                if self.examples.len() < EXAMPLES {
                    self.examples.push(self.example(rej));
                }
                Ok(())
            }
        }
    }

    fn example(&self, rej: &Rejected) -> String {
        let column = rej.problems.first().and_then(|p| p.column);
        let what: Vec<String> = rej
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.reason))
            .collect();
        format!(
            "  row {} ({}): {}",
            rej.row,
            self.locator.describe(rej.pos, column),
            what.join("; ")
        )
    }

    /// The file's report, with the counts read off the fates.
    pub fn finish(mut self) -> (FileReport, Vec<String>) {
        self.report.counts = self.fates.counts();
        self.report.uncertain_rows = self.fates.uncertain_rows();
        (self.report, self.examples)
    }
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
    eprintln!("{}", crate::report::summary_line(report, import));
    for ex in examples {
        eprintln!("{ex}");
    }
    if !rejects_written && report.counts.rejected as usize > examples.len() {
        eprintln!("  ... write every rejected row with --rejects FILE.csv");
    }
    render::print(&report.profile);
    for w in &report.profile.warnings {
        tracing::warn!("{}: {}", report.path, w.message);
    }
}
