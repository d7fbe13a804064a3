//! The run engine: one file at a time, end to end, for `validate` and `import`
//! (read → normalize → state → dispatch → outcomes), one per-file loop and one exit
//! rule for both. `commands` only turns a plan into these calls.
//!
//! Each file's rows have one owner of their fates ([`fate`]): the in-order
//! consumer in validate, the recorder in import. Leads reach the senders through
//! the in-flight protocol ([`inflight`]).

pub mod check;
pub mod checked;
pub mod fate;
pub mod import;
pub mod inflight;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod tally;
pub mod validate;

use std::collections::BTreeMap;
use std::time::Instant;

use jiff::Timestamp;

use crate::dispatch::fault::RunFault;
use crate::error::{Error, Exit, exit_code, hint};
use crate::profile::{Profiler, render};
use crate::report::{Counts, FileReport, Rejects, RunReport};
use crate::source::Input;
use crate::state::StateError;
use crate::ui::{Ui, say};
use checked::Seen;
use plan::RunPlan;
use progress::Progress;

/// What every file of a run shares: the rejects file, the duplicate check (leads
/// repeated across files are duplicates too) and the progress display.
pub struct Shared {
    pub rejects: Option<Rejects>,
    pub seen: Seen,
    pub progress: Progress,
    /// More than one file: rejects locations carry the file's name.
    pub several: bool,
    pub ui: Ui,
    /// The profile of every file's leads.
    pub profile: Profiler,
}

/// One file, done or given up.
pub struct FileDone {
    pub report: FileReport,
    /// Rejected rows shown on stderr when no rejects file is written.
    pub examples: Vec<String>,
    /// The user was told about this file already (no summary line).
    pub told: bool,
}

impl FileDone {
    pub fn new(report: FileReport, examples: Vec<String>) -> FileDone {
        FileDone {
            report,
            examples,
            told: false,
        }
    }
}

/// Why a run stopped before its end, if it did.
#[derive(Debug, Default)]
pub struct Ending {
    /// Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// The endpoint as a whole is wrong or away.
    pub fault: Option<RunFault>,
    /// The state store failed mid-run.
    pub store: Option<String>,
}

impl Ending {
    /// No further file is started.
    pub fn stops(&self) -> bool {
        self.interrupted || self.fault.is_some() || self.store.is_some()
    }
}

/// A command's work on one file.
pub trait Files {
    /// The command's name, in the report.
    const COMMAND: &'static str;
    /// Process one file. `Err` ends the whole run (an output cannot be written);
    /// a file that cannot be read is a report with its `error` set.
    fn file(
        &mut self,
        input: &Input,
        shared: &mut Shared,
    ) -> impl Future<Output = Result<FileDone, Error>>;
    /// Whether the run must stop, and why.
    fn ending(&self) -> Ending;
}

/// A run in progress: the shared parts and the run's report.
pub struct Run {
    plan: RunPlan,
    shared: Shared,
    report: RunReport,
    started: Instant,
    /// Files that could not be read to the end, and files that were.
    unreadable: usize,
    completed: usize,
}

