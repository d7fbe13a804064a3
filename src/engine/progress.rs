//! Progress: a bar on a terminal, a line every 10 seconds otherwise, nothing with -q.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::pipeline::{Counters, FileInfo};
use crate::report::thousands;

const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    enabled: bool,
    terminal: bool,
    bar: Option<ProgressBar>,
    name: String,
    total_bytes: Option<u64>,
    in_bytes: bool,
    started: Instant,
    last_log: Instant,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress {
            enabled: !quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            name: String::new(),
            total_bytes: None,
            in_bytes: false,
            started: Instant::now(),
            last_log: Instant::now(),
        }
    }

    pub fn start_file(&mut self, name: &str, info: &FileInfo) {
        self.name = name.to_string();
        self.in_bytes = info.progress_in_bytes;
        self.total_bytes = info.size;
        self.started = Instant::now();
        self.last_log = Instant::now();
        if !(self.enabled && self.terminal) {
            return;
        }
        let bar = match (self.in_bytes, info.size) {
            (true, Some(total)) => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            }
            _ => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    /// Update from the counters; `extra` is appended (e.g. sent/failed for import).
    pub fn tick(&mut self, counters: &Counters, extra: &str) {
        if !self.enabled {
            return;
        }
        let rows = counters.rows.load(Ordering::Relaxed);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let msg = format!(
            "{} rows ({}/s){extra}",
            thousands(rows),
            thousands((rows as f64 / secs) as u64)
        );
        if let Some(bar) = &self.bar {
            if self.in_bytes {
                bar.set_position(bytes);
            }
            bar.set_message(msg);
            return;
        }
        if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let pct = match (self.in_bytes, self.total_bytes) {
                (true, Some(t)) if t > 0 => format!(" {:.0}%", 100.0 * bytes as f64 / t as f64),
                _ => String::new(),
            };
            tracing::info!("{}:{pct} {msg}", self.name);
        }
    }

    pub fn finish_file(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
