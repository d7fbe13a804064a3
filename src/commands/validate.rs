//! `setclick validate`: the dry run. Reads and checks every row, writes the
//! normalized leads (`--emit`), rejects and report; sends nothing.

use std::cell::RefCell;
use std::io;
use std::ops::ControlFlow;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
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
    /// Emitted lines, going back to the normalizing threads to be written into
    /// again (rather than freed here, one by one, away from the thread that made
    /// them).
    spent: Lines,
    /// A batch's fingerprints, to warm the duplicate check with.
    fps: Vec<u128>,
}

/// Line buffers handed back in bundles.
struct Lines {
    done: Vec<String>,
    back: Sender<Vec<String>>,
}

/// Lines in a bundle.
const LINES: usize = 256;

impl Lines {
    fn put(&mut self, line: String) {
        self.done.push(line);
        if self.done.len() >= LINES {
            // The normalizing threads have enough: these are freed here.
            let _ = self.back.try_send(std::mem::take(&mut self.done));
        }
    }
}

thread_local! {
    /// A normalizing thread's line buffers to write into.
    static SPARE_LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// An empty line buffer: a spare one when there is one.
fn spare_line(bundles: &Receiver<Vec<String>>) -> String {
    SPARE_LINES.with_borrow_mut(|spare| {
        if spare.is_empty()
            && let Ok(bundle) = bundles.try_recv()
        {
            *spare = bundle;
        }
        match spare.pop() {
            Some(mut line) => {
                line.clear();
                line
            }
            None => String::with_capacity(384),
        }
    })
}

impl Consumer<Checked<Option<String>>> for Check<'_> {
    fn start(&mut self, info: &FileInfo) {
        if let Err(e) = self.tally.start(info, self.rejects.as_deref_mut()) {
            self.write_error.get_or_insert(e);
        }
        self.progress.start_file(&self.name, info);
    }

    fn look_ahead(&mut self, batch: &[Checked<Option<String>>]) {
        self.seen.warm(batch, &mut self.fps);
    }

    fn outcome(&mut self, checked: Checked<Option<String>>) -> ControlFlow<()> {
        let written = match checked {
            Checked::Valid(mut v) => {
                let new = self.tally.valid(&v, self.seen);
                let written = match (new, self.emit.as_mut(), &v.payload) {
                    (true, Some(e), Some(line)) => e.write_line(line),
                    _ => Ok(()),
                };
                if let Some(line) = v.payload.take() {
                    self.spent.put(line);
                }
                written
            }
            Checked::Rejected(r) => self.tally.rejected(&r, true, self.rejects.as_deref_mut()),
        };
        if self.tally.report.counts.rows.is_multiple_of(4096) {
            self.progress.tick(self.counters, "");
        }
        match written {
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
        let (back, bundles) = crossbeam_channel::bounded::<Vec<String>>(2);
        let mut consumer = Check {
            tally: FileTally::new(&name, inputs.len() > 1),
            name: name.clone(),
            seen: &mut seen,
            emit: emit.as_mut(),
            rejects: rejects.as_mut(),
            progress: &mut progress,
            counters: &counters,
            write_error: None,
            spent: Lines {
                done: Vec::new(),
                back,
            },
            fps: Vec::new(),
        };
        // Emit lines are rendered on the normalizing threads.
        let account = args.account_id.as_deref();
        let render = args.emit.is_some();
        let prepare = |o: Outcome| {
            check(o, |lead| {
                render.then(|| {
                    let mut line = spare_line(&bundles);
                    lead.write_json(account, &mut line);
                    line.push('\n');
                    line
                })
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
