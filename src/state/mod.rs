//! The state store: SQLite (WAL) in the state directory. Files by content
//! fingerprint, one outcome per row, a ledger of every lead sent, and the runs.
//! Reads happen here; writes go through the group-committing [`writer`] thread.

mod lock;
mod schema;
pub mod writer;

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

pub use writer::{RowOutcome, RowState, Writer, WriterHandle};

pub const STATE_ENV: &str = "SETCLICK_STATE_DIR";
pub const DB_FILE: &str = "state.db";
const LOCK_FILE: &str = "lock";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another import holds the state directory.
    #[error("{0}")]
    Busy(String),
    /// The store cannot be used (corrupt, foreign, newer, disk): exit 2.
    #[error("{0}")]
    Unusable(String),
    /// The file was imported with other settings.
    #[error("{0}")]
    Changed(String),
}

fn unusable(path: &Path, e: impl std::fmt::Display) -> StateError {
    StateError::Unusable(format!("state store {}: {e}", path.display()))
}

/// Open a connection with the store's pragmas, checking that the file is ours.
pub(crate) fn connect(path: &Path) -> Result<Connection, StateError> {
    let conn = Connection::open(path).map_err(|e| unusable(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| unusable(path, e))?;
    let describe = |e: rusqlite::Error| {
        let msg = e.to_string();
        if msg.contains("not a database") || msg.contains("malformed") {
            unusable(
                path,
                format!(
                    "{msg}: it is not a setclick state store or it is damaged; move it away or give another --state-dir"
                ),
            )
        } else {
            unusable(path, msg)
        }
    };
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(describe)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(describe)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(describe)?;
    schema::migrate(&conn).map_err(|e| unusable(path, e))?;
    Ok(conn)
}

/// xxh3-128 of a file's bytes, hex: a renamed copy is the same file.
pub fn fingerprint_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:032x}", h.digest128()))
}

/// What the store knows of a file before this run.
#[derive(Debug, Default)]
pub struct Prior {
    pub file_id: i64,
    /// The file was read to its end and every row has an outcome.
    pub finished: bool,
    /// Rows with a final outcome (sent, rejected, duplicate, skipped; failed unless
    /// they are to be retried).
    pub done: Bitmap,
    /// Rows marked in flight when a run died: sent or not, nobody knows.
    pub uncertain: HashSet<u64>,
    /// Rows that failed and are not retried now.
    pub failed: u64,
    pub last_run: Option<i64>,
}

/// A growable bit set of row numbers.
#[derive(Debug, Default, Clone)]
pub struct Bitmap(Vec<u64>);

