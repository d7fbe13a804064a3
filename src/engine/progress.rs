//! Progress: on a terminal a bar of leads done (sent, refused or failed) out of the
//! file's valid leads to send (for validate: rows read out of rows), with the rate
//! and a real ETA, fitted to the width; otherwise (cron, a log file) a timestamped
//! line every 10 s; nothing with `-q`. The total is exact once every row of the
//! file is normalized; until then it is estimated from how much of the file was
//! read (bytes for CSV, rows for Parquet) and the share of valid rows so far. The
//! rate is the amount done over the last minute (at most), counted from the first
//! lead done; while the API is unreachable the line says sending is paused.
//! What a line says is a pure function of the snapshots and their times.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::{SignedDuration, Timestamp};

use super::pipeline::FileInfo;
use crate::dispatch::health::hms;
use crate::report::{rate, thousands};
use crate::ui::{self, Ui, say};

const LINE_EVERY: Duration = Duration::from_secs(10);
/// The rate is the amount done over this long (or since the first lead done).
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// A sample of the amount done is kept at most this often.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// Where a file's work stands.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// Rows normalized and handed over in file order, and of them valid.
    pub rows: u64,
    pub valid: u64,
    /// Rows the reader framed, bytes read (CSV), and whether it reached the end.
    pub framed: u64,
    pub bytes: u64,
    pub read_all: bool,
    /// Import: valid leads this run does not send (duplicates, rows done by an
    /// earlier run, leads in the ledger), as decided so far.
    pub skipped: u64,
    /// Leads with a final answer (sent, refused, failed), and of them failed.
    pub done: u64,
    pub failed: u64,
    /// Sending is paused: the API has been unreachable since then.
    pub paused: Option<Timestamp>,
}

/// What is known of a file before its rows: how its reading is measured.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Import (leads done) rather than validate (rows read).
    sending: bool,
    total_bytes: Option<u64>,
    total_rows: Option<u64>,
}

impl Shape {
    /// How much of the file was read, when it can be told.
    fn read_fraction(&self, s: &Snapshot) -> Option<f64> {
        if s.read_all {
            return Some(1.0);
        }
        match (self.total_bytes, self.total_rows) {
            (Some(t), _) if t > 0 => Some((s.bytes as f64 / t as f64).min(1.0)),
            (_, Some(t)) if t > 0 => Some((s.framed as f64 / t as f64).min(1.0)),
            _ => None,
        }
    }

    /// What is done so far: leads answered (import) or rows read (validate).
    fn amount(&self, s: &Snapshot) -> u64 {
        if self.sending { s.done } else { s.rows }
    }

    /// Of what: the file's rows (validate) or its valid leads this run sends
    /// (import); exact once every row read is normalized, else estimated.
    fn total(&self, s: &Snapshot) -> Option<u64> {
        let complete = s.read_all && s.rows >= s.framed;
        let (rows, valid) = if complete {
            (s.rows, s.valid)
        } else {
            let f = self.read_fraction(s).filter(|f| *f > 0.0)?;
            let rows = ((s.framed as f64 / f) as u64).max(s.framed);
            if s.rows == 0 {
                return (!self.sending).then_some(rows);
            }
            let share = s.valid.min(s.rows) as f64 / s.rows as f64;
            (rows, ((rows as f64 * share) as u64).max(s.valid))
        };
        let total = if self.sending {
            valid.saturating_sub(s.skipped)
        } else {
            rows
        };
        Some(total.max(self.amount(s)))
    }

    /// What a line says, at the rate given.
    fn line(&self, s: &Snapshot, rate: Option<f64>) -> Line {
        let amount = self.amount(s);
        let total = self.total(s);
        let eta = match (total, rate, s.paused) {
            (Some(t), Some(r), None) if r > 0.0 => Some(Duration::from_secs_f64(
                (t.saturating_sub(amount) as f64 / r).min(1e9),
            )),
            _ => None,
        };
        Line {
            amount,
            total,
            failed: s.failed,
            rate,
            eta,
            read: self.read_fraction(s),
            sending: self.sending,
            paused: s.paused,
        }
    }
}

/// The amount done at moments of the last [`RATE_WINDOW`], from the first time
/// anything was done.
#[derive(Debug, Default)]
struct Window {
    samples: VecDeque<(Instant, u64)>,
}

impl Window {
    /// The amount done at `now`; the rate over the window up to it.
    fn rate(&mut self, now: Instant, amount: u64) -> Option<f64> {
        if amount == 0 && self.samples.is_empty() {
            return None;
        }
        let due = self
            .samples
            .back()
            .is_none_or(|(t, _)| now.saturating_duration_since(*t) >= SAMPLE_EVERY);
        if due {
            self.samples.push_back((now, amount));
        }
        // Keep one sample at or before the window's start.
        while self.samples.len() > 1
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (since, from) = *self.samples.front()?;
        let span = now.saturating_duration_since(since).as_secs_f64();
        (span >= 1.0).then(|| amount.saturating_sub(from) as f64 / span)
    }
}

pub struct Progress {
    ui: Ui,
    bar: Option<ProgressBar>,
    name: String,
    shape: Shape,
    last_line: Instant,
    window: Window,
}

impl Progress {
    pub fn new(ui: Ui) -> Progress {
        Progress {
            ui,
            bar: None,
            name: String::new(),
            shape: Shape::default(),
            last_line: Instant::now(),
            window: Window::default(),
        }
    }

