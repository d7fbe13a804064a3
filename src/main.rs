//! The `setclick` binary: parse the command line, run, exit with the code.

use clap::Parser;
use setclick::error::{Exit, exit_code};
use setclick::ui::{LogFormat, Ui};

/// Rows are allocated on the reader thread and freed on others; glibc's allocator
/// spends a third of a validate run in locks and consolidation for that pattern.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match setclick::config::jobfile::expand(raw.clone()) {
        Ok(args) => args,
        Err(e) => {
            // Before clap: the error is said as the command line asks
            // (`--log-format json`: a JSON line).
            setclick::ui::init(&Ui {
                format: log_format(&raw),
                ..Ui::default()
            });
            setclick::engine::say_error(&e);
            std::process::exit(exit_code(&e) as i32);
        }
    };
    let cli = setclick::cli::Cli::parse_from(args);
    let exit = match setclick::run(cli) {
        Ok(exit) => exit,
        // The reader of our output went away (`| head`): what it wanted is done.
        Err(e) if e.is_broken_pipe() => Exit::Ok,
        Err(e) => {
            setclick::engine::say_error(&e);
            exit_code(&e)
        }
    };
    std::process::exit(exit as i32);
}

/// `--log-format json` (or `=json`) on the raw command line.
fn log_format(args: &[std::ffi::OsString]) -> LogFormat {
    let json = args
        .windows(2)
        .any(|w| w[0] == "--log-format" && w[1] == "json")
        || args.iter().any(|a| a == "--log-format=json");
    if json {
        LogFormat::Json
    } else {
        LogFormat::Text
    }
}
