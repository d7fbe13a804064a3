//! XLSX through calamine's streaming cell reader: the sheet XML is parsed as it is
//! read; cells are grouped into rows here.

use std::fs::File;
use std::io::BufReader;

use calamine::{DataRef, Reader, Xlsx, XlsxCellReader};

use super::{
    Cell, ExcelEpoch, Input, Locator, Opened, ReadOptions, Record, RecordReader, SourceError,
};
use crate::normalize::time::excel_float_naive;

/// Excel's own limit; a cell beyond it is a damaged or hostile file.
const MAX_COLUMNS: u32 = 16_384;
/// Parts that calamine loads whole (shared strings, styles, workbook) may not
/// unpack to more than this: a zip bomb would otherwise take all memory. Sheets are
/// streamed and have no such limit.
const MAX_WHOLE_PART: u64 = 256 * 1024 * 1024;

/// Refuse a workbook whose whole-loaded parts unpack beyond the limit.
fn check_parts(file: &File) -> Result<(), SourceError> {
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| SourceError::invalid(format!("not a readable XLSX workbook: {e}")))?;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if name.starts_with("xl/worksheets/") {
            continue;
        }
        if entry.size() > MAX_WHOLE_PART {
            return Err(SourceError::invalid(format!(
                "the workbook part {name} unpacks to {} MB (from {} KB); setclick refuses parts \
                 above {} MB that must be loaded whole (a zip bomb?). Export the sheet as CSV",
                entry.size() >> 20,
                entry.compressed_size() >> 10,
                MAX_WHOLE_PART >> 20
            )));
        }
    }
    Ok(())
}

pub(super) fn with_reader<T>(
    input: &Input,
    opts: &ReadOptions,
    f: impl FnOnce(&Opened, &mut dyn RecordReader) -> T,
) -> Result<T, SourceError> {
    let Input::Path(path) = input else {
        return Err(SourceError::invalid(
            "XLSX cannot be read from stdin; give the file's path",
        ));
    };
    let file = File::open(path)?;
    let size = file.metadata().ok().map(|m| m.len());
    check_parts(&file)?;
    std::io::Seek::rewind(&mut &file)?;
    let mut book = Xlsx::new(BufReader::new(file))
        .map_err(|e| SourceError::invalid(format!("not a readable XLSX workbook: {e}")))?;
    let epoch = if book.has_1904_epoch() {
        ExcelEpoch::E1904
    } else {
        ExcelEpoch::E1900
    };
    let names = book.sheet_names();
    let sheet = match &opts.sheet {
        Some(s) => names
            .iter()
            .find(|n| *n == s)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(s)))
            .cloned()
            .ok_or_else(|| {
                SourceError::invalid(format!(
                    "no sheet named '{s}'; the workbook has: {}",
                    names.join(", ")
                ))
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| SourceError::invalid("the workbook has no sheets"))?,
    };
    let cells = book
        .worksheet_cells_reader(&sheet)
        .map_err(|e| SourceError::invalid(format!("cannot read sheet '{sheet}': {e}")))?;
    let mut records = XlsxRecords {
        cells,
        epoch,
        lookahead: None,
        done: false,
    };
    let opened = Opened {
        format: super::Format::Xlsx,
        locator: Locator::Sheet(sheet),
        size,
        progress_in_bytes: false,
        total_rows: None,
        excel_epoch: epoch,
    };
    Ok(f(&opened, &mut records))
}

struct XlsxRecords<'a> {
    cells: XlsxCellReader<'a, BufReader<File>>,
    /// The workbook's date system, for its date cells.
    epoch: ExcelEpoch,
    lookahead: Option<(u32, u32, Cell)>,
    done: bool,
}

impl XlsxRecords<'_> {
    fn next_cell(&mut self) -> Result<Option<(u32, u32, Cell)>, SourceError> {
        if let Some(c) = self.lookahead.take() {
            return Ok(Some(c));
        }
        if self.done {
            return Ok(None);
        }
        match self.cells.next_cell() {
            Ok(Some(cell)) => {
                let (row, col) = cell.get_position();
                if col >= MAX_COLUMNS {
                    return Err(SourceError::invalid(format!(
                        "cell at row {} column {} is beyond Excel's {MAX_COLUMNS} columns",
                        row + 1,
                        col + 1
                    )));
                }
                Ok(Some((row, col, convert(cell.get_value(), self.epoch))))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => Err(SourceError::invalid(format!("damaged sheet data: {e}"))),
        }
    }
}

