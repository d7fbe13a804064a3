//! The `setclick` binary: parse the command line, run, exit with the code.

use clap::Parser;

/// Rows are allocated on the reader thread and freed on others; glibc's allocator
/// spends a third of a validate run in locks and consolidation for that pattern.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = setclick::cli::Cli::parse();
    std::process::exit(setclick::run(cli));
}
