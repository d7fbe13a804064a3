//! `setclick import`: the plan from the flags, then the engine; `--dry-run` is
//! `validate`.

use super::runtime;
use crate::cli::ImportArgs;
use crate::config;
use crate::engine;
use crate::error::{Error, Exit};
use crate::ui::Ui;

pub fn run(args: ImportArgs, ui: Ui) -> Result<Exit, Error> {
    if args.dry_run {
        let validate = crate::cli::ValidateArgs {
            files: args.files,
            input: args.input,
            emit: None,
            account_id: args.target.account_id,
        };
        return super::validate::run(validate, ui);
    }
    let plan = config::import_plan(&args, ui)?;
    runtime()?.block_on(engine::import::import(plan))
}
