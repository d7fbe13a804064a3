//! Framing: find the header row, then number data rows, skip empty ones and flag
//! rows whose shape does not match the header.

use std::collections::VecDeque;

use super::{Cell, Defect, Record, RecordReader, Row, SourceError};

/// How many non-empty rows at the top of a file may precede the header.
pub const HEADER_SCAN_ROWS: usize = 20;

#[derive(Debug, Clone, Default)]
pub struct FrameOptions {
    /// The header's physical row (CSV line, sheet row), 1-based; `None` = find it.
    pub header_row: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub names: Vec<String>,
    /// Where the header is; `None` for formats with a schema.
    pub pos: Option<u64>,
    /// For formats with a schema, the columns the reader can read.
    pub readable: Option<Vec<usize>>,
}

pub struct Framer<'a> {
    reader: &'a mut dyn RecordReader,
    pending: VecDeque<Record>,
    width: usize,
    ordinal: u64,
    pads: bool,
}

impl<'a> Framer<'a> {
    /// Find the header. `score` rates a candidate header row (how many of its cells
    /// name a known field); the best of the first rows wins.
    pub fn start(
        reader: &'a mut dyn RecordReader,
        opts: &FrameOptions,
        score: &dyn Fn(&[String]) -> usize,
    ) -> Result<(Framer<'a>, Header), SourceError> {
        let pads = reader.pads_short_rows();
        if let Some(names) = reader.schema_header() {
            let width = names.len();
            let readable = reader.readable_columns();
            let framer = Framer {
                reader,
                pending: VecDeque::new(),
                width,
                ordinal: 0,
                pads: true,
            };
            return Ok((
                framer,
                Header {
                    names,
                    pos: None,
                    readable,
                },
            ));
        }

        let mut scanned: Vec<Record> = Vec::new();
        let mut non_blank = 0;
        let header_index = loop {
            let Some(rec) = reader.next_record()? else {
                break None;
            };
            let blank = rec.cells.iter().all(Cell::is_blank);
            if let Some(n) = opts.header_row {
                if rec.pos >= n && !blank {
                    scanned.push(rec);
                    break Some(scanned.len() - 1);
                }
                scanned.push(rec);
                continue;
            }
            if !blank {
                non_blank += 1;
            }
            scanned.push(rec);
            if non_blank >= HEADER_SCAN_ROWS {
                break None;
            }
        };
        let index = match (header_index, opts.header_row) {
            (Some(i), _) => i,
            (None, Some(n)) => {
                return Err(SourceError::invalid(format!(
                    "--header-row {n}: the file has no non-empty row there"
                )));
            }
            (None, None) => match pick_header(&scanned, score) {
                Some(i) => i,
                None => return Err(SourceError::invalid("the file has no rows")),
            },
        };
        let mut pending: VecDeque<Record> = scanned.into();
        pending.drain(..index);
        let header = pending
            .pop_front()
            .ok_or_else(|| SourceError::invalid("the file has no rows"))?;
        let names: Vec<String> = header
            .cells
            .iter()
            .map(|c| c.text().map(|t| t.into_owned()).unwrap_or_default())
            .collect();
        // Trailing empty header cells (a sheet's stray formatting) are not columns.
        let width = names
            .iter()
            .rposition(|n| !n.is_empty())
            .map_or(0, |i| i + 1);
        let names = names[..width].to_vec();
        let framer = Framer {
            reader,
            pending,
            width,
            ordinal: 0,
            pads,
        };
        Ok((
            framer,
            Header {
                names,
                pos: Some(header.pos),
                readable: None,
            },
        ))
    }

    /// Read only these columns from now on (formats with a schema).
    pub fn project(&mut self, columns: &[usize]) -> Result<(), SourceError> {
        self.reader.project(columns)?;
        self.width = columns.len();
        Ok(())
    }

    /// The next data row; empty rows are skipped and not counted.
    /// Hand the cells of rows done with back to the reader (see
    /// [`RecordReader::recycle`]).
    pub fn recycle(&mut self, spent: Vec<Vec<Cell>>) {
        self.reader.recycle(spent);
    }

    pub fn next_row(&mut self) -> Result<Option<Row>, SourceError> {
        loop {
            let rec = match self.pending.pop_front() {
                Some(r) => r,
                None => match self.reader.next_record()? {
                    Some(r) => r,
                    None => return Ok(None),
                },
            };
            if rec.cells.iter().all(Cell::is_blank) {
                continue;
            }
            self.ordinal += 1;
            return Ok(Some(self.shape(rec)));
        }
    }

