//! `setclick import`: validate and send. The pipeline (reader, normalizers) runs on
//! a blocking thread and feeds a bounded queue; the dispatcher's senders drain it
//! under the pacer; every outcome is counted and every failure lands in the rejects
//! file or the report.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::api::auth::{self, AuthError, Secret};
use crate::api::client::{self, ApiClient, ClickTimeUnit, Wire};
use crate::cli::{ClickTimeUnitArg, ImportArgs, ReferrerField, ValidateArgs};
use crate::config::{self, InputConfig};
use crate::dispatch::pacing::{Pacer, Rate};
use crate::dispatch::retry::Backoff;
use crate::dispatch::{self, DispatchConfig, Event, Stop};
use crate::lead::Lead;
use crate::normalize::{Problem, Rejected};
use crate::pipeline::{self, Consumer, Counters, FileInfo};
use crate::progress::Progress;
use crate::report::{RejectsWriter, RunReport};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::source::Input;
use crate::tally::{Checked, FileTally, Seen, check};
use crate::{Exit, Failure, Ui};

/// Everything the import needs, checked before any file is opened.
struct Plan {
    cfg: InputConfig,
    inputs: Vec<Input>,
    rate: Rate,
    burst: NonZeroU32,
    dispatch: DispatchConfig,
    wire: Wire,
    timeout: Duration,
}

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
    let cfg = config::input_config(&args.input, Timestamp::now()).map_err(Failure::usage)?;
    let inputs =
        config::expand_inputs(&args.files, cfg.read.format.is_some()).map_err(Failure::usage)?;
    let plan = Plan {
        rate: match (&args.rate, args.sandbox) {
            (Some(r), _) => Rate::parse(r).map_err(Failure::usage)?,
            (None, true) => Rate::Unlimited,
            (None, false) => Rate::parse("1/s").map_err(Failure::usage)?,
        },
        burst: NonZeroU32::new(args.burst)
            .ok_or_else(|| Failure::usage("--burst must be at least 1"))?,
        dispatch: DispatchConfig {
            concurrency: match args.concurrency {
                0 => return Err(Failure::usage("--concurrency must be at least 1")),
                n => n,
            },
            max_attempts: args.max_attempts.max(1),
            backoff: Backoff::default(),
        },
        wire: Wire {
            click_time_unit: match args.click_time_unit {
                ClickTimeUnitArg::Ms => ClickTimeUnit::Millis,
                ClickTimeUnitArg::S => ClickTimeUnit::Seconds,
            },
            referrer_field: match args.referrer_field {
                ReferrerField::Referrer => "referrer",
                ReferrerField::ReferrerUrl => "referrer_url",
            },
        },
        timeout: (args.timeout.is_finite() && args.timeout > 0.0)
            .then(|| Duration::from_secs_f64(args.timeout))
            .ok_or_else(|| Failure::usage("--timeout must be a positive number of seconds"))?,
        cfg,
        inputs,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(import(args, plan, *ui))
}

fn auth_failure(e: AuthError) -> Failure {
    match e {
        AuthError::Refused(m) => Failure {
            exit: Exit::Auth,
            message: m,
        },
        AuthError::Usage(m) => Failure::usage(m),
    }
}

/// Where to send, with what credentials.
struct Target {
    client: Arc<ApiClient>,
    sandbox: Option<Sandbox>,
}

async fn target(args: &ImportArgs, plan: &Plan) -> Result<Target, Failure> {
    let (endpoint, token, account, sandbox) = if args.sandbox {
        let sb = Sandbox::start(SandboxConfig {
            keep_clicks: false,
            ..SandboxConfig::default()
        })
        .await
        .map_err(|e| Failure::usage(format!("cannot start the sandbox: {e}")))?;
        if args.account_id.is_some() {
            tracing::warn!("--sandbox: sending with the sandbox's own account id");
        }
        eprintln!("sandbox listening on {}", sb.base_url());
        (
            sb.endpoint(),
            Secret::new(sb.token()),
            sb.account_id().to_string(),
            Some(sb),
        )
    } else {
        let token = auth::load_token(
            args.token_file.as_deref(),
            std::env::var(auth::TOKEN_ENV).ok(),
        )
        .map_err(auth_failure)?;
        let account = args
            .account_id
            .clone()
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage("no account id: give --account-id or set SEALMETRICS_ACCOUNT_ID")
            })?;
        let endpoint = args
            .endpoint
            .clone()
            .unwrap_or_else(|| client::DEFAULT_ENDPOINT.to_string());
        (endpoint, token, account, None)
    };
    let endpoint = client::check_endpoint(&endpoint).map_err(Failure::usage)?;
    auth::preflight(&token, Timestamp::now()).map_err(auth_failure)?;
    let client = ApiClient::new(
        endpoint,
        token,
        account.clone(),
        plan.wire.clone(),
        plan.timeout,
        plan.dispatch.concurrency,
    )
    .map_err(Failure::usage)?;
    check_account(&client, &account).await?;
    Ok(Target {
        client: Arc::new(client),
        sandbox,
    })
}

