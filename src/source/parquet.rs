//! Parquet through polars' eager reader, one bounded slice at a time and only the
//! mapped columns, so memory does not grow with the file.

use std::collections::VecDeque;
use std::fs::File;

use jiff::Timestamp;
use jiff::civil;
use polars::io::parquet::read::FileMetadata;
use polars::prelude::*;
use std::sync::Arc;

use super::{Cell, Input, Locator, Opened, Record, RecordReader, SourceError};

/// Rows decoded at once; a row group larger than this is read in slices. polars
/// decompresses every page a slice touches, so smaller slices decompress pages
/// again (with 16k-row slices of 128k-row groups, three times over). Against 32k,
/// 64k-row slices save about 3% of CPU time and 128k hold 25 MiB more.
const SLICE_ROWS: usize = 32 * 1024;

/// Rows of a decoded slice turned into cells at once: the slice's columns stay
/// compact until then.
const CHUNK_ROWS: usize = 1024;

pub(super) fn with_reader<T>(
    input: &Input,
    f: impl FnOnce(&Opened, &mut dyn RecordReader) -> T,
) -> Result<T, SourceError> {
    let Input::Path(path) = input else {
        return Err(SourceError::invalid(
            "Parquet cannot be read from stdin; give the file's path",
        ));
    };
    let mut file = File::open(path)?;
    let size = file.metadata().ok().map(|m| m.len());
    super::parquet_footer::check(&mut file)
        .map_err(|e| SourceError::invalid(format!("not a readable Parquet file: {e}")))?;
    let (names, metadata) = guard(|| {
        let mut reader = ParquetReader::new(file.try_clone()?);
        let schema = reader.schema()?;
        let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let metadata = reader.get_metadata()?.clone();
        Ok((names, metadata))
    })?;
    let mut slices = VecDeque::new();
    let mut offset = 0usize;
    for (group, rg) in metadata.row_groups.iter().enumerate() {
        let n = rg.num_rows();
        let mut start = 0;
        while start < n {
            let len = SLICE_ROWS.min(n - start);
            slices.push_back(Slice {
                group,
                first: offset,
                start,
                len,
            });
            start += len;
        }
        offset += n;
    }
    let mut records = ParquetRecords {
        file,
        names,
        template: FileMetadata {
            row_groups: Vec::new(),
            ..FileMetadata::clone(&metadata)
        },
        metadata,
        group: None,
        projection: None,
        slices,
        frame: None,
        batch: VecDeque::new(),
    };
    let opened = Opened {
        format: super::Format::Parquet,
        locator: Locator::Rows,
        size,
        progress_in_bytes: false,
        total_rows: Some(records.metadata.num_rows as u64),
        excel_epoch: super::ExcelEpoch::E1900,
    };
    Ok(f(&opened, &mut records))
}

/// Run polars code, turning its errors and panics (on damaged files) into ours.
fn guard<T>(f: impl FnOnce() -> PolarsResult<T>) -> Result<T, SourceError> {
    match crate::panics::quietly(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SourceError::invalid(format!(
            "not a readable Parquet file: {e}"
        ))),
        Err(msg) => Err(SourceError::invalid(format!(
            "not a readable Parquet file: the reader failed on damaged data ({msg})"
        ))),
    }
}

struct ParquetRecords {
    file: File,
    names: Vec<String>,
    metadata: Arc<FileMetadata>,
    /// The file's metadata without its row groups (cloning those for each group
    /// would take time in the square of their number).
    template: FileMetadata,
    /// The file's metadata cut down to the row group being read, and its index.
    group: Option<(usize, Arc<FileMetadata>)>,
    projection: Option<Vec<usize>>,
    slices: VecDeque<Slice>,
    /// The decoded slice, its first row's offset in the file, and the next of its
    /// rows to turn into cells.
    frame: Option<(DataFrame, usize, usize)>,
    batch: VecDeque<Record>,
}

/// Rows `start..start + len` of row group `group`, whose first row is the file's
/// `first`.
struct Slice {
    group: usize,
    first: usize,
    start: usize,
    len: usize,
}

impl ParquetRecords {
    /// Metadata that holds row group `group` alone. polars, asked for a slice of the
    /// whole file, visits every row group (an empty range in all but one), reading
    /// page headers all over the file for each slice: at 10M rows, 76 row groups
    /// for each of 380 slices.
    fn group_metadata(&mut self, group: usize) -> Arc<FileMetadata> {
        if let Some((g, m)) = &self.group
            && *g == group
        {
            return m.clone();
        }
        let rg = self.metadata.row_groups[group].clone();
        let one = Arc::new(FileMetadata {
            num_rows: rg.num_rows(),
            max_row_group_height: rg.num_rows(),
            row_groups: vec![rg],
            ..self.template.clone()
        });
        self.group = Some((group, one.clone()));
        one
    }

