//! The ledger of sent leads: keys (account number, click day, fingerprint),
//! look-ups, the writer's sorted batches, and the repair of what a dead run had not
//! yet written to it.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StateError, row_numbers};

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

    pub(super) fn to_bytes(self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&self.day.to_be_bytes());
        b[4..].copy_from_slice(&self.hash);
        b
    }

    pub(super) fn from_bytes(b: &[u8; 20]) -> LedgerKey {
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
pub(super) fn repair_ledger(conn: &mut Connection) -> rusqlite::Result<()> {
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
    insert_entries(&tx, missing.iter().map(|(a, key, f, r)| (*a, key, *f, *r)))?;
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

/// Ledger entries per INSERT statement: one statement per entry spent as long
/// running the statement as inserting.
const ENTRIES_PER_INSERT: usize = 64;

/// Add ledger entries (account number, key, file, row), sorted, ignoring those
/// already there. The entry's time is read once for all of them.
pub(super) fn insert_entries<'a>(
    conn: &Connection,
    entries: impl IntoIterator<Item = (i64, &'a LedgerKey, i64, u64)>,
) -> rusqlite::Result<()> {
    // The statements' text, made once (the statements are cached per connection).
    static MANY: LazyLock<String> = LazyLock::new(|| insert_sql(ENTRIES_PER_INSERT));
    static ONE: LazyLock<String> = LazyLock::new(|| insert_sql(1));
    let sent_at: i64 = conn.query_row("SELECT unixepoch()", [], |r| r.get(0))?;
    let mut many = conn.prepare_cached(&MANY)?;
    let mut one = conn.prepare_cached(&ONE)?;
    let mut entries = entries.into_iter();
    let mut chunk = Vec::with_capacity(ENTRIES_PER_INSERT);
    loop {
        chunk.clear();
        chunk.extend(entries.by_ref().take(ENTRIES_PER_INSERT));
        let stmt = if chunk.len() == ENTRIES_PER_INSERT {
            &mut many
        } else {
            &mut one
        };
        for part in chunk.chunks(stmt.parameter_count() / 5) {
            stmt.raw_bind_parameter(1, sent_at)?;
            for (i, (account, key, file_id, row)) in part.iter().enumerate() {
                let p = 2 + 5 * i;
                stmt.raw_bind_parameter(p, account)?;
                stmt.raw_bind_parameter(p + 1, key.day)?;
                stmt.raw_bind_parameter(p + 2, key.hash.as_slice())?;
                stmt.raw_bind_parameter(p + 3, file_id)?;
                stmt.raw_bind_parameter(p + 4, *row as i64)?;
            }
            stmt.raw_execute()?;
        }
        if chunk.len() < ENTRIES_PER_INSERT {
            return Ok(());
        }
    }
}

/// An INSERT of `n` ledger entries: `?1` the time, then five parameters an entry.
fn insert_sql(n: usize) -> String {
    let values: Vec<String> = (0..n)
        .map(|i| {
            let p = 2 + 5 * i;
            format!("(?{p}, ?{}, ?{}, ?{}, ?{}, ?1)", p + 1, p + 2, p + 3, p + 4)
        })
        .collect();
    format!(
        "INSERT OR IGNORE INTO ledger (account_id, day, hash, file_id, row, sent_at) VALUES {}",
        values.join(", ")
    )
}

/// The ledger's number for an account; `create` adds it when missing.
pub(super) fn account_id(
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
pub(super) fn block_entries<'a>(
    rows: &'a [u8],
    keys: &'a [u8],
) -> impl Iterator<Item = (u64, LedgerKey)> + 'a {
    row_numbers(rows)
        .zip(keys.chunks_exact(20))
        .filter_map(|(row, k)| Some((row, LedgerKey::from_bytes(k.try_into().ok()?))))
}

/// Look-ups in the ledger of sent leads.
pub struct Ledger {
    conn: Connection,
    /// The account's number in the ledger.
    account: i64,
    /// Nothing was sent for this account before: no look-up can find anything (what
    /// this run sends, the run's own duplicate check catches), so none is made.
    pub(super) empty: bool,
    /// Some entries have no day (made by schema version 1): look there too.
    undated: bool,
}

impl Ledger {
    /// Look-ups for `account` on their own connection.
    pub(super) fn open(conn: Connection, account: &str) -> rusqlite::Result<Ledger> {
        let id = account_id(&conn, account, false)?;
        let exists = |sql: &str, id: i64| conn.query_row(sql, [id], |r| r.get::<_, bool>(0));
        let (empty, undated) = match id {
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
            account: id.unwrap_or(-1),
            empty,
            undated,
        })
    }

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

/// Ledger entries are written sorted (by day, then fingerprint), this many at a time
/// and at every flush, so that each write touches each page of the ledger it
/// changes once (one commit per lead would rewrite a page per lead; sorted batches
/// of 8192 rewrote most of a million-lead ledger each time). They wait here, 40
/// bytes each, so 5 MiB at most (and those that come while a batch is written). The
/// row's `sent` block, with its key, is committed at once; a crash before the
/// ledger write is repaired when the store is next opened (see `Store::open`).
pub(super) const LEDGER_BATCH: usize = 131_072;

/// A sorted batch is written this many entries to a commit (a millisecond or two),
/// with in-flight marks committed in between: written whole, a batch held the next
/// mark back for tens of milliseconds and the senders ran dry.
pub(super) const LEDGER_SLICE: usize = 4096;

/// A ledger entry: key, file, row.
pub(super) type Entry = (LedgerKey, i64, u64);

/// Sent leads waiting for the ledger, and the sorted batch being written.
pub(super) struct LedgerWork {
    account: i64,
    /// Entries per batch and per slice: `LEDGER_BATCH` and `LEDGER_SLICE`.
    batch: usize,
    slice: usize,
    pub(super) pending: Vec<Entry>,
    writing: Vec<Entry>,
    /// Entries of `writing` already written.
    written: usize,
}

impl LedgerWork {
    pub(super) fn new(account: i64, batch: usize, slice: usize) -> LedgerWork {
        LedgerWork {
            account,
            batch,
            slice,
            // Reserved whole: growing it by doubling would hold two copies at once.
            // Pages not written to yet take no memory.
            pending: Vec::with_capacity(batch),
            writing: Vec::new(),
            written: 0,
        }
    }

    /// A batch is being written.
    pub(super) fn busy(&self) -> bool {
        self.written < self.writing.len()
    }

    fn insert(&self, conn: &mut Connection, entries: &[Entry]) -> rusqlite::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let tx = conn.transaction()?;
        insert_entries(
            &tx,
            entries
                .iter()
                .map(|(key, file_id, row)| (self.account, key, *file_id, *row)),
        )?;
        tx.commit()
    }

    /// Write the next slice of the batch, starting a batch once enough are pending.
    pub(super) fn step(&mut self, conn: &mut Connection) -> rusqlite::Result<()> {
        if !self.busy() {
            if self.pending.len() < self.batch {
                return Ok(());
            }
            self.writing.clear();
            std::mem::swap(&mut self.writing, &mut self.pending);
            self.writing.sort_unstable();
            self.written = 0;
        }
        let end = (self.written + self.slice).min(self.writing.len());
        self.insert(conn, &self.writing[self.written..end])?;
        self.written = end;
        if !self.busy() {
            // Done: what came meanwhile (a few thousand entries) moves into the
            // batch's buffer, which is reserved whole, and collecting goes on there.
            self.writing.clear();
            self.writing.append(&mut self.pending);
            std::mem::swap(&mut self.writing, &mut self.pending);
            self.written = 0;
        }
        Ok(())
    }

    /// Write everything now, in one commit.
    pub(super) fn flush(&mut self, conn: &mut Connection) -> rusqlite::Result<()> {
        let mut all = std::mem::take(&mut self.writing);
        all.drain(..self.written);
        all.append(&mut self.pending);
        all.sort_unstable();
        self.insert(conn, &all)?;
        all.clear();
        self.writing = all;
        self.written = 0;
        Ok(())
    }
}
