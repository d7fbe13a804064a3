//! The `setclick` binary: parse the command line, run, exit with the code.

use clap::Parser;
use setclick::error::{Exit, exit_code};

/// Rows are allocated on the reader thread and freed on others; glibc's allocator
/// spends a third of a validate run in locks and consolidation for that pattern.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args = match setclick::config::jobfile::expand(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
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
