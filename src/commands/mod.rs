//! One module per subcommand: each turns its flags into a plan, calls the engine
//! (or the store, the sandbox, the login endpoint) and prints; no logic of its own.

pub mod check;
pub mod import;
pub mod login;
pub mod sandbox;
pub mod status;
pub mod validate;

use crate::error::Error;

/// The runtime a command runs on: one thread (import's senders start their own).
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))
}
