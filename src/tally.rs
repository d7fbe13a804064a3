//! Per-file bookkeeping shared by the commands: counts, duplicates, rejects and the
//! examples shown on stderr.

use std::io;

use crate::lead::Lead;
use crate::normalize::time::DstAdjust;
use crate::normalize::{Outcome, Rejected};
use crate::pipeline::FileInfo;
use crate::report::{FileReport, RejectsWriter};
use crate::seen::{Limits, SeenSet};
use crate::source::Locator;

/// Rejected rows shown on stderr per file when no rejects file is written.
const EXAMPLES: usize = 5;

/// Fingerprints (128-bit) of the leads seen in this run, across files, in bounded
/// memory (see [`crate::seen`]); `None` when duplicates are not looked for
/// (`--no-dedupe`).
#[derive(Default)]
pub struct Seen(Option<Box<SeenSet>>);

impl Seen {
    pub fn new(dedupe: bool) -> Seen {
        Seen(dedupe.then(|| Box::new(SeenSet::new(Limits::DEFAULT))))
    }

    /// Bring what looking these fingerprints up will touch into the cache (see
    /// [`SeenSet::warm`]).
    pub fn warm<P>(&self, batch: &[Checked<P>]) {
        if let Some(s) = &self.0 {
            s.warm(batch.iter().filter_map(|c| match c {
                Checked::Valid(v) => Some(v.fingerprint),
                Checked::Rejected(_) => None,
            }));
        }
    }

    /// True the first time a fingerprint is seen (always, without dedupe).
    pub fn first(&mut self, fingerprint: u128) -> bool {
        self.0.as_mut().is_none_or(|s| s.insert(fingerprint))
    }
}

/// A valid lead as the in-order consumer needs it, prepared on a worker thread.
pub struct Valid<P> {
    pub fingerprint: u128,
    pub dst: DstAdjust,
    pub payload: P,
}

/// An outcome prepared for counting: fingerprinted when valid.
pub enum Checked<P> {
    Valid(Valid<P>),
    Rejected(Rejected),
}

/// Fingerprint a valid lead and turn it into what the consumer needs.
pub fn check<P>(outcome: Outcome, payload: impl FnOnce(Lead) -> P) -> Checked<P> {
    match outcome {
        Outcome::Valid(mut lead) => {
            let fingerprint = lead.fingerprint();
            lead.known_fingerprint = Some(fingerprint);
            Checked::Valid(Valid {
                fingerprint,
                dst: lead.dst,
                payload: payload(lead),
            })
        }
        Outcome::Rejected(r) => Checked::Rejected(r),
    }
}

pub struct FileTally {
    pub report: FileReport,
    pub locator: Locator,
    pub examples: Vec<String>,
    /// Name used in rejects locations when several files share one rejects file.
    shared_name: Option<String>,
}

impl FileTally {
    pub fn new(name: &str, several_files: bool) -> FileTally {
        FileTally {
            report: FileReport {
                path: name.to_string(),
                ..FileReport::default()
            },
            locator: Locator::Lines,
            examples: Vec::new(),
            shared_name: several_files.then(|| name.to_string()),
        }
    }

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

    /// Count a row that passed every check.
    pub fn count_valid(&mut self, dst: DstAdjust) {
        let r = &mut self.report;
        r.counts.rows += 1;
        r.counts.valid += 1;
        match dst {
            DstAdjust::Gap => r.dst_gaps += 1,
            DstAdjust::Fold => r.dst_folds += 1,
            DstAdjust::None => {}
        }
    }

    /// Count a valid lead; returns true when it is new in this run (to be sent).
    pub fn valid<P>(&mut self, v: &Valid<P>, seen: &mut Seen) -> bool {
        self.count_valid(v.dst);
        if seen.first(v.fingerprint) {
            true
        } else {
            self.report.counts.duplicates += 1;
            false
        }
    }

    /// Count a rejected row (`new_row`: a row not counted yet, as opposed to a lead
    /// the server refused) and write it to the rejects file.
    pub fn rejected(
        &mut self,
        rej: &Rejected,
        new_row: bool,
        rejects: Option<&mut RejectsWriter>,
    ) -> io::Result<()> {
        let r = &mut self.report;
        if new_row {
            r.counts.rows += 1;
        }
        r.counts.rejected += 1;
        for p in &rej.problems {
            *r.rejected_by_field.entry(p.field.clone()).or_default() += 1;
        }
        match rejects {
            Some(w) => w.write(self.shared_name.as_deref(), &self.locator, rej),
            None => {
                if self.examples.len() < EXAMPLES {
                    let column = rej.problems.first().and_then(|p| p.column);
                    let what: Vec<String> = rej
                        .problems
                        .iter()
                        .map(|p| format!("{}: {}", p.field, p.reason))
                        .collect();
                    self.examples.push(format!(
                        "  row {} ({}): {}",
                        rej.row,
                        self.locator.describe(rej.pos, column),
                        what.join("; ")
                    ));
                }
                Ok(())
            }
        }
    }

    /// The summary line, examples and hints for stderr.
    pub fn print(&self, import: bool, rejects_written: bool) {
        if self.report.error.is_some() && self.report.counts.rows == 0 {
            return; // the error said it all
        }
        eprintln!("{}", crate::report::summary_line(&self.report, import));
        for ex in &self.examples {
            eprintln!("{ex}");
        }
        if !rejects_written && self.report.counts.rejected as usize > self.examples.len() {
            eprintln!("  ... write every rejected row with --rejects FILE.csv");
        }
    }
}
