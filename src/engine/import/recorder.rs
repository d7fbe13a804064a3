//! The import's recorder: the one owner of a file's row fates. It hears, in order,
//! what the feed decided, what was handed to the senders and every sender's
//! answer; moves the rows' fates; writes the store's records (through the
//! in-flight protocol), the rejects and the progress.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::{Entry, Intake, Message, PipelineDone};
use crate::dispatch::health::{PROBE_CAP, hms, human};
use crate::dispatch::{Event, Fate, LeadDone, Notice};
use crate::engine::Shared;
use crate::engine::checked::Seen;
use crate::engine::fate::RowFate;
use crate::engine::inflight::Handoff;
use crate::engine::pipeline::{Counters, FileError};
use crate::engine::progress::Snapshot;
use crate::engine::tally::{FileTally, reasons};
use crate::error::Error;
use crate::lead::Lead;
use crate::normalize::{Problem, Rejected};
use crate::report::{FileReport, thousands};
use crate::state::{LedgerKey, RowOutcome, RowState};
use crate::ui::say;

/// Messages taken from the channel at once.
const INBOX: usize = 256;

pub struct Recorder<'a> {
    tally: FileTally,
    shared: &'a mut Shared,
    handoff: Arc<Handoff>,
    /// The file's number in the store, when there is one.
    file_id: Option<i64>,
    counters: Counters,
    http: HttpCounts,
    retries: u64,
    /// Store records made since the last hand-over to the writer.
    outcomes: Vec<RowOutcome>,
    store_error: Option<String>,
    write_error: Option<io::Error>,
    /// `-q`: notices are not shown.
    quiet: bool,
    /// Redirect targets already told.
    redirects: std::collections::HashSet<String>,
    /// Rows sent again whose earlier record (failed, pending) a send replaces.
    recorded_before: std::collections::HashSet<u64>,
    /// The API unreachable since then (told), and the leads done at the time.
    paused: Option<(jiff::Timestamp, u64)>,
}

