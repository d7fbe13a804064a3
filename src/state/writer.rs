//! The store's only writer: a thread that takes row outcomes from a channel and
//! commits them in batches (group commit), acknowledging "in flight" marks only
//! once they are durable, so that a row is recorded before its request leaves.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use rusqlite::{Connection, params};

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
}

enum Cmd {
    /// Mark rows in flight; the sender answers once committed.
    Inflight(i64, Vec<u64>, Sender<bool>),
    Outcomes(Vec<RowOutcome>),
    /// The file was read to the end with this many data rows.
    Finished(i64, u64),
    /// Answer once everything before is committed.
    Flush(Sender<bool>),
}

/// Most commands folded into one transaction.
const BATCH: usize = 4096;

/// Longest an outcome waits for its commit when no in-flight mark comes to take
/// it along. After a crash, the rows answered in this window are `uncertain`.
pub(super) const COMMIT_DELAY: Duration = Duration::from_millis(100);

/// The writer thread; [`Writer::handle`] gives cheap clones to send it work.
pub struct Writer {
    handle: WriterHandle,
    thread: JoinHandle<Result<(), String>>,
}

/// Sends work to the writer thread.
#[derive(Clone)]
pub struct WriterHandle {
    tx: Sender<Cmd>,
}

impl Writer {
    pub(super) fn start(conn: Connection, run_id: i64, account: i64) -> Result<Writer, StateError> {
        let (tx, rx) = unbounded::<Cmd>();
        let thread = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || write_loop(conn, run_id, account, rx))
            .map_err(|e| StateError::Unusable(format!("cannot start the state writer: {e}")))?;
        Ok(Writer {
            handle: WriterHandle { tx },
            thread,
        })
    }

    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Commit everything and stop the thread, once every handle is dropped; returns
    /// the store's error, if any.
    pub fn close(self) -> Result<(), String> {
        drop(self.handle);
        self.thread
            .join()
            .unwrap_or_else(|_| Err("the state writer stopped unexpectedly".into()))
    }
}

impl WriterHandle {
    /// Mark rows in flight and wait until that is committed. False: the store failed.
    pub fn mark_inflight(&self, file_id: i64, rows: Vec<u64>) -> bool {
        let (ack, done) = bounded(1);
        self.tx.send(Cmd::Inflight(file_id, rows, ack)).is_ok() && done.recv().unwrap_or(false)
    }

    pub fn outcome(&self, o: RowOutcome) {
        self.outcomes(vec![o]);
    }

    /// Several outcomes in one message (the writer wakes once for them).
    pub fn outcomes(&self, o: Vec<RowOutcome>) {
        if !o.is_empty() {
            let _ = self.tx.send(Cmd::Outcomes(o));
        }
    }

    pub fn finished(&self, file_id: i64, rows: u64) {
        let _ = self.tx.send(Cmd::Finished(file_id, rows));
    }

    /// Wait until all sent so far is committed. False: the store failed.
    pub fn flush(&self) -> bool {
        let (ack, done) = bounded(1);
        self.tx.send(Cmd::Flush(ack)).is_ok() && done.recv().unwrap_or(false)
    }
}

/// Ledger entries are written sorted (by day, then fingerprint), this many at a time
/// and at every flush, so that each write touches each page of the ledger it
/// changes once (one commit per lead would rewrite a page per lead; sorted batches
/// of 8192 rewrote most of a million-lead ledger each time). They wait here, 40
/// bytes each, so 5 MiB at most. The row's `sent` block, with its key, is
/// committed at once; a crash before the ledger write is repaired when the store
/// is next opened (see `Store::open`).
const LEDGER_BATCH: usize = 131_072;

fn write_loop(
    mut conn: Connection,
    run_id: i64,
    account: i64,
    rx: Receiver<Cmd>,
) -> Result<(), String> {
    let mut failed: Option<String> = None;
    // Reserved whole: growing it by doubling would hold two copies at once. Pages
    // not written to yet take no memory.
    let mut ledger: Vec<(LedgerKey, i64, u64)> = Vec::with_capacity(LEDGER_BATCH);
    // Commands not yet committed, how many outcomes they hold, and since when the
    // oldest has waited.
    let mut cmds: Vec<Cmd> = Vec::new();
    let mut outcomes = 0usize;
    let mut since: Option<Instant> = None;
    loop {
        let next = match since {
            Some(t) => rx
                .recv_deadline(t + COMMIT_DELAY)
                .map_err(|e| e.is_disconnected()),
            None => rx.recv().map_err(|_| true),
        };
        let closed = match next {
            Ok(first) => {
                let mut next = Some(first);
                while let Some(c) = next {
                    if let Cmd::Outcomes(o) = &c {
                        outcomes += o.len();
                    }
                    cmds.push(c);
                    next = (cmds.len() < BATCH && outcomes < BATCH)
                        .then(|| rx.try_recv().ok())
                        .flatten();
                }
                false
            }
            Err(closed) => closed,
        };
        // Outcomes alone wait for the next in-flight mark (which needs a commit
        // anyway), for COMMIT_DELAY, or until there are many.
        let urgent = cmds.iter().any(|c| !matches!(c, Cmd::Outcomes(_)));
        let due = closed
            || urgent
            || outcomes >= BATCH
            || since.is_some_and(|t| t.elapsed() >= COMMIT_DELAY);
        if !due {
            since.get_or_insert_with(Instant::now);
            continue;
        }
        let flush = closed
            || cmds
                .iter()
                .any(|c| matches!(c, Cmd::Flush(_) | Cmd::Finished(..)));
        let ok = failed.is_none() && {
            match apply(&mut conn, run_id, account, &cmds, &mut ledger, flush) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!("state store: {e}");
                    failed = Some(e.to_string());
                    false
                }
            }
        };
        for c in cmds.drain(..) {
            if let Cmd::Inflight(_, _, ack) | Cmd::Flush(ack) = c {
                let _ = ack.send(ok);
            }
        }
        outcomes = 0;
        since = None;
        if closed {
            break;
        }
    }
    // The last commit (all handles dropped) wrote the ledger's remaining entries.
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn apply(
    conn: &mut Connection,
    run_id: i64,
    account: i64,
    cmds: &[Cmd],
    pending_ledger: &mut Vec<(LedgerKey, i64, u64)>,
    flush_ledger: bool,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let write_ledger;
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
        write_ledger = flush_ledger || pending_ledger.len() >= LEDGER_BATCH;
        if !blocks.is_empty() {
            let mut sent = tx.prepare_cached(
                "INSERT INTO sent (file_id, run_id, rows, keys) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for b in &blocks {
                sent.execute(params![b.file_id, run_id, b.rows, b.keys])?;
            }
        }
        if write_ledger {
            pending_ledger.sort_unstable();
            super::ledger::insert_entries(
                &tx,
                pending_ledger
                    .iter()
                    .map(|(key, file_id, row)| (account, key, *file_id, *row)),
            )?;
        }
    }
    tx.commit()?;
    if write_ledger {
        pending_ledger.clear();
    }
    Ok(())
}