impl Bitmap {
    pub fn set(&mut self, i: u64) {
        let (w, b) = ((i / 64) as usize, i % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    pub fn get(&self, i: u64) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn count(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Add every row of `other`.
    pub fn union(&mut self, other: &Bitmap) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// Where a lead sits in the ledger: its click day (UTC) and its fingerprint. The
/// ledger is ordered by day first, so the leads of a night's export, which fall on a
/// few days, go to a few places in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerKey {
    pub day: i32,
    /// The fingerprint, big-endian.
    pub hash: [u8; 16],
}

impl LedgerKey {
    /// The day of entries made before keys had one (schema version 1).
    pub const NO_DAY: i32 = -1;

    pub fn new(click_time_ms: i64, fingerprint: u128) -> LedgerKey {
        LedgerKey {
            day: click_time_ms
                .div_euclid(86_400_000)
                .clamp(0, i64::from(i32::MAX)) as i32,
            hash: fingerprint.to_be_bytes(),
        }
    }

    fn to_bytes(self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&self.day.to_be_bytes());
        b[4..].copy_from_slice(&self.hash);
        b
    }

    fn from_bytes(b: &[u8; 20]) -> LedgerKey {
        let mut day = [0u8; 4];
        day.copy_from_slice(&b[..4]);
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&b[4..]);
        LedgerKey {
            day: i32::from_be_bytes(day),
            hash,
        }
    }
}

/// Runs that died may have sent leads whose ledger entries were still waiting to
/// be written: their sent blocks (and, from stores written before blocks, their
/// `sent` rows) say so; put them in the ledger now, and mark those runs ended.
fn repair_ledger(conn: &mut Connection) -> rusqlite::Result<()> {
    let died: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE ended_at IS NULL)",
        [],
        |r| r.get(0),
    )?;
    if !died {
        // The usual case: nothing to repair, and no need to scan the sent rows.
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch("INSERT OR IGNORE INTO accounts (name) SELECT account FROM files")?;
    let mut missing: Vec<(i64, LedgerKey, i64, u64)> = Vec::new();
    {
        let mut blocks = tx.prepare(
            "SELECT a.id, s.file_id, s.rows, s.keys
             FROM sent s JOIN files f ON f.id = s.file_id JOIN accounts a ON a.name = f.account
             WHERE s.run_id IN (SELECT id FROM runs WHERE ended_at IS NULL)",
        )?;
        let mut it = blocks.query([])?;
        while let Some(r) = it.next()? {
            let (account, file_id): (i64, i64) = (r.get(0)?, r.get(1)?);
            let (rows, keys): (Vec<u8>, Vec<u8>) = (r.get(2)?, r.get(3)?);
            for (row, key) in block_entries(&rows, &keys) {
                missing.push((account, key, file_id, row));
            }
        }
    }
    missing.sort_unstable();
    {
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO ledger (account_id, day, hash, file_id, row, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, unixepoch())",
        )?;
        for (account, key, file_id, row) in &missing {
            insert.execute(params![
                account,
                key.day,
                key.hash.as_slice(),
                file_id,
                *row as i64
            ])?;
        }
    }
    // Version 1 stores kept each sent row with its fingerprint, and no day.
    tx.execute_batch(
        "INSERT OR IGNORE INTO ledger (account_id, day, hash, file_id, row, sent_at)
           SELECT a.id, -1, r.hash, r.file_id, r.row, r.updated_at
           FROM rows r JOIN files f ON f.id = r.file_id JOIN accounts a ON a.name = f.account
           WHERE r.state = 'sent' AND r.hash IS NOT NULL
             AND r.run_id IN (SELECT id FROM runs WHERE ended_at IS NULL);
         UPDATE runs SET ended_at = started_at WHERE ended_at IS NULL;",
    )?;
    tx.commit()
}

/// The ledger's number for an account; `create` adds it when missing.
pub(crate) fn account_id(
    conn: &Connection,
    name: &str,
    create: bool,
) -> rusqlite::Result<Option<i64>> {
    if create {
        conn.execute("INSERT OR IGNORE INTO accounts (name) VALUES (?1)", [name])?;
    }
    conn.query_row("SELECT id FROM accounts WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

/// The (row, ledger key) pairs of a sent block; a damaged block yields what it
/// holds whole.
fn block_entries<'a>(
    rows: &'a [u8],
    keys: &'a [u8],
) -> impl Iterator<Item = (u64, LedgerKey)> + 'a {
    row_numbers(rows)
        .zip(keys.chunks_exact(20))
        .filter_map(|(row, k)| Some((row, LedgerKey::from_bytes(k.try_into().ok()?))))
}

/// Little-endian u64 row numbers, as `inflight` and `sent` store them.
fn row_numbers(blob: &[u8]) -> impl Iterator<Item = u64> + '_ {
    blob.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        u64::from_le_bytes(b)
    })
}

/// What the store recorded of a file's rows.
struct Outcomes {
    /// Rows in sent blocks: sent, whatever `rows` says.
    sent: Bitmap,
    /// `rows` records (`None`: a state this setclick does not know).
    others: Vec<(u64, Option<RowState>)>,
}

impl Outcomes {
    /// The final state of each row with a `rows` record and no sent block.
    fn others(&self) -> impl Iterator<Item = (u64, Option<RowState>)> + '_ {
        self.others
            .iter()
            .copied()
            .filter(|(row, _)| !self.sent.get(*row))
    }

    /// Every row with some record, whatever its state.
    fn recorded(&self) -> Bitmap {
        let mut all = self.sent.clone();
        for (row, _) in &self.others {
            all.set(*row);
        }
        all
    }
}

