//! The rejects CSV: one table per run. The leading columns `file, row, location,
//! field, reason`, then each row's original cells under one header, the union of
//! the files' columns; rows in file order, each file's rows together.
//!
//! It round-trips: a cell a spreadsheet would run as a formula (starting with
//! `= + - @`, a tab or a CR) is written with a leading `'`, and so is a cell that
//! starts with `'`. setclick recognizes its own rejects file by the leading columns
//! ([`is_rejects_header`]), leaves them out of the mapping and takes that one `'`
//! off again ([`unguard`]), so that fixing a row and importing the file sends
//! exactly the original values.
//!
//! Rows rejected while reading arrive in file order and are spooled to a
//! temporary file beside the rejects file; rows the API refused or that failed
//! arrive as answers come and are kept until their file ends. The table is written
//! when the run ends, and only when the run rejected rows: a run with none (a file
//! already imported) leaves the file as it was. An earlier table at the path (a
//! cron's `rejects-{date}.csv`, the same day) keeps its rows, first, under one
//! header. The spool has no name on disk: a run killed first leaves the file as it
//! was, and the state store still knows every rejected row.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{dir_exists, refuse_link};

/// The leading columns, in order.
pub const LEADING: [&str; 5] = ["file", "row", "location", "field", "reason"];

/// Whether a header is that of a setclick rejects file.
pub fn is_rejects_header(names: &[String]) -> bool {
    names.len() >= LEADING.len() && names.iter().zip(LEADING).all(|(n, l)| n == l)
}

/// What a spreadsheet would run as a formula.
fn risky(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
}

/// A cell as written to the rejects file: `'` before a formula-like cell and
/// before a cell starting with `'` (numbers such as `-5` stay as they are).
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if risky(cell) || cell.starts_with('\'') {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// A cell read back from a rejects file: [`guard`] undone.
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if risky(rest) || rest.starts_with('\'') => rest,
        _ => cell,
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub row: u64,
    pub location: String,
    /// Fields to blame, joined with `;`.
    pub field: String,
    pub reason: String,
    /// The row's cells, under its file's columns.
    pub cells: Vec<String>,
}

/// One file's part of the table.
struct Part {
    name: String,
    columns: Vec<String>,
    /// Rows in the spool, in file order.
    spooled: u64,
    /// Rows answered later, sorted in when the file ends.
    later: Vec<Reject>,
}

/// The run's rejects, written as one table at [`finish`](Rejects::finish).
pub struct Rejects {
    path: PathBuf,
    spool: csv::Writer<BufWriter<File>>,
    parts: Vec<Part>,
}

impl Rejects {
    /// Prepare the rejects file at `path` (refusing a symbolic link onto a file);
    /// nothing is written there until the run ends, and then only when the run
    /// has rejected rows.
    pub fn create(path: &Path) -> io::Result<Rejects> {
        refuse_link(path)?;
        dir_exists(path)?;
        // The spool beside it: a run that cannot write there learns it now.
        let spool = tempfile::tempfile_in(dir_of(path))?;
        Ok(Rejects {
            path: path.to_path_buf(),
            spool: csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(BufWriter::new(spool)),
            parts: Vec::new(),
        })
    }

    /// The rows from now on belong to file `name`, whose columns are `columns`.
    pub fn start_file(&mut self, name: &str, columns: &[String]) {
        self.parts.push(Part {
            name: name.to_string(),
            columns: columns.to_vec(),
            spooled: 0,
            later: Vec::new(),
        });
    }

    /// A row rejected while reading the current file (these come in file order).
    pub fn in_order(&mut self, r: &Reject) -> io::Result<()> {
        let Some(part) = self.parts.last_mut() else {
            return Err(io::Error::other("a reject before its file"));
        };
        part.spooled += 1;
        let row = r.row.to_string();
        let mut rec = vec![row.as_str(), &r.location, &r.field, &r.reason];
        rec.extend(r.cells.iter().map(String::as_str));
        self.spool.write_record(&rec).map_err(io::Error::from)
    }

    /// A row of the current file refused by the API or failed (in any order).
    pub fn later(&mut self, r: Reject) {
        if let Some(part) = self.parts.last_mut() {
            part.later.push(r);
        }
    }

