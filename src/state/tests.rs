//! Tests of the state store: outcomes, resume, settings, the lock, damaged files.

use super::*;
use ledger::block_entries;
use writer::COMMIT_DELAY;

/// A ledger key on a day in July 2024.
fn k(fingerprint: u128) -> LedgerKey {
    LedgerKey::new(1_720_000_000_000, fingerprint)
}

fn store(dir: &Path) -> Store {
    Store::open(dir, "import").unwrap()
}

#[test]
fn rows_outcomes_and_ledger_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (id, fp) = {
        let mut s = store(dir.path());
        let prior = s
            .file("abc", "acc", "settings-1", "a.csv", false, false)
            .unwrap();
        assert!(!prior.finished && prior.done.count() == 0);
        let w = s.writer("acc").unwrap();
        let h = w.handle();
        assert!(h.mark_inflight(prior.file_id, vec![1, 2, 3]));
        h.outcome(sent(prior.file_id, 1, 42));
        h.outcome(RowOutcome {
            file_id: prior.file_id,
            row: 2,
            state: RowState::Failed,
            status: Some(501),
            message: Some("x".into()),
            key: None,
            replaces: false,
        });
        h.finished(prior.file_id, 3);
        drop(h);
        w.close().unwrap();
        s.end_run(0).unwrap();
        (prior.file_id, 42u128)
    };
    let mut s = store(dir.path());
    let prior = s
        .file("abc", "acc", "settings-1", "renamed.csv", false, false)
        .unwrap();
    assert_eq!(prior.file_id, id);
    assert!(prior.finished);
    assert!(prior.done.get(1) && prior.done.get(2) && !prior.done.get(3));
    assert_eq!(prior.uncertain, HashSet::from([3]));
    assert_eq!(prior.failed, 1);
    assert!(s.ledger("acc").unwrap().contains(k(fp)).unwrap());
    assert!(!s.ledger("other").unwrap().contains(k(fp)).unwrap());
    // Retrying failed rows leaves them out of `done`.
    let prior = s
        .file("abc", "acc", "settings-1", "a.csv", false, true)
        .unwrap();
    assert!(!prior.done.get(2));
    let st = s.status(None).unwrap();
    assert_eq!(
        (st[0].sent, st[0].failed, st[0].uncertain, st[0].pending),
        (1, 1, 1, Some(0))
    );
    assert_eq!(st[0].uncertain_rows, vec![3]);
    assert_eq!(st[0].path, "a.csv");
}

#[test]
fn other_settings_need_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    s.file("abc", "acc", "one", "a.csv", false, false).unwrap();
    let e = s
        .file("abc", "acc", "two", "a.csv", false, false)
        .unwrap_err();
    assert!(
        matches!(e, StateError::Changed(_)) && e.to_string().contains("--restart"),
        "{e}"
    );
    assert!(s.file("abc", "acc", "two", "a.csv", true, false).is_ok());
    assert!(s.file("abc", "acc", "two", "a.csv", false, false).is_ok());
    // Another account is another destination: no conflict.
    assert!(
        s.file("abc", "other-account", "one", "a.csv", false, false)
            .is_ok()
    );
}

#[test]
fn a_second_import_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let _first = store(dir.path());
    let e = Store::open(dir.path(), "import").err().unwrap();
    let msg = e.to_string();
    assert!(matches!(e, StateError::Busy(_)), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
}

#[test]
fn foreign_or_corrupt_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(DB_FILE),
        b"this is not sqlite at all, just text".repeat(100),
    )
    .unwrap();
    let e = Store::open(dir.path(), "import").err().unwrap().to_string();
    assert!(
        e.contains("not a setclick state store") || e.contains("not a database"),
        "{e}"
    );

    let other = tempfile::tempdir().unwrap();
    let c = Connection::open(other.path().join(DB_FILE)).unwrap();
    c.execute_batch("CREATE TABLE things (x);").unwrap();
    drop(c);
    let e = Store::open(other.path(), "import")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("another program"), "{e}");
}

#[test]
fn bitmap() {
    let mut b = Bitmap::default();
    for i in [0, 63, 64, 1000] {
        b.set(i);
    }
    assert!(b.get(0) && b.get(63) && b.get(64) && b.get(1000) && !b.get(1) && !b.get(5000));
    assert_eq!(b.count(), 4);
}

