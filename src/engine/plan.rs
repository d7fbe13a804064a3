//! A run's plan: every setting checked and typed before any file is read or any
//! request sent (ripgrep's `LowArgs → HiArgs`). `config` makes plans from the
//! command line and the job file; the engine builds its parts from them.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::auth::Secret;
use crate::api::client::Wire;
use crate::dispatch::DispatchConfig;
use crate::dispatch::pacing::Rate;
use crate::normalize::NormalizeOptions;
use crate::source::{FrameOptions, Input, ReadOptions};
use crate::state::FileSettings;
use crate::ui::Ui;

/// How to read and normalize input files.
#[derive(Debug, Clone)]
pub struct InputPlan {
    pub read: ReadOptions,
    pub frame: FrameOptions,
    pub normalize: NormalizeOptions,
    /// Look for duplicate leads (in the run, and for import in the ledger).
    pub dedupe: bool,
    /// Read every column a reader can, not only the mapped ones (Parquet): rejected
    /// rows are written whole.
    pub all_columns: bool,
}

/// What every command that reads lead files shares.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The files, directories expanded, in order.
    pub inputs: Vec<Input>,
    /// What the directories held that is not read: `path (why)`.
    pub skipped: Vec<String>,
    pub input: InputPlan,
    /// `--report PATH` (JSON).
    pub report: Option<PathBuf>,
    /// `--rejects PATH` (CSV).
    pub rejects: Option<PathBuf>,
    pub ui: Ui,
}

/// `setclick validate`.
#[derive(Debug, Clone)]
pub struct ValidatePlan {
    pub run: RunPlan,
    /// `--emit PATH` (`-` for stdout).
    pub emit: Option<PathBuf>,
    /// Written into emitted leads.
    pub account_id: Option<String>,
}

/// Where an import sends.
#[derive(Debug, Clone)]
pub enum TargetPlan {
    /// An in-process sandbox on a free loopback port.
    Sandbox,
    /// The API (or a stand-in) at `endpoint`, with the token and account.
    Api {
        endpoint: reqwest::Url,
        token: Secret,
        account: String,
    },
}

/// How an import sends.
#[derive(Debug, Clone)]
pub struct SendPlan {
    pub target: TargetPlan,
    pub rate: Rate,
    pub burst: NonZeroU32,
    pub dispatch: DispatchConfig,
    pub wire: Wire,
    /// Per request.
    pub timeout: Duration,
}

/// The state store's settings; `None` in an [`ImportPlan`] with `--no-state`.
#[derive(Debug, Clone)]
pub struct StatePlan {
    pub dir: PathBuf,
    /// `--uncertain skip`: list uncertain rows instead of sending them again.
    pub uncertain_skip: bool,
    /// Send again the rows that failed in earlier runs.
    pub retry_failed: bool,
    /// Forget what earlier runs did with these files.
    pub restart: bool,
}

/// `setclick import`.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub run: RunPlan,
    pub send: SendPlan,
    pub state: Option<StatePlan>,
}

