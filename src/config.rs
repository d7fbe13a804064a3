//! Flags and the mapping file, validated into ready-to-use settings. Every problem
//! here is reported before any file is opened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::cli::InputArgs;
use crate::normalize::columns::Field;
use crate::normalize::time::{TimeRules, TimeUnit};
use crate::normalize::{MAX_FUTURE_MS, NormalizeOptions};
use crate::source::{Format, FrameOptions, Input, ReadOptions};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// Everything needed to read and normalize input files.
#[derive(Debug, Clone)]
pub struct InputConfig {
    pub read: ReadOptions,
    pub frame: FrameOptions,
    pub normalize: NormalizeOptions,
    pub report: Option<PathBuf>,
    pub rejects: Option<PathBuf>,
    pub dedupe: bool,
}

/// `--mapping FILE.toml`: the same options as the flags, plus tables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    format: Option<String>,
    delimiter: Option<String>,
    encoding: Option<String>,
    sheet: Option<String>,
    #[serde(alias = "header-row")]
    header_row: Option<u64>,
    timezone: Option<String>,
    #[serde(alias = "time-format")]
    time_format: Option<String>,
    #[serde(alias = "time-unit")]
    time_unit: Option<String>,
    microconversion: Option<bool>,
    #[serde(alias = "no-dedupe")]
    no_dedupe: Option<bool>,
    report: Option<PathBuf>,
    rejects: Option<PathBuf>,
    #[serde(default)]
    map: BTreeMap<String, String>,
    #[serde(default, alias = "setting")]
    settings: BTreeMap<String, toml::Value>,
}

fn load_mapping(path: &Path) -> Result<MappingFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("--mapping {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| ConfigError(format!("--mapping {}: {e}", path.display())))
}

/// `KEY=VALUE`, split at the first `=`.
fn split_pair<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str), ConfigError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v)),
        _ => err(format!("{flag} {s}: expected KEY=VALUE")),
    }
}

pub fn parse_delimiter(s: &str) -> Result<u8, ConfigError> {
    match s {
        "tab" | "\\t" | "\t" | "TAB" => Ok(b'\t'),
        s if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => err(format!("--delimiter {s}: give one ASCII character, or tab")),
    }
}

pub fn input_config(args: &InputArgs, now: Timestamp) -> Result<InputConfig, ConfigError> {
    let file = match &args.mapping {
        Some(p) => load_mapping(p)?,
        None => MappingFile::default(),
    };
    let pick = |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());

    let format = match pick(&args.format, &file.format) {
        Some(f) => Some(Format::parse(&f).ok_or_else(|| {
            ConfigError(format!("--format {f}: expected csv, tsv, xlsx or parquet"))
        })?),
        None => None,
    };
    let delimiter = pick(&args.delimiter, &file.delimiter)
        .map(|d| parse_delimiter(&d))
        .transpose()?;
    let encoding = match pick(&args.encoding, &file.encoding) {
        Some(label) => Some(encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(
            || ConfigError(format!("--encoding {label}: unknown encoding (try utf-8, windows-1252, latin1, utf-16le)")),
        )?),
        None => None,
    };
    let zone = match pick(&args.timezone, &file.timezone) {
        Some(name) => Some(TimeZone::get(&name).map_err(|_| {
            ConfigError(format!(
                "--timezone {name}: unknown time zone; use an IANA name such as Europe/Madrid, \
                 America/New_York or UTC"
            ))
        })?),
        None => None,
    };
    let time_format = pick(&args.time_format, &file.time_format);
    if let Some(f) = &time_format
        && !f.contains('%')
    {
        return err(format!(
            "--time-format {f}: expected a strftime format such as %d/%m/%Y %H:%M"
        ));
    }
    let unit = match pick(&args.time_unit, &file.time_unit) {
        Some(u) => u
            .parse::<TimeUnit>()
            .map_err(|e| ConfigError(format!("--time-unit: {e}")))?,
        None => TimeUnit::Auto,
    };

    let mut explicit: Vec<(Field, String)> = Vec::new();
    let mut add_map = |flag: &str, field: &str, column: &str| -> Result<(), ConfigError> {
        let field: Field = field
            .parse()
            .map_err(|e| ConfigError(format!("{flag} {field}={column}: {e}")))?;
        if column.trim().is_empty() {
            return err(format!("{flag} {field}=: the column name is empty"));
        }
        explicit.retain(|(f, _)| *f != field);
        explicit.push((field, column.to_string()));
        Ok(())
    };
    for (field, column) in &file.map {
        add_map("--mapping [map]", field, column)?;
    }
    for m in &args.map {
        let (field, column) = split_pair("--map", m)?;
        add_map("--map", field, column)?;
    }

    let mut constants: Vec<(String, String)> = Vec::new();
    let mut add_setting = |key: &str, value: String| -> Result<(), ConfigError> {
        match key {
            "email" => {
                err("--setting email=...: the email comes from a column; use --map email=COLUMN")
            }
            "microconversion" => err("--setting microconversion=...: use --microconversion"),
            _ => {
                constants.retain(|(k, _)| k != key);
                constants.push((key.to_string(), value));
                Ok(())
            }
        }
    };
    for (k, v) in &file.settings {
        let value = match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        add_setting(k, value)?;
    }
    for s in &args.setting {
        let (k, v) = split_pair("--setting", s)?;
        add_setting(k, v.to_string())?;
    }

    Ok(InputConfig {
        read: ReadOptions {
            format,
            delimiter,
            encoding,
            sheet: pick(&args.sheet, &file.sheet),
            gzip: None,
        },
        frame: FrameOptions {
            header_row: args.header_row.or(file.header_row),
        },
        normalize: NormalizeOptions {
            explicit,
            rules: TimeRules {
                zone,
                format: time_format,
                unit,
                ..TimeRules::default()
            },
            constants,
            microconversion: args.microconversion || file.microconversion.unwrap_or(false),
            max_ms: now.as_millisecond().saturating_add(MAX_FUTURE_MS),
        },
        report: args.report.clone().or(file.report),
        rejects: args.rejects.clone().or(file.rejects),
        dedupe: !(args.no_dedupe || file.no_dedupe.unwrap_or(false)),
    })
}

