//! Run a whole file through the readers, framing and normalization.

use std::io::Write;
use std::ops::ControlFlow;

use setclick::engine::pipeline::{Cells, Consumer, Counters, FileInfo, run_file};
use setclick::normalize::Outcome;
use setclick::source::Input;

struct Discard;

impl Consumer<()> for Discard {
    fn start(&mut self, _: &FileInfo) {}
    fn batch(&mut self, _: Vec<()>, _: &str) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

pub fn run(data: &[u8], extension: &str, args: &[&str]) {
    // After libFuzzer's own hook: panics setclick catches (in polars) are not crashes.
    setclick::panics::install_hook();
    let dir = std::env::temp_dir().join(format!("setclick-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("input.{extension}"));
    let Ok(mut f) = std::fs::File::create(&path) else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    drop(f);
    let mut all = vec!["setclick", "validate", "x"];
    all.extend_from_slice(args);
    let cli = <setclick::cli::Cli as clap::Parser>::parse_from(all);
    let setclick::cli::Command::Validate(v) = cli.command else {
        return;
    };
    let Ok(cfg) = setclick::config::input_config(&v.input, jiff::Timestamp::now()) else {
        return;
    };
    let prepare = |_: Outcome, _: &mut String| ();
    let _ = run_file(
        &Input::Path(path),
        &cfg.input_plan(),
        &Counters::default(),
        Cells::Recycle,
        &prepare,
        &mut Discard,
        &mut setclick::profile::Profiler::default(),
    );
}
