//! Results: counts per file and in total, the JSON report, the human summary on
//! stderr; the rejects CSV ([`rejects`]) and the `--emit` JSON Lines ([`emit`]).

pub mod emit;
pub mod rejects;

pub use emit::EmitWriter;
pub use rejects::Rejects;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::profile::Profile;

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Data rows read.
    pub rows: u64,
    /// Rows that passed every check (duplicates included).
    pub valid: u64,
    pub rejected: u64,
    /// Valid rows that repeat an earlier lead of the run exactly (not sent again).
    pub duplicates: u64,
    pub sent: u64,
    pub failed: u64,
    /// Not sent because they were sent before: `resumed` plus `in_ledger`.
    pub skipped: u64,
    /// Rows an earlier run of this file finished (resumed past).
    pub resumed: u64,
    /// Leads the ledger knows were sent before, from another file (or another
    /// copy of this one).
    pub in_ledger: u64,
    /// Rows whose request may have reached the API without an answer (in this run,
    /// or in one that died): they may have arrived twice, or not at all.
    pub uncertain: u64,
    /// Valid leads not sent because the run stopped (interrupt, refused credentials).
    pub pending: u64,
    /// Of the uncertain rows, those not sent again in this run: their fate is
    /// unknown until a later run sends them (or lists them, `--uncertain skip`).
    pub unknown: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.rows += o.rows;
        self.valid += o.valid;
        self.rejected += o.rejected;
        self.duplicates += o.duplicates;
        self.sent += o.sent;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.resumed += o.resumed;
        self.in_ledger += o.in_ledger;
        self.uncertain += o.uncertain;
        self.unknown += o.unknown;
        self.pending += o.pending;
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub format: String,
    #[serde(flatten)]
    pub counts: Counts,
    /// Naive times that fell in a DST gap (moved later) or fold (earlier taken):
    /// the profile's, also here.
    pub dst_gaps: u64,
    pub dst_folds: u64,
    /// Rejected rows by field.
    pub rejected_by_field: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_row: Option<u64>,
    /// field -> column.
    pub mapping: BTreeMap<String, String>,
    /// What the file's valid leads look like (see [`crate::profile`]).
    pub profile: Box<Profile>,
    /// Import: HTTP answers by status ("transport" for none), and retries made.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// Rows in flight when an earlier run died: sent or not, nobody knows. Sent
    /// again unless `--uncertain skip`.
    pub uncertain_rows: Vec<u64>,
    pub elapsed_s: f64,
    /// Set when the file could not be processed to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct RunReport {
    pub command: String,
    /// setclick's version.
    pub version: String,
    pub started_at: String,
    /// The settings that shape what is read and sent (a run is repeatable from them).
    pub settings: serde_json::Value,
    pub files: Vec<FileReport>,
    /// Entries of the directories given that were not read, with why.
    pub skipped_files: Vec<String>,
    pub totals: Totals,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub exit_code: i32,
}

/// The run's counts (a `Counts`, through `Deref`) and the profile of all its
/// files' leads.
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    #[serde(flatten)]
    pub counts: Counts,
    pub profile: Profile,
}

impl std::ops::Deref for Totals {
    type Target = Counts;
    fn deref(&self) -> &Counts {
        &self.counts
    }
}

impl std::ops::DerefMut for Totals {
    fn deref_mut(&mut self) -> &mut Counts {
        &mut self.counts
    }
}

impl std::ops::AddAssign<Counts> for Totals {
    fn add_assign(&mut self, o: Counts) {
        self.counts += o;
    }
}

/// Create an output file, refusing to write through a symlink onto a file.
pub fn create_output(path: &Path) -> io::Result<File> {
    refuse_link(path)?;
    dir_exists(path)?;
    File::create(path)
}