#[test]
fn a_dead_runs_sent_rows_reach_the_ledger_when_the_store_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let file_id = {
        let mut s = store(dir.path());
        let prior = s.file("abc", "acc", "one", "a.csv", false, false).unwrap();
        // As if the process died after committing the row but before the ledger batch.
        s.conn
            .execute(
                "INSERT INTO rows (file_id, row, state, hash, run_id, updated_at) VALUES (?1, 7, 'sent', ?2, ?3, 0)",
                params![prior.file_id, 99u128.to_be_bytes().as_slice(), s.run_id],
            )
            .unwrap();
        prior.file_id
    };
    let s = store(dir.path());
    assert!(s.ledger("acc").unwrap().contains(k(99)).unwrap());
    let _ = file_id;
}

#[test]
fn a_ledger_opened_empty_makes_no_look_ups_and_a_later_one_finds_the_sends() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let before = s.ledger("acc").unwrap();
    assert!(before.empty);
    let prior = s
        .file("abc", "acc", "settings-1", "a.csv", false, false)
        .unwrap();
    let w = s.writer("acc").unwrap();
    let h = w.handle();
    assert!(h.mark_inflight(prior.file_id, vec![1]));
    h.outcome(sent(prior.file_id, 1, 7));
    assert!(h.flush());
    // Opened before the send: what the run sends, its own duplicate check catches.
    assert!(!before.contains(k(7)).unwrap());
    let after = s.ledger("acc").unwrap();
    assert!(!after.empty);
    assert!(after.contains(k(7)).unwrap());
    assert!(!after.contains(k(8)).unwrap());
    assert!(s.ledger("other").unwrap().empty);
    drop(h);
    w.close().unwrap();
}

fn sent(file_id: i64, row: u64, fingerprint: u128) -> RowOutcome {
    RowOutcome {
        file_id,
        row,
        state: RowState::Sent,
        status: Some(200),
        message: None,
        key: Some(k(fingerprint)),
        replaces: false,
    }
}

#[test]
fn sent_rows_are_committed_as_one_block_and_outrank_earlier_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let prior = s.file("abc", "acc", "one", "a.csv", false, true).unwrap();
    let id = prior.file_id;
    let w = s.writer("acc").unwrap();
    let h = w.handle();
    assert!(h.mark_inflight(id, (1..=5).collect()));
    // Row 2 failed, row 3 was left unsent; a later attempt sent both.
    h.outcome(RowOutcome {
        file_id: id,
        row: 2,
        state: RowState::Failed,
        status: Some(503),
        message: Some("busy".into()),
        key: None,
        replaces: false,
    });
    h.outcome(RowOutcome::unsent(id, 3));
    assert!(h.flush());
    h.outcomes((1..=4).map(|r| sent(id, r, 1000 + u128::from(r))).collect());
    h.finished(id, 5);
    drop(h);
    w.close().unwrap();
    let blocks: i64 = s
        .conn
        .query_row("SELECT count(*) FROM sent WHERE file_id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(blocks, 1, "four sent rows, one commit: one block");
    let st = &s.status(None).unwrap()[0];
    assert_eq!(
        (st.sent, st.failed, st.uncertain, st.pending),
        (4, 0, 1, Some(0))
    );
    assert_eq!(st.uncertain_rows, vec![5]);
    let prior = s.file("abc", "acc", "one", "a.csv", false, false).unwrap();
    assert!((1..=4).all(|r| prior.done.get(r)) && !prior.done.get(5));
    assert_eq!(prior.failed, 0);
    let ledger = s.ledger("acc").unwrap();
    assert!((1..=4u64).all(|r| ledger.contains(k(1000 + u128::from(r))).unwrap()));
    // --restart forgets the blocks too.
    s.file("abc", "acc", "two", "a.csv", true, false).unwrap();
    assert_eq!(s.status(None).unwrap()[0].sent, 0);
}

/// A store holding file "abc" of account "acc", and a writer.
/// A store with one file, a.csv of account "acc"; its number.
fn with_file(dir: &Path) -> (Store, i64) {
    let mut s = store(dir);
    let id = s
        .file("abc", "acc", "one", "a.csv", false, false)
        .unwrap()
        .file_id;
    (s, id)
}

fn with_writer(dir: &Path) -> (Store, i64, Writer, WriterHandle) {
    let (s, id) = with_file(dir);
    let w = s.writer("acc").unwrap();
    let h = w.handle();
    (s, id, w, h)
}