/// Expand FILE arguments: directories to their supported files (sorted by name),
/// `-` to stdin.
pub fn expand_inputs(files: &[PathBuf], format_given: bool) -> Result<Vec<Input>, ConfigError> {
    let mut out = Vec::new();
    for f in files {
        if f.as_os_str() == "-" {
            out.push(Input::Stdin);
            continue;
        }
        if f.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(f)
                .map_err(|e| ConfigError(format!("{}: {e}", f.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && Format::from_path(p).is_some())
                .collect();
            entries.sort();
            if entries.is_empty() {
                tracing::warn!(
                    "{}: no .csv, .tsv, .gz, .xlsx or .parquet files in this directory",
                    f.display()
                );
            }
            out.extend(entries.into_iter().map(Input::Path));
            continue;
        }
        if !f.exists() {
            return err(format!("{}: no such file", f.display()));
        }
        if !format_given && Format::from_path(f).is_none() {
            return err(format!(
                "{}: unknown file type; name it .csv, .tsv, .csv.gz, .xlsx or .parquet, or give --format",
                f.display()
            ));
        }
        out.push(Input::Path(f.clone()));
    }
    if out.iter().filter(|i| matches!(i, Input::Stdin)).count() > 1 {
        return err("- (stdin) can be given only once");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn flags_become_typed_config() {
        let args = InputArgs {
            delimiter: Some("tab".into()),
            encoding: Some("latin1".into()),
            timezone: Some("Europe/Madrid".into()),
            time_unit: Some("ms".into()),
            map: vec!["email=Correo".into(), "utm_source=Fuente".into()],
            setting: vec!["conversion_type=call=1".into()],
            ..InputArgs::default()
        };
        let c = input_config(&args, now()).unwrap();
        assert_eq!(c.read.delimiter, Some(b'\t'));
        assert_eq!(c.read.encoding, Some(encoding_rs::WINDOWS_1252));
        assert_eq!(c.normalize.rules.unit, TimeUnit::Millis);
        assert_eq!(
            c.normalize.explicit[0],
            (Field::Email, "Correo".to_string())
        );
        assert_eq!(
            c.normalize.constants,
            vec![("conversion_type".to_string(), "call=1".to_string())]
        );
        assert_eq!(c.normalize.max_ms, now().as_millisecond() + 3_600_000);
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let cases: Vec<(InputArgs, &str)> = vec![
            (
                InputArgs {
                    timezone: Some("Mars/Base".into()),
                    ..Default::default()
                },
                "--timezone",
            ),
            (
                InputArgs {
                    encoding: Some("klingon".into()),
                    ..Default::default()
                },
                "--encoding",
            ),
            (
                InputArgs {
                    delimiter: Some(";;".into()),
                    ..Default::default()
                },
                "--delimiter",
            ),
            (
                InputArgs {
                    map: vec!["phone=Tel".into()],
                    ..Default::default()
                },
                "unknown field 'phone'",
            ),
            (
                InputArgs {
                    map: vec!["email".into()],
                    ..Default::default()
                },
                "--map",
            ),
            (
                InputArgs {
                    setting: vec!["email=x".into()],
                    ..Default::default()
                },
                "--map email",
            ),
            (
                InputArgs {
                    time_unit: Some("days".into()),
                    ..Default::default()
                },
                "--time-unit",
            ),
            (
                InputArgs {
                    format: Some("json".into()),
                    ..Default::default()
                },
                "--format",
            ),
        ];
        for (args, want) in cases {
            let e = input_config(&args, now()).unwrap_err().0;
            assert!(e.contains(want), "{e} should mention {want}");
        }
    }

    #[test]
    fn mapping_file_gives_options_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(
            &path,
            "timezone = \"Europe/Madrid\"\ndelimiter = \";\"\ntime-format = \"%d/%m/%Y %H:%M\"\n\
             [map]\nclick_time = \"Fecha\"\nemail = \"Correo\"\n[settings]\nconversion_type = \"call\"\nvalue = 5\n",
        )
        .unwrap();
        let args = InputArgs {
            mapping: Some(path.clone()),
            delimiter: Some(",".into()),
            map: vec!["email=Mail".into()],
            ..InputArgs::default()
        };
        let c = input_config(&args, now()).unwrap();
        assert_eq!(c.read.delimiter, Some(b','));
        assert!(c.normalize.rules.zone.is_some());
        assert_eq!(c.normalize.rules.format.as_deref(), Some("%d/%m/%Y %H:%M"));
        assert!(
            c.normalize
                .explicit
                .contains(&(Field::Email, "Mail".into()))
        );
        assert!(
            c.normalize
                .explicit
                .contains(&(Field::ClickTime, "Fecha".into()))
        );
        assert!(
            c.normalize
                .constants
                .contains(&("value".into(), "5".into()))
        );

        std::fs::write(&path, "timezon = \"UTC\"\n").unwrap();
        let e = input_config(&args, now()).unwrap_err().0;
        assert!(e.contains("timezon") && e.contains("m.toml"), "{e}");
    }
}
