//! How to talk to the operator. Everything setclick writes on stderr goes through
//! `tracing`: summaries, notices and progress lines ([`say`]) as well as warnings
//! and errors, so `-q` silences all but errors, `--log-format json` makes every
//! line a JSON object, and lines written to a file or a pipe (cron) carry the time
//! (RFC 3339, UTC). On a terminal, lines are written above the progress bar.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The target of what [`say`] writes: shown at default verbosity, not with `-q`.
pub const SAY: &str = "setclick::say";

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How to talk to the user.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `-q`: only errors.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
    pub format: LogFormat,
    /// stderr is a terminal (progress bars) rather than a file or a pipe (lines).
    pub terminal: bool,
}

impl Default for Ui {
    fn default() -> Ui {
        Ui {
            quiet: false,
            verbose: 0,
            format: LogFormat::Text,
            terminal: io::stderr().is_terminal(),
        }
    }
}

/// A line for the operator (summary, notice, progress), at default verbosity.
pub fn say(line: impl fmt::Display) {
    tracing::info!(target: SAY, "{line}");
}

/// A line of the command's own output on stdout (`status`, `check`, `login`). An
/// error comes back instead of a panic: a reader that went away (`| head -1`) is
/// one, and `main` ends the run quietly for it.
pub fn out(text: impl fmt::Display) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// Install the subscriber for `ui` (once; `SETCLICK_LOG` overrides the levels).
pub fn init(ui: &Ui) {
    use tracing_subscriber::EnvFilter;
    let level = match (ui.quiet, ui.verbose) {
        (true, _) => "error".to_string(),
        (false, 0) => format!("warn,{SAY}=info"),
        (false, 1) => "warn,setclick=info".to_string(),
        (false, _) => "info,setclick=debug".to_string(),
    };
    let filter = EnvFilter::try_from_env("SETCLICK_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(AboveBar)
        .with_ansi(false);
    let _ = match ui.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .event_format(Lines { time: !ui.terminal })
            .try_init(),
    };
}

/// Text lines: `warning: ` and `error: ` before warnings and errors, nothing before
/// what is said, and the time first when stderr is not a terminal.
struct Lines {
    time: bool,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if self.time {
            write!(
                w,
                "{} ",
                jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
            )?;
        }
        let prefix = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::DEBUG | Level::TRACE => "debug: ",
            Level::INFO => "",
        };
        w.write_str(prefix)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// The progress bar on screen, if any: lines are written above it.
static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Show lines above `bar` from now on (`None`: the bar is gone).
pub fn set_bar(bar: Option<indicatif::ProgressBar>) {
    *BAR.lock().unwrap_or_else(|p| p.into_inner()) = bar;
}

/// stderr, written around the progress bar.
struct AboveBar;

/// One event's bytes, written at once when dropped.
struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let bar = BAR.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let write = || {
            let _ = io::stderr().lock().write_all(&self.0);
        };
        match bar {
            Some(b) if !b.is_hidden() => b.suspend(write),
            _ => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for AboveBar {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(Vec::with_capacity(128))
    }
}
