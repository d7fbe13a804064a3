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