#[test]
fn outcomes_without_a_mark_after_them_are_committed_within_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let (s, id, w, h) = with_writer(dir.path());
    assert!(h.mark_inflight(id, vec![1]));
    h.outcome(sent(id, 1, 5));
    let reader = connect(&s.db_path()).unwrap();
    let count = || -> i64 {
        reader
            .query_row("SELECT count(*) FROM sent", [], |r| r.get(0))
            .unwrap()
    };
    let start = std::time::Instant::now();
    while count() == 0 {
        assert!(
            start.elapsed() < COMMIT_DELAY * 20,
            "the outcome was never committed"
        );
        std::thread::sleep(COMMIT_DELAY / 10);
    }
    drop(h);
    w.close().unwrap();
}

#[test]
fn a_dead_runs_sent_blocks_reach_the_ledger_when_the_store_reopens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, id) = with_file(dir.path());
        // As if the process died after committing the block but before the ledger batch.
        let mut rows = Vec::new();
        let mut keys = Vec::new();
        for (row, fp) in [(3u64, 77u128), (4, 78)] {
            rows.extend_from_slice(&row.to_le_bytes());
            keys.extend_from_slice(&k(fp).to_bytes());
        }
        s.conn
            .execute(
                "INSERT INTO sent (file_id, run_id, rows, keys) VALUES (?1, ?2, ?3, ?4)",
                params![id, s.run_id, rows, keys],
            )
            .unwrap();
    }
    let s = store(dir.path());
    let ledger = s.ledger("acc").unwrap();
    assert!(ledger.contains(k(77)).unwrap() && ledger.contains(k(78)).unwrap());
    assert!(!ledger.contains(k(79)).unwrap());
    assert_eq!(s.status(None).unwrap()[0].sent, 2);
}

#[test]
fn a_version_1_store_is_migrated_and_its_rows_still_count() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        schema::migrate_to(&c, 1).unwrap();
        c.execute_batch(
            "INSERT INTO files (id, fingerprint, account, settings, path, rows, finished, created_at)
               VALUES (1, 'abc', 'acc', 'one', 'a.csv', 3, 1, 0);
             INSERT INTO runs (id, pid, command, started_at, ended_at, exit_code) VALUES (1, 1, 'import', 0, 1, 0);
             INSERT INTO rows (file_id, row, state, status, hash, run_id, updated_at)
               VALUES (1, 1, 'sent', 200, x'000000000000000000000000000000aa', 1, 0),
                      (1, 2, 'rejected', NULL, NULL, 1, 0),
                      (1, 3, 'sent', 200, x'000000000000000000000000000000ab', 1, 0);
             INSERT INTO ledger (account, hash, file_id, row, sent_at)
               VALUES ('acc', x'000000000000000000000000000000aa', 1, 1, 0),
                      ('acc', x'000000000000000000000000000000ab', 1, 3, 0);",
        )
        .unwrap();
    }
    let mut s = store(dir.path());
    let version: i64 = s
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    let st = &s.status(None).unwrap()[0];
    assert_eq!((st.sent, st.rejected, st.pending), (2, 1, Some(0)));
    let prior = s.file("abc", "acc", "one", "a.csv", false, false).unwrap();
    assert!(prior.finished && prior.done.count() == 3);
    assert!(s.ledger("acc").unwrap().contains(k(0xab)).unwrap());
}

#[test]
fn ledger_keys_order_by_day_and_round_trip_through_blocks() {
    let a = LedgerKey::new(1_720_000_000_000, u128::MAX);
    let b = LedgerKey::new(1_720_000_000_000 + 86_400_000, 0);
    assert!(a < b, "the day comes first");
    assert_eq!(a.day + 1, b.day);
    assert_eq!(LedgerKey::from_bytes(&a.to_bytes()), a);
    assert_eq!(
        LedgerKey::new(-5, 1).day,
        0,
        "never the day of undated entries"
    );
    let rows: Vec<u8> = [7u64, 9].iter().flat_map(|r| r.to_le_bytes()).collect();
    let keys: Vec<u8> = [a, b].iter().flat_map(|k| k.to_bytes()).collect();
    let got: Vec<_> = block_entries(&rows, &keys).collect();
    assert_eq!(got, vec![(7, a), (9, b)]);
    // A torn block yields its whole entries only.
    assert_eq!(block_entries(&rows, &keys[..30]).count(), 1);
}

#[test]
fn a_lead_is_found_under_its_own_day_only() {
    let dir = tempfile::tempdir().unwrap();
    let (s, id, w, h) = with_writer(dir.path());
    h.outcome(sent(id, 1, 5));
    assert!(h.flush());
    let ledger = s.ledger("acc").unwrap();
    assert!(ledger.contains(k(5)).unwrap());
    let next_day = LedgerKey::new(1_720_000_000_000 + 86_400_000, 5);
    assert!(!ledger.contains(next_day).unwrap());
    drop(h);
    w.close().unwrap();
}