impl Run {
    /// Open the outputs (a rejects file that cannot be created stops here).
    pub fn start(plan: RunPlan, command: &str) -> Result<Run, Error> {
        if let Some(p) = &plan.report {
            crate::report::dir_exists(p)
                .map_err(|e| Error::output(format!("--report {}", p.display()), e))?;
        }
        let rejects = match &plan.rejects {
            Some(p) => Some(
                Rejects::create(p)
                    .map_err(|e| Error::output(format!("--rejects {}", p.display()), e))?,
            ),
            None => None,
        };
        Ok(Run {
            shared: Shared {
                rejects,
                seen: Seen::new(plan.input.dedupe),
                progress: Progress::new(plan.ui),
                several: plan.inputs.len() > 1,
                ui: plan.ui,
                profile: Profiler::new(plan.input.normalize.rules.zone.as_ref()),
            },
            report: RunReport {
                command: command.into(),
                started_at: Timestamp::now().to_string(),
                skipped_files: plan.skipped.clone(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                settings: plan.input.describe().into(),
                ..RunReport::default()
            },
            started: Instant::now(),
            unreadable: 0,
            completed: 0,
            plan,
        })
    }

    /// Add settings to the report's.
    pub fn settings(&mut self, more: serde_json::Map<String, serde_json::Value>) {
        if let Some(m) = self.report.settings.as_object_mut() {
            m.extend(more);
        }
    }

    /// Every file in turn, until the end or a reason to stop.
    pub async fn each_file<F: Files>(&mut self, driver: &mut F) -> Result<(), Error> {
        let import = F::COMMAND == "import";
        for input in &self.plan.inputs {
            if driver.ending().stops() {
                break;
            }
            let done = driver.file(input, &mut self.shared).await?;
            let mut r = done.report;
            if r.profile.click_time.zone.is_empty() {
                // Not read (imported before, or unreadable): an empty profile of
                // the same shape, on the run's clock.
                *r.profile = self.shared.profile.fresh().summary();
            }
            match &r.error {
                Some(e) => {
                    self.unreadable += 1;
                    tracing::error!("{}: {e}", r.path);
                }
                None => {
                    self.completed += 1;
                    if r.counts.rows == 0 {
                        tracing::warn!("{}: no data rows (only a header)", r.path);
                    }
                }
            }
            if !self.plan.ui.quiet && !done.told {
                tally::print_file(&r, &done.examples, import, self.shared.rejects.is_some());
            }
            self.report.totals += r.counts;
            merge(&mut self.report.http, &r.http);
            self.report.files.push(r);
        }
        Ok(())
    }

    /// Close the outputs, decide the exit code (one rule for every command), write
    /// the report and say how the run ended.
    pub fn conclude(mut self, ending: &Ending, import: bool) -> Result<Exit, Error> {
        if let Some(r) = self.shared.rejects.take() {
            r.finish().map_err(|e| Error::output("--rejects", e))?;
        }
        let exit = exit_for(&self.report.totals, self.completed, self.unreadable, ending);
        if let Some(f) = &ending.fault {
            say_error(&Error::Fault(f.clone()));
        } else if let Some(s) = &ending.store {
            tracing::error!("state store: {s}");
        }
        self.report.elapsed_s = self.started.elapsed().as_secs_f64();
        self.report.exit_code = exit as i32;
        self.report.totals.profile = self.shared.profile.summary();
        // Warnings are about a file's data (each file's are with it): a run of
        // several years' files spans years, small files add up past a threshold.
        self.report.totals.profile.warnings.clear();
        if let Some(p) = &self.plan.report {
            self.report
                .write(p)
                .map_err(|e| Error::output(format!("--report {}", p.display()), e))?;
        }
        if !self.plan.ui.quiet && self.plan.inputs.len() > 1 {
            let files = (self.plan.inputs.len(), self.unreadable);
            say(totals_line(&self.report, files, import));
            render::print(&self.report.totals.profile);
        }
        Ok(exit)
    }
}

/// An error and its hint on stderr (before logging is set up: plain lines).
pub fn say_error(e: &Error) {
    let text = match hint(e) {
        Some(h) => format!("{e}\n  {h}"),
        None => e.to_string(),
    };
    if tracing::dispatcher::has_been_set() {
        tracing::error!("{text}");
    } else {
        eprintln!("error: {text}");
    }
}

/// The exit code of a run (README's table): interrupted; a run fault's own code;
/// a failed store; unreadable files (2 when nothing went through, else 1); rows
/// rejected, refused, failed or left uncertain (1); else 0.
pub fn exit_for(totals: &Counts, completed: usize, unreadable: usize, ending: &Ending) -> Exit {
    if ending.interrupted {
        return Exit::Interrupted;
    }
    if let Some(f) = &ending.fault {
        return exit_code(&Error::Fault(f.clone()));
    }
    if let Some(s) = &ending.store {
        return exit_code(&Error::Store(StateError::Unusable(s.clone())));
    }
    if unreadable > 0 {
        return if completed == 0 && totals.sent == 0 {
            Exit::Usage
        } else {
            Exit::Partial
        };
    }
    if totals.rejected > 0 || totals.failed > 0 || totals.unknown > 0 {
        return Exit::Partial;
    }
    Exit::Ok
}

fn merge(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// The run's totals; the files counted are those the run tried to read, and of
/// them those it could not.
fn totals_line(run: &RunReport, (files, unreadable): (usize, usize), import: bool) -> String {
    let t = &run.totals;
    let files = match unreadable {
        0 => format!("{files} files"),
        n => format!("{files} files ({n} unreadable)"),
    };
    if import {
        format!(
            "total: {files}, {} rows, {} sent, {} rejected, {} failed, {} duplicates, {} skipped in {:.2} s",
            t.rows, t.sent, t.rejected, t.failed, t.duplicates, t.skipped, run.elapsed_s
        )
    } else {
        format!(
            "total: {files}, {} rows, {} valid ({} duplicates), {} rejected in {:.2} s",
            t.rows, t.valid, t.duplicates, t.rejected, run.elapsed_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(f: impl FnOnce(&mut Counts)) -> Counts {
        let mut c = Counts::default();
        f(&mut c);
        c
    }

    #[test]
    fn one_exit_rule_for_every_command() {
        let clean = counts(|c| c.sent = 5);
        let quiet = Ending::default();
        assert_eq!(exit_for(&clean, 1, 0, &quiet), Exit::Ok);
        assert_eq!(
            exit_for(&counts(|c| c.rejected = 1), 1, 0, &quiet),
            Exit::Partial
        );
        assert_eq!(
            exit_for(&counts(|c| c.failed = 1), 1, 0, &quiet),
            Exit::Partial
        );
        assert_eq!(
            exit_for(&counts(|c| c.unknown = 1), 1, 0, &quiet),
            Exit::Partial,
            "a row whose fate is unknown"
        );
        assert_eq!(
            exit_for(&counts(|c| c.uncertain = 3), 1, 0, &quiet),
            Exit::Ok,
            "uncertain rows sent again"
        );
        // Unreadable files: 2 only when nothing went through.
        assert_eq!(exit_for(&Counts::default(), 0, 1, &quiet), Exit::Usage);
        assert_eq!(exit_for(&clean, 0, 1, &quiet), Exit::Partial);
        assert_eq!(exit_for(&Counts::default(), 1, 1, &quiet), Exit::Partial);
        let stopped = Ending {
            interrupted: true,
            ..Ending::default()
        };
        assert_eq!(exit_for(&clean, 0, 1, &stopped), Exit::Interrupted);
        let store = Ending {
            store: Some("disk full".into()),
            ..Ending::default()
        };
        assert_eq!(exit_for(&clean, 1, 0, &store), Exit::Usage);
    }

    #[test]
    fn a_run_fault_exits_with_its_kinds_code() {
        use crate::dispatch::fault::FaultKind;
        for (kind, code) in [
            (FaultKind::Credentials, Exit::Refused),
            (FaultKind::Redirected, Exit::Refused),
            (FaultKind::Unreachable, Exit::Refused),
            (FaultKind::TimedOut, Exit::Refused),
            (FaultKind::Endpoint, Exit::Usage),
            (FaultKind::Account, Exit::Usage),
            (FaultKind::Field, Exit::Usage),
        ] {
            let ending = Ending {
                fault: Some(RunFault::new(kind, "x")),
                ..Ending::default()
            };
            assert_eq!(
                exit_for(&Counts::default(), 0, 0, &ending),
                code,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn totals_lines_say_what_each_command_did() {
        let mut run = RunReport::default();
        run.totals.rows = 1200;
        run.totals.valid = 1100;
        let line = totals_line(&run, (2, 0), false);
        assert!(
            line.starts_with("total: 2 files, 1200 rows, 1100 valid"),
            "{line}"
        );
        let line = totals_line(&run, (3, 1), true);
        assert!(
            line.starts_with("total: 3 files (1 unreadable), 1200 rows"),
            "{line}"
        );
    }
}
