//! FILE arguments: directories expanded to the lead files they hold (in name
//! order), `-` to stdin, and what a directory holds that is not read, with why.

use std::path::{Path, PathBuf};

use super::{ConfigError, err};
use crate::source::{Format, Input};

/// The files of a run, and what was left out of the directories given.
#[derive(Debug, Default)]
pub struct Expanded {
    pub inputs: Vec<Input>,
    /// `path (why)` for every entry of a directory that is not read.
    pub skipped: Vec<String>,
}

/// The extensions a directory's files are read by (a file named on the command
/// line may be any file `--format` or its extension says).
const LISTED: &str = ".csv, .tsv, .csv.gz, .tsv.gz, .xlsx or .parquet";

/// A directory entry worth reading: a lead file by its extension, not a hidden
/// file nor an office lock file (`~$calls.xlsx`).
fn listed(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    !name.starts_with('.')
        && !name.starts_with("~$")
        && [".csv", ".tsv", ".csv.gz", ".tsv.gz", ".xlsx", ".parquet"]
            .iter()
            .any(|ext| lower.ends_with(ext))
}

/// Expand FILE arguments: directories to their lead files (sorted by name; their
/// subdirectories too with `recursive`), `-` to stdin.
pub fn expand_inputs(
    files: &[PathBuf],
    format_given: bool,
    recursive: bool,
) -> Result<Expanded, ConfigError> {
    let mut out = Expanded::default();
    for f in files {
        if f.as_os_str() == "-" {
            out.inputs.push(Input::Stdin);
            continue;
        }
        if f.is_dir() {
            let before = out.inputs.len();
            walk(f, recursive, &mut out)?;
            if out.inputs.len() == before {
                tracing::warn!("{}: no {LISTED} files in this directory", f.display());
            }
            continue;
        }
        if !f.exists() {
            return err(format!("{}: no such file", f.display()));
        }
        if !format_given && Format::from_path(f).is_none() {
            return err(format!(
                "{}: unknown file type; name it {LISTED}, or give --format",
                f.display()
            ));
        }
        out.inputs.push(Input::Path(f.clone()));
    }
    if out
        .inputs
        .iter()
        .filter(|i| matches!(i, Input::Stdin))
        .count()
        > 1
    {
        return err("- (stdin) can be given only once");
    }
    for s in &out.skipped {
        tracing::warn!("skipped {s}");
    }
    Ok(out)
}

fn walk(dir: &Path, recursive: bool, out: &mut Expanded) -> Result<(), ConfigError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ConfigError(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                walk(&p, recursive, out)?;
            } else {
                out.skipped.push(format!(
                    "{}/ (a folder: give --recursive to read folders)",
                    p.display()
                ));
            }
        } else if listed(&p) {
            out.inputs.push(Input::Path(p));
        } else {
            out.skipped
                .push(format!("{} (not a {LISTED} file)", p.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(e: &Expanded, root: &Path) -> Vec<String> {
        e.inputs
            .iter()
            .map(|i| match i {
                Input::Path(p) => p.strip_prefix(root).unwrap().display().to_string(),
                Input::Stdin => "-".into(),
            })
            .collect()
    }

    #[test]
    fn a_directory_gives_its_lead_files_by_name_and_lists_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "b.csv",
            "a.xlsx",
            "c.tsv.gz",
            "d.parquet",
            "notes.txt",
            "~$a.xlsx",
            ".hidden.csv",
            "old.csv.bak",
        ] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        std::fs::create_dir(root.join("2024")).unwrap();
        std::fs::write(root.join("2024/e.csv"), "x").unwrap();
        let e = expand_inputs(&[root.to_path_buf()], false, false).unwrap();
        assert_eq!(
            names(&e, root),
            ["a.xlsx", "b.csv", "c.tsv.gz", "d.parquet"]
        );
        let skipped = e.skipped.join("\n");
        for s in [
            "notes.txt",
            "~$a.xlsx",
            ".hidden.csv",
            "old.csv.bak",
            "2024/ (a folder",
        ] {
            assert!(skipped.contains(s), "{s} in {skipped}");
        }
        let e = expand_inputs(&[root.to_path_buf()], false, true).unwrap();
        assert_eq!(
            names(&e, root),
            ["2024/e.csv", "a.xlsx", "b.csv", "c.tsv.gz", "d.parquet"]
        );
    }

    #[test]
    fn named_files_are_read_by_extension_or_format() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("calls.txt");
        std::fs::write(&txt, "x").unwrap();
        let json = dir.path().join("calls.json");
        std::fs::write(&json, "x").unwrap();
        assert_eq!(expand_inputs(&[txt], false, false).unwrap().inputs.len(), 1);
        let e = expand_inputs(std::slice::from_ref(&json), false, false).unwrap_err();
        assert!(e.0.contains("--format"), "{e}");
        assert!(expand_inputs(&[json], true, false).is_ok());
        let missing = dir.path().join("missing.csv");
        assert!(
            expand_inputs(&[missing], false, false)
                .unwrap_err()
                .0
                .contains("no such file")
        );
        let two = [PathBuf::from("-"), PathBuf::from("-")];
        assert!(expand_inputs(&two, false, false).is_err());
    }
}
