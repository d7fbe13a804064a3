//! The store's only writer: a thread that takes row outcomes from a queue and
//! commits them in batches (group commit), acknowledging "in flight" marks only
//! once they are durable, so that a row is recorded before its request leaves.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use rusqlite::{Connection, params};

use super::ledger::{Entry, LEDGER_BATCH, LEDGER_SLICE, LedgerWork};
use super::{LedgerKey, StateError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// Known not sent (the run stopped before its request left).
    Pending,
    Sent,
    Rejected,
    Failed,
    Duplicate,
    Skipped,
}

impl RowOutcome {
    /// The row was marked in flight but never sent: known not sent.
    pub fn unsent(file_id: i64, row: u64) -> RowOutcome {
        RowOutcome {
            file_id,
            row,
            state: RowState::Pending,
            status: None,
            message: None,
            key: None,
            replaces: false,
        }
    }
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Pending => "pending",
            RowState::Sent => "sent",
            RowState::Rejected => "rejected",
            RowState::Failed => "failed",
            RowState::Duplicate => "duplicate",
            RowState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<RowState> {
        Some(match s {
            "pending" => RowState::Pending,
            "sent" => RowState::Sent,
            "rejected" => RowState::Rejected,
            "failed" => RowState::Failed,
            "duplicate" => RowState::Duplicate,
            "skipped" => RowState::Skipped,
            _ => return None,
        })
    }
}

/// Sent rows of one file committed together: one `sent` record for the lot (row
/// numbers as little-endian u64, ledger keys as 20 bytes each), not one `rows`
/// record each.
struct SentBlock {
    file_id: i64,
    rows: Vec<u8>,
    keys: Vec<u8>,
}

impl SentBlock {
    fn new(file_id: i64) -> SentBlock {
        SentBlock {
            file_id,
            rows: Vec::new(),
            keys: Vec::new(),
        }
    }

    fn push(&mut self, row: u64, key: LedgerKey) {
        self.rows.extend_from_slice(&row.to_le_bytes());
        self.keys.extend_from_slice(&key.to_bytes());
    }
}

/// One row's outcome.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    pub file_id: i64,
    pub row: u64,
    pub state: RowState,
    pub status: Option<u16>,
    pub message: Option<String>,
    /// For sent leads: recorded in the ledger.
    pub key: Option<LedgerKey>,
    /// A sent lead whose row had a record (it failed, or was left pending, in an
    /// earlier run): the record goes, so that the sent block alone says what
    /// happened (status and plain SQL agree).
    pub replaces: bool,
}

enum Cmd {
    /// Mark rows in flight; answered once committed.
    Inflight(i64, Vec<u64>, MarkDone),
    Outcomes(Vec<RowOutcome>),
    /// The file was read to the end with this many data rows.
    Finished(i64, u64),
    /// Answer once everything before is committed.
    Flush(Sender<bool>),
}

/// Outcomes that make the writer commit without waiting for a mark.
const BATCH: usize = 4096;

/// Longest an outcome waits for its commit when no in-flight mark comes to take
/// it along. After a crash, the rows answered in this window are `uncertain`.
pub(super) const COMMIT_DELAY: Duration = Duration::from_millis(100);

/// What to do once an in-flight mark is committed (`true`) or has failed
/// (`false`); runs on the writer thread, and may give back outcomes to record
/// (of rows that will not be sent after all). Dropped unanswered, it is answered
/// `false`, so that nobody waits for a writer that is gone.
pub struct MarkDone(Option<Box<dyn FnOnce(bool) -> Vec<RowOutcome> + Send>>);

impl MarkDone {
    pub fn new(f: impl FnOnce(bool) -> Vec<RowOutcome> + Send + 'static) -> MarkDone {
        MarkDone(Some(Box::new(f)))
    }

    fn answer(mut self, ok: bool) -> Vec<RowOutcome> {
        self.0.take().map(|f| f(ok)).unwrap_or_default()
    }
}

impl Drop for MarkDone {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f(false);
        }
    }
}

/// The writer thread; [`Writer::handle`] gives cheap clones to send it work.
pub struct Writer {
    handle: WriterHandle,
    thread: JoinHandle<Result<(), StateError>>,
}

/// Sends work to the writer thread.
pub struct WriterHandle {
    queue: Arc<Queue>,
}

