//! CSV and TSV: gzip, encodings, BOM, delimiter sniffing, records with line numbers.

use std::collections::VecDeque;

use compact_str::CompactString;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::sync::atomic::Ordering;

use super::{
    ByteCounter, Cell, Input, Locator, Opened, ReadOptions, Record, RecordReader, SourceError,
};

/// How much of the (decoded) start of the file is looked at to sniff the delimiter and
/// check the encoding.
const PREFIX: usize = 64 * 1024;
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Counts the bytes that pass through, for progress.
struct Counting<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub(super) fn with_reader<T>(
    input: &Input,
    opts: &ReadOptions,
    gzip: bool,
    default_delimiter: Option<u8>,
    bytes: ByteCounter,
    f: impl FnOnce(&Opened, &mut dyn RecordReader) -> T,
) -> Result<T, SourceError> {
    let (raw, size): (Box<dyn Read + Send>, Option<u64>) = match input {
        Input::Path(path) => {
            let file = File::open(path)?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        }
        Input::Stdin => (Box::new(io::stdin()), None),
    };
    let counted = Counting {
        inner: raw,
        counter: bytes,
    };
    let mut stream: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            counted,
        )))
    } else {
        Box::new(counted)
    };

    let mut prefix = read_prefix(&mut stream, PREFIX)?;
    if prefix.is_empty() {
        return Err(SourceError::invalid("the file is empty"));
    }
    if let Some(kind) = other_format(&prefix) {
        return Err(SourceError::invalid(format!(
            "this is not CSV but binary data ({kind}); give the file its own extension or --format"
        )));
    }
    let explicit = opts.encoding.filter(|e| *e != encoding_rs::UTF_8);
    let utf16_bom = prefix.starts_with(&[0xFF, 0xFE]) || prefix.starts_with(&[0xFE, 0xFF]);
    if explicit.is_some() || utf16_bom {
        // Transcode to UTF-8; a BOM, if present, decides the encoding.
        let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(explicit)
            .build(io::Cursor::new(prefix).chain(stream));
        stream = Box::new(decoder);
        prefix = read_prefix(&mut stream, PREFIX)?;
    } else {
        if prefix.starts_with(b"\xEF\xBB\xBF") {
            prefix.drain(..3);
        }
        check_utf8_prefix(&prefix)?;
    }
    if prefix.contains(&0) && looks_binary(&prefix) {
        return Err(SourceError::invalid(
            "this does not look like a text (CSV) file: it holds binary data",
        ));
    }

    let delimiter = opts
        .delimiter
        .or(default_delimiter)
        .unwrap_or_else(|| sniff_delimiter(&prefix));
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(LineTracker::new(io::Cursor::new(prefix).chain(stream)));
    let mut records = CsvRecords {
        reader,
        record: csv::ByteRecord::new(),
        spare: Vec::new(),
    };
    let opened = Opened {
        format: super::Format::Csv,
        locator: Locator::Lines,
        size,
        progress_in_bytes: true,
        total_rows: None,
        excel_epoch: super::ExcelEpoch::E1900,
    };
    Ok(f(&opened, &mut records))
}