    fn shape(&self, rec: Record) -> Row {
        let Record {
            pos,
            mut cells,
            mut defect,
        } = rec;
        let found = cells.len();
        if found > self.width {
            if cells[self.width..].iter().all(Cell::is_blank) {
                cells.truncate(self.width);
            } else if defect.is_none() {
                defect = Some(Defect {
                    column: Some(self.width),
                    reason: format!("row has {found} fields, the header has {}", self.width),
                });
            }
        } else if found < self.width {
            if !self.pads && defect.is_none() {
                defect = Some(Defect {
                    column: None,
                    reason: format!("row has {found} fields, the header has {}", self.width),
                });
            }
            cells.resize(self.width, Cell::Empty);
        }
        Row {
            ordinal: self.ordinal,
            pos,
            cells,
            defect,
        }
    }
}

/// The best-scoring row; with no known names at all, the first row with the most
/// non-empty cells (a title line has one).
fn pick_header(scanned: &[Record], score: &dyn Fn(&[String]) -> usize) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, rec) in scanned.iter().enumerate() {
        if rec.cells.iter().all(Cell::is_blank) {
            continue;
        }
        let names: Vec<String> = rec
            .cells
            .iter()
            .map(|c| c.text().map(|t| t.into_owned()).unwrap_or_default())
            .collect();
        let s = score(&names);
        if s > 0 && best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    if let Some((i, _)) = best {
        return Some(i);
    }
    let filled = |r: &Record| r.cells.iter().filter(|c| !c.is_blank()).count();
    let most = scanned.iter().map(filled).max()?;
    scanned.iter().position(|r| most > 0 && filled(r) == most)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vec2(VecDeque<Record>);
    impl RecordReader for Vec2 {
        fn next_record(&mut self) -> Result<Option<Record>, SourceError> {
            Ok(self.0.pop_front())
        }
    }

    fn recs(rows: &[&[&str]]) -> Vec2 {
        Vec2(
            rows.iter()
                .enumerate()
                .map(|(i, r)| Record {
                    pos: i as u64 + 1,
                    cells: r.iter().map(|s| Cell::from_text(s)).collect(),
                    defect: None,
                })
                .collect(),
        )
    }

    fn known(names: &[String]) -> usize {
        names
            .iter()
            .filter(|n| ["email", "fecha", "utm_source"].contains(&n.to_lowercase().as_str()))
            .count()
    }

    #[test]
    fn finds_header_below_title_rows_and_numbers_data_rows() {
        let mut r = recs(&[
            &["Calls export"],
            &["", ""],
            &["Fecha", "Email", "utm_source"],
            &["2021-10-20", "a@b.co", "x"],
            &["", "", ""],
            &["2021-10-21", "c@d.co", "y"],
        ]);
        let (mut f, h) = Framer::start(&mut r, &FrameOptions::default(), &known).unwrap();
        assert_eq!(h.names, ["Fecha", "Email", "utm_source"]);
        assert_eq!(h.pos, Some(3));
        let a = f.next_row().unwrap().unwrap();
        assert_eq!((a.ordinal, a.pos), (1, 4));
        let b = f.next_row().unwrap().unwrap();
        assert_eq!((b.ordinal, b.pos), (2, 6));
        assert!(f.next_row().unwrap().is_none());
    }

    #[test]
    fn ragged_rows_are_flagged_and_trailing_blanks_tolerated() {
        let mut r = recs(&[
            &["email", "utm_source"],
            &["a@b.co", "x", ""],
            &["a@b.co"],
            &["a@b.co", "x", "extra"],
        ]);
        let (mut f, _) = Framer::start(&mut r, &FrameOptions::default(), &known).unwrap();
        assert!(f.next_row().unwrap().unwrap().defect.is_none());
        let short = f.next_row().unwrap().unwrap();
        assert_eq!(short.cells.len(), 2);
        assert!(short.defect.unwrap().reason.contains("1 fields"));
        let long = f.next_row().unwrap().unwrap();
        assert!(long.defect.unwrap().reason.contains("3 fields"));
    }

    #[test]
    fn explicit_header_row_and_fallback_without_known_names() {
        let mut r = recs(&[&["title"], &["a", "b"], &["1", "2"]]);
        let opts = FrameOptions {
            header_row: Some(2),
        };
        let (_, h) = Framer::start(&mut r, &opts, &known).unwrap();
        assert_eq!(h.names, ["a", "b"]);
        let mut r = recs(&[&["title"], &["a", "b"], &["1", "2"]]);
        let (_, h) = Framer::start(&mut r, &FrameOptions::default(), &|_| 0).unwrap();
        assert_eq!(h.names, ["a", "b"]);
    }
}
