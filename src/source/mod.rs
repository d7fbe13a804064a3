//! Readers: turn a CSV, XLSX or Parquet file into records of typed cells, find the
//! header row, and frame data rows (ordinals, empty rows, ragged rows).

mod csv;
mod frame;
mod parquet;
mod parquet_footer;
mod xlsx;

use std::path::{Path, PathBuf};

pub use crate::cell::{Cell, Defect, ExcelEpoch, Record, Row, trim};
pub use frame::{FrameOptions, Framer, Header};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Xlsx,
    Parquet,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The format a file name implies, and whether it is gzip-compressed.
    pub fn from_path(path: &Path) -> Option<(Format, bool)> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let (stem, gz) = match name.strip_suffix(".gz") {
            Some(stem) => (stem.to_string(), true),
            None => (name, false),
        };
        let ext = Path::new(&stem).extension()?.to_str()?;
        let format = match ext {
            "csv" | "txt" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "xlsx" | "xlsm" if !gz => Format::Xlsx,
            "parquet" | "pq" if !gz => Format::Parquet,
            _ => return None,
        };
        Some((format, gz))
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Xlsx => "xlsx",
            Format::Parquet => "parquet",
        }
    }
}

/// How to describe where a row or cell is, in the terms of its format.
#[derive(Debug, Clone)]
pub enum Locator {
    Lines,
    Sheet(String),
    Rows,
}

impl Locator {
    /// `line 14`, `Leads!C17` or `row 17`; `column` is a 0-based index.
    pub fn describe(&self, pos: u64, column: Option<usize>) -> String {
        match self {
            Locator::Lines => format!("line {pos}"),
            Locator::Sheet(name) => match column {
                Some(c) => format!("{name}!{}{pos}", column_letters(c)),
                None => format!("{name}, row {pos}"),
            },
            Locator::Rows => format!("row {pos}"),
        }
    }
}

/// Spreadsheet column letters for a 0-based index: 0 -> A, 26 -> AA.
pub fn column_letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Where input comes from.
#[derive(Debug, Clone)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

impl Input {
    pub fn display(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
        }
    }
}

/// Reader options that come from flags.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Option<Format>,
    pub delimiter: Option<u8>,
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub sheet: Option<String>,
    pub gzip: Option<bool>,
}

/// A reader's failure: the whole file (or the rest of it) cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

impl SourceError {
    pub fn invalid(msg: impl Into<String>) -> SourceError {
        SourceError::Invalid(msg.into())
    }
}

/// Something that yields records one at a time.
pub trait RecordReader {
    /// The column names when the format carries them (Parquet); `None` means the
    /// header is to be found among the first records.
    fn schema_header(&mut self) -> Option<Vec<String>> {
        None
    }
    /// The columns (indices into the schema header) whose type the reader can
    /// read; `None` without a schema.
    fn readable_columns(&mut self) -> Option<Vec<usize>> {
        None
    }
    /// Read only these columns (indices into the schema header). Called at most once,
    /// before the first record; readers without a schema ignore it.
    fn project(&mut self, _columns: &[usize]) -> Result<(), SourceError> {
        Ok(())
    }
    fn next_record(&mut self) -> Result<Option<Record>, SourceError>;
    /// Whether short rows are normal (spreadsheets omit trailing empty cells).
    fn pads_short_rows(&self) -> bool {
        false
    }
    /// The cells of rows done with, for the next records to reuse (their text
    /// buffers, and freeing on the thread that allocated them); readers that have
    /// no use for them drop them.
    fn recycle(&mut self, _spent: Vec<Vec<Cell>>) {}
}

/// What a caller learns about the opened file.
#[derive(Debug, Clone)]
pub struct Opened {
    pub format: Format,
    pub locator: Locator,
    /// Total input size in bytes when known (for progress).
    pub size: Option<u64>,
    /// Progress is measured in bytes read (CSV) rather than rows.
    pub progress_in_bytes: bool,
    /// Data rows in the file, when its metadata says (Parquet).
    pub total_rows: Option<u64>,
    /// The date system of Excel serial numbers in the file: a workbook's own (XLSX
    /// `workbookPr/@date1904`), the 1900 system for other formats.
    pub excel_epoch: ExcelEpoch,
}

/// Shared counter of bytes read, for progress.
pub type ByteCounter = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// Open `input` and hand a record reader to `f`. Readers that borrow from their file
/// (XLSX) live only inside this call.
pub fn with_reader<T>(
    input: &Input,
    opts: &ReadOptions,
    bytes: ByteCounter,
    f: impl FnOnce(&Opened, &mut dyn RecordReader) -> T,
) -> Result<T, SourceError> {
    let (format, gz) = match (opts.format, input) {
        (Some(f), Input::Path(p)) => (
            f,
            opts.gzip
                .unwrap_or_else(|| Format::from_path(p).is_some_and(|(_, gz)| gz)),
        ),
        (Some(f), Input::Stdin) => (f, opts.gzip.unwrap_or(false)),
        (None, Input::Stdin) => (Format::Csv, opts.gzip.unwrap_or(false)),
        (None, Input::Path(p)) => Format::from_path(p).ok_or_else(|| {
            SourceError::invalid(
                "unknown file type; name it .csv, .tsv, .csv.gz, .xlsx or .parquet, or give --format",
            )
        })?,
    };
    match format {
        Format::Csv | Format::Tsv => {
            let default_delim = (format == Format::Tsv).then_some(b'\t');
            csv::with_reader(input, opts, gz, default_delim, bytes, |opened, r| {
                f(
                    &Opened {
                        format,
                        ..opened.clone()
                    },
                    r,
                )
            })
        }
        Format::Xlsx => xlsx::with_reader(input, opts, f),
        Format::Parquet => parquet::with_reader(input, f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_cover_two_letter_columns() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn format_from_path_knows_gzip() {
        assert_eq!(
            Format::from_path(Path::new("a/Leads.CSV.gz")),
            Some((Format::Csv, true))
        );
        assert_eq!(
            Format::from_path(Path::new("x.tsv")),
            Some((Format::Tsv, false))
        );
        assert_eq!(
            Format::from_path(Path::new("x.parquet")),
            Some((Format::Parquet, false))
        );
        assert_eq!(Format::from_path(Path::new("x.xlsx.gz")), None);
        assert_eq!(Format::from_path(Path::new("x.json")), None);
    }
}
