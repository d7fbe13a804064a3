//! The pipeline's reader thread: open the file, find its header, wait for the
//! mapping, send the sample, then stream batches of rows (a child of `pipeline`).

use std::sync::atomic::Ordering::Relaxed;

use crossbeam_channel::{Receiver, Sender};

use super::{BATCH_CELLS, BATCH_ROWS, Control, Counters, Data, DataTx};
use crate::engine::plan::InputPlan;
use crate::normalize::SAMPLE_ROWS;
use crate::normalize::columns::header_score;
use crate::report::rejects::{LEADING, is_rejects_header, unguard};
use crate::source::{self, Cell, Framer, Input, Row, SourceError};

/// The reader thread: open, find the header, wait for the mapping, send the sample,
/// then stream batches.
pub(super) fn read_file(
    input: &Input,
    cfg: &InputPlan,
    counters: &Counters,
    ctl: Sender<Result<Control, SourceError>>,
    go: Receiver<Option<Vec<usize>>>,
    data: DataTx,
    spent: Receiver<Vec<Vec<Cell>>>,
) {
    let explicit = &cfg.normalize.explicit;
    let score = |names: &[String]| header_score(names, explicit);
    let outcome = source::with_reader(
        input,
        &cfg.read,
        counters.bytes.clone(),
        |opened, reader| {
            let (mut framer, mut header) = match Framer::start(reader, &cfg.frame, &score) {
                Ok(v) => v,
                Err(e) => {
                    let _ = ctl.send(Err(e));
                    return;
                }
            };
            // setclick's own rejects file, fixed and imported again: its leading
            // columns are left out and its cells read back as they were first.
            let rejects_file = is_rejects_header(&header.names);
            if rejects_file {
                header.names.drain(..LEADING.len());
            }
            if ctl
                .send(Ok(Control::Header(opened.clone(), header)))
                .is_err()
            {
                return;
            }
            let Ok(projection) = go.recv() else { return };
            if let Some(p) = projection
                && let Err(e) = framer.project(&p)
            {
                let _ = ctl.send(Err(e));
                return;
            }
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            let mut cells = 0usize;
            let mut sample_sent = false;
            loop {
                match framer.next_row() {
                    Ok(Some(mut row)) => {
                        if rejects_file {
                            as_first_read(&mut row);
                        }
                        cells += row.cells.len();
                        batch.push(row);
                        let rows = if sample_sent { BATCH_ROWS } else { SAMPLE_ROWS };
                        if batch.len() < rows && cells < BATCH_CELLS {
                            continue;
                        }
                        cells = 0;
                    }
                    Ok(None) => {
                        if !sample_sent && ctl.send(Ok(Control::Sample(batch.clone()))).is_err() {
                            return;
                        }
                        counters.framed.fetch_add(batch.len() as u64, Relaxed);
                        counters.read_all.store(true, Relaxed);
                        if !batch.is_empty() {
                            let _ = data.send(Data::Rows(seq, batch));
                        }
                        return;
                    }
                    Err(e) => {
                        if !sample_sent {
                            let _ = ctl.send(Err(e));
                            return;
                        }
                        if !batch.is_empty() {
                            if data
                                .send(Data::Rows(seq, std::mem::take(&mut batch)))
                                .is_err()
                            {
                                return;
                            }
                            seq += 1;
                        }
                        let _ = data.send(Data::Failed(seq, e));
                        return;
                    }
                }
                if !sample_sent {
                    sample_sent = true;
                    if ctl.send(Ok(Control::Sample(batch.clone()))).is_err() {
                        return;
                    }
                }
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                counters.framed.fetch_add(full.len() as u64, Relaxed);
                if data.send(Data::Rows(seq, full)).is_err() {
                    return;
                }
                seq += 1;
                while let Ok(cells) = spent.try_recv() {
                    framer.recycle(cells);
                }
            }
        },
    );
    if let Err(e) = outcome {
        let _ = ctl.send(Err(e));
    }
}

/// A row of a rejects file as its original file had it: without the leading
/// columns, each text cell without the formula guard.
fn as_first_read(row: &mut Row) {
    let lead = LEADING.len().min(row.cells.len());
    row.cells.drain(..lead);
    if let Some(d) = &mut row.defect {
        d.column = d.column.and_then(|c| c.checked_sub(lead));
    }
    for cell in &mut row.cells {
        if let Cell::Text(t) = cell {
            let plain = unguard(t);
            if plain.len() != t.len() {
                *cell = Cell::from_text(plain);
            }
        }
    }
}
