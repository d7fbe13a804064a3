//! The store's schema, versioned with `PRAGMA user_version`; migrations run in order.
//! `PRAGMA application_id` marks the file as setclick's.

use rusqlite::Connection;

/// "SCLK".
const APPLICATION_ID: i64 = 0x5343_4c4b;

/// Each entry moves the schema from version i to i + 1.
const MIGRATIONS: &[&str] = &[
    // 1: files, runs, rows (final outcomes, and 'pending' for leads known not
    // sent), inflight (batches of rows marked before their requests left, as
    // little-endian u64 lists), ledger.
    "CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        account TEXT NOT NULL,
        settings TEXT NOT NULL,
        path TEXT NOT NULL,
        rows INTEGER,
        finished INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        UNIQUE (fingerprint, account)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        pid INTEGER NOT NULL,
        command TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        exit_code INTEGER
    );
    CREATE TABLE rows (
        file_id INTEGER NOT NULL REFERENCES files(id),
        row INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'rejected', 'failed', 'duplicate', 'skipped')),
        status INTEGER,
        message TEXT,
        hash BLOB,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (file_id, row)
    ) WITHOUT ROWID;
    CREATE TABLE inflight (
        file_id INTEGER NOT NULL REFERENCES files(id),
        run_id INTEGER NOT NULL REFERENCES runs(id),
        rows BLOB NOT NULL
    );
    CREATE INDEX inflight_file ON inflight (file_id);
    CREATE TABLE ledger (
        account TEXT NOT NULL,
        hash BLOB NOT NULL,
        file_id INTEGER REFERENCES files(id),
        row INTEGER,
        sent_at INTEGER NOT NULL,
        PRIMARY KEY (account, hash)
    ) WITHOUT ROWID;",
    // 2: sent rows in blocks, one record per commit instead of one `rows` record
    // per lead (row numbers as little-endian u64; ledger keys, 20 bytes each: the
    // click day as big-endian i32, then the fingerprint as big-endian u128). A row in
    // a block is sent whatever `rows` says of it (it may have failed or been left
    // pending by an earlier run).
    // The ledger keyed by account number, click day and fingerprint: ordered by day,
    // a night's leads go to a few places in it instead of rewriting pages all over
    // it, and the account's number is cheaper to compare than its text. Entries from
    // version 1 have no day: -1.
    "CREATE TABLE sent (
        file_id INTEGER NOT NULL REFERENCES files(id),
        run_id INTEGER NOT NULL REFERENCES runs(id),
        rows BLOB NOT NULL,
        keys BLOB NOT NULL
    );
    CREATE INDEX sent_file ON sent (file_id);
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    INSERT INTO accounts (name) SELECT account FROM ledger UNION SELECT account FROM files;
    CREATE TABLE ledger_by_day (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        day INTEGER NOT NULL,
        hash BLOB NOT NULL,
        file_id INTEGER REFERENCES files(id),
        row INTEGER,
        sent_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, day, hash)
    ) WITHOUT ROWID;
    INSERT INTO ledger_by_day (account_id, day, hash, file_id, row, sent_at)
      SELECT a.id, -1, l.hash, l.file_id, l.row, l.sent_at FROM ledger l JOIN accounts a ON a.name = l.account
      ORDER BY a.id, l.hash;
    DROP TABLE ledger;
    ALTER TABLE ledger_by_day RENAME TO ledger;",
    // 3: the last run that opened each file (status's LAST RUN: a run that only
    // skipped rows, or sent none, is a run of the file too).
    "ALTER TABLE files ADD COLUMN last_run INTEGER REFERENCES runs(id);
    UPDATE files SET last_run = (SELECT max(run_id) FROM
      (SELECT run_id FROM rows WHERE file_id = files.id
       UNION SELECT run_id FROM sent WHERE file_id = files.id));",
];

/// The schema version this setclick writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a store's schema cannot be used or brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("this SQLite database belongs to another program; give setclick its own --state-dir")]
    Foreign,
    #[error("schema version {0} is newer than this setclick knows ({VERSION}); upgrade setclick")]
    Newer(i64),
    #[error("migration to schema version {0}: {1}")]
    Migration(usize, rusqlite::Error),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

pub fn migrate(conn: &Connection) -> Result<(), SchemaError> {
    migrate_to(conn, VERSION)
}

/// Migrate up to `target` (tests build older stores with it).
pub(crate) fn migrate_to(conn: &Connection, target: i64) -> Result<(), SchemaError> {
    let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    if app != APPLICATION_ID && tables > 0 {
        return Err(SchemaError::Foreign);
    }
    if version > VERSION {
        return Err(SchemaError::Newer(version));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(version as usize)
    {
        let step = format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        );
        conn.execute_batch(&step).map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            SchemaError::Migration(i + 1, e)
        })?;
    }
    Ok(())
}
