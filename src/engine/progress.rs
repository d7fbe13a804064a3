//! Progress: on a terminal a bar of leads done (sent, refused or failed) out of the
//! valid leads (for validate: rows read out of rows), with the rate and a real ETA,
//! fitted to the width; otherwise (cron, a log file) a timestamped line every 10 s;
//! nothing with `-q`. The total is estimated from how much of the file was read
//! (bytes for CSV, rows for Parquet) until it is read whole.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::{SignedDuration, Timestamp};

use super::pipeline::FileInfo;
use crate::report::{rate, thousands};
use crate::ui::{self, Ui, say};

const LINE_EVERY: Duration = Duration::from_secs(10);
/// The rate is averaged over about this long.
const RATE_WINDOW: f64 = 30.0;

/// Where a file's work stands.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// Rows read, and bytes read (CSV).
    pub rows: u64,
    pub bytes: u64,
    /// Valid rows so far (import: the leads this run sends, duplicates and leads
    /// sent before left out).
    pub valid: u64,
    /// Leads with a final answer (sent, refused, failed), and of them failed.
    pub done: u64,
    pub failed: u64,
}

pub struct Progress {
    ui: Ui,
    bar: Option<ProgressBar>,
    name: String,
    /// Import (leads done) rather than validate (rows read).
    sending: bool,
    total_bytes: Option<u64>,
    total_rows: Option<u64>,
    last_line: Instant,
    /// The last sample (time, amount), and the smoothed rate per second.
    last: Option<(Instant, u64)>,
    rate: f64,
}

impl Progress {
    pub fn new(ui: Ui) -> Progress {
        Progress {
            ui,
            bar: None,
            name: String::new(),
            sending: false,
            total_bytes: None,
            total_rows: None,
            last_line: Instant::now(),
            last: None,
            rate: 0.0,
        }
    }

    pub fn start_file(&mut self, name: &str, info: &FileInfo, sending: bool) {
        self.name = name.to_string();
        self.sending = sending;
        self.total_bytes = info.size.filter(|_| info.progress_in_bytes);
        self.total_rows = info.total_rows;
        self.last_line = Instant::now();
        self.last = None;
        self.rate = 0.0;
        if self.ui.quiet || !self.ui.terminal {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:24}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        ui::set_bar(Some(bar.clone()));
        self.bar = Some(bar);
    }

    /// How much of the file was read, when it can be told.
    fn read_fraction(&self, s: &Snapshot) -> Option<f64> {
        match (self.total_bytes, self.total_rows) {
            (Some(t), _) if t > 0 => Some((s.bytes as f64 / t as f64).min(1.0)),
            (_, Some(t)) if t > 0 => Some((s.rows as f64 / t as f64).min(1.0)),
            _ => None,
        }
    }

    pub fn tick(&mut self, s: Snapshot) {
        if self.ui.quiet {
            return;
        }
        let now = Instant::now();
        let amount = if self.sending { s.done } else { s.rows };
        if let Some((then, before)) = self.last {
            let dt = now.duration_since(then).as_secs_f64();
            if dt >= 0.2 {
                let current = amount.saturating_sub(before) as f64 / dt;
                let a = (dt / RATE_WINDOW).min(1.0);
                self.rate = if self.rate == 0.0 {
                    current
                } else {
                    self.rate + a * (current - self.rate)
                };
                self.last = Some((now, amount));
            }
        } else {
            self.last = Some((now, amount));
        }
        let read = self.read_fraction(&s);
        // Of what: every valid lead, estimated from the part read.
        let seen = if self.sending { s.valid } else { s.rows };
        let total = match read {
            Some(f) if f >= 0.999 => Some(seen),
            Some(f) if f > 0.0 => Some(((seen as f64 / f) as u64).max(seen)),
            _ => None,
        };
        let eta = total
            .filter(|_| self.rate > 0.0)
            .map(|t| Duration::from_secs_f64(t.saturating_sub(amount) as f64 / self.rate));
        let what = Line {
            amount,
            total,
            failed: s.failed,
            rate: self.rate,
            eta,
            read,
            sending: self.sending,
        };
        if let Some(bar) = &self.bar {
            bar.set_length(total.unwrap_or(amount).max(amount));
            bar.set_position(amount);
            bar.set_message(what.short());
        } else if self.last_line.elapsed() >= LINE_EVERY {
            self.last_line = now;
            say(format!("{}: {}", self.name, what.long()));
        }
    }

    pub fn finish_file(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            ui::set_bar(None);
        }
    }
}

/// What a progress line says.
struct Line {
    amount: u64,
    total: Option<u64>,
    failed: u64,
    rate: f64,
    eta: Option<Duration>,
    read: Option<f64>,
    sending: bool,
}

impl Line {
    fn counts(&self) -> String {
        let unit = if self.sending { "sent" } else { "rows" };
        let mut s = match self.total {
            Some(t) => format!("{}/{} {unit}", thousands(self.amount), thousands(t)),
            None => format!("{} {unit}", thousands(self.amount)),
        };
        if self.failed > 0 {
            s.push_str(&format!(", {} failed", thousands(self.failed)));
        }
        s.push_str(&format!(", {}/s", rate(self.rate)));
        s
    }

    /// For the bar: the ETA as a duration, and how far reading got while it leads.
    fn short(&self) -> String {
        let mut s = self.counts();
        if let Some(eta) = self.eta {
            s.push_str(&format!(", ETA {}", crate::dispatch::health::human(eta)));
        }
        if self.sending
            && let Some(r) = self.read
            && r < 0.999
        {
            s.push_str(&format!(", read {:.0}%", r * 100.0));
        }
        s
    }

    /// For a log line: the ETA as a time of day, UTC.
    fn long(&self) -> String {
        let mut s = self.counts();
        if let Some(eta) = self.eta
            && let Ok(d) = SignedDuration::try_from(eta)
        {
            let at = Timestamp::now() + d;
            s.push_str(&format!(", ETA {}", crate::dispatch::health::hms(at)));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_keep_a_decimal_when_small() {
        assert_eq!(rate(0.5), "0.5");
        assert_eq!(rate(20.0), "20");
        assert_eq!(rate(1_650_000.4), "1,650,000");
    }

    #[test]
    fn a_line_says_done_of_total_the_rate_and_when() {
        let l = Line {
            amount: 1204,
            total: Some(5000),
            failed: 3,
            rate: 20.0,
            eta: Some(Duration::from_secs(190)),
            read: Some(0.25),
            sending: true,
        };
        assert_eq!(
            l.short(),
            "1,204/5,000 sent, 3 failed, 20/s, ETA 3 min, read 25%"
        );
        let long = l.long();
        assert!(
            long.starts_with("1,204/5,000 sent, 3 failed, 20/s, ETA "),
            "{long}"
        );
        assert!(long.ends_with('Z'), "{long}");
    }
}
