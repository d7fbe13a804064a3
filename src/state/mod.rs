//! The state store: SQLite (WAL) in the state directory. Files by content
//! fingerprint, one outcome per row, a ledger of every lead sent, and the runs.
//! Reads happen here; writes go through the group-committing [`writer`] thread.

mod ledger;
mod lock;
mod schema;
mod settings;
mod status;
pub mod writer;

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use xxhash_rust::xxh3::Xxh3;

pub use ledger::{Ledger, LedgerKey};
use ledger::{account_id, repair_ledger};
pub use settings::FileSettings;
pub use status::FileStatus;
pub use writer::{MarkDone, RowOutcome, RowState, Writer, WriterHandle};

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
    /// Rows that failed in earlier runs (sent again unless --no-retry-failed).
    pub failed: u64,
    /// Rows not done that have a record (failed, pending): a send replaces it.
    pub recorded: Bitmap,
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
    /// Settings differ from those it was imported with: `Changed` (naming them)
    /// unless `restart`.
    pub fn file(
        &mut self,
        fingerprint: &str,
        account: &str,
        settings: impl Into<FileSettings>,
        path: &str,
        restart: bool,
        retry_failed: bool,
    ) -> Result<Prior, StateError> {
        let settings: FileSettings = settings.into();
        let (id, finished, last_run) =
            self.identify(fingerprint, account, &settings, path, restart)?;
        self.conn
            .execute(
                "UPDATE files SET path = ?2, last_run = ?3 WHERE id = ?1",
                params![id, path, self.run_id],
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
                Some(RowState::Pending) | None => prior.recorded.set(row),
                Some(RowState::Failed) => {
                    prior.failed += 1;
                    if retry_failed {
                        prior.recorded.set(row);
                    } else {
                        prior.done.set(row);
                    }
                }
                Some(_) => prior.done.set(row),
            }
        }
        prior.done.union(&outcomes.sent);
        prior.uncertain = self.uncertain_rows(id, &outcomes)?.into_iter().collect();
        Ok(prior)
    }

    /// The file's record: found (under the same settings, or forgotten with
    /// `restart`) or made; its id, whether it was finished, its last run's start.
    fn identify(
        &mut self,
        fingerprint: &str,
        account: &str,
        settings: &FileSettings,
        path: &str,
        restart: bool,
    ) -> Result<(i64, bool, Option<i64>), StateError> {
        let stored = settings.stored();
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
        Ok(match found {
            Some((id, old, finished, last)) if !restart => match settings.changes(&old) {
                Some(changes) if changes.is_empty() => {
                    if old != stored {
                        // Kept as a fingerprint by an earlier setclick: now named.
                        self.conn
                            .execute(
                                "UPDATE files SET settings = ?2 WHERE id = ?1",
                                params![id, stored],
                            )
                            .map_err(|e| self.err(e))?;
                    }
                    (id, finished, last)
                }
                changes => {
                    let which = match changes {
                        Some(c) => format!("changed: {}", c.join("; ")),
                        None => "the mapping, time zone, normalization or wire options (an \
                                 earlier setclick kept only their fingerprint)"
                            .to_string(),
                    };
                    return Err(StateError::Changed(format!(
                        "{path} was imported before into this account with other settings \
                         ({which}); resuming under new ones could send its leads twice. Use \
                         the old settings, or --restart to import it anew"
                    )));
                }
            },
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
                            params![id, stored],
                        )
                    })
                    .and_then(|_| tx.commit())
                    .map_err(|e| unusable(&self.dir, e))?;
                (id, false, last)
            }
            None => {
                self.conn
                    .execute(
                        "INSERT INTO files (fingerprint, account, settings, path, created_at) VALUES (?1, ?2, ?3, ?4, unixepoch())",
                        params![fingerprint, account, stored, path],
                    )
                    .map_err(|e| self.err(e))?;
                (self.conn.last_insert_rowid(), false, None)
            }
        })
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

    /// Rows marked in flight that never got an outcome (any recorded state, even
    /// pending, rules a row out): the uncertain ones, in order.
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

    /// Rows of a file marked in flight with no committed outcome: what a crash now
    /// would leave uncertain (in order).
    pub fn unanswered(&self, file_id: i64) -> Result<Vec<u64>, StateError> {
        let outcomes = self.outcomes(file_id)?;
        self.uncertain_rows(file_id, &outcomes)
    }

    /// A connection for ledger look-ups from the pipeline thread.
    pub fn ledger(&self, account: &str) -> Result<Ledger, StateError> {
        Ledger::open(connect(&self.db_path())?, account).map_err(|e| self.err(e))
    }

    /// Start the group-committing writer thread.
    pub fn writer(&self, account: &str) -> Result<Writer, StateError> {
        let conn = connect(&self.db_path())?;
        // The writer only writes the file, run and account numbers this store gave
        // it; checking both references of each ledger entry took a third of the
        // time of inserting it.
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(|e| self.err(e))?;
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
}

#[cfg(test)]
mod tests;
