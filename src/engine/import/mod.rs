//! `import`: each file read on the pipeline's threads, its new leads handed to the
//! senders through the in-flight protocol, and every row's fate owned by the
//! recorder on this thread.
//!
//! Threads: the reader and normalizers ([`crate::engine::pipeline`]) with the
//! [`feed`] on the in-order thread; the senders ([`crate::dispatch`]); the store's
//! writer; and this one, running the [`recorder`]. They talk through one channel
//! of [`Message`]s to the recorder, and the lead queue.

mod feed;
mod recorder;
mod signals;
pub mod target;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::checked::{Seen, check};
use super::fate::RowFate;
use super::inflight::{Delivered, Handoff, Marks};
use super::pipeline::{self, Counters, FileError, FileInfo};
use super::plan::ImportPlan;
use super::tally::{self, FileTally};
use super::{Ending, FileDone, Files, Run, Shared};
use crate::dispatch::health::Health;
use crate::dispatch::pacing::Pacer;
use crate::dispatch::queue::LeadQueue;
use crate::dispatch::{self, Event, Senders, Sink, Stop};
use crate::error::{Error, Exit};
use crate::lead::Lead;
use crate::normalize::Rejected;
use crate::profile::Profiler;
use crate::source::Input;
use crate::state::{self, FileSettings, Prior, StateError, Store, Writer};
use crate::ui::say;
use feed::{Feed, Known};
use recorder::Recorder;
use target::Target;

/// What the recorder hears, in the order it happened.
// Nearly every message is a lead's answer: boxing it would allocate once per answer.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// The file's shape, before its first row.
    Started(Box<FileInfo>),
    /// Rows the feed decided, in file order.
    Intake(Intake),
    /// This many pending leads are being handed to the senders.
    Delivered(usize),
    /// A sender is done with a lead, or has news for the operator.
    Dispatch(Event),
    /// The store failed: the run stops.
    StoreFailed(String),
}

/// Rows the feed decided since it last said.
#[derive(Default)]
pub struct Intake {
    pub entries: Vec<Entry>,
    /// Rows that failed a check, in file order.
    pub rejected: Vec<Rejected>,
}

impl Intake {
    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.rejected.is_empty()
    }
}

/// A valid row's first fate.
pub struct Entry {
    pub row: u64,
    pub fate: RowFate,
    /// A run that died left this row uncertain (it is listed as such).
    pub uncertain_before: bool,
    /// The row has a record from an earlier run (failed, pending) that a send
    /// replaces.
    pub recorded_before: bool,
}

impl Entry {
    fn new(row: u64, fate: RowFate) -> Entry {
        Entry {
            row,
            fate,
            uncertain_before: false,
            recorded_before: false,
        }
    }
}

/// Import every file of the plan into its target.
pub async fn import(plan: ImportPlan) -> Result<Exit, Error> {
    let mut importer = Importer::build(plan).await?;
    let mut run = Run::start(importer.plan.run.clone(), Importer::COMMAND)?;
    run.settings(importer.plan.send.describe());
    let done = run.each_file(&mut importer).await;
    let ending = importer.close();
    let exit = match done {
        Ok(()) => run.conclude(&ending, true),
        Err(e) => Err(e),
    };
    importer.end(exit.as_ref().map_or(Exit::Usage, |e| *e));
    exit
}

/// An import's parts, built from its plan before any file is read.
struct Importer {
    plan: ImportPlan,
    /// `None` with `--no-state` (and with `--sandbox` unless `--state-dir`).
    store: Option<Store>,
    writer: Option<Writer>,
    target: Target,
    pacer: Arc<Pacer>,
    /// The endpoint's health, across files.
    health: Arc<Health>,
    /// The settings that shape what is sent: part of a file's identity.
    settings: FileSettings,
    stop: Stop,
    /// The store failed mid-run.
    store_error: Option<String>,
}

/// A file's record in the store.
enum Opened {
    /// Nothing to do (imported before) or nothing possible (an error): its report.
    Done(FileDone),
    /// Import it; what the store knew of it, when there is a store.
    Go(Option<Known>),
}

impl Importer {
    /// Open the store (one import at a time), resolve the target and check the
    /// credentials, start the store's writer and the signal watcher.
    async fn build(plan: ImportPlan) -> Result<Importer, Error> {
        let store = match &plan.state {
            Some(s) => Some(Store::open(&s.dir, "import")?),
            None => None,
        };
        let target = target::target(&plan.send).await?;
        let writer = match &store {
            Some(s) => Some(s.writer(&target.account)?),
            None => None,
        };
        let stop = Stop::default();
        signals::watch_signals(stop.clone());
        let d = plan.send.dispatch;
        Ok(Importer {
            pacer: Arc::new(Pacer::new(plan.send.rate, plan.send.burst)),
            health: Arc::new(Health::new(d.concurrency, d.max_outage)),
            settings: plan.file_settings(),
            plan,
            store,
            writer,
            target,
            stop,
            store_error: None,
        })
    }

