//! `setclick import`: validate and send. The pipeline (reader, normalizers) runs on
//! a blocking thread and feeds a bounded queue; the dispatcher's senders drain it
//! under the pacer; every outcome is counted, recorded in the state store, and every
//! failure lands in the rejects file or the report.

mod feed;
mod plan;
mod record;
mod signals;
mod target;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::api::auth;
use crate::cli::{ImportArgs, ValidateArgs};
use crate::dispatch::pacing::Pacer;
use crate::dispatch::queue::LeadQueue;
use crate::dispatch::{self, Event, Stop};
use crate::lead::Lead;
use crate::pipeline::{self, Counters};
use crate::progress::Progress;
use crate::report::{FileReport, RejectsWriter, RunReport};
use crate::source::Input;
use crate::state::{self, RowOutcome, StateError, Store};
use crate::tally::{FileTally, Seen, check};
use crate::{Exit, Failure, Ui};
use feed::{Books, Feed, FileState, books};
use plan::{Plan, settings_hash};

pub fn run(args: ImportArgs, ui: &Ui) -> Result<Exit, Failure> {
    if args.dry_run {
        return super::validate::run(
            ValidateArgs {
                files: args.files,
                input: args.input,
                emit: None,
                account_id: args.account_id,
            },
            ui,
        );
    }
    let plan = Plan::from_args(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(import(args, plan, *ui))
}

fn state_failure(e: StateError) -> Failure {
    Failure::usage(e)
}

/// A file already imported to the end: nothing to send.
fn already_imported(name: &str, prior: &state::Prior) -> FileReport {
    let mut r = FileReport {
        path: name.to_string(),
        ..FileReport::default()
    };
    r.counts.skipped = prior.done.count();
    r.counts.failed = prior.failed;
    r
}

async fn import(args: ImportArgs, plan: Plan, ui: Ui) -> Result<Exit, Failure> {
    let started = Instant::now();
    let mut store = match &plan.state {
        Some(s) => Some(Store::open(&s.dir, "import").map_err(state_failure)?),
        None => None,
    };
    let target = target::target(&args, &plan).await?;
    let settings = settings_hash(&plan.cfg, &plan.wire);
    let writer = match &store {
        Some(s) => Some(s.writer(&target.account).map_err(state_failure)?),
        None => None,
    };
    let stop = Stop::default();
    signals::watch_signals(stop.clone());
    let pacer = Arc::new(Pacer::new(plan.rate, plan.burst));
    let mut rejects = match &plan.cfg.rejects {
        Some(p) => Some(
            RejectsWriter::create(p)
                .map_err(|e| Failure::usage(format!("--rejects {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let mut seen = Seen::new(plan.cfg.dedupe);
    let mut run = RunReport {
        command: "import".into(),
        started_at: Timestamp::now().to_string(),
        ..RunReport::default()
    };
    let mut any_error = false;
    let mut store_error: Option<String> = None;
    let cfg = Arc::new(plan.cfg.clone());
    let several = plan.inputs.len() > 1;

    for input in &plan.inputs {
        if stop.is_stopped() || store_error.is_some() {
            break;
        }
        let name = input.display();
        let file_started = Instant::now();

        // The file's record in the store: what earlier runs did with it.
        let file_state = match (&mut store, &writer, input, &plan.state) {
            (Some(store), Some(writer), Input::Path(path), Some(sp)) => {
                let fingerprint = match state::fingerprint_file(path) {
                    Ok(f) => f,
                    Err(e) => {
                        any_error = true;
                        tracing::error!("{name}: {e}");
                        let mut r = FileReport {
                            path: name.clone(),
                            error: Some(e.to_string()),
                            ..FileReport::default()
                        };
                        r.elapsed_s = file_started.elapsed().as_secs_f64();
                        run.files.push(r);
                        continue;
                    }
                };
                match store.file(
                    &fingerprint,
                    &target.account,
                    &settings,
                    &name,
                    sp.restart,
                    sp.retry_failed,
                ) {
                    Ok(prior)
                        if prior.finished
                            && prior.uncertain.is_empty()
                            && (prior.failed == 0 || !sp.retry_failed) =>
                    {
                        let r = already_imported(&name, &prior);
                        if !ui.quiet {
                            eprintln!(
                                "{name}: already imported ({} rows done{}); nothing to send",
                                r.counts.skipped,
                                if prior.failed > 0 {
                                    format!(
                                        ", {} failed: re-send them with --retry-failed",
                                        prior.failed
                                    )
                                } else {
                                    String::new()
                                }
                            );
                        }
                        run.totals += r.counts;
                        run.files.push(r);
                        continue;
                    }
                    Ok(prior) => {
                        if !prior.uncertain.is_empty() && !ui.quiet {
                            eprintln!(
                                "{name}: {} rows were in flight when an earlier run stopped; {}",
                                prior.uncertain.len(),
                                if sp.uncertain_skip {
                                    "listed in the report, not sent (--uncertain skip)"
                                } else {
                                    "sending them again"
                                }
                            );
                        }
                        let ledger = if plan.cfg.dedupe {
                            Some(store.ledger(&target.account).map_err(state_failure)?)
                        } else {
                            None
                        };
                        Some(FileState {
                            file_id: prior.file_id,
                            prior,
                            ledger,
                            writer: writer.handle(),
                            uncertain_skip: sp.uncertain_skip,
                        })
                    }
                    Err(e @ StateError::Changed(_)) => {
                        any_error = true;
                        tracing::error!("{e}");
                        run.files.push(FileReport {
                            path: name.clone(),
                            error: Some(e.to_string()),
                            ..FileReport::default()
                        });
                        continue;
                    }
                    Err(e) => return Err(state_failure(e)),
                }
            }
            _ => None,
        };
        let file_store = file_state.as_ref().map(|s| (s.writer.clone(), s.file_id));

        let counters = Counters::default();
        let shared = Arc::new(Mutex::new(Books {
            tally: FileTally::new(&name, several),
            rejects: rejects.take(),
            seen: std::mem::take(&mut seen),
            progress: Progress::new(ui.quiet),
            write_error: None,
            store_error: None,
        }));
        let queue = Arc::new(LeadQueue::new(
            feed::low_water(file_state.is_some()),
            plan.dispatch.concurrency,
        ));
        let (event_tx, mut events) = mpsc::unbounded_channel::<Event>();
        let pipeline = {
            let (input, cfg, counters) = (input.clone(), Arc::clone(&cfg), counters.clone());
            let client = Arc::clone(&target.client);
            let mut feed = Feed::new(
                Arc::clone(&shared),
                Arc::clone(&queue),
                name.clone(),
                file_state,
            );
            tokio::task::spawn_blocking(move || {
                // Request bodies are built here, on the normalizing threads.
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
                );
                feed.settle();
                feed.queue.close();
                result
            })
        };
        let dispatcher = tokio::spawn(dispatch::run(dispatch::Senders {
            queue: Arc::clone(&queue),
            client: Arc::clone(&target.client),
            pacer: Arc::clone(&pacer),
            cfg: plan.dispatch,
            stop: stop.clone(),
            events: event_tx,
        }));

        let mut http = record::HttpCounts::default();
        let mut retries = 0u64;
        let mut inbox: Vec<Event> = Vec::with_capacity(256);
        let mut outcomes: Vec<RowOutcome> = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let shared_name = several.then_some(name.as_str());
        loop {
            tokio::select! {
                got = events.recv_many(&mut inbox, 256) => {
                    if got == 0 {
                        break;
                    }
                    let mut b = books(&shared);
                    for event in inbox.drain(..) {
                        retries += record::record(event, &mut b, file_store.as_ref().map(|(_, id)| (&mut outcomes, *id)), shared_name, &mut http);
                    }
                    drop(b);
                    if let Some((w, _)) = &file_store {
                        w.outcomes(std::mem::take(&mut outcomes));
                    }
                    queue.recorded(got);
                }
                _ = tick.tick() => {
                    let mut b = books(&shared);
                    let c = b.tally.report.counts;
                    let extra = format!(", {} sent, {} failed, {} retries", c.sent, c.failed, retries);
                    b.progress.tick(&counters, &extra);
                }
            }
        }
        let _ = dispatcher.await;
        let result = pipeline.await.unwrap_or_else(|_| {
            Err(pipeline::FileError::Unreadable(
                "internal error: the reader stopped".into(),
            ))
        });

        let Books {
            mut tally,
            rejects: r,
            seen: s,
            mut progress,
            write_error,
            store_error: se,
        } = match Arc::try_unwrap(shared) {
            Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
            Err(_) => return Err(Failure::usage("internal error: books still shared")),
        };
        progress.finish_file();
        rejects = r;
        seen = s;
        if let Some(e) = write_error {
            return Err(Failure::usage(format!("cannot write output: {e}")));
        }
        store_error = store_error.or(se);
        tally.report.elapsed_s = file_started.elapsed().as_secs_f64();
        tally.report.retries = Some(retries);
        let http = http.to_map();
        for (k, v) in &http {
            *run.http.entry(k.clone()).or_default() += v;
        }
        tally.report.http = http;
        match result {
            Err(e) => {
                any_error = true;
                tracing::error!("{name}: {e}");
                tally.report.error = Some(e.to_string());
            }
            Ok(stopped) => {
                if tally.report.counts.rows == 0 {
                    tracing::warn!("{name}: no data rows (only a header)");
                }
                // Read to the end and nothing left unsent: the file is done.
                if let Some((w, id)) = &file_store
                    && !stopped
                    && !stop.is_stopped()
                    && tally.report.counts.pending == 0
                {
                    w.finished(*id, tally.report.counts.rows);
                }
            }
        }
        if !ui.quiet {
            tally.print(true, rejects.is_some());
        }
        run.totals += tally.report.counts;
        run.files.push(tally.report);
    }

    if let Some(r) = rejects {
        r.finish()
            .map_err(|e| Failure::usage(format!("--rejects: {e}")))?;
    }
    if let Some(w) = writer {
        if !w.handle().flush() {
            store_error.get_or_insert_with(|| "the state store failed".into());
        }
        if let Err(e) = w.close() {
            store_error.get_or_insert(e);
        }
    }
    let t = run.totals;
    let unreachable = t.sent == 0 && t.failed > 0 && run.http.keys().all(|k| k == "transport");
    let exit = if let Some(msg) = stop.fatal_message() {
        eprintln!(
            "error: the API refused the credentials ({msg}); check {} (or --token-file), the \
             account id, and that your user has the '{}' scope",
            auth::TOKEN_ENV,
            auth::SCOPE
        );
        Exit::Auth
    } else if stop.is_stopped() {
        Exit::Interrupted
    } else if let Some(e) = &store_error {
        eprintln!("error: state store: {e}");
        Exit::Usage
    } else if unreachable {
        eprintln!(
            "error: the API stayed unreachable: {} leads failed without an answer",
            t.failed
        );
        Exit::Auth
    } else if any_error {
        Exit::Usage
    } else if t.rejected > 0 || t.failed > 0 {
        Exit::Partial
    } else {
        Exit::Ok
    };
    run.elapsed_s = started.elapsed().as_secs_f64();
    run.exit_code = exit as i32;
    if let Some(s) = &store
        && let Err(e) = s.end_run(exit as i32)
    {
        tracing::error!("{e}");
    }
    if let Some(p) = &plan.cfg.report {
        run.write(p)
            .map_err(|e| Failure::usage(format!("--report {}: {e}", p.display())))?;
    }
    if !ui.quiet {
        if several {
            eprintln!(
                "total: {} files, {} rows, {} sent, {} rejected, {} failed, {} duplicates, {} skipped in {:.2} s",
                plan.inputs.len(),
                t.rows,
                t.sent,
                t.rejected,
                t.failed,
                t.duplicates,
                t.skipped,
                run.elapsed_s
            );
        }
        if let Some(sb) = &target.sandbox {
            let s = sb.stats();
            eprintln!(
                "sandbox received {} requests: {} clicks accepted, {} bad requests, {} rate-limited, {} failed",
                s.requests, s.accepted, s.bad_request, s.rate_limited, s.failed
            );
        }
    }
    Ok(exit)
}
