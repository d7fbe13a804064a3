//! `setclick check`: the token, the account and the endpoint, without a lead.

use std::time::Duration;

use super::runtime;
use crate::cli::CheckArgs;
use crate::config;
use crate::engine;
use crate::error::{Error, Exit};
use crate::ui::Ui;

pub fn run(args: CheckArgs, _ui: Ui) -> Result<Exit, Error> {
    let target = config::api_target(&args.target)?;
    let timeout = (args.timeout.is_finite() && args.timeout > 0.0)
        .then(|| Duration::from_secs_f64(args.timeout))
        .ok_or_else(|| Error::usage("--timeout must be a positive number of seconds"))?;
    runtime()?.block_on(engine::check::check(target, timeout))
}
