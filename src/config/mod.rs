//! Flags and the job file, validated into a run's plan. Every problem here is
//! reported before any file is opened.

mod inputs;
pub mod jobfile;
mod plan;

pub use inputs::{Expanded, expand_inputs};

pub use plan::{api_target, import_plan, validate_plan};

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::cli::InputArgs;
use crate::engine::plan::InputPlan;
use crate::normalize::columns::Field;
use crate::normalize::time::{TimeRules, TimeUnit};
use crate::normalize::{MAX_FUTURE_MS, NormalizeOptions};
use crate::source::{Format, FrameOptions, ReadOptions};

/// A flag, the mapping file or a file argument is wrong; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<ConfigError> for crate::error::Error {
    fn from(e: ConfigError) -> crate::error::Error {
        crate::error::Error::Usage(e.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// Everything needed to read and normalize input files, and where the reports go.
#[derive(Debug, Clone)]
pub struct InputConfig {
    pub read: ReadOptions,
    pub frame: FrameOptions,
    pub normalize: NormalizeOptions,
    pub report: Option<PathBuf>,
    pub rejects: Option<PathBuf>,
    pub dedupe: bool,
}

impl InputConfig {
    /// How the engine reads and normalizes files under these settings.
    pub fn input_plan(&self) -> InputPlan {
        InputPlan {
            read: self.read.clone(),
            frame: self.frame.clone(),
            normalize: self.normalize.clone(),
            dedupe: self.dedupe,
            all_columns: self.rejects.is_some(),
        }
    }
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

/// The reading and normalizing settings of the flags (a job file's options are
/// flags by now: see [`jobfile`]).
pub fn input_config(args: &InputArgs, now: Timestamp) -> Result<InputConfig, ConfigError> {
    Ok(InputConfig {
        read: read_options(args)?,
        frame: FrameOptions {
            header_row: args.header_row,
        },
        normalize: NormalizeOptions {
            explicit: explicit_map(args)?,
            rules: time_rules(args)?,
            constants: constant_settings(args)?,
            microconversion: args.microconversion,
            max_ms: now.as_millisecond().saturating_add(MAX_FUTURE_MS),
        },
        report: args.report.as_deref().map(|p| dated(p, now)),
        rejects: args.rejects.as_deref().map(|p| dated(p, now)),
        dedupe: !args.no_dedupe,
    })
}

/// `{date}` in an output path becomes today's date (YYYY-MM-DD, the machine's
/// zone), so that a nightly job file keeps every night's report.
pub fn dated(path: &Path, now: Timestamp) -> PathBuf {
    let text = path.to_string_lossy();
    if !text.contains("{date}") {
        return path.to_path_buf();
    }
    let today = now
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .date()
        .to_string();
    PathBuf::from(text.replace("{date}", &today))
}

fn read_options(args: &InputArgs) -> Result<ReadOptions, ConfigError> {
    let format = match &args.format {
        Some(f) => Some(Format::parse(f).ok_or_else(|| {
            ConfigError(format!("--format {f}: expected csv, tsv, xlsx or parquet"))
        })?),
        None => None,
    };
    let delimiter = args.delimiter.as_deref().map(parse_delimiter).transpose()?;
    let encoding = match &args.encoding {
        Some(label) => Some(encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(
            || ConfigError(format!("--encoding {label}: unknown encoding (try utf-8, windows-1252, latin1, utf-16le)")),
        )?),
        None => None,
    };
    Ok(ReadOptions {
        format,
        delimiter,
        encoding,
        sheet: args.sheet.clone(),
        gzip: None,
    })
}

fn time_rules(args: &InputArgs) -> Result<TimeRules, ConfigError> {
    let zone = match &args.timezone {
        Some(name) => Some(TimeZone::get(name).map_err(|_| {
            ConfigError(format!(
                "--timezone {name}: unknown time zone; use an IANA name such as Europe/Madrid, \
                 America/New_York or UTC"
            ))
        })?),
        None => None,
    };
    let format = args.time_format.clone();
    if let Some(f) = &format
        && !f.contains('%')
    {
        return err(format!(
            "--time-format {f}: expected a strftime format such as %d/%m/%Y %H:%M"
        ));
    }
    let unit = match &args.time_unit {
        Some(u) => u
            .parse::<TimeUnit>()
            .map_err(|e| ConfigError(format!("--time-unit: {e}")))?,
        None => TimeUnit::Auto,
    };
    Ok(TimeRules {
        zone,
        format,
        unit,
        ..TimeRules::default()
    })
}

/// `--map` flags (a job file's `[map]` table comes first); the last word on a
/// field wins.
fn explicit_map(args: &InputArgs) -> Result<Vec<(Field, String)>, ConfigError> {
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
    for m in &args.map {
        let (field, column) = split_pair("--map", m)?;
        add_map("--map", field, column)?;
    }
    Ok(explicit)
}

/// `--setting` flags (a job file's `[settings]` table comes first).
fn constant_settings(args: &InputArgs) -> Result<Vec<(String, String)>, ConfigError> {
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
    for s in &args.setting {
        let (k, v) = split_pair("--setting", s)?;
        add_setting(k, v.to_string())?;
    }
    Ok(constants)
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
}