    /// What the store knows of `input`; a file imported before to the end needs
    /// nothing more.
    fn open(&mut self, input: &Input, name: &str) -> Result<Opened, Error> {
        let (Some(store), Some(sp), Input::Path(path)) = (&mut self.store, &self.plan.state, input)
        else {
            return Ok(Opened::Go(None));
        };
        let fingerprint = match state::fingerprint_file(path) {
            Ok(f) => f,
            Err(e) => return Ok(Opened::Done(unreadable(name, e.to_string()))),
        };
        let prior = match store.file(
            &fingerprint,
            &self.target.account,
            self.settings.clone(),
            name,
            sp.restart,
            sp.retry_failed,
        ) {
            Ok(p) => p,
            Err(e @ StateError::Changed(_)) => {
                return Ok(Opened::Done(unreadable(name, e.to_string())));
            }
            Err(e) => return Err(e.into()),
        };
        if prior.finished && prior.uncertain.is_empty() && (prior.failed == 0 || !sp.retry_failed) {
            return Ok(Opened::Done(already_imported(
                name,
                &prior,
                self.plan.run.ui.quiet,
            )));
        }
        if !prior.uncertain.is_empty() && !self.plan.run.ui.quiet {
            say(format!(
                "{name}: {} rows were in flight when an earlier run stopped (rows {}); {}",
                prior.uncertain.len(),
                crate::report::row_ranges(prior.uncertain.iter().copied(), 12),
                if sp.uncertain_skip {
                    "listed in the report (uncertain_rows), not sent (--uncertain skip)"
                } else {
                    "sending them again: the API may have them twice (all listed in the \
                     report's uncertain_rows)"
                }
            ));
        }
        let ledger = match self.plan.run.input.dedupe {
            true => Some(store.ledger(&self.target.account)?),
            false => None,
        };
        Ok(Opened::Go(Some(Known {
            prior,
            ledger,
            uncertain_skip: sp.uncertain_skip,
        })))
    }

    /// Commit everything and stop the store's writer; why the run ended.
    fn close(&mut self) -> Ending {
        if let Some(w) = self.writer.take() {
            if !w.handle().flush() {
                self.store_error
                    .get_or_insert_with(|| "the state store failed".into());
            }
            if let Err(e) = w.close() {
                self.store_error.get_or_insert(e.to_string());
            }
        }
        let fault = self.stop.fault_seen();
        Ending {
            interrupted: self.stop.is_stopped() && fault.is_none(),
            fault,
            store: self.store_error.clone(),
        }
    }

    /// Record the run's end in the store, and what the sandbox received.
    fn end(&self, exit: Exit) {
        if let Some(s) = &self.store
            && let Err(e) = s.end_run(exit as i32)
        {
            tracing::error!("{e}");
        }
        if let Some(sb) = &self.target.sandbox
            && !self.plan.run.ui.quiet
        {
            let s = sb.stats();
            say(format!(
                "sandbox received {} requests: {} clicks accepted, {} bad requests, {} rate-limited, {} failed",
                s.requests, s.accepted, s.bad_request, s.rate_limited, s.failed
            ));
        }
    }
}

impl Files for Importer {
    const COMMAND: &'static str = "import";

    async fn file(&mut self, input: &Input, shared: &mut Shared) -> Result<FileDone, Error> {
        let name = input.display();
        let started = Instant::now();
        // CSV from stdin is copied to a file first, so that it has a fingerprint
        // (resume, "already imported") like any file.
        let spooled = match (input, &self.plan.state) {
            (Input::Stdin, Some(sp)) => Some(spool_stdin(&sp.dir)?),
            _ => None,
        };
        let input = &match &spooled {
            Some(f) => Input::Path(f.path().to_path_buf()),
            None => input.clone(),
        };
        let known = match self.open(input, &name)? {
            Opened::Done(done) => return Ok(done),
            Opened::Go(known) => known,
        };
        let file_id = known.as_ref().map(|k| k.prior.file_id);
        let marks = match (&self.writer, file_id) {
            (Some(w), Some(file_id)) => Some(Marks {
                writer: w.handle(),
                file_id,
            }),
            _ => None,
        };
        let (to_recorder, inbox) = mpsc::unbounded_channel::<Message>();
        let queue = Arc::new(LeadQueue::new(
            feed::low_water(marks.is_some()),
            self.plan.send.dispatch.concurrency,
        ));
        let delivered: Delivered = {
            let tx = to_recorder.clone();
            Arc::new(move |leads: &[Lead]| {
                let _ = tx.send(Message::Delivered(leads.len()));
            })
        };
        let handoff = Arc::new(Handoff::new(Arc::clone(&queue), marks, delivered));
        let feed = Feed::new(
            name.clone(),
            Arc::clone(&handoff),
            to_recorder.clone(),
            std::mem::take(&mut shared.seen),
            known,
            self.stop.clone(),
        );
        let counters = Counters::default();
        let (profiled, profile) = std::sync::mpsc::channel();
        let fresh = shared.profile.fresh();
        let pipeline = self.spawn_pipeline(input, feed, &counters, (fresh, profiled));
        let sink: Sink = {
            let tx = to_recorder.clone();
            Arc::new(move |e| {
                let _ = tx.send(Message::Dispatch(e));
            })
        };
        drop(to_recorder);
        let dispatcher = tokio::spawn(dispatch::run(Senders {
            queue,
            client: Arc::clone(&self.target.client),
            pacer: Arc::clone(&self.pacer),
            health: Arc::clone(&self.health),
            cfg: self.plan.send.dispatch,
            stop: self.stop.clone(),
            sink,
        }));
        let mut rec = Recorder::new(FileTally::new(&name), shared, handoff, file_id, counters);
        let (result, seen) = rec.drive(inbox, pipeline, dispatcher).await;
        let (mut report, examples) = rec.finish(&mut self.store_error)?;
        // Sent as the pipeline ended: it has (unless it panicked).
        let profile = profile
            .try_recv()
            .unwrap_or_else(|_| shared.profile.fresh());
        tally::profiled(&mut report, &profile);
        shared.profile.merge(&profile);
        shared.seen = seen.unwrap_or_else(|| Seen::new(self.plan.run.input.dedupe));
        report.elapsed_s = started.elapsed().as_secs_f64();
        match result {
            Err(e) => report.error = Some(e.to_string()),
            // Read to the end and nothing left unsent: the file is done.
            Ok(stopped) => {
                if let (Some(w), Some(id)) = (&self.writer, file_id)
                    && !stopped
                    && !self.stop.is_stopped()
                    && report.counts.pending == 0
                {
                    w.handle().finished(id, report.counts.rows);
                }
            }
        }
        Ok(FileDone::new(report, examples))
    }