impl RecordReader for XlsxRecords<'_> {
    fn next_record(&mut self) -> Result<Option<Record>, SourceError> {
        let Some((row, col, cell)) = self.next_cell()? else {
            return Ok(None);
        };
        let mut cells = Vec::new();
        place(&mut cells, col, cell);
        while let Some((r, c, cell)) = self.next_cell()? {
            if r != row {
                self.lookahead = Some((r, c, cell));
                break;
            }
            place(&mut cells, c, cell);
        }
        Ok(Some(Record {
            pos: u64::from(row) + 1,
            cells,
            defect: None,
        }))
    }

    fn pads_short_rows(&self) -> bool {
        true
    }
}

fn place(cells: &mut Vec<Cell>, col: u32, cell: Cell) {
    let col = col as usize;
    if cells.len() <= col {
        cells.resize(col + 1, Cell::Empty);
    }
    cells[col] = cell;
}

fn convert(value: &DataRef<'_>, epoch: ExcelEpoch) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(x) => Cell::Float(*x),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::String(s) => Cell::from_text(s),
        DataRef::SharedString(s) => Cell::from_text(s),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::from_text(s),
        DataRef::DateTime(dt) if dt.is_datetime() => excel_datetime(dt, epoch),
        DataRef::DateTime(dt) => Cell::Float(dt.as_f64()),
        DataRef::Error(e) => Cell::Text(compact_str::format_compact!("#{e:?}")),
    }
}

/// A date-formatted cell is a wall-clock time, its serial days counted in the
/// workbook's date system and rounded to the nearest millisecond as every other
/// number in a time column is (`normalize::time`).
fn excel_datetime(dt: &calamine::ExcelDateTime, epoch: ExcelEpoch) -> Cell {
    match excel_float_naive(dt.as_f64(), epoch) {
        Some(naive) => Cell::Naive(naive),
        // Excel's phantom 1900-02-29 and out-of-range serials: keep the number.
        None => Cell::Float(dt.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{ExcelDateTime, ExcelDateTimeType};
    use jiff::civil;

    #[test]
    fn excel_serials_in_both_date_systems() {
        // 2021-10-20 07:30 is serial 44489.3125 in the 1900 system and 1462 days less
        // in the 1904 system (Mac workbooks).
        let want = Cell::Naive(civil::date(2021, 10, 20).at(7, 30, 0, 0));
        let d1900 = ExcelDateTime::new(44489.3125, ExcelDateTimeType::DateTime, false);
        let d1904 = ExcelDateTime::new(43027.3125, ExcelDateTimeType::DateTime, true);
        assert_eq!(excel_datetime(&d1900, ExcelEpoch::E1900), want);
        assert_eq!(excel_datetime(&d1904, ExcelEpoch::E1904), want);
        // Durations stay numbers.
        let dur = DataRef::DateTime(ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false));
        assert_eq!(convert(&dur, ExcelEpoch::E1900), Cell::Float(1.5));
        assert_eq!(
            convert(&DataRef::SharedString(""), ExcelEpoch::E1900),
            Cell::Empty
        );
        assert_eq!(
            convert(&DataRef::Bool(true), ExcelEpoch::E1900),
            Cell::Bool(true)
        );
    }

    /// A date cell a hair under a whole minute (Excel's 15 digits) is that minute, as
    /// calamine's own conversion says too.
    #[test]
    fn date_cells_round_as_calamine_does() {
        let serial = 45413.6222222222; // 2024-05-01 14:56:00.000, a hair under.
        let dt = ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false);
        let want = Cell::Naive(civil::date(2024, 5, 1).at(14, 56, 0, 0));
        assert_eq!(excel_datetime(&dt, ExcelEpoch::E1900), want);
        assert_eq!(dt.to_ymd_hms_milli(), (2024, 5, 1, 14, 56, 0, 0));
    }
}