    fn read_slice(&mut self, slice: Slice) -> Result<(), SourceError> {
        let offset = slice.first + slice.start;
        let len = slice.len;
        let projection = self.projection.clone().unwrap_or_default();
        if projection.is_empty() {
            // Nothing mapped is read: rows still count.
            for i in 0..len {
                self.batch.push_back(Record {
                    pos: (offset + i) as u64 + 1,
                    cells: Vec::new(),
                    defect: None,
                });
            }
            return Ok(());
        }
        let file = self.file.try_clone()?;
        let metadata = self.group_metadata(slice.group);
        let df = guard(|| {
            let mut reader = ParquetReader::new(file)
                .with_projection(Some(projection.clone()))
                .with_slice(Some((slice.start, len)))
                .read_parallel(ParallelStrategy::None);
            reader.set_metadata(metadata);
            reader.finish()
        })?;
        self.frame = Some((df, offset, 0));
        Ok(())
    }

    /// Turn the next chunk of the decoded slice into records; false when the slice
    /// is done.
    fn next_chunk(&mut self) -> Result<bool, SourceError> {
        let Some((df, offset, next)) = &mut self.frame else {
            return Ok(false);
        };
        let height = df.height();
        if *next >= height {
            self.frame = None;
            return Ok(false);
        }
        let chunk = df.slice(*next as i64, CHUNK_ROWS);
        let first = *offset + *next;
        *next += chunk.height();
        let mut rows: Vec<Vec<Cell>> = (0..chunk.height())
            .map(|_| Vec::with_capacity(chunk.width()))
            .collect();
        for column in chunk.columns() {
            let series = column.as_materialized_series();
            guard(|| push_cells(series, &mut rows))?;
        }
        for (i, cells) in rows.into_iter().enumerate() {
            self.batch.push_back(Record {
                pos: (first + i) as u64 + 1,
                cells,
                defect: None,
            });
        }
        Ok(true)
    }
}

impl RecordReader for ParquetRecords {
    fn schema_header(&mut self) -> Option<Vec<String>> {
        Some(self.names.clone())
    }

    fn readable_columns(&mut self) -> Option<Vec<usize>> {
        let arrow = guard(|| ParquetReader::new(self.file.try_clone()?).schema()).ok()?;
        Some(
            (0..self.names.len())
                .filter(|&c| {
                    arrow
                        .get_at_index(c)
                        .is_some_and(|(_, f)| supported(&DataType::from_arrow_field(f)))
                })
                .collect(),
        )
    }