impl ImportPlan {
    /// What changes the leads a file gives, named by flag (and fingerprinted as
    /// earlier versions did): part of the file's identity in the store.
    pub fn file_settings(&self) -> FileSettings {
        let n = &self.run.input.normalize;
        let r = &self.run.input.read;
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let map: Vec<(String, String)> = n
            .explicit
            .iter()
            .map(|(f, c)| (f.to_string(), c.clone()))
            .collect();
        let opt = |v: Option<String>| v.unwrap_or_default();
        let items = [
            ("--map", pairs(&map)),
            (
                "--timezone",
                opt(n
                    .rules
                    .zone
                    .as_ref()
                    .and_then(|z| z.iana_name())
                    .map(String::from)),
            ),
            ("--time-format", opt(n.rules.format.clone())),
            ("--time-unit", format!("{:?}", n.rules.unit).to_lowercase()),
            ("--setting", pairs(&n.constants)),
            ("--microconversion", n.microconversion.to_string()),
            (
                "--click-time-unit",
                format!("{:?}", self.send.wire.click_time_unit).to_lowercase(),
            ),
            (
                "--referrer-field",
                self.send.wire.referrer_field.to_string(),
            ),
            ("--sheet", opt(r.sheet.clone())),
            (
                "--header-row",
                opt(self.run.input.frame.header_row.map(|h| h.to_string())),
            ),
            (
                "--delimiter",
                opt(r.delimiter.map(|d| (d as char).to_string())),
            ),
            ("--encoding", opt(r.encoding.map(|e| e.name().to_string()))),
            ("--format", opt(r.format.map(|f| f.name().to_string()))),
        ];
        FileSettings {
            hash: self.settings_hash(),
            items: Some(items.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        }
    }

    /// What changes the leads a file produces, hashed: part of the file's identity
    /// in the store (importing it again under other settings needs `--restart`).
    pub fn settings_hash(&self) -> String {
        let n = &self.run.input.normalize;
        let r = &self.run.input.read;
        let wire = &self.send.wire;
        let text = format!(
            "v1|map={:?}|tz={:?}|format={:?}|unit={:?}|settings={:?}|micro={}|\
             wire={:?},{}|sheet={:?}|header={:?}|delimiter={:?}|encoding={:?}|type={:?}",
            n.explicit,
            n.rules.zone.as_ref().and_then(|z| z.iana_name()),
            n.rules.format,
            n.rules.unit,
            n.constants,
            n.microconversion,
            wire.click_time_unit,
            wire.referrer_field,
            r.sheet,
            self.run.input.frame.header_row,
            r.delimiter,
            r.encoding.map(|e| e.name()),
            r.format,
        );
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
    }
}

impl InputPlan {
    /// The settings that shape what is read and sent, for the report.
    pub fn describe(&self) -> serde_json::Map<String, serde_json::Value> {
        let n = &self.normalize;
        let r = &self.read;
        let map: serde_json::Map<String, serde_json::Value> = n
            .explicit
            .iter()
            .map(|(f, c)| (f.to_string(), c.clone().into()))
            .collect();
        let constants: serde_json::Map<String, serde_json::Value> = n
            .constants
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: serde_json::Value| {
            if !v.is_null() {
                m.insert(k.to_string(), v);
            }
        };
        put(
            "timezone",
            n.rules.zone.as_ref().and_then(|z| z.iana_name()).into(),
        );
        put("time_format", n.rules.format.clone().into());
        put(
            "time_unit",
            format!("{:?}", n.rules.unit).to_lowercase().into(),
        );
        put("map", map.into());
        put("settings", constants.into());
        put("microconversion", n.microconversion.into());
        put("dedupe", self.dedupe.into());
        put("format", r.format.map(|f| f.name()).into());
        put(
            "delimiter",
            r.delimiter.map(|d| (d as char).to_string()).into(),
        );
        put("encoding", r.encoding.map(|e| e.name()).into());
        put("sheet", r.sheet.clone().into());
        put("header_row", self.frame.header_row.into());
        m
    }
}

impl SendPlan {
    /// Where and how leads are sent, for the report (never the token).
    pub fn describe(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        let (endpoint, account) = match &self.target {
            TargetPlan::Sandbox => ("sandbox".to_string(), None),
            TargetPlan::Api {
                endpoint, account, ..
            } => (endpoint.to_string(), Some(account.clone())),
        };
        m.insert("endpoint".into(), endpoint.into());
        if let Some(a) = account {
            m.insert("account_id".into(), a.into());
        }
        m.insert(
            "click_time_unit".into(),
            format!("{:?}", self.wire.click_time_unit)
                .to_lowercase()
                .into(),
        );
        m.insert("referrer_field".into(), self.wire.referrer_field.into());
        m.insert(
            "rate_per_s".into(),
            self.rate
                .per_second()
                .map_or(serde_json::Value::Null, Into::into),
        );
        m.insert("concurrency".into(), self.dispatch.concurrency.into());
        m.insert("max_attempts".into(), self.dispatch.max_attempts.into());
        m
    }
}
