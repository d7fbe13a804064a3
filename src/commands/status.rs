//! `setclick status`: what the state store knows about files and their rows.

use crate::cli::StatusArgs;
use crate::error::{Error, Exit};
use crate::report::thousands;
use crate::state::{self, Store};

pub fn run(args: StatusArgs) -> Result<Exit, Error> {
    let store = Store::open_read(&args.state_dir)?;
    let Some(store) = store else {
        if args.json {
            crate::outln!("[]")?;
        } else {
            crate::ui::say(format!(
                "no state store in {} (no import has run there yet)",
                args.state_dir.display()
            ));
        }
        return Ok(Exit::Ok);
    };
    let filter = if args.files.is_empty() {
        None
    } else {
        let mut fps = Vec::new();
        for f in &args.files {
            fps.push(
                state::fingerprint_file(f)
                    .map_err(|e| Error::usage(format!("{}: {e}", f.display())))?,
            );
        }
        Some(fps)
    };
    let files = store.status(filter.as_deref())?;
    let live = store.live()?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&files).map_err(|e| Error::Internal(e.to_string()))?;
        crate::outln!("{text}")?;
        return Ok(Exit::Ok);
    }
    if let Some(l) = &live {
        crate::outln!("an import is running on this store now ({})", l.holder)?;
    }
    if files.is_empty() {
        crate::ui::say("the state store knows none of these files");
        return Ok(Exit::Ok);
    }
    let width = files.iter().map(|f| f.path.len()).max().unwrap_or(4).max(4);
    crate::outln!(
        "{:<width$}  {:>9}  {:>9}  {:>9}  {:>7}  {:>9}  {:>9}  {:>9}  LAST RUN",
        "FILE",
        "ROWS",
        "SENT",
        "REJECTED",
        "FAILED",
        "UNCERTAIN",
        "SKIPPED",
        "PENDING"
    )?;
    for f in &files {
        let opt = |v: Option<u64>| {
            v.map_or_else(
                || if f.importing { "reading" } else { "?" }.to_string(),
                thousands,
            )
        };
        crate::outln!(
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>7}  {:>9}  {:>9}  {:>9}  {}",
            f.path,
            opt(f.rows),
            thousands(f.sent),
            thousands(f.rejected),
            thousands(f.failed),
            thousands(f.uncertain),
            thousands(f.skipped),
            opt(f.pending),
            last_run(f),
        )?;
        if f.importing {
            crate::outln!(
                "  being imported now: {} rows in flight",
                thousands(f.in_flight)
            )?;
        }
        if !f.uncertain_rows.is_empty() {
            let shown: Vec<String> = f
                .uncertain_rows
                .iter()
                .take(20)
                .map(u64::to_string)
                .collect();
            crate::outln!(
                "  uncertain rows (their request may have reached the API unanswered): {}{}",
                shown.join(", "),
                if f.uncertain_rows.len() > 20 {
                    ", ..."
                } else {
                    ""
                }
            )?;
        }
    }
    Ok(Exit::Ok)
}

/// `2026-11-30T02:31:05Z (exit 0)`, `... (running)`, `... (died)`.
fn last_run(f: &crate::state::FileStatus) -> String {
    let Some(started) = &f.last_run else {
        return "-".into();
    };
    let how = match (f.importing, f.last_exit) {
        (true, _) => "running".to_string(),
        (false, Some(code)) => format!("exit {code}"),
        (false, None) => "died".to_string(),
    };
    format!("{started} ({how})")
}