impl<'a> Recorder<'a> {
    pub fn new(
        tally: FileTally,
        shared: &'a mut Shared,
        handoff: Arc<Handoff>,
        file_id: Option<i64>,
        counters: Counters,
    ) -> Recorder<'a> {
        let quiet = shared.ui.quiet;
        Recorder {
            tally,
            shared,
            handoff,
            file_id,
            counters,
            http: HttpCounts::default(),
            retries: 0,
            outcomes: Vec::new(),
            store_error: None,
            write_error: None,
            quiet,
            redirects: Default::default(),
            recorded_before: Default::default(),
            paused: None,
        }
    }

    /// Record until the pipeline and the senders are done and every message is in;
    /// the pipeline's result and the duplicate check it gives back.
    pub async fn drive(
        &mut self,
        mut inbox: UnboundedReceiver<Message>,
        mut pipeline: JoinHandle<PipelineDone>,
        mut dispatcher: JoinHandle<()>,
    ) -> (Result<bool, FileError>, Option<Seen>) {
        let mut batch: Vec<Message> = Vec::with_capacity(INBOX);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut read: Option<(Result<bool, FileError>, Option<Seen>)> = None;
        let mut sent = false;
        // Every sender of the channel gone (it cannot be while the hand-off lives,
        // but a closed channel must not spin this loop).
        let mut closed = false;
        loop {
            tokio::select! {
                got = inbox.recv_many(&mut batch, INBOX), if !closed => {
                    closed = got == 0;
                    self.apply(&mut batch);
                }
                done = &mut pipeline, if read.is_none() => {
                    read = Some(match done {
                        Ok((result, seen)) => (result, Some(seen)),
                        Err(_) => (Err(FileError::Unreadable("internal error: the reader stopped".into())), None),
                    });
                }
                _ = &mut dispatcher, if !sent => sent = true,
                _ = tick.tick() => self.tick(),
            }
            if sent && let Some(done) = read.take() {
                // Nothing can come after both: take what is queued, and stop.
                while let Ok(m) = inbox.try_recv() {
                    batch.push(m);
                }
                self.apply(&mut batch);
                return done;
            }
        }
    }

    /// Every message in order; then the store's records go to the writer, and the
    /// answered leads' room is freed.
    fn apply(&mut self, batch: &mut Vec<Message>) {
        let mut answered = 0;
        for m in batch.drain(..) {
            match m {
                Message::Started(info) => {
                    self.tally.start(&info, self.shared.rejects.as_mut());
                    self.shared
                        .progress
                        .start_file(&self.tally.report.path, &info, true);
                }
                Message::Intake(i) => self.intake(i),
                Message::Delivered(n) => {
                    self.tally
                        .advance(RowFate::Pending, RowFate::InFlight, n as u64)
                }
                Message::Dispatch(Event::Lead(done)) => {
                    answered += 1;
                    self.answered(done);
                }
                Message::Dispatch(Event::Notice(n)) => self.notice(n),
                Message::StoreFailed(e) => {
                    self.store_error.get_or_insert(e);
                }
            }
        }
        if answered > 0 || !self.outcomes.is_empty() {
            self.handoff
                .record(std::mem::take(&mut self.outcomes), answered);
        }
    }

    fn store(&mut self, row: u64, state: RowState, message: Option<String>) {
        if let Some(file_id) = self.file_id {
            self.outcomes.push(RowOutcome {
                file_id,
                row,
                state,
                status: None,
                message,
                key: None,
                replaces: false,
            });
        }
    }

    /// Rows as the feed decided them.
    fn intake(&mut self, i: Intake) {
        for r in i.rejected {
            self.tally.enter(RowFate::Rejected);
            self.store(r.row, RowState::Rejected, Some(reasons(&r)));
            self.reject(&r, RowFate::Rejected);
        }
        for Entry {
            row,
            fate,
            uncertain_before,
            recorded_before,
        } in i.entries
        {
            if recorded_before && fate == RowFate::Pending {
                self.recorded_before.insert(row);
            }
            if uncertain_before {
                self.tally.fates.note_uncertain(row);
            }
            match fate {
                RowFate::Pending | RowFate::InLedger => {
                    if uncertain_before {
                        self.tally.enter(RowFate::Uncertain);
                        self.tally.advance(RowFate::Uncertain, RowFate::Pending, 1);
                    } else {
                        self.tally.enter(RowFate::Pending);
                    }
                    if fate == RowFate::InLedger {
                        self.tally.advance(RowFate::Pending, RowFate::InLedger, 1);
                        self.store(row, RowState::Skipped, Some("sent before (ledger)".into()));
                    }
                }
                RowFate::Duplicate => {
                    self.tally.enter(fate);
                    self.store(row, RowState::Duplicate, None);
                }
                other => self.tally.enter(other),
            }
        }
    }

    /// A sender is done with a lead.
    fn answered(&mut self, event: LeadDone) {
        for a in &event.answers {
            self.http.count(*a);
        }
        self.retries += event.answers.len().saturating_sub(1) as u64;
        let status = event.status();
        let row = event.lead.row;
        let replaces = self.recorded_before.remove(&row);
        let outcome = |state: RowState, message: Option<String>, key: Option<LedgerKey>| {
            self.file_id.map(|file_id| RowOutcome {
                file_id,
                row,
                state,
                status,
                message,
                key,
                replaces: replaces && state == RowState::Sent,
            })
        };
        let (fate, record) = match &event.fate {
            Fate::Sent => (
                RowFate::Sent,
                outcome(
                    RowState::Sent,
                    None,
                    Some(LedgerKey::new(
                        event.lead.click_time,
                        event.lead.fingerprint(),
                    )),
                ),
            ),
            Fate::Failed(m) => (
                RowFate::Failed,
                outcome(RowState::Failed, Some(m.clone()), None),
            ),
            Fate::Refused(m) => (
                RowFate::Refused,
                outcome(RowState::Rejected, Some(m.clone()), None),
            ),
            // No record: the row stays marked in flight, so the store lists it
            // uncertain until a later run settles it.
            Fate::Uncertain(_) => (RowFate::Uncertain, None),
            Fate::Unsent => (
                RowFate::Pending,
                self.file_id.map(|id| RowOutcome::unsent(id, row)),
            ),
        };
        self.tally.advance(RowFate::InFlight, fate, 1);
        if event.uncertain || fate == RowFate::Uncertain {
            self.tally.fates.note_uncertain(row);
        }
        self.outcomes.extend(record);
        match event.fate {
            Fate::Failed(m) => self.reject(&as_rejected(event.lead, "send", m), RowFate::Failed),
            Fate::Refused(m) => {
                self.reject(&as_rejected(event.lead, "server", m), RowFate::Refused)
            }
            Fate::Sent | Fate::Unsent | Fate::Uncertain(_) => {}
        }
    }

    /// What holds every sender, told to the operator with the time.
    fn notice(&mut self, n: Notice) {
        match &n {
            Notice::Outage(o) => {
                let f = &self.tally.fates;
                let done = f.count(RowFate::Sent) + f.count(RowFate::Refused);
                self.paused = Some((o.since, done + f.count(RowFate::Failed)));
            }
            Notice::Recovered(_) => self.paused = None,
            _ => {}
        }
        if self.quiet {
            return;
        }
        let waiting =
            self.tally.fates.count(RowFate::Pending) + self.tally.fates.count(RowFate::InFlight);
        let line = match n {
            Notice::Wait { until, cause } => {
                format!("{cause}; every sender waits until {}", hms(until))
            }
            // The probes back off (1 s, 2 s, 4 s...) up to PROBE_CAP.
            Notice::Outage(o) => format!(
                "API unreachable since {} ({}); retrying with backoff, up to every {}; {} \
                 leads waiting",
                hms(o.since),
                o.cause,
                human(PROBE_CAP),
                thousands(waiting)
            ),
            Notice::Recovered(down) => {
                format!("API reachable again after {}; sending", human(down))
            }
            Notice::Redirected(url) => {
                if !self.redirects.insert(url.to_string()) {
                    return;
                }
                format!(
                    "warning: the endpoint redirects (307/308) to {url}: following it; give \
                     --endpoint {url} to send there directly"
                )
            }
        };
        say(line);
    }

    fn reject(&mut self, r: &Rejected, fate: RowFate) {
        if let Err(e) = self.tally.reject(r, fate, self.shared.rejects.as_mut()) {
            self.write_error.get_or_insert(e);
        }
    }

    fn tick(&mut self) {
        let f = &self.tally.fates;
        use RowFate::*;
        let done = f.count(Sent) + f.count(Refused) + f.count(Failed);
        // A lead answered since the outage was told: sending goes on.
        if self.paused.is_some_and(|(_, at)| done > at) {
            self.paused = None;
        }
        let c = &self.counters;
        self.shared.progress.tick(Snapshot {
            rows: c.rows.load(Ordering::Relaxed),
            valid: c.valid.load(Ordering::Relaxed),
            framed: c.framed.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            read_all: c.read_all.load(Ordering::Relaxed),
            skipped: f.count(Duplicate) + f.count(Resumed) + f.count(InLedger),
            done,
            failed: f.count(Failed),
            paused: self.paused.map(|(since, _)| since),
        });
    }

    /// The file's report; a store failure is kept in `store_error` for the run.
    pub fn finish(
        self,
        store_error: &mut Option<String>,
    ) -> Result<(FileReport, Vec<String>), Error> {
        self.shared.progress.finish_file();
        if let Some(e) = self.write_error {
            return Err(Error::output("--rejects", e));
        }
        if let Some(e) = self.store_error {
            store_error.get_or_insert(e);
        }
        let (mut report, examples) = self.tally.finish();
        report.retries = Some(self.retries);
        report.http = self.http.to_map();
        Ok((report, examples))
    }
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

/// Answers by HTTP status (and `transport` for none), counted without a map
/// lookup per answer.
struct HttpCounts {
    by_status: Box<[u64; 1000]>,
    transport: u64,
}

impl Default for HttpCounts {
    fn default() -> HttpCounts {
        HttpCounts {
            by_status: Box::new([0; 1000]),
            transport: 0,
        }
    }
}

impl HttpCounts {
    fn count(&mut self, answer: Option<u16>) {
        match answer {
            Some(s) if (s as usize) < self.by_status.len() => self.by_status[s as usize] += 1,
            // hyper parses only three-digit codes: none is 1000 or more.
            Some(_) | None => self.transport += 1,
        }
    }

    /// The counts as the report shows them: `{"200": n, "transport": m}`.
    fn to_map(&self) -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = self
            .by_status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        if self.transport > 0 {
            m.insert("transport".into(), self.transport);
        }
        m
    }
}
