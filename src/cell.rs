//! The data model of a row as read: typed cells, a record and a framed row, and an
//! Excel workbook's date system. Readers (`source`) make them, `normalize` reads
//! them, a `lead` keeps its row's cells: this module uses none of those.

use std::fmt;

use compact_str::CompactString;
use jiff::Timestamp;
use jiff::civil;

/// One typed value. XLSX date cells and Parquet timestamps arrive as times, not text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(CompactString),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A wall-clock time without a zone (Excel dates, zone-less Parquet timestamps).
    Naive(civil::DateTime),
    /// An exact instant (zoned Parquet timestamps).
    Instant(Timestamp),
}

impl Cell {
    /// Text as read: `Empty` when there is none.
    pub fn from_text(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.into())
        }
    }

    /// True for an empty cell or text that is only white space.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => trim(s).is_empty(),
            _ => false,
        }
    }

    /// The cell as text, trimmed; `None` when blank.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Cell::Empty => None,
            Cell::Text(s) => {
                let t = trim(s);
                (!t.is_empty()).then_some(Cow::Borrowed(t))
            }
            other => Some(Cow::Owned(other.to_string())),
        }
    }
}

/// `str::trim`, with a fast exit for the usual case of nothing to trim (it runs for
/// every cell of every row).
pub fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        (None, _) => s,
        _ => s.trim(),
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Empty => Ok(()),
            Cell::Text(s) => f.write_str(s),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Naive(dt) => write!(f, "{dt}"),
            Cell::Instant(ts) => write!(f, "{ts}"),
        }
    }
}

/// An Excel workbook's date system: where its serial day 0 is.
///
/// Source: Microsoft, "Differences between the 1900 and the 1904 date system in
/// Excel" (learn.microsoft.com/office/troubleshoot/excel/1900-and-1904-date-system):
/// serial 1 is 1900-01-01 in the 1900 system (which counts a 1900-02-29 that never
/// was, serial 60) and serial 0 is 1904-01-01 in the 1904 system, 1,462 days after
/// the 1900 system's day 0; a workbook says which with ECMA-376 Part 1's
/// `workbookPr/@date1904`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExcelEpoch {
    /// Windows Excel, and every workbook without `date1904`: day 0 is 1899-12-30
    /// for serials from 61 (1900-03-01) on.
    #[default]
    E1900,
    /// Excel for Mac before 2011 (and workbooks made from those): day 0 is 1904-01-01.
    E1904,
}

/// A record as the reader saw it: its physical position and its cells.
#[derive(Debug, Clone)]
pub struct Record {
    /// CSV: line number where the record starts; XLSX: 1-based sheet row;
    /// Parquet: 1-based row index.
    pub pos: u64,
    pub cells: Vec<Cell>,
    /// Something wrong with the record as a whole (bad bytes).
    pub defect: Option<Defect>,
}

/// A problem with a row's shape or bytes, found before normalizing; it rejects the row.
#[derive(Debug, Clone, PartialEq)]
pub struct Defect {
    /// 0-based column, when one is to blame.
    pub column: Option<usize>,
    pub reason: String,
}

/// A data row after framing.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based number of the data row (header excluded, empty rows not counted).
    pub ordinal: u64,
    pub pos: u64,
    pub cells: Vec<Cell>,
    /// Set when the row cannot be taken as it is (ragged, bad bytes).
    pub defect: Option<Defect>,
}
