//! `validate`: each file read and checked on the pipeline; the in-order consumer
//! owns its rows' fates, writes the emitted leads and the rejects. Nothing is sent.

use std::io;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::checked::{Checked, Seen, check};
use super::fate::RowFate;
use super::pipeline::{self, Consumer, Counters, FileInfo};
use super::plan::ValidatePlan;
use super::progress::{Progress, Snapshot};
use super::tally::{self, FileTally};
use super::{Ending, FileDone, Files, Run, Shared};
use crate::error::{Error, Exit};
use crate::normalize::Outcome;
use crate::report::{EmitWriter, Rejects};
use crate::source::Input;

/// Validate every file of the plan; the exit code follows the run's rule.
pub async fn validate(plan: ValidatePlan) -> Result<Exit, Error> {
    let emit = match &plan.emit {
        Some(p) => Some(
            EmitWriter::create(p)
                .map_err(|e| Error::output(format!("--emit {}", p.display()), e))?,
        ),
        None => None,
    };
    let mut run = Run::start(plan.run.clone(), Validator::COMMAND)?;
    let mut v = Validator { plan, emit };
    run.each_file(&mut v).await?;
    if let Some(e) = v.emit.take() {
        e.finish().map_err(|e| Error::output("--emit", e))?;
    }
    run.conclude(&Ending::default(), false)
}

struct Validator {
    plan: ValidatePlan,
    emit: Option<EmitWriter>,
}

impl Files for Validator {
    const COMMAND: &'static str = "validate";

    async fn file(&mut self, input: &Input, shared: &mut Shared) -> Result<FileDone, Error> {
        let name = input.display();
        let started = Instant::now();
        let counters = Counters::default();
        let mut consumer = Check {
            tally: FileTally::new(&name),
            name,
            seen: &mut shared.seen,
            emit: self.emit.as_mut(),
            rejects: shared.rejects.as_mut(),
            progress: &mut shared.progress,
            counters: &counters,
            write_error: None,
        };
        // Emitted lines are rendered on the normalizing threads into the batch's
        // text; a lead carries its line's length.
        let account = self.plan.account_id.as_deref();
        let render = self.plan.emit.is_some();
        let prepare = |o: Outcome, text: &mut String| {
            check(o, |lead| {
                if !render {
                    return 0;
                }
                let start = text.len();
                lead.write_json(account, text);
                text.push('\n');
                text.len() - start
            })
        };
        let mut profile = shared.profile.fresh();
        let result = pipeline::run_file(
            input,
            &self.plan.run.input,
            &counters,
            pipeline::Cells::Recycle,
            &prepare,
            &mut consumer,
            &mut profile,
        );
        let Check {
            tally, write_error, ..
        } = consumer;
        shared.progress.finish_file();
        if let Some(e) = write_error {
            return Err(e);
        }
        let (mut report, examples) = tally.finish();
        tally::profiled(&mut report, &profile);
        shared.profile.merge(&profile);
        report.elapsed_s = started.elapsed().as_secs_f64();
        if let Err(e) = result {
            report.error = Some(e.to_string());
        }
        Ok(FileDone::new(report, examples))
    }

    fn ending(&self) -> Ending {
        Ending::default()
    }
}

/// Consumes one file's outcomes: owns their fates, emits and writes rejects.
struct Check<'a> {
    name: String,
    tally: FileTally,
    seen: &'a mut Seen,
    emit: Option<&'a mut EmitWriter>,
    rejects: Option<&'a mut Rejects>,
    progress: &'a mut Progress,
    counters: &'a Counters,
    write_error: Option<Error>,
}

impl Check<'_> {
    /// One row's fate; true if it is a new lead (its line is emitted).
    fn row(&mut self, checked: &Checked<usize>) -> Result<bool, Error> {
        let new = match checked {
            Checked::Valid(v) => {
                let new = self.seen.first(v.fingerprint);
                self.tally.enter(if new {
                    RowFate::Checked
                } else {
                    RowFate::Duplicate
                });
                new
            }
            Checked::Rejected(r) => {
                self.tally.enter(RowFate::Rejected);
                self.tally
                    .reject(r, RowFate::Rejected, self.rejects.as_deref_mut())
                    .map_err(|e| Error::output("--rejects", e))?;
                false
            }
        };
        let rows = self.tally.fates.rows();
        if rows.is_multiple_of(4096) {
            self.progress.tick(Snapshot {
                rows,
                bytes: self.counters.bytes.load(Ordering::Relaxed),
                framed: self.counters.framed.load(Ordering::Relaxed),
                read_all: self.counters.read_all.load(Ordering::Relaxed),
                valid: rows - self.tally.fates.count(RowFate::Rejected),
                ..Snapshot::default()
            });
        }
        Ok(new)
    }

    /// Count a batch's rows and emit the lines of its new leads: runs of lines
    /// written at once, straight from the batch's text, skipping duplicates.
    fn rows(&mut self, items: &[Checked<usize>], text: &str) -> Result<(), Error> {
        let text = text.as_bytes();
        let emit_error = |e: io::Error| Error::output("--emit", e);
        // The run of lines not yet written, and where the next line starts.
        let (mut run, mut at) = (0, 0);
        for checked in items {
            let len = match checked {
                Checked::Valid(v) => v.payload,
                Checked::Rejected(_) => 0,
            };
            if !self.row(checked)? && len > 0 {
                if let Some(e) = self.emit.as_mut() {
                    e.write_bytes(&text[run..at]).map_err(emit_error)?;
                }
                run = at + len;
            }
            at += len;
        }
        match self.emit.as_mut() {
            Some(e) => e.write_bytes(&text[run..at]).map_err(emit_error),
            None => Ok(()),
        }
    }
}

impl Consumer<Checked<usize>> for Check<'_> {
    fn start(&mut self, info: &FileInfo) {
        self.tally.start(info, self.rejects.as_deref_mut());
        self.progress.start_file(&self.name, info, false);
    }

    fn batch(&mut self, items: Vec<Checked<usize>>, text: &str) -> ControlFlow<()> {
        self.seen.warm(&items);
        match self.rows(&items, text) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.write_error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}