/// The state directory, locked for one import at a time.
pub struct Store {
    dir: PathBuf,
    conn: Connection,
    _lock: Option<File>,
    pub run_id: i64,
}

impl Store {
    /// Open for an import: take the directory's lock, or fail naming its holder.
    pub fn open(dir: &Path, command: &str) -> Result<Store, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| unusable(dir, e))?;
        let lock = lock::take(dir)?;
        let path = dir.join(DB_FILE);
        let mut conn = connect(&path)?;
        repair_ledger(&mut conn).map_err(|e| unusable(&path, e))?;
        conn.execute(
            "INSERT INTO runs (pid, command, started_at) VALUES (?1, ?2, unixepoch())",
            params![std::process::id(), command],
        )
        .map_err(|e| unusable(&path, e))?;
        let run_id = conn.last_insert_rowid();
        Ok(Store {
            dir: dir.to_path_buf(),
            conn,
            _lock: Some(lock),
            run_id,
        })
    }

    /// Open to read (status); no lock, nothing written but the schema.
    pub fn open_read(dir: &Path) -> Result<Option<Store>, StateError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(Store {
            dir: dir.to_path_buf(),
            conn: connect(&path)?,
            _lock: None,
            run_id: 0,
        }))
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    fn err(&self, e: impl std::fmt::Display) -> StateError {
        unusable(&self.db_path(), e)
    }

    /// Find or create the file's record and load what earlier runs did with it.
    /// Settings differ from those it was imported with: `Changed` unless `restart`.
    pub fn file(
        &mut self,
        fingerprint: &str,
        account: &str,
        settings: &str,
        path: &str,
        restart: bool,
        retry_failed: bool,
    ) -> Result<Prior, StateError> {
        let found: Option<(i64, String, bool, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT f.id, f.settings, f.finished,
                        (SELECT max(r.started_at) FROM runs r WHERE r.id IN
                           (SELECT run_id FROM rows WHERE file_id = f.id
                            UNION SELECT run_id FROM sent WHERE file_id = f.id))
                 FROM files f WHERE f.fingerprint = ?1 AND f.account = ?2",
                params![fingerprint, account],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let (id, last_run, finished) = match found {
            Some((_, old, _, _)) if old != settings && !restart => {
                return Err(StateError::Changed(format!(
                    "{path} was imported before into this account with other settings (mapping, \
                     time zone, normalization or wire options); resuming under new ones could send \
                     its leads twice. Use the old settings, or --restart to import it anew"
                )));
            }
            Some((id, _, finished, last)) if !restart => (id, last, finished),
            Some((id, _, _, last)) => {
                let tx = self
                    .conn
                    .transaction()
                    .map_err(|e| unusable(&self.dir, e))?;
                tx.execute("DELETE FROM rows WHERE file_id = ?1", params![id])
                    .and_then(|_| tx.execute("DELETE FROM inflight WHERE file_id = ?1", params![id]))
                    .and_then(|_| tx.execute("DELETE FROM sent WHERE file_id = ?1", params![id]))
                    .and_then(|_| {
                        tx.execute(
                            "UPDATE files SET settings = ?2, finished = 0, rows = NULL WHERE id = ?1",
                            params![id, settings],
                        )
                    })
                    .and_then(|_| tx.commit())
                    .map_err(|e| unusable(&self.dir, e))?;
                (id, last, false)
            }
            None => {
                self.conn
                    .execute(
                        "INSERT INTO files (fingerprint, account, settings, path, created_at) VALUES (?1, ?2, ?3, ?4, unixepoch())",
                        params![fingerprint, account, settings, path],
                    )
                    .map_err(|e| self.err(e))?;
                (self.conn.last_insert_rowid(), None, false)
            }
        };
        self.conn
            .execute(
                "UPDATE files SET path = ?2 WHERE id = ?1",
                params![id, path],
            )
            .map_err(|e| self.err(e))?;

        let mut prior = Prior {
            file_id: id,
            finished,
            last_run,
            ..Prior::default()
        };
        let outcomes = self.outcomes(id)?;
        for (row, state) in outcomes.others() {
            match state {
                Some(RowState::Pending) | None => {}
                Some(RowState::Failed) if retry_failed => {}
                Some(RowState::Failed) => {
                    prior.failed += 1;
                    prior.done.set(row);
                }
                Some(_) => prior.done.set(row),
            }
        }
        // Any row with a recorded state is not uncertain, whatever its state.
        let recorded = outcomes.recorded();
        prior.done.union(&outcomes.sent);
        prior.uncertain = self
            .inflight_rows(id)?
            .into_iter()
            .filter(|r| !recorded.get(*r))
            .collect();
        Ok(prior)
    }

    /// Everything recorded of a file's rows.
    fn outcomes(&self, file_id: i64) -> Result<Outcomes, StateError> {
        let mut sent = Bitmap::default();
        self.blob_rows("SELECT rows FROM sent WHERE file_id = ?1", file_id, |row| {
            sent.set(row)
        })?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT row, state FROM rows WHERE file_id = ?1")
            .map_err(|e| self.err(e))?;
        let others = stmt
            .query_map(params![file_id], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    RowState::parse(&r.get::<_, String>(1)?),
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(Outcomes { sent, others })
    }

    /// Rows of a file ever marked in flight (kept until `--restart`: 8 bytes a row).
    fn inflight_rows(&self, file_id: i64) -> Result<HashSet<u64>, StateError> {
        let mut out = HashSet::new();
        self.blob_rows(
            "SELECT rows FROM inflight WHERE file_id = ?1",
            file_id,
            |row| {
                out.insert(row);
            },
        )?;
        Ok(out)
    }

    /// Each row number in the blobs (lists of little-endian u64) that `sql` selects
    /// for a file.
    fn blob_rows(
        &self,
        sql: &str,
        file_id: i64,
        mut each: impl FnMut(u64),
    ) -> Result<(), StateError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let blobs = stmt
            .query_map(params![file_id], |r| r.get::<_, Vec<u8>>(0))
            .map_err(|e| self.err(e))?;
        for blob in blobs {
            row_numbers(&blob.map_err(|e| self.err(e))?).for_each(&mut each);
        }
        Ok(())
    }

    /// Rows marked in flight that never got an outcome: the uncertain ones.
    fn uncertain_rows(&self, file_id: i64, outcomes: &Outcomes) -> Result<Vec<u64>, StateError> {
        let recorded = outcomes.recorded();
        let mut out: Vec<u64> = self
            .inflight_rows(file_id)?
            .into_iter()
            .filter(|r| !recorded.get(*r))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// A connection for ledger look-ups from the pipeline thread.
    pub fn ledger(&self, account: &str) -> Result<Ledger, StateError> {
        let conn = connect(&self.db_path())?;
        let account = account_id(&conn, account, false).map_err(|e| self.err(e))?;
        let exists = |sql: &str, id: i64| {
            conn.query_row(sql, [id], |r| r.get::<_, bool>(0))
                .map_err(|e| self.err(e))
        };
        let (empty, undated) = match account {
            None => (true, false),
            Some(id) => (
                !exists(
                    "SELECT EXISTS (SELECT 1 FROM ledger WHERE account_id = ?1)",
                    id,
                )?,
                exists(
                    "SELECT EXISTS (SELECT 1 FROM ledger WHERE account_id = ?1 AND day = -1)",
                    id,
                )?,
            ),
        };
        Ok(Ledger {
            conn,
            account: account.unwrap_or(-1),
            empty,
            undated,
        })
    }

    /// Start the group-committing writer thread.
    pub fn writer(&self, account: &str) -> Result<Writer, StateError> {
        let conn = connect(&self.db_path())?;
        let account = account_id(&conn, account, true)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.err("the account was not recorded"))?;
        Writer::start(conn, self.run_id, account)
    }

    pub fn end_run(&self, exit_code: i32) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE runs SET ended_at = unixepoch(), exit_code = ?2 WHERE id = ?1",
                params![self.run_id, exit_code],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Per-file summaries, newest first; only `fingerprints` when given.
    pub fn status(&self, fingerprints: Option<&[String]>) -> Result<Vec<FileStatus>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.id, f.fingerprint, f.path, f.rows, f.finished, f.account,
                        (SELECT max(coalesce(r.ended_at, r.started_at)) FROM runs r WHERE r.id IN
                           (SELECT run_id FROM rows WHERE file_id = f.id
                            UNION SELECT run_id FROM sent WHERE file_id = f.id))
                 FROM files f ORDER BY f.id DESC",
            )
            .map_err(|e| self.err(e))?;
        let all = stmt
            .query_map([], |r| {
                Ok(FileStatus {
                    file_id: r.get(0)?,
                    fingerprint: r.get(1)?,
                    path: r.get(2)?,
                    rows: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    finished: r.get(4)?,
                    account: r.get(5)?,
                    sent: 0,
                    rejected: 0,
                    failed: 0,
                    uncertain: 0,
                    skipped: 0,
                    pending: None,
                    last_run: r
                        .get::<_, Option<i64>>(6)?
                        .and_then(|s| jiff::Timestamp::from_second(s).ok())
                        .map(|t| t.to_string()),
                    uncertain_rows: Vec::new(),
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for mut s in all {
            if fingerprints.is_some_and(|f| !f.contains(&s.fingerprint)) {
                continue;
            }
            let outcomes = self.outcomes(s.file_id)?;
            s.sent = outcomes.sent.count();
            for (_, state) in outcomes.others() {
                match state {
                    Some(RowState::Sent) => s.sent += 1,
                    Some(RowState::Rejected) => s.rejected += 1,
                    Some(RowState::Failed) => s.failed += 1,
                    Some(RowState::Duplicate | RowState::Skipped) => s.skipped += 1,
                    Some(RowState::Pending) | None => {}
                }
            }
            s.uncertain_rows = self.uncertain_rows(s.file_id, &outcomes)?;
            s.uncertain = s.uncertain_rows.len() as u64;
            s.pending = s.rows.map(|r| {
                r.saturating_sub(s.sent + s.rejected + s.failed + s.uncertain + s.skipped)
            });
            out.push(s);
        }
        Ok(out)
    }
}

/// What `setclick status` shows for one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    #[serde(skip)]
    pub file_id: i64,
    pub path: String,
    pub account: String,
    pub fingerprint: String,
    /// Data rows, once the file has been read to its end.
    pub rows: Option<u64>,
    pub finished: bool,
    pub sent: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Rows in flight when a run died.
    pub uncertain: u64,
    /// Duplicates and leads already sent from another file.
    pub skipped: u64,
    /// Rows without an outcome yet (when the row count is known).
    pub pending: Option<u64>,
    pub last_run: Option<String>,
    pub uncertain_rows: Vec<u64>,
}

/// Look-ups in the ledger of sent leads.
pub struct Ledger {
    conn: Connection,
    /// The account's number in the ledger.
    account: i64,
    /// Nothing was sent for this account before: no look-up can find anything (what
    /// this run sends, the run's own duplicate check catches), so none is made.
    empty: bool,
    /// Some entries have no day (made by schema version 1): look there too.
    undated: bool,
}

impl Ledger {
    /// True when this lead was sent before (by any run, from any file).
    pub fn contains(&self, key: LedgerKey) -> Result<bool, StateError> {
        Ok(self.contains_many(&[key])?[0])
    }

    /// `contains` for many leads in one read transaction.
    pub fn contains_many(&self, keys: &[LedgerKey]) -> Result<Vec<bool>, StateError> {
        if self.empty {
            return Ok(vec![false; keys.len()]);
        }
        let err = |e: rusqlite::Error| StateError::Unusable(format!("state store: {e}"));
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        let mut stmt = tx
            .prepare_cached("SELECT 1 FROM ledger WHERE account_id = ?1 AND day = ?2 AND hash = ?3")
            .map_err(err)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let mut found = stmt
                .exists(params![self.account, key.day, key.hash.as_slice()])
                .map_err(err)?;
            if !found && self.undated {
                found = stmt
                    .exists(params![
                        self.account,
                        LedgerKey::NO_DAY,
                        key.hash.as_slice()
                    ])
                    .map_err(err)?;
            }
            out.push(found);
        }
        drop(stmt);
        tx.finish().map_err(err)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
