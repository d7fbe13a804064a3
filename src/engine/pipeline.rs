//! The read → normalize pipeline for one file: a reader thread frames rows, worker
//! threads normalize batches in parallel, and the caller's thread receives outcomes
//! in file order. Channels are bounded, so memory stays flat and a slow consumer
//! (a rate-limited import) slows the reader down.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::plan::InputPlan;
use crate::normalize::{Normalizer, Outcome};
use crate::profile::{BatchProfile, Profiler};
use crate::source::{self, ByteCounter, Cell, Format, Input, Locator, Opened, Row, SourceError};

#[path = "pipeline_reader.rs"]
mod reader;
use reader::read_file;

/// Rows per batch handed between threads.
const BATCH_ROWS: usize = 1024;
/// Cells per batch at most: a file with 100,000 columns makes small batches, so
/// the memory held in flight stays bounded whatever the shape.
const BATCH_CELLS: usize = 256 * 1024;

/// Batches read and not yet consumed, at most: the in-order thread puts batches
/// back in order, and without a bound a descheduled normalizing thread let the
/// others run ahead while their batches piled up (peak RSS spikes).
const IN_FLIGHT: usize = 16;

/// Batch text buffers larger than this are freed rather than used again.
const MAX_RECYCLED_TEXT: usize = 2 << 20;

/// What the consumer learns before the first outcome.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub format: Format,
    pub locator: Locator,
    /// Column names as rows deliver them (only the mapped ones for Parquet).
    pub header: Vec<String>,
    /// Physical row of the header (`None` for Parquet).
    pub header_pos: Option<u64>,
    /// `field <- column` pairs.
    pub mapping: Vec<(String, String)>,
    pub size: Option<u64>,
    pub progress_in_bytes: bool,
    /// Data rows in the file, when its metadata says.
    pub total_rows: Option<u64>,
}

/// Why a file could not be processed (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read (at all, or from some point on).
    #[error("{0}")]
    Unreadable(String),
    /// The mapping or the sample does not allow a safe run.
    #[error("{0}")]
    Config(String),
}

/// Progress counters shared with a progress display.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub bytes: ByteCounter,
    /// Rows normalized and handed to the consumer, and of them valid: counted per
    /// batch before the consumer takes it (an import's feed blocks on the senders).
    pub rows: Arc<AtomicU64>,
    pub valid: Arc<AtomicU64>,
    /// Rows the reader framed, and whether it reached the end of the file.
    pub framed: Arc<AtomicU64>,
    pub read_all: Arc<std::sync::atomic::AtomicBool>,
}

enum Control {
    Header(Opened, source::Header),
    Sample(Vec<Row>),
}

enum Data {
    Rows(u64, Vec<Row>),
    Failed(u64, SourceError),
}

/// The reader's side of the data channel: a batch of rows waits for one of
/// `IN_FLIGHT` credits, given back as the in-order thread consumes batches.
struct DataTx {
    data: Sender<Data>,
    credits: Receiver<()>,
}

impl DataTx {
    /// Err when the other side is gone.
    fn send(&self, d: Data) -> Result<(), ()> {
        if matches!(d, Data::Rows(..)) {
            self.credits.recv().map_err(|_| ())?;
        }
        self.data.send(d).map_err(|_| ())
    }
}

enum Done<T> {
    /// A batch's prepared outcomes, the text their preparation wrote, and the
    /// profile of its valid leads.
    Outcomes(u64, Vec<T>, String, Box<BatchProfile>),
    Failed(u64, SourceError),
}