    /// Write the table: the union header, then each file's rows in file order. A
    /// run without rejected rows leaves the file as it is (or absent); rows of an
    /// earlier table at `path` (an earlier run the same day, `rejects-{date}.csv`)
    /// are kept first, under the one union header.
    pub fn finish(self) -> io::Result<()> {
        let Rejects {
            path,
            spool,
            mut parts,
        } = self;
        if parts.iter().all(|p| p.spooled == 0 && p.later.is_empty()) {
            return Ok(());
        }
        let earlier = Earlier::read(&path)?;
        if let Some(e) = &earlier {
            parts.insert(0, e.part());
        }
        let mut spool = spool
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?
            .into_inner()
            .map_err(|e| e.into_error())?;
        spool.seek(SeekFrom::Start(0))?;
        let mut spooled = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(io::BufReader::new(spool))
            .into_records();
        let (union, maps) = union_header(&parts);
        // Written beside the file and renamed over it: the earlier rows are read
        // from the file while the new table is written.
        let tmp = tempfile::NamedTempFile::new_in(dir_of(&path))?;
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(BufWriter::new(tmp.reopen()?));
        let mut header: Vec<&str> = LEADING.to_vec();
        header.extend(union.iter().map(String::as_str));
        out.write_record(&header).map_err(io::Error::from)?;
        let mut maps = maps.iter();
        if let Some(e) = earlier {
            let map = maps.next().map(Vec::as_slice).unwrap_or_default();
            e.copy(&mut out, map, union.len())?;
            parts.remove(0);
        }
        for (part, map) in parts.iter_mut().zip(maps) {
            part.later.sort_by_key(|r| r.row);
            let mut later = std::mem::take(&mut part.later).into_iter().peekable();
            for _ in 0..part.spooled {
                let rec = spooled
                    .next()
                    .ok_or_else(|| io::Error::other("the rejects spool is short"))?
                    .map_err(io::Error::from)?;
                let r = from_spool(&rec);
                while let Some(l) = later.next_if(|l| l.row < r.row) {
                    write(&mut out, &part.name, &l, map, union.len())?;
                }
                write(&mut out, &part.name, &r, map, union.len())?;
            }
            for l in later {
                write(&mut out, &part.name, &l, map, union.len())?;
            }
        }
        out.flush()?;
        drop(out);
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A rejects table already at the path (an earlier run's): its columns.
struct Earlier {
    path: PathBuf,
    columns: Vec<String>,
}

impl Earlier {
    /// The table at `path`, when there is one (a file with setclick's header).
    fn read(path: &Path) -> io::Result<Option<Earlier>> {
        if !path.is_file() {
            return Ok(None);
        }
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_path(path)
            .map_err(io::Error::from)?;
        let Some(Ok(header)) = r.records().next() else {
            return Ok(None);
        };
        let names: Vec<String> = header.iter().map(str::to_string).collect();
        if !is_rejects_header(&names) {
            return Ok(None);
        }
        Ok(Some(Earlier {
            path: path.to_path_buf(),
            columns: names[LEADING.len()..].to_vec(),
        }))
    }

    fn part(&self) -> Part {
        Part {
            name: String::new(),
            columns: self.columns.clone(),
            spooled: 0,
            later: Vec::new(),
        }
    }

    /// Its rows under the union header (`map`: where each of its columns goes),
    /// cells as they were written (guarded already).
    fn copy(
        &self,
        out: &mut csv::Writer<BufWriter<File>>,
        map: &[usize],
        width: usize,
    ) -> io::Result<()> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_path(&self.path)
            .map_err(io::Error::from)?;
        for rec in r.records() {
            let rec = rec.map_err(io::Error::from)?;
            let mut cells = vec![""; width];
            for (i, c) in rec.iter().skip(LEADING.len()).enumerate() {
                match map.get(i) {
                    Some(&at) => cells[at] = c,
                    None => cells.push(c),
                }
            }
            let mut line: Vec<&str> = rec.iter().take(LEADING.len()).collect();
            line.extend(cells);
            out.write_record(&line).map_err(io::Error::from)?;
        }
        Ok(())
    }
}

fn from_spool(rec: &csv::StringRecord) -> Reject {
    let get = |i: usize| rec.get(i).unwrap_or_default().to_string();
    Reject {
        row: rec.get(0).and_then(|r| r.parse().ok()).unwrap_or(0),
        location: get(1),
        field: get(2),
        reason: get(3),
        cells: rec.iter().skip(4).map(str::to_string).collect(),
    }
}

/// The union of the files' columns (a name repeated within a file counts once per
/// repetition), and for each file where its columns go in it.
fn union_header(parts: &[Part]) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut union: Vec<String> = Vec::new();
    let mut maps = Vec::with_capacity(parts.len());
    for part in parts {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let map = part
            .columns
            .iter()
            .map(|name| {
                let nth = seen.entry(name).or_default();
                let at = union
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| *u == name)
                    .nth(*nth)
                    .map(|(i, _)| i);
                *nth += 1;
                at.unwrap_or_else(|| {
                    union.push(name.clone());
                    union.len() - 1
                })
            })
            .collect();
        maps.push(map);
    }
    (union, maps)
}

fn write(
    out: &mut csv::Writer<BufWriter<File>>,
    file: &str,
    r: &Reject,
    map: &[usize],
    width: usize,
) -> io::Result<()> {
    let mut cells = vec![String::new(); width];
    for (i, c) in r.cells.iter().enumerate() {
        match map.get(i) {
            Some(&at) => cells[at] = guard(c).into_owned(),
            // More cells than columns (a ragged row): kept at the end.
            None => cells.push(guard(c).into_owned()),
        }
    }
    let row = r.row.to_string();
    let reason = guard(&r.reason);
    let mut rec: Vec<&str> = vec![file, &row, &r.location, &r.field, &reason];
    rec.extend(cells.iter().map(String::as_str));
    out.write_record(&rec).map_err(io::Error::from)
}

#[cfg(test)]
mod tests;
