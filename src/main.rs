//! The `setclick` binary: parse the command line, run, exit with the code.

use clap::Parser;

fn main() {
    let cli = setclick::cli::Cli::parse();
    std::process::exit(setclick::run(cli));
}