#[test]
fn ledger_entries_are_inserted_whole_in_chunks_and_kept_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let a = s.file("abc", "acc", "one", "a.csv", false, false).unwrap();
    let b = s.file("def", "acc", "one", "b.csv", false, false).unwrap();
    let account = ledger::account_id(&s.conn, "acc", true).unwrap().unwrap();
    // Three full statements and a remainder; then again, overlapping, from another file.
    let keys: Vec<LedgerKey> = (0..200u128).map(|i| k(1000 + i)).collect();
    let entries = |file_id: i64, range: std::ops::Range<usize>| {
        ledger::insert_entries(
            &s.conn,
            keys[range.clone()]
                .iter()
                .zip(range)
                .map(|(key, row)| (account, key, file_id, row as u64)),
        )
        .unwrap()
    };
    entries(a.file_id, 0..197);
    entries(b.file_id, 150..200);
    let count = |file_id: i64| -> i64 {
        s.conn
            .query_row(
                "SELECT count(*) FROM ledger WHERE file_id = ?1",
                [file_id],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!((count(a.file_id), count(b.file_id)), (197, 3));
    let ledger = s.ledger("acc").unwrap();
    for (row, key) in keys.iter().enumerate() {
        assert!(ledger.contains(*key).unwrap(), "entry {row} missing");
        let (file_id, at): (i64, i64) = s
            .conn
            .query_row(
                "SELECT file_id, row FROM ledger WHERE hash = ?1",
                [key.hash.as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let first = if row < 197 { a.file_id } else { b.file_id };
        assert_eq!((file_id, at), (first, row as i64));
    }
    assert!(!ledger.contains(k(999)).unwrap());
}

#[test]
fn a_mark_whose_answer_is_dropped_is_answered_failed() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let answer = |tx: crossbeam_channel::Sender<bool>| {
        MarkDone::new(move |ok| {
            tx.send(ok).unwrap();
            Vec::new()
        })
    };
    drop(answer(tx.clone()));
    assert_eq!(rx.try_recv(), Ok(false));
    // A mark the store cannot commit is answered failed, and so is every later one.
    let dir = tempfile::tempdir().unwrap();
    let (s, id, w, h) = with_writer(dir.path());
    h.mark_inflight_then(id, vec![1], answer(tx.clone()));
    assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)), Ok(true));
    s.conn.execute_batch("DROP TABLE inflight").unwrap();
    h.mark_inflight_then(id, vec![2], answer(tx.clone()));
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(5)),
        Ok(false)
    );
    h.mark_inflight_then(id, vec![3], answer(tx));
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(5)),
        Ok(false)
    );
    drop(h);
    assert!(w.close().is_err());
}

#[test]
fn ledger_batches_are_written_in_slices_and_the_rest_at_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let (s, id) = with_file(dir.path());
    let account = ledger::account_id(&s.conn, "acc", true).unwrap().unwrap();
    let mut conn = connect(&s.db_path()).unwrap();
    let count = |c: &Connection| -> i64 {
        c.query_row("SELECT count(*) FROM ledger", [], |r| r.get(0))
            .unwrap()
    };
    // Batches of 10 in slices of 4; entries come in reverse order.
    let mut work = ledger::LedgerWork::new(account, 10, 4);
    work.pending
        .extend((0..9u64).rev().map(|i| (k(500 + i as u128), id, i)));
    work.step(&mut conn).unwrap();
    assert!(!work.busy() && count(&conn) == 0, "fewer than a batch wait");
    work.pending
        .extend((9..12u64).rev().map(|i| (k(500 + i as u128), id, i)));
    let mut written = Vec::new();
    loop {
        work.step(&mut conn).unwrap();
        let (n, last): (i64, i64) = conn
            .query_row("SELECT count(*), max(row) FROM ledger", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        written.push((n, last));
        if !work.busy() {
            break;
        }
        // New entries wait for the next batch.
        work.pending.push((k(600 + written.len() as u128), id, 100));
    }
    // Sorted: the lowest keys (rows 0..3) went first.
    assert_eq!(written, [(4, 3), (8, 7), (12, 11)]);
    work.flush(&mut conn).unwrap();
    assert_eq!(count(&conn), 14);
    let ledger = s.ledger("acc").unwrap();
    for fp in (500..512).chain([601, 602]) {
        assert!(ledger.contains(k(fp)).unwrap(), "{fp}");
    }
}