/// Work for the writer. Outcomes come in far more often than commits go out: they
/// are queued without waking the writer (except the first after a commit, which
/// starts the delay), so that the senders do not pay for a wake-up per answer and
/// the writer does not spin for each.
struct Queue {
    state: Mutex<Pending>,
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    cmds: Vec<Cmd>,
    /// Outcomes in `cmds`, and when the first of them came.
    outcomes: usize,
    since: Option<Instant>,
    /// Commands other than outcomes in `cmds`: they are committed at once.
    urgent: usize,
    handles: usize,
    /// The writer has stopped: nothing more will be committed.
    stopped: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a command; false if the writer has stopped (the command is dropped,
    /// outside the lock: a mark's answer may take it).
    fn push(&self, cmd: Cmd) -> bool {
        let mut p = self.lock();
        if p.stopped {
            drop(p);
            drop(cmd);
            return false;
        }
        let wake = match &cmd {
            Cmd::Outcomes(o) => {
                p.outcomes += o.len();
                p.since.get_or_insert_with(Instant::now);
                p.outcomes == o.len() || p.outcomes >= BATCH
            }
            _ => {
                p.urgent += 1;
                true
            }
        };
        p.cmds.push(cmd);
        drop(p);
        if wake {
            self.wake.notify_one();
        }
        true
    }

    /// Wait until something is due, and take it (with `wait` false, take what
    /// there is now); `None` once every handle is gone and all is taken.
    fn take(&self, wait: bool) -> Option<Vec<Cmd>> {
        let mut p = self.lock();
        loop {
            let closed = p.handles == 0;
            let waited = p.since.map(|t| t.elapsed());
            if !wait || closed || p.urgent > 0 || p.outcomes >= BATCH {
                break;
            }
            p = match waited {
                Some(w) if w >= COMMIT_DELAY => break,
                Some(w) => {
                    self.wake
                        .wait_timeout(p, COMMIT_DELAY - w)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self.wake.wait(p).unwrap_or_else(PoisonError::into_inner),
            };
        }
        if p.handles == 0 && p.cmds.is_empty() {
            return None;
        }
        p.outcomes = 0;
        p.urgent = 0;
        p.since = None;
        Some(std::mem::take(&mut p.cmds))
    }
}

impl Clone for WriterHandle {
    fn clone(&self) -> WriterHandle {
        self.queue.lock().handles += 1;
        WriterHandle {
            queue: self.queue.clone(),
        }
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        let mut p = self.queue.lock();
        p.handles -= 1;
        if p.handles == 0 {
            drop(p);
            self.queue.wake.notify_one();
        }
    }
}

/// Marks the queue stopped when the writer thread ends, even by a panic, and drops
/// what is queued: waiting marks and flushes get "failed" instead of waiting forever.
struct StopOnExit(Arc<Queue>);

impl Drop for StopOnExit {
    fn drop(&mut self) {
        let mut p = self.0.lock();
        p.stopped = true;
        let cmds = std::mem::take(&mut p.cmds);
        drop(p);
        drop(cmds);
    }
}

impl Writer {
    pub(super) fn start(conn: Connection, run_id: i64, account: i64) -> Result<Writer, StateError> {
        let queue = Arc::new(Queue {
            state: Mutex::new(Pending {
                handles: 1,
                ..Pending::default()
            }),
            wake: Condvar::new(),
        });
        let stop = StopOnExit(queue.clone());
        let thread = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || {
                let stop = stop;
                write_loop(conn, run_id, account, &stop.0)
            })
            .map_err(|e| StateError::Unusable(format!("cannot start the state writer: {e}")))?;
        Ok(Writer {
            handle: WriterHandle { queue },
            thread,
        })
    }

    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Commit everything and stop the thread, once every handle is dropped; returns
    /// the store's error, if any.
    pub fn close(self) -> Result<(), StateError> {
        drop(self.handle);
        self.thread.join().unwrap_or_else(|_| {
            Err(StateError::Unusable(
                "the state writer stopped unexpectedly".into(),
            ))
        })
    }
}

impl WriterHandle {
    /// Mark rows in flight and wait until that is committed. False: the store failed.
    #[cfg(test)]
    pub fn mark_inflight(&self, file_id: i64, rows: Vec<u64>) -> bool {
        let (ack, done) = bounded(1);
        self.mark_inflight_then(
            file_id,
            rows,
            MarkDone::new(move |ok| {
                let _ = ack.send(ok);
                Vec::new()
            }),
        );
        done.recv().unwrap_or(false)
    }

    /// Mark rows in flight without waiting: `done` runs on the writer thread once
    /// that is committed or has failed.
    pub fn mark_inflight_then(&self, file_id: i64, rows: Vec<u64>, done: MarkDone) {
        self.queue.push(Cmd::Inflight(file_id, rows, done));
    }

    pub fn outcome(&self, o: RowOutcome) {
        self.outcomes(vec![o]);
    }

    /// Several outcomes at once.
    pub fn outcomes(&self, o: Vec<RowOutcome>) {
        if !o.is_empty() {
            self.queue.push(Cmd::Outcomes(o));
        }
    }

    pub fn finished(&self, file_id: i64, rows: u64) {
        self.queue.push(Cmd::Finished(file_id, rows));
    }