/// Receives a file's results on the caller's thread.
pub trait Consumer<T> {
    /// The file's shape, once, before the first outcome.
    fn start(&mut self, info: &FileInfo);
    /// The prepared outcomes of a batch of rows, in file order, and the text that
    /// preparing them wrote (each item's after the previous one's); every row comes
    /// in one batch. `Break` stops the run.
    fn batch(&mut self, items: Vec<T>, text: &str) -> ControlFlow<()>;
    /// The profile of the file's first batch (the rows of the sample the
    /// normalizer was calibrated on), before that batch's outcomes: an import
    /// warns from it before any lead is sent.
    fn sampled(&mut self, _profile: &Profiler) {}
    /// After the last outcome of a file read to its end.
    fn finish(&mut self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// Work done on the normalizing threads after a row is normalized (fingerprints,
/// rendering), so that the in-order consumer does as little as possible. Text it
/// appends to the `String` (one per batch, such as emitted lines) reaches the
/// consumer with the batch: one buffer for a batch's lines, not one for each.
pub type Prepare<'a, T> = &'a (dyn Fn(Outcome, &mut String) -> T + Sync);

/// What the consumer keeps of a valid lead's original cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// Kept in the lead (an import writes them to the rejects file should the
    /// server refuse the lead).
    Keep,
    /// Not needed (validate): handed back to the CSV reader's thread, which reuses
    /// them for the next rows, instead of being freed on another thread one by one.
    Recycle,
}

/// Read, frame and normalize `input`, `prepare` each outcome in parallel and feed
/// `consumer` in file order; the valid leads of every batch fed are added to
/// `profile` (profiled on the normalizing threads, merged here in order). Returns
/// whether the consumer stopped the run early.
pub fn run_file<T: Send>(
    input: &Input,
    cfg: &InputPlan,
    counters: &Counters,
    cells: Cells,
    prepare: Prepare<'_, T>,
    consumer: &mut dyn Consumer<T>,
    profile: &mut Profiler,
) -> Result<bool, FileError> {
    let (ctl_tx, ctl_rx) = bounded::<Result<Control, SourceError>>(2);
    let (go_tx, go_rx) = bounded::<Option<Vec<usize>>>(1);
    let (data_tx, data_rx) = bounded::<Data>(8);
    let (credit_tx, credit_rx) = bounded::<()>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = credit_tx.send(());
    }
    let data_tx = DataTx {
        data: data_tx,
        credits: credit_rx,
    };
    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let (spent_tx, spent_rx) = bounded::<Vec<Vec<Cell>>>(workers * 2);
    let spent_tx = (cells == Cells::Recycle).then_some(spent_tx);
    let spares = Spares::new(workers * 2, IN_FLIGHT);