fn read_prefix(r: &mut dyn Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(limit);
    r.take(limit as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Invalid UTF-8 at the start of the file means a wrong encoding: stop with a hint.
/// (Later stray bytes reject only their row.)
fn check_utf8_prefix(prefix: &[u8]) -> Result<(), SourceError> {
    match std::str::from_utf8(prefix) {
        Ok(_) => Ok(()),
        // A character cut in two by the end of the prefix is fine.
        Err(e) if e.error_len().is_none() => Ok(()),
        Err(e) => {
            let offset = e.valid_up_to();
            let line = 1 + prefix[..offset].iter().filter(|&&b| b == b'\n').count();
            Err(SourceError::invalid(format!(
                "invalid UTF-8 at line {line} (byte offset {offset}): the file is not UTF-8; \
                 if it comes from Windows or Excel, try --encoding windows-1252"
            )))
        }
    }
}

/// Formats recognized by their first bytes.
fn other_format(prefix: &[u8]) -> Option<&'static str> {
    Some(match prefix {
        [b'P', b'A', b'R', b'1', ..] => "a Parquet file: --format parquet",
        [b'P', b'K', 3, 4, ..] => "a zip archive, perhaps XLSX: --format xlsx",
        [0xD0, 0xCF, 0x11, 0xE0, ..] => "an old Excel .xls file: save it as .xlsx or CSV",
        [0x1F, 0x8B, ..] => "gzip: name it .csv.gz",
        [b'%', b'P', b'D', b'F', ..] => "a PDF document",
        _ => return None,
    })
}

/// Many NUL or control bytes: a binary file with a text name.
fn looks_binary(prefix: &[u8]) -> bool {
    let control = prefix
        .iter()
        .filter(|&&b| b < 0x09 || (b > 0x0D && b < 0x20))
        .count();
    control * 10 > prefix.len().min(4096) || prefix.iter().take(1024).any(|&b| b == 0)
}

/// Pick the delimiter that splits the first lines into the most consistent number of
/// fields (more than one). Title lines above the header do not spoil the vote.
pub fn sniff_delimiter(prefix: &[u8]) -> u8 {
    let cut = match prefix.iter().rposition(|&b| b == b'\n') {
        Some(i) if prefix.len() == PREFIX => &prefix[..=i],
        _ => prefix,
    };
    let mut best = (0usize, 0usize, b',');
    for &d in &CANDIDATES {
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .flexible(true)
            .from_reader(cut);
        let mut counts: Vec<usize> = Vec::new();
        let mut rec = csv::ByteRecord::new();
        while counts.len() < 50 {
            match rdr.read_byte_record(&mut rec) {
                Ok(true) => counts.push(rec.len()),
                _ => break,
            }
        }
        let mut mode = (0usize, 0usize); // (lines, fields)
        for &c in counts.iter().filter(|&&c| c > 1) {
            let n = counts.iter().filter(|&&x| x == c).count();
            if (n, c) > mode {
                mode = (n, c);
            }
        }
        if (mode.0, mode.1) > (best.0, best.1) {
            best = (mode.0, mode.1, d);
        }
    }
    best.2
}

/// Where lines start, for exact line numbers. The csv crate reports a record's
/// position as where the previous one ended, which lands before blank lines and,
/// with CRLF, before the previous record's `\n`. This wrapper notes each run of
/// `\r`/`\n` bytes the parser is fed, so a record's first content byte (and so its
/// line) can be found from that position. Runs behind the parser are dropped: memory
/// is bounded by the parser's read-ahead.
struct LineTracker<R> {
    inner: R,
    offset: u64,
    lines: u64,
    /// Start of the terminator run being read, if any.
    open: Option<u64>,
    /// Offset just past the last terminator byte.
    last_end: u64,
    /// Closed runs: (start, end exclusive, `\n` count up to end).
    runs: VecDeque<(u64, u64, u64)>,
}

impl<R> LineTracker<R> {
    fn new(inner: R) -> LineTracker<R> {
        LineTracker {
            inner,
            offset: 0,
            lines: 0,
            open: None,
            last_end: 0,
            runs: VecDeque::new(),
        }
    }

    /// The 1-based line of the first content byte at or after `byte`, where `byte` is
    /// a record position reported by the csv crate.
    fn line_of(&mut self, byte: u64) -> Option<u64> {
        while self.runs.front().is_some_and(|r| r.1 < byte) {
            self.runs.pop_front();
        }
        if let Some(&(start, end, lines)) = self.runs.front()
            && start <= byte
            && byte <= end
        {
            return Some(lines + 1);
        }
        if let Some(start) = self.open
            && start <= byte
            && byte <= self.last_end
        {
            return Some(self.lines + 1);
        }
        (byte == 0).then_some(1)
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let base = self.offset;
        for i in memchr::memchr2_iter(b'\r', b'\n', &buf[..n]) {
            let pos = base + i as u64;
            match self.open {
                Some(_) if pos == self.last_end => {}
                Some(start) => {
                    self.runs.push_back((start, self.last_end, self.lines));
                    self.open = Some(pos);
                }
                None => self.open = Some(pos),
            }
            if buf[i] == b'\n' {
                self.lines += 1;
            }
            self.last_end = pos + 1;
        }
        self.offset += n as u64;
        if let Some(start) = self.open
            && self.last_end < self.offset
        {
            self.runs.push_back((start, self.last_end, self.lines));
            self.open = None;
        }
        Ok(n)
    }
}

struct CsvRecords<R: Read> {
    reader: csv::Reader<LineTracker<R>>,
    record: csv::ByteRecord,
    /// Cells of rows done with, reused for the next records.
    spare: Vec<Vec<Cell>>,
}

/// Spare rows of cells kept at most (two batches).
const SPARE_ROWS: usize = 2048;

impl<R: Read> RecordReader for CsvRecords<R> {
    fn recycle(&mut self, spent: Vec<Vec<Cell>>) {
        let room = SPARE_ROWS.saturating_sub(self.spare.len());
        self.spare.extend(spent.into_iter().take(room));
    }

    fn next_record(&mut self) -> Result<Option<Record>, SourceError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                return Err(match e.into_kind() {
                    csv::ErrorKind::Io(io) => SourceError::Io(io),
                    other => SourceError::invalid(format!("{other:?}")),
                });
            }
        }
        let (byte, fallback) = self
            .record
            .position()
            .map_or((0, 1), |p| (p.byte(), p.line()));
        let pos = self.reader.get_mut().line_of(byte).unwrap_or(fallback);
        let n = self.record.len();
        let mut cells = self.spare.pop().unwrap_or_default();
        cells.truncate(n);
        let mut bad = None;
        // The record's bytes checked as UTF-8 at once (one call, not one per field);
        // a field is then valid if it starts and ends on character boundaries.
        let whole = std::str::from_utf8(self.record.as_slice()).ok();
        for (i, field) in self.record.iter().enumerate() {
            let text = match (whole, self.record.range(i)) {
                (Some(w), Some(r)) => w.get(r).ok_or(()),
                _ => std::str::from_utf8(field).map_err(|_| ()),
            };
            let cell = match text {
                Ok("") => Cell::Empty,
                // A spare cell's text buffer is reused.
                Ok(text) => match cells.get_mut(i) {
                    Some(Cell::Text(old)) => {
                        old.clear();
                        old.push_str(text);
                        continue;
                    }
                    _ => Cell::Text(CompactString::new(text)),
                },
                Err(_) => {
                    bad.get_or_insert(i);
                    Cell::Text(CompactString::from_utf8_lossy(field))
                }
            };
            match cells.get_mut(i) {
                Some(old) => *old = cell,
                None => cells.push(cell),
            }
        }
        let mut record = Record {
            pos,
            cells,
            defect: None,
        };
        if let Some(col) = bad {
            record.defect = Some(super::Defect {
                column: Some(col),
                reason: "invalid UTF-8 (the file is not UTF-8 here; try --encoding windows-1252)"
                    .to_string(),
            });
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