    /// Wait until all sent so far is committed. False: the store failed.
    pub fn flush(&self) -> bool {
        let (ack, done) = bounded(1);
        self.queue.push(Cmd::Flush(ack)) && done.recv().unwrap_or(false)
    }
}

fn write_loop(
    mut conn: Connection,
    run_id: i64,
    account: i64,
    queue: &Queue,
) -> Result<(), StateError> {
    let mut failed: Option<String> = None;
    let mut ledger = LedgerWork::new(account, LEDGER_BATCH, LEDGER_SLICE);
    // The first error stops all writing; marks and flushes are answered "failed".
    let fail = |failed: &mut Option<String>, e: rusqlite::Error| {
        tracing::error!("state store: {e}");
        failed.get_or_insert(e.to_string());
    };
    loop {
        // While a ledger batch is written, a slice at a time, whatever came in
        // meanwhile is committed between slices.
        let cmds = queue.take(!ledger.busy());
        let closed = cmds.is_none();
        let cmds = cmds.unwrap_or_default();
        // The last commit (all handles dropped) writes the ledger's remaining entries.
        let flush = closed
            || cmds
                .iter()
                .any(|c| matches!(c, Cmd::Flush(_) | Cmd::Finished(..)));
        let mut ok = failed.is_none();
        if ok && !cmds.is_empty() {
            ok = apply(&mut conn, run_id, &cmds, &mut ledger.pending)
                .map_err(|e| fail(&mut failed, e))
                .is_ok();
        }
        let mut given_back = Vec::new();
        let mut flushes = Vec::new();
        for c in cmds {
            match c {
                Cmd::Inflight(_, _, done) => given_back.extend(done.answer(ok)),
                Cmd::Flush(ack) => flushes.push(ack),
                _ => {}
            }
        }
        if !given_back.is_empty() {
            queue.push(Cmd::Outcomes(given_back));
        }
        if ok {
            let written = if flush {
                ledger.flush(&mut conn)
            } else {
                ledger.step(&mut conn)
            };
            ok = written.map_err(|e| fail(&mut failed, e)).is_ok();
        }
        for ack in flushes {
            let _ = ack.send(ok);
        }
        if closed {
            break;
        }
    }
    match failed {
        Some(e) => Err(StateError::Unusable(e)),
        None => Ok(()),
    }
}

/// Commit the commands; sent leads' ledger entries go to `pending_ledger`.
fn apply(
    conn: &mut Connection,
    run_id: i64,
    cmds: &[Cmd],
    pending_ledger: &mut Vec<Entry>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO rows (file_id, row, state, status, message, hash, run_id, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, unixepoch())
             ON CONFLICT (file_id, row) DO UPDATE SET state = excluded.state, status = excluded.status,
               message = excluded.message, hash = excluded.hash, run_id = excluded.run_id,
               updated_at = excluded.updated_at",
        )?;
        let mut inflight =
            tx.prepare_cached("INSERT INTO inflight (file_id, run_id, rows) VALUES (?1, ?2, ?3)")?;
        let mut forget = tx.prepare_cached("DELETE FROM rows WHERE file_id = ?1 AND row = ?2")?;
        let mut finished =
            tx.prepare_cached("UPDATE files SET finished = 1, rows = ?2 WHERE id = ?1")?;
        let mut blocks: Vec<SentBlock> = Vec::new();
        for c in cmds {
            match c {
                Cmd::Inflight(file_id, rows, _) => {
                    let blob: Vec<u8> = rows.iter().flat_map(|r| r.to_le_bytes()).collect();
                    inflight.execute(params![file_id, run_id, blob])?;
                }
                Cmd::Outcomes(outcomes) => {
                    for o in outcomes {
                        if let (RowState::Sent, Some(key)) = (o.state, o.key) {
                            if o.replaces {
                                forget.execute(params![o.file_id, o.row as i64])?;
                            }
                            let block = match blocks.iter_mut().find(|b| b.file_id == o.file_id) {
                                Some(b) => b,
                                None => {
                                    blocks.push(SentBlock::new(o.file_id));
                                    blocks.last_mut().expect("just pushed")
                                }
                            };
                            block.push(o.row, key);
                            pending_ledger.push((key, o.file_id, o.row));
                            continue;
                        }
                        upsert.execute(params![
                            o.file_id,
                            o.row as i64,
                            o.state.as_str(),
                            o.status.map(i64::from),
                            o.message,
                            None::<Vec<u8>>,
                            run_id
                        ])?;
                    }
                }
                Cmd::Finished(file_id, rows) => {
                    finished.execute(params![file_id, *rows as i64])?;
                }
                Cmd::Flush(_) => {}
            }
        }
        if !blocks.is_empty() {
            let mut sent = tx.prepare_cached(
                "INSERT INTO sent (file_id, run_id, rows, keys) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for b in &blocks {
                sent.execute(params![b.file_id, run_id, b.rows, b.keys])?;
            }
        }
    }
    tx.commit()
}
