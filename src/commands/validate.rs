//! `setclick validate`: the plan from the flags, then the engine. Nothing is sent.

use super::runtime;
use crate::cli::ValidateArgs;
use crate::config;
use crate::engine;
use crate::error::{Error, Exit};
use crate::ui::Ui;

pub fn run(args: ValidateArgs, ui: Ui) -> Result<Exit, Error> {
    let plan = config::validate_plan(&args, ui)?;
    runtime()?.block_on(engine::validate::validate(plan))
}