    thread::scope(|scope| {
        let reader = thread::Builder::new()
            .name("reader".into())
            .spawn_scoped(scope, || {
                read_file(input, cfg, counters, ctl_tx, go_rx, data_tx, spent_rx)
            })
            .map_err(|e| FileError::Unreadable(format!("cannot start the reader: {e}")))?;

        let result = drive(
            cfg, counters, workers, scope, &ctl_rx, go_tx, data_rx, credit_tx, spent_tx, spares,
            prepare, consumer, profile,
        );
        drop(ctl_rx);
        match reader.join() {
            Ok(()) => result,
            Err(_) => Err(FileError::Unreadable(
                "internal error: the reader stopped unexpectedly".into(),
            )),
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn drive<'scope, 'env, T: Send>(
    cfg: &'env InputPlan,
    counters: &Counters,
    workers: usize,
    scope: &'scope thread::Scope<'scope, 'env>,
    ctl_rx: &Receiver<Result<Control, SourceError>>,
    go_tx: Sender<Option<Vec<usize>>>,
    data_rx: Receiver<Data>,
    credits: Sender<()>,
    spent_tx: Option<Sender<Vec<Vec<Cell>>>>,
    spares: Spares,
    prepare: Prepare<'env, T>,
    consumer: &mut dyn Consumer<T>,
    profile: &mut Profiler,
) -> Result<bool, FileError> {
    let unreadable = |e: SourceError| FileError::Unreadable(e.to_string());
    let (opened, header) = match ctl_rx.recv() {
        Ok(Ok(Control::Header(o, h))) => (o, h),
        Ok(Err(e)) => return Err(unreadable(e)),
        _ => return Err(reader_stopped()),
    };
    let (mut normalizer, info, projection) = mapped(cfg, &opened, &header)?;
    if go_tx.send(projection).is_err() {
        return Err(reader_stopped());
    }
    let sample = match ctl_rx.recv() {
        Ok(Ok(Control::Sample(rows))) => rows,
        Ok(Err(e)) => return Err(unreadable(e)),
        _ => return Err(reader_stopped()),
    };
    let locator = opened.locator.clone();
    normalizer
        .calibrate(&sample, &|pos| locator.describe(pos, None))
        .map_err(|e| FileError::Config(e.0))?;
    drop(sample);
    consumer.start(&info);

    // Only the CSV reader reuses cells; the others would only hold them longer.
    let spent_tx = spent_tx.filter(|_| matches!(opened.format, Format::Csv | Format::Tsv));
    let normalizer = Arc::new(normalizer);
    let (done_tx, done_rx) = bounded::<Done<T>>(workers * 2);
    for i in 0..workers {
        let rx = data_rx.clone();
        let tx = done_tx.clone();
        let n = Arc::clone(&normalizer);
        let spent = spent_tx.clone();
        let spare = spares.clone();
        thread::Builder::new()
            .name(format!("normalize-{i}"))
            .spawn_scoped(scope, move || {
                normalize_batches(&n, prepare, rx, tx, spent, &spare)
            })
            .map_err(|e| FileError::Unreadable(format!("cannot start a worker: {e}")))?;
    }
    drop(done_tx);
    drop(data_rx);
    drop(spent_tx);

    in_order(&done_rx, &credits, counters, &spares, consumer, profile)
}

/// Buffers the in-order thread hands back to the normalizing threads once it is
/// done with a batch, so that each batch does not allocate and grow its own: the
/// batch's text, and what its profile gathered (its leads' clicks and values,
/// grown by doubling when made afresh).
#[derive(Clone)]
struct Spares {
    text_tx: Sender<String>,
    text_rx: Receiver<String>,
    profile_tx: Sender<Box<BatchProfile>>,
    profile_rx: Receiver<Box<BatchProfile>>,
}

impl Spares {
    /// `texts` spare texts (a batch's `--emit` lines; empty without it);
    /// `profiles` spare profiles: as many as batches in flight, so that none is
    /// made afresh once the run is under way (each holds a batch's clicks and
    /// values: about 100 KB, see `BatchProfile::reusable`).
    fn new(texts: usize, profiles: usize) -> Spares {
        let (text_tx, text_rx) = bounded(texts);
        let (profile_tx, profile_rx) = bounded(profiles);
        Spares {
            text_tx,
            text_rx,
            profile_tx,
            profile_rx,
        }
    }

    /// A profile to fill: a spare one emptied, or a new one.
    fn profile(&self) -> Box<BatchProfile> {
        match self.profile_rx.try_recv() {
            Ok(mut p) => {
                p.clear();
                p
            }
            Err(_) => Box::default(),
        }
    }
}

/// The in-order thread's loop: put batches back in file order, count their
/// profiles and feed their outcomes to the consumer. Returns whether the consumer
/// stopped the run early.
fn in_order<T>(
    done_rx: &Receiver<Done<T>>,
    credits: &Sender<()>,
    counters: &Counters,
    spares: &Spares,
    consumer: &mut dyn Consumer<T>,
    profile: &mut Profiler,
) -> Result<bool, FileError> {
    let mut next = 0u64;
    let mut parked: BTreeMap<u64, Done<T>> = BTreeMap::new();
    for done in done_rx.iter() {
        let seq = match &done {
            Done::Outcomes(s, ..) | Done::Failed(s, _) => *s,
        };
        parked.insert(seq, done);
        while let Some(done) = parked.remove(&next) {
            next += 1;
            match done {
                Done::Failed(_, e) => return Err(FileError::Unreadable(e.to_string())),
                Done::Outcomes(_, outcomes, text, leads) => {
                    let _ = credits.try_send(());
                    profile.add_batch(&leads);
                    // A full channel: the threads have enough; this one is freed,
                    // as is one grown large by long values.
                    if leads.reusable() {
                        let _ = spares.profile_tx.try_send(leads);
                    }
                    if next == 1 {
                        consumer.sampled(profile);
                    }
                    counters
                        .rows
                        .fetch_add(outcomes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    let valid = profile.leads();
                    counters
                        .valid
                        .store(valid, std::sync::atomic::Ordering::Relaxed);
                    if consumer.batch(outcomes, &text).is_break() {
                        return Ok(true);
                    }
                    // A full channel: the threads have enough; this one is freed here,
                    // as is one grown large by a huge row.
                    if text.capacity() <= MAX_RECYCLED_TEXT {
                        let _ = spares.text_tx.try_send(text);
                    }
                }
            }
        }
    }
    Ok(consumer.finish().is_break())
}

fn reader_stopped() -> FileError {
    FileError::Unreadable("the reader stopped unexpectedly".into())
}

/// The file's mapping from its header: the normalizer, what the consumer learns,
/// and the columns a schema reader (Parquet) is to read: the mapped ones, and every
/// one it can when rejected rows are written whole.
fn mapped(
    cfg: &InputPlan,
    opened: &Opened,
    header: &source::Header,
) -> Result<(Normalizer, FileInfo, Option<Vec<usize>>), FileError> {
    if header.names.iter().all(String::is_empty) {
        return Err(FileError::Config(
            "the file has no header row with column names".into(),
        ));
    }
    let mut normalizer =
        Normalizer::new(&header.names, &cfg.normalize).map_err(|e| FileError::Config(e.0))?;
    normalizer.set_excel_epoch(opened.excel_epoch);
    let projection = header.pos.is_none().then(|| {
        let mut used = normalizer.used_columns();
        if cfg.all_columns {
            used.extend(header.readable.iter().flatten());
            used.sort_unstable();
            used.dedup();
        }
        used
    });
    if let Some(p) = &projection {
        normalizer.project(p);
    }
    let info = FileInfo {
        format: opened.format,
        locator: opened.locator.clone(),
        header: normalizer.header().to_vec(),
        header_pos: header.pos,
        mapping: normalizer.describe(),
        size: opened.size,
        progress_in_bytes: opened.progress_in_bytes,
        total_rows: opened.total_rows,
    };
    Ok((normalizer, info, projection))
}

fn normalize_batches<T>(
    n: &Normalizer,
    prepare: Prepare<'_, T>,
    rx: Receiver<Data>,
    tx: Sender<Done<T>>,
    spent_tx: Option<Sender<Vec<Vec<Cell>>>>,
    spares: &Spares,
) {
    let mut last_text = 0;
    for msg in rx.iter() {
        let done = match msg {
            Data::Rows(seq, rows) => {
                let mut spent = Vec::new();
                // A new buffer is made the size of the last batch's text, rather
                // than grown by doubling (each step frees a large block).
                let mut text = spares
                    .text_rx
                    .try_recv()
                    .unwrap_or_else(|_| String::with_capacity(last_text + last_text / 4));
                text.clear();
                let mut profile = spares.profile();
                let outcomes = rows
                    .into_iter()
                    .map(|r| {
                        let mut o = n.normalize_counted(r, &mut *profile);
                        if let Outcome::Valid(lead) = &mut o {
                            profile.add(lead);
                            if spent_tx.is_some() {
                                spent.push(std::mem::take(&mut lead.cells));
                            }
                        }
                        prepare(o, &mut text)
                    })
                    .collect();
                if let Some(s) = &spent_tx {
                    // A full channel: the reader has enough; these are freed here.
                    let _ = s.try_send(spent);
                }
                last_text = text.len();
                Done::Outcomes(seq, outcomes, text, profile)
            }
            Data::Failed(seq, e) => Done::Failed(seq, e),
        };
        if tx.send(done).is_err() {
            return;
        }
    }
}