/// Ask the accounts endpoint whether the token works and owns the account. Only a
/// clear refusal stops the run; an endpoint that does not answer is passed over.
async fn check_account(client: &ApiClient, account: &str) -> Result<(), Failure> {
    let url = client::sibling(client.endpoint(), "/api/auth/accounts");
    let resp = client
        .http()
        .get(url)
        .bearer_auth(client.token().expose())
        .header("accept", "application/json")
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    let Ok(resp) = resp else {
        tracing::debug!("accounts check: no answer");
        return Ok(());
    };
    let status = resp.status().as_u16();
    if status == 401 || status == 403 {
        let body = resp.bytes().await.unwrap_or_default();
        return Err(Failure {
            exit: Exit::Auth,
            message: format!(
                "the API refused the token ({}); check {} or --token-file",
                client::server_message(&body, status),
                auth::TOKEN_ENV
            ),
        });
    }
    if status == 200
        && let Ok(body) = resp.bytes().await
        && let Ok(serde_json::Value::Object(accounts)) =
            serde_json::from_slice::<serde_json::Value>(&body)
        && !accounts.is_empty()
        && !accounts.contains_key(account)
    {
        let known: Vec<String> = accounts
            .iter()
            .map(|(id, name)| format!("{id} ({})", name.as_str().unwrap_or("")))
            .collect();
        return Err(Failure {
            exit: Exit::Auth,
            message: format!(
                "account '{account}' does not belong to this token; its accounts: {}",
                known.join(", ")
            ),
        });
    }
    Ok(())
}

/// Per-file books shared by the pipeline thread and the event loop.
struct Books {
    tally: FileTally,
    rejects: Option<RejectsWriter>,
    seen: Seen,
    progress: Progress,
    write_error: Option<std::io::Error>,
}

fn books(b: &Mutex<Books>) -> MutexGuard<'_, Books> {
    b.lock().unwrap_or_else(|p| p.into_inner())
}

/// The pipeline's consumer: counts and rejects rows, queues new leads for sending.
struct Feed {
    books: Arc<Mutex<Books>>,
    leads: mpsc::Sender<Lead>,
    name: String,
}

impl Consumer<Checked<Lead>> for Feed {
    fn start(&mut self, info: &FileInfo) {
        let mut b = books(&self.books);
        let Books {
            tally,
            rejects,
            progress,
            write_error,
            ..
        } = &mut *b;
        if let Err(e) = tally.start(info, rejects.as_mut()) {
            write_error.get_or_insert(e);
        }
        progress.start_file(&self.name, info);
    }

