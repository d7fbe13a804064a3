//! The in-flight protocol against a real store: what a crash at any moment would
//! leave uncertain, checked against the invariant in the module's documentation.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::state::{RowState, Store};

fn lead(row: u64) -> Lead {
    Lead {
        row,
        pos: row,
        click_time: 1_720_000_000_000,
        url_parameters: String::new(),
        settings: String::new(),
        referrer: None,
        current_url: None,
        dst: Default::default(),
        cells: vec![],
        body: None,
        known_fingerprint: None,
        marks: Default::default(),
    }
}

/// What a crash now would leave uncertain: rows whose mark is committed and whose
/// outcome is not.
fn uncertain_now(dir: &Path) -> BTreeSet<u64> {
    let store = Store::open_read(dir).unwrap().unwrap();
    store.status(None).unwrap()[0]
        .uncertain_rows
        .iter()
        .copied()
        .collect()
}

fn failed(file_id: i64, row: u64) -> RowOutcome {
    RowOutcome {
        file_id,
        row,
        state: RowState::Failed,
        status: Some(500),
        message: None,
        key: None,
    }
}

/// A store with one file, a handoff for it, and the rows announced as delivered.
struct Rig {
    dir: tempfile::TempDir,
    _store: Store,
    writer: Option<crate::state::Writer>,
    file_id: i64,
    handoff: Arc<Handoff>,
    delivered: Arc<Mutex<BTreeSet<u64>>>,
}

fn rig(low_water: usize, concurrency: usize) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), "import").unwrap();
    let file_id = store
        .file("fp", "acc", "settings", "a.csv", false, false)
        .unwrap()
        .file_id;
    let writer = store.writer("acc").unwrap();
    let delivered = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = Arc::clone(&delivered);
    let handoff = Arc::new(Handoff::new(
        Arc::new(LeadQueue::new(low_water, concurrency)),
        Some(Marks {
            writer: writer.handle(),
            file_id,
        }),
        Arc::new(move |leads: &[Lead]| {
            seen.lock().unwrap().extend(leads.iter().map(|l| l.row));
        }),
    ));
    Rig {
        dir,
        _store: store,
        writer: Some(writer),
        file_id,
        handoff,
        delivered,
    }
}

#[test]
fn every_taken_lead_is_marked_and_a_crash_leaves_at_most_the_bound_uncertain() {
    const BATCH: usize = 32;
    const LOW: usize = 16;
    const CONCURRENCY: usize = 4;
    const BATCHES: u64 = 12;
    let bound = BATCH + 3 * LOW + CONCURRENCY;
    let mut r = rig(LOW, CONCURRENCY);
    let marker = {
        let h = Arc::clone(&r.handoff);
        std::thread::spawn(move || {
            for b in 0..BATCHES {
                let batch = (0..BATCH as u64).map(|i| lead(b * 100 + i + 1)).collect();
                h.mark(batch).map_err(|_| "the run stopped").unwrap();
            }
            h.settle()
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let queue = Arc::clone(r.handoff.queue());
    // Senders hold at most CONCURRENCY leads; they answer in a shuffled order.
    let mut held: Vec<u64> = Vec::new();
    let mut taken = 0u64;
    let mut step = 0u64;
    let mut largest = 0;
    loop {
        step += 1;
        let pop = held.len() < CONCURRENCY && !step.is_multiple_of(5);
        if pop {
            let next = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), queue.pop()).await
            });
            match next.expect("the queue delivers or closes") {
                Some(l) => {
                    assert!(
                        r.delivered.lock().unwrap().contains(&l.row),
                        "row {} taken before the recorder heard it was in flight",
                        l.row
                    );
                    held.push(l.row);
                    taken += 1;
                }
                None => break,
            }
        } else if !held.is_empty() {
            let row = held.remove((step as usize * 7) % held.len());
            r.handoff.record(vec![failed(r.file_id, row)], 1);
        }
        if step.is_multiple_of(9) {
            let u = uncertain_now(r.dir.path());
            largest = largest.max(u.len());
            assert!(u.len() <= bound, "{} uncertain > {bound}", u.len());
            for row in &held {
                assert!(u.contains(row), "row {row} is out and not marked in flight");
            }
        }
    }
    for row in held.drain(..) {
        r.handoff.record(vec![failed(r.file_id, row)], 1);
    }
    let settled = marker.join().unwrap();
    assert_eq!(
        settled,
        Settled {
            lost: 0,
            mark_failed: false
        }
    );
    assert_eq!(taken, BATCHES * BATCH as u64);
    assert!(largest > BATCH, "the check saw leads in flight ({largest})");
    drop(r.handoff);
    r.writer.take().unwrap().close().unwrap();
    assert!(
        uncertain_now(r.dir.path()).is_empty(),
        "every outcome committed"
    );
}

#[test]
fn a_batch_marked_after_the_run_stopped_is_recorded_not_sent() {
    let mut r = rig(16, 4);
    let queue = Arc::clone(r.handoff.queue());
    assert!(r.handoff.mark(vec![lead(1), lead(2)]).is_ok());
    // Wait for the first batch, then stop before the second is delivered.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let first = rt.block_on(queue.pop()).unwrap();
    assert_eq!(first.row, 1);
    let left = queue.stop();
    assert_eq!(left.len(), 1, "row 2 was queued and not taken");
    assert!(
        r.handoff.mark(vec![lead(3)]).is_err(),
        "no room once stopped"
    );
    r.handoff.record(
        vec![failed(r.file_id, 1), RowOutcome::unsent(r.file_id, 2)],
        1,
    );
    let settled = r.handoff.settle();
    assert!(!settled.mark_failed);
    assert_eq!(*r.delivered.lock().unwrap(), BTreeSet::from([1, 2]));
    drop(r.handoff);
    r.writer.take().unwrap().close().unwrap();
    assert!(uncertain_now(r.dir.path()).is_empty());
}

#[test]
fn without_a_store_batches_are_queued_at_once_and_announced_first() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&order);
    let queue = Arc::new(LeadQueue::new(256, 4));
    let h = Handoff::new(
        Arc::clone(&queue),
        None,
        Arc::new(move |leads: &[Lead]| {
            seen.lock().unwrap().extend(leads.iter().map(|l| l.row));
        }),
    );
    h.mark(vec![lead(5), lead(6)]).unwrap();
    assert_eq!(*order.lock().unwrap(), [5, 6]);
    assert_eq!(
        h.settle(),
        Settled {
            lost: 0,
            mark_failed: false
        }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows: Vec<u64> = rt.block_on(async {
        let mut v = Vec::new();
        while let Some(l) = queue.pop().await {
            v.push(l.row);
        }
        v
    });
    assert_eq!(rows, [5, 6], "closed after settle, every lead out once");
}