/// Fail, saying what to do, when the directory `path` is to be written in does not
/// exist (rather than a bare "No such file or directory").
pub fn dir_exists(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the directory {} does not exist (create it first: mkdir -p {})",
                d.display(),
                d.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Fail when `path` is a symlink onto a file (a planted link could make setclick
/// overwrite something else). Links to devices and pipes, such as /dev/stdout, are
/// fine.
pub fn refuse_link(path: &Path) -> io::Result<()> {
    if !path.starts_with("/dev")
        && let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.file_type().is_symlink()
        && std::fs::metadata(path).map_or(true, |m| m.is_file() || m.is_dir())
    {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is a symbolic link; refusing to write through it",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// What a validate report leaves out: nothing is sent.
const SEND_KEYS: [&str; 11] = [
    "sent",
    "failed",
    "skipped",
    "resumed",
    "in_ledger",
    "uncertain",
    "pending",
    "unknown",
    "http",
    "retries",
    "uncertain_rows",
];

impl RunReport {
    /// The report as written: validate's without the counts of sending.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if self.command != "import" {
            let strip = |o: &mut serde_json::Value| {
                if let Some(o) = o.as_object_mut() {
                    for k in SEND_KEYS {
                        o.remove(k);
                    }
                }
            };
            strip(&mut v);
            strip(&mut v["totals"]);
            if let Some(files) = v["files"].as_array_mut() {
                files.iter_mut().for_each(strip);
            }
        }
        v
    }

    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut w = BufWriter::new(create_output(path)?);
        serde_json::to_writer_pretty(&mut w, &self.to_json())?;
        w.write_all(b"\n")?;
        w.flush()
    }
}

/// A rate as people read it: `20`, `1,650,000`, `0.5` (not `0` for a slow run).
pub fn rate(per_second: f64) -> String {
    if per_second < 10.0 {
        format!("{per_second:.1}")
    } else {
        thousands(per_second as u64)
    }
}

/// `1234567` -> `1,234,567`.
/// Row numbers as runs: `141-178, 190`; past `cap` runs, `, ...`.
pub fn row_ranges(rows: impl IntoIterator<Item = u64>, cap: usize) -> String {
    let mut rows: Vec<u64> = rows.into_iter().collect();
    rows.sort_unstable();
    rows.dedup();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for r in rows {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == r => *end = r,
            _ => runs.push((r, r)),
        }
    }
    let mut parts: Vec<String> = runs
        .iter()
        .take(cap)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if runs.len() > cap {
        parts.push("...".into());
    }
    parts.join(", ")
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One line per file for stderr.
pub fn summary_line(f: &FileReport, import: bool) -> String {
    let c = &f.counts;
    let mut s = format!(
        "{}: {} rows, {} valid",
        f.path,
        thousands(c.rows),
        thousands(c.valid)
    );
    if c.duplicates > 0 {
        s.push_str(&format!(" ({} duplicates)", thousands(c.duplicates)));
    }
    s.push_str(&format!(", {} rejected", thousands(c.rejected)));
    if !f.rejected_by_field.is_empty() {
        let parts: Vec<String> = f
            .rejected_by_field
            .iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect();
        s.push_str(&format!(" [{}]", parts.join(", ")));
    }
    if import {
        s.push_str(&format!(
            ", {} sent, {} failed, {} skipped",
            thousands(c.sent),
            thousands(c.failed),
            thousands(c.skipped)
        ));
        if c.uncertain > 0 {
            s.push_str(&format!(", {} uncertain", thousands(c.uncertain)));
        }
        if c.pending > 0 {
            s.push_str(&format!(", {} not sent", thousands(c.pending)));
        }
        if let Some(r) = f.retries.filter(|r| *r > 0) {
            s.push_str(&format!(", {} retries", thousands(r)));
        }
    }
    // What the run did per second: leads sent for an import, rows for validate.
    let (amount, what) = if import {
        (c.sent, "sent")
    } else {
        (c.rows, "rows")
    };
    let per_second = if f.elapsed_s > 0.0 {
        amount as f64 / f.elapsed_s
    } else {
        0.0
    };
    s.push_str(&format!(
        " in {:.2} s ({} {what}/s)",
        f.elapsed_s,
        rate(per_second)
    ));
    if f.dst_gaps + f.dst_folds > 0 {
        s.push_str(&format!(
            "; DST: {} in a gap (moved later), {} in a fold (earlier taken)",
            f.dst_gaps, f.dst_folds
        ));
    }
    if let Some(e) = &f.error {
        s.push_str(&format!("; stopped: {e}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn row_numbers_are_said_as_runs_up_to_a_cap() {
        let rows = (141..=178).chain([190, 5]);
        assert_eq!(row_ranges(rows.clone(), 5), "5, 141-178, 190");
        assert_eq!(row_ranges(rows, 2), "5, 141-178, ...");
        assert_eq!(row_ranges([], 2), "");
    }

    #[test]
    fn refuses_to_write_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_output(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