    fn project(&mut self, columns: &[usize]) -> Result<(), SourceError> {
        let arrow = guard(|| ParquetReader::new(self.file.try_clone()?).schema())?;
        for &c in columns {
            if let Some((name, field)) = arrow.get_at_index(c) {
                let dtype = DataType::from_arrow_field(field);
                if !supported(&dtype) {
                    return Err(SourceError::invalid(format!(
                        "column '{name}' has type {dtype}, which setclick cannot read \
                         (supported: strings, categoricals, integers, floats, booleans, \
                         dates, timestamps)"
                    )));
                }
            }
        }
        self.projection = Some(columns.to_vec());
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<Record>, SourceError> {
        loop {
            if let Some(r) = self.batch.pop_front() {
                return Ok(Some(r));
            }
            if self.next_chunk()? {
                continue;
            }
            let Some(slice) = self.slices.pop_front() else {
                return Ok(None);
            };
            self.read_slice(slice)?;
        }
    }

    fn pads_short_rows(&self) -> bool {
        true
    }
}

fn supported(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric()
        || matches!(
            dtype,
            DataType::String
                | DataType::Boolean
                | DataType::Binary
                | DataType::Date
                | DataType::Datetime(_, _)
                | DataType::Categorical(_, _)
                | DataType::Enum(_, _)
                | DataType::Null
        )
}

fn push_cells(series: &Series, rows: &mut [Vec<Cell>]) -> PolarsResult<()> {
    let mut push = |i: usize, cell: Cell| rows[i].push(cell);
    match series.dtype() {
        DataType::String => {
            for (i, v) in series.str()?.iter().enumerate() {
                push(i, v.map_or(Cell::Empty, Cell::from_text));
            }
        }
        DataType::Categorical(_, _) | DataType::Enum(_, _) => {
            let s = series.cast(&DataType::String)?;
            for (i, v) in s.str()?.iter().enumerate() {
                push(i, v.map_or(Cell::Empty, Cell::from_text));
            }
        }
        DataType::Binary => {
            for (i, v) in series.binary()?.iter().enumerate() {
                push(
                    i,
                    v.map_or(Cell::Empty, |b| {
                        Cell::from_text(&String::from_utf8_lossy(b))
                    }),
                );
            }
        }
        DataType::Boolean => {
            for (i, v) in series.bool()?.iter().enumerate() {
                push(i, v.map_or(Cell::Empty, Cell::Bool));
            }
        }
        DataType::Float32 | DataType::Float64 => {
            let s = series.cast(&DataType::Float64)?;
            for (i, v) in s.f64()?.iter().enumerate() {
                push(i, v.map_or(Cell::Empty, Cell::Float));
            }
        }
        DataType::UInt64 => {
            for (i, v) in series.u64()?.iter().enumerate() {
                push(
                    i,
                    v.map_or(Cell::Empty, |x| {
                        i64::try_from(x).map_or(Cell::Float(x as f64), Cell::Int)
                    }),
                );
            }
        }
        dt if dt.is_integer() => {
            let s = series.cast(&DataType::Int64)?;
            for (i, v) in s.i64()?.iter().enumerate() {
                push(i, v.map_or(Cell::Empty, Cell::Int));
            }
        }
        DataType::Date => {
            for (i, v) in series.date()?.physical().iter().enumerate() {
                push(i, v.map_or(Cell::Empty, date_cell));
            }
        }
        DataType::Datetime(unit, zone) => {
            let per_ms: i64 = match unit {
                TimeUnit::Nanoseconds => 1_000_000,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Milliseconds => 1,
            };
            let zoned = zone.is_some();
            for (i, v) in series.datetime()?.physical().iter().enumerate() {
                push(
                    i,
                    v.map_or(Cell::Empty, |x| datetime_cell(x, per_ms, zoned)),
                );
            }
        }
        DataType::Null => {
            for i in 0..series.len() {
                push(i, Cell::Empty);
            }
        }
        other => {
            polars_bail!(ComputeError: "unsupported column type {other}")
        }
    }
    Ok(())
}

fn date_cell(days: i32) -> Cell {
    let epoch = civil::date(1970, 1, 1);
    match epoch.checked_add(jiff::Span::new().days(i64::from(days))) {
        Ok(d) => Cell::Naive(d.to_datetime(civil::Time::midnight())),
        Err(_) => Cell::Int(i64::from(days)),
    }
}

/// A Parquet timestamp: an instant when the column has a zone, a wall-clock time when
/// it does not. Rounded to the nearest millisecond, halves up, as every other number
/// in a time column is (`normalize::time`).
fn datetime_cell(value: i64, per_ms: i64, zoned: bool) -> Cell {
    let ms = (i128::from(value) + i128::from(per_ms / 2)).div_euclid(i128::from(per_ms));
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    match Timestamp::from_millisecond(ms) {
        Ok(ts) if zoned => Cell::Instant(ts),
        Ok(ts) => Cell::Naive(jiff::tz::Offset::UTC.to_datetime(ts)),
        Err(_) => Cell::Int(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_to_the_nearest_millisecond() {
        let ms = |c: Cell| match c {
            Cell::Instant(ts) => ts.as_millisecond(),
            other => panic!("{other:?}"),
        };
        // 2024-05-01T12:55:59.9996Z in µs and ns: the next millisecond.
        assert_eq!(
            ms(datetime_cell(1_714_568_159_999_600, 1_000, true)),
            1_714_568_160_000
        );
        assert_eq!(
            ms(datetime_cell(1_714_568_159_999_499_999, 1_000_000, true)),
            1_714_568_159_999
        );
        assert_eq!(
            ms(datetime_cell(1_714_568_159_999_500_000, 1_000_000, true)),
            1_714_568_160_000
        );
        // Before 1970 too: halves up, not away from zero.
        assert_eq!(ms(datetime_cell(-1_500, 1_000, true)), -1);
        assert_eq!(ms(datetime_cell(-1_501, 1_000, true)), -2);
        assert_eq!(
            datetime_cell(1_000_499, 1_000, false),
            Cell::Naive(civil::date(1970, 1, 1).at(0, 0, 1, 0))
        );
    }
}