    pub fn start_file(&mut self, name: &str, info: &FileInfo, sending: bool) {
        self.name = name.to_string();
        self.shape = Shape {
            sending,
            total_bytes: info.size.filter(|_| info.progress_in_bytes),
            total_rows: info.total_rows,
        };
        self.last_line = Instant::now();
        self.window = Window::default();
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

    pub fn tick(&mut self, s: Snapshot) {
        if self.ui.quiet {
            return;
        }
        let now = Instant::now();
        let rate = self.window.rate(now, self.shape.amount(&s));
        let what = self.shape.line(&s, rate);
        if let Some(bar) = &self.bar {
            bar.set_length(what.total.unwrap_or(what.amount).max(what.amount));
            bar.set_position(what.amount);
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
    rate: Option<f64>,
    eta: Option<Duration>,
    read: Option<f64>,
    sending: bool,
    paused: Option<Timestamp>,
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
        match (self.paused, self.rate) {
            (Some(since), _) => {
                s.push_str(&format!(", paused: API unreachable since {}", hms(since)))
            }
            (None, Some(r)) => s.push_str(&format!(", {}/s", rate(r))),
            (None, None) => {}
        }
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
            rate: Some(20.0),
            eta: Some(Duration::from_secs(190)),
            read: Some(0.25),
            sending: true,
            paused: None,
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

    const IMPORT: Shape = Shape {
        sending: true,
        total_bytes: Some(300_000),
        total_rows: None,
    };

    /// A 3,000-row file read whole while its first batch is being sent: the total
    /// is the file's valid leads, not the ones handed to the senders so far.
    #[test]
    fn the_total_is_the_files_valid_leads_exact_once_all_are_normalized() {
        let mut s = Snapshot {
            rows: 1024,
            valid: 1000,
            framed: 3000,
            bytes: 300_000,
            read_all: true,
            done: 485,
            ..Snapshot::default()
        };
        // Read whole, a third normalized: estimated from the share valid.
        assert_eq!(IMPORT.total(&s), Some(2929));
        s.rows = 3000;
        s.valid = 2950;
        assert_eq!(IMPORT.total(&s), Some(2950));
        // Duplicates and leads sent before are not sent.
        s.skipped = 50;
        assert_eq!(IMPORT.total(&s), Some(2900));
        let line = IMPORT.line(&s, Some(50.0));
        assert_eq!(line.eta, Some(Duration::from_secs_f64(2415.0 / 50.0)));
        assert!(line.short().starts_with("485/2,900 sent, 50/s, ETA "));
    }

    #[test]
    fn while_reading_the_total_is_estimated_from_the_part_read() {
        let s = Snapshot {
            rows: 900,
            valid: 450,
            framed: 1000,
            bytes: 75_000,
            ..Snapshot::default()
        };
        // A quarter read: 4,000 rows, half of them valid.
        assert_eq!(IMPORT.total(&s), Some(2000));
        let validate = Shape {
            sending: false,
            ..IMPORT
        };
        assert_eq!(validate.total(&s), Some(4000));
        // Nothing to measure reading by (stdin): no total until the end.
        let stdin = Shape {
            total_bytes: None,
            ..IMPORT
        };
        assert_eq!(stdin.total(&s), None);
        let done = Snapshot {
            read_all: true,
            rows: 1000,
            valid: 500,
            ..s
        };
        assert_eq!(stdin.total(&done), Some(500));
    }

    /// One lead a second, sampled every 250 ms (as the recorder ticks): the rate
    /// says 1/s from the start, not a seeded average.
    #[test]
    fn the_rate_is_what_was_done_over_the_last_minute() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = Window::default();
        assert_eq!(w.rate(at(0), 0), None);
        let mut rates = Vec::new();
        for tick in 1..=400u64 {
            let ms = tick * 250;
            // The first lead done at 1 s, then one a second.
            let done = ms / 1000;
            rates.push((ms, w.rate(at(ms), done)));
        }
        for (ms, r) in &rates {
            if *ms >= 3000 {
                let r = r.expect("a rate");
                assert!((0.7..=1.34).contains(&r), "{ms} ms: {r}");
            }
            if *ms >= 20_000 {
                let r = r.expect("a rate");
                assert!((0.95..=1.06).contains(&r), "{ms} ms: {r}");
            }
        }
        // Five a second.
        let mut w = Window::default();
        let mut last = None;
        for tick in 1..=200u64 {
            last = w.rate(at(tick * 250), tick * 250 * 5 / 1000);
        }
        let r = last.expect("a rate");
        assert!((4.9..=5.1).contains(&r), "{r}");
        // After a minute without anything done, the rate is zero.
        let r = w.rate(at(200 * 250 + 61_000), 250).expect("a rate");
        assert!(r < 0.05, "{r}");
    }

    #[test]
    fn a_paused_send_says_so_instead_of_a_rate_and_an_eta() {
        let since: Timestamp = "2026-11-30T02:31:05Z".parse().expect("time");
        let s = Snapshot {
            rows: 3000,
            valid: 3000,
            framed: 3000,
            read_all: true,
            done: 1200,
            paused: Some(since),
            ..Snapshot::default()
        };
        let line = IMPORT.line(&s, Some(3.0));
        assert_eq!(line.eta, None);
        assert_eq!(
            line.short(),
            "1,200/3,000 sent, paused: API unreachable since 02:31:05Z"
        );
        assert!(!line.long().contains("ETA"), "{}", line.long());
    }
}