    fn ending(&self) -> Ending {
        Ending {
            interrupted: self.stop.is_stopped(),
            fault: None,
            store: self.store_error.clone(),
        }
    }
}

type PipelineDone = (Result<bool, FileError>, Seen);

impl Importer {
    /// Read and normalize on blocking threads; request bodies are built there too,
    /// off the threads that send. The file's profile (begun empty on the run's clock)
    /// goes to `profiled` at the end.
    fn spawn_pipeline(
        &self,
        input: &Input,
        mut feed: Feed,
        counters: &Counters,
        (mut profile, profiled): (Profiler, std::sync::mpsc::Sender<Profiler>),
    ) -> tokio::task::JoinHandle<PipelineDone> {
        let (input, cfg, counters) = (input.clone(), self.plan.run.input.clone(), counters.clone());
        let client = Arc::clone(&self.target.client);
        tokio::task::spawn_blocking(move || {
            let prepare = |o, _: &mut String| {
                check(o, |mut lead: Lead| {
                    lead.body = Some(client.form(&lead).into());
                    lead
                })
            };
            let result = pipeline::run_file(
                &input,
                &cfg,
                &counters,
                pipeline::Cells::Keep,
                &prepare,
                &mut feed,
                &mut profile,
            );
            let _ = profiled.send(profile);
            (result, feed.finish_file())
        })
    }
}

/// The report of a file that could not be imported.
fn unreadable(name: &str, error: String) -> FileDone {
    let mut tally = FileTally::new(name);
    tally.report.error = Some(error);
    let (report, examples) = tally.finish();
    FileDone::new(report, examples)
}

/// A file imported to the end before: its rows are resumed past (those that
/// failed then, and are not retried now, stay failed).
fn already_imported(name: &str, prior: &Prior, quiet: bool) -> FileDone {
    let mut tally = FileTally::new(name);
    if let Some((format, _)) = crate::source::Format::from_path(std::path::Path::new(name)) {
        tally.report.format = format.name().to_string();
    }
    for _ in 0..prior.done.count().saturating_sub(prior.failed) {
        tally.enter(RowFate::Resumed);
    }
    for _ in 0..prior.failed {
        tally.enter(RowFate::Failed);
    }
    if !quiet {
        say(format!(
            "{name}: already imported ({} rows done{}); nothing to send",
            prior.done.count(),
            if prior.failed > 0 {
                format!(
                    ", {} failed, not sent again (--no-retry-failed)",
                    prior.failed
                )
            } else {
                String::new()
            }
        ));
    }
    let (report, examples) = tally.finish();
    FileDone {
        told: !quiet,
        ..FileDone::new(report, examples)
    }
}

/// Copy stdin to a file in the state directory (removed when dropped).
fn spool_stdin(dir: &std::path::Path) -> Result<tempfile::NamedTempFile, Error> {
    let fail = |e: std::io::Error| Error::output("reading stdin into the state directory", e);
    let mut f = tempfile::Builder::new()
        .prefix("stdin-")
        .suffix(".csv")
        .tempfile_in(dir)
        .map_err(fail)?;
    std::io::copy(&mut std::io::stdin().lock(), f.as_file_mut()).map_err(fail)?;
    Ok(f)
}
