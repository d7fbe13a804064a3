//! `setclick validate`: the dry run. Reads and checks every row, writes the
//! normalized leads (`--emit`), rejects and report; sends nothing.

use std::io;
use std::ops::ControlFlow;
use std::time::Instant;

use jiff::Timestamp;

use crate::cli::ValidateArgs;
use crate::config;
use crate::normalize::Outcome;
use crate::pipeline::{self, Consumer, Counters, FileInfo};
use crate::progress::Progress;
use crate::report::{EmitWriter, RejectsWriter, RunReport};
use crate::tally::{Checked, FileTally, Seen, check};
use crate::{Exit, Failure, Ui};

/// Consumes one file's outcomes: counts, emits and writes rejects.
struct Check<'a> {
    name: String,
    tally: FileTally,
    seen: &'a mut Seen,
    emit: Option<&'a mut EmitWriter>,
    rejects: Option<&'a mut RejectsWriter>,
    progress: &'a mut Progress,
    counters: &'a Counters,
    write_error: Option<io::Error>,
}

impl Check<'_> {
    /// Count one row; true if it is a new lead (its line is emitted).
    fn row(&mut self, checked: &Checked<usize>) -> io::Result<bool> {
        let new = match checked {
            Checked::Valid(v) => self.tally.valid(v, self.seen),
            Checked::Rejected(r) => {
                self.tally.rejected(r, true, self.rejects.as_deref_mut())?;
                false
            }
        };
        if self.tally.report.counts.rows.is_multiple_of(4096) {
            self.progress.tick(self.counters, "");
        }
        Ok(new)
    }

    /// Count a batch's rows and emit the lines of its new leads: runs of lines
    /// written at once, straight from the batch's text, skipping duplicates.
    fn rows(&mut self, items: &[Checked<usize>], text: &str) -> io::Result<()> {
        let text = text.as_bytes();
        // The run of lines not yet written, and where the next line starts.
        let (mut run, mut at) = (0, 0);
        for checked in items {
            let len = match checked {
                Checked::Valid(v) => v.payload,
                Checked::Rejected(_) => 0,
            };
            if !self.row(checked)? && len > 0 {
                if let Some(e) = self.emit.as_mut() {
                    e.write_bytes(&text[run..at])?;
                }
                run = at + len;
            }
            at += len;
        }
        match self.emit.as_mut() {
            Some(e) => e.write_bytes(&text[run..at]),
            None => Ok(()),
        }
    }
}

impl Consumer<Checked<usize>> for Check<'_> {
    fn start(&mut self, info: &FileInfo) {
        if let Err(e) = self.tally.start(info, self.rejects.as_deref_mut()) {
            self.write_error.get_or_insert(e);
        }
        self.progress.start_file(&self.name, info);
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

pub fn run(args: ValidateArgs, ui: &Ui) -> Result<Exit, Failure> {
    let started = Instant::now();
    let now = Timestamp::now();
    let cfg = config::input_config(&args.input, now).map_err(Failure::usage)?;
    let inputs =
        config::expand_inputs(&args.files, cfg.read.format.is_some()).map_err(Failure::usage)?;

    let mut emit = match &args.emit {
        Some(p) => Some(
            EmitWriter::create(p)
                .map_err(|e| Failure::usage(format!("--emit {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let mut rejects = match &cfg.rejects {
        Some(p) => Some(
            RejectsWriter::create(p)
                .map_err(|e| Failure::usage(format!("--rejects {}: {e}", p.display())))?,
        ),
        None => None,
    };

    let mut run = RunReport {
        command: "validate".into(),
        started_at: now.to_string(),
        ..RunReport::default()
    };
    let mut seen = Seen::new(cfg.dedupe);
    let mut progress = Progress::new(ui.quiet);
    let mut any_error = false;
    let mut broken_pipe = false;

    for input in &inputs {
        let name = input.display();
        let file_started = Instant::now();
        let counters = Counters::default();
        let mut consumer = Check {
            tally: FileTally::new(&name, inputs.len() > 1),
            name: name.clone(),
            seen: &mut seen,
            emit: emit.as_mut(),
            rejects: rejects.as_mut(),
            progress: &mut progress,
            counters: &counters,
            write_error: None,
        };
        // Emit lines are rendered on the normalizing threads, into the batch's text;
        // a lead carries its line's length.
        let account = args.account_id.as_deref();
        let render = args.emit.is_some();
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
        let result = pipeline::run_file(
            input,
            &cfg,
            &counters,
            pipeline::Cells::Recycle,
            &prepare,
            &mut consumer,
        );
        let Check {
            mut tally,
            write_error,
            ..
        } = consumer;
        progress.finish_file();
        tally.report.elapsed_s = file_started.elapsed().as_secs_f64();

        if let Some(e) = write_error {
            if e.kind() != io::ErrorKind::BrokenPipe {
                return Err(Failure::usage(format!("cannot write output: {e}")));
            }
            broken_pipe = true;
        }
        if let Err(e) = result {
            any_error = true;
            tracing::error!("{name}: {e}");
            tally.report.error = Some(e.to_string());
        } else if tally.report.counts.rows == 0 {
            tracing::warn!("{name}: no data rows (only a header)");
        }
        if !ui.quiet && !broken_pipe {
            tally.print(false, rejects.is_some());
        }
        run.totals += tally.report.counts;
        run.files.push(tally.report);
        if broken_pipe {
            break;
        }
    }

    if let Some(e) = emit
        && let Err(e) = e.finish()
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(Failure::usage(format!("--emit: {e}")));
    }
    if let Some(r) = rejects {
        r.finish()
            .map_err(|e| Failure::usage(format!("--rejects: {e}")))?;
    }
    let exit = if broken_pipe {
        Exit::Ok
    } else if any_error {
        Exit::Usage
    } else if run.totals.rejected > 0 {
        Exit::Partial
    } else {
        Exit::Ok
    };
    run.elapsed_s = started.elapsed().as_secs_f64();
    run.exit_code = exit as i32;
    if let Some(p) = &cfg.report {
        run.write(p)
            .map_err(|e| Failure::usage(format!("--report {}: {e}", p.display())))?;
    }
    if !ui.quiet && inputs.len() > 1 {
        let t = &run.totals;
        eprintln!(
            "total: {} files, {} rows, {} valid ({} duplicates), {} rejected in {:.2} s",
            inputs.len(),
            t.rows,
            t.valid,
            t.duplicates,
            t.rejected,
            run.elapsed_s
        );
    }
    Ok(exit)
}