    fn outcome(&mut self, checked: Checked<Lead>) -> ControlFlow<()> {
        match checked {
            Checked::Valid(v) => {
                let new = {
                    let mut b = books(&self.books);
                    let Books { tally, seen, .. } = &mut *b;
                    tally.valid(&v, seen)
                };
                // Back-pressure: waits while the senders are busy. A closed queue
                // means the run stopped: the lead is counted as not sent.
                if new && self.leads.blocking_send(v.payload).is_err() {
                    books(&self.books).tally.report.counts.pending += 1;
                    return ControlFlow::Break(());
                }
            }
            Checked::Rejected(r) => {
                let mut b = books(&self.books);
                let Books {
                    tally,
                    rejects,
                    write_error,
                    ..
                } = &mut *b;
                if let Err(e) = tally.rejected(&r, true, rejects.as_mut()) {
                    write_error.get_or_insert(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Ctrl-C / SIGTERM: the first stops intake and lets in-flight answers arrive; a
/// second exits at once.
fn watch_signals(stop: Stop) {
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => return,
                    };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            seen += 1;
            if seen > 1 {
                eprintln!("interrupted again: exiting now");
                std::process::exit(Exit::Interrupted as i32);
            }
            eprintln!(
                "interrupted: finishing requests in flight (interrupt again to exit at once)"
            );
            stop.interrupt();
        }
    });
}

async fn import(args: ImportArgs, plan: Plan, ui: Ui) -> Result<Exit, Failure> {
    let started = Instant::now();
    let target = target(&args, &plan).await?;
    let stop = Stop::default();
    watch_signals(stop.clone());
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
    let cfg = Arc::new(plan.cfg.clone());

    for input in &plan.inputs {
        if stop.is_stopped() {
            break;
        }
        let name = input.display();
        let file_started = Instant::now();
        let counters = Counters::default();
        let shared = Arc::new(Mutex::new(Books {
            tally: FileTally::new(&name, plan.inputs.len() > 1),
            rejects: rejects.take(),
            seen: std::mem::take(&mut seen),
            progress: Progress::new(ui.quiet),
            write_error: None,
        }));
        let (lead_tx, lead_rx) = mpsc::channel::<Lead>(plan.dispatch.concurrency * 4 + 16);
        let (event_tx, mut events) = mpsc::unbounded_channel::<Event>();
        let pipeline = {
            let (input, cfg, counters) = (input.clone(), Arc::clone(&cfg), counters.clone());
            let mut feed = Feed {
                books: Arc::clone(&shared),
                leads: lead_tx,
                name: name.clone(),
            };
            tokio::task::spawn_blocking(move || {
                pipeline::run_file(
                    &input,
                    &cfg,
                    &counters,
                    &|o| check(o, |lead| lead),
                    &mut feed,
                )
            })
        };
        let dispatcher = tokio::spawn(dispatch::run(
            lead_rx,
            Arc::clone(&target.client),
            Arc::clone(&pacer),
            plan.dispatch,
            stop.clone(),
            event_tx,
        ));

        let mut http: BTreeMap<String, u64> = BTreeMap::new();
        let mut retries = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { break };
                    let mut b = books(&shared);
                    let Books { tally, rejects, write_error, .. } = &mut *b;
                    let c = &mut tally.report.counts;
                    match event {
                        Event::Answer { status, retrying: again } => {
                            let key = status.map_or_else(|| "transport".to_string(), |s| s.to_string());
                            *http.entry(key).or_default() += 1;
                            if again {
                                retries += 1;
                            }
                        }
                        Event::Sent { .. } => c.sent += 1,
                        Event::Failed { lead, message } => {
                            c.failed += 1;
                            if let Some(w) = rejects.as_mut()
                                && let Err(e) = w.write(tally_name(&plan, &name), &tally.locator, &as_rejected(lead, "send", message))
                            {
                                write_error.get_or_insert(e);
                            }
                        }
                        Event::Rejected { lead, message } => {
                            c.valid -= 1;
                            if let Err(e) = tally.rejected(&as_rejected(lead, "server", message), false, rejects.as_mut()) {
                                write_error.get_or_insert(e);
                            }
                        }
                        Event::Unsent { .. } => c.pending += 1,
                    }
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
        tally.report.elapsed_s = file_started.elapsed().as_secs_f64();
        tally.report.retries = Some(retries);
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
            Ok(_) if tally.report.counts.rows == 0 => {
                tracing::warn!("{name}: no data rows (only a header)")
            }
            Ok(_) => {}
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
    if let Some(p) = &plan.cfg.report {
        run.write(p)
            .map_err(|e| Failure::usage(format!("--report {}: {e}", p.display())))?;
    }
    if !ui.quiet {
        if plan.inputs.len() > 1 {
            eprintln!(
                "total: {} files, {} rows, {} sent, {} rejected, {} failed, {} duplicates in {:.2} s",
                plan.inputs.len(),
                t.rows,
                t.sent,
                t.rejected,
                t.failed,
                t.duplicates,
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

fn tally_name<'a>(plan: &Plan, name: &'a str) -> Option<&'a str> {
    (plan.inputs.len() > 1).then_some(name)
}

/// A lead the server refused or that could not be sent, as a rejects row.
fn as_rejected(lead: Lead, field: &str, reason: String) -> Rejected {
    Rejected {
        row: lead.row,
        pos: lead.pos,
        problems: vec![Problem {
            field: field.to_string(),
            column: None,
            reason,
        }],
        cells: lead.cells,
    }
}
