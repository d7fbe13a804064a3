//! How a run ends: the process exit codes, the errors that stop a command, and
//! the one function that gives an error its exit code and its hint (as xh's
//! `exit_code` does). Call sites never choose codes.

use std::io;

use crate::api::auth::AuthError;
use crate::dispatch::fault::FaultKind;
use crate::dispatch::fault::RunFault;
use crate::state::StateError;

/// Process exit codes (README, `--help` and DESIGN.md list them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Exit {
    /// Every row valid (and, for import, sent or sent before).
    Ok = 0,
    /// Some rows rejected, refused or failed, or some files unreadable; the rest
    /// went through.
    Partial = 1,
    /// Usage, configuration or unreadable input, or an endpoint that answers as if
    /// misconfigured; nothing went through.
    Usage = 2,
    /// The API refused the credentials or scope, redirected the POST away, or
    /// stayed unreachable past `--max-outage`; leads stay pending.
    Refused = 3,
    /// Interrupted (Ctrl-C, SIGTERM); the state is saved.
    Interrupted = 130,
}

/// Why a command stopped before it could finish its work.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag, the job file or the mapping is wrong: the message names the flag.
    #[error("{0}")]
    Usage(String),
    /// The state store cannot be used.
    #[error(transparent)]
    Store(#[from] StateError),
    /// The token is missing, unreadable or refused before the first lead.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The endpoint as a whole is wrong or unreachable (no row is recorded for it).
    #[error(transparent)]
    Fault(#[from] RunFault),
    /// An output (report, rejects, emitted leads) cannot be written.
    #[error("{what}: {source}")]
    Output {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The process cannot do its work (threads, runtime).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    /// An output named `what` (a flag and its path) failed.
    pub fn output(what: impl Into<String>, source: io::Error) -> Error {
        Error::Output {
            what: what.into(),
            source,
        }
    }

    /// stdout (a command's own output) cannot be written.
    pub fn stdout(source: io::Error) -> Error {
        Error::output("stdout", source)
    }

    /// The reader of our output went away (`setclick validate --emit - | head`):
    /// not an error to report, the work asked for is done.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The exit code an error means.
pub fn exit_code(e: &Error) -> Exit {
    match e {
        Error::Usage(_) | Error::Store(_) | Error::Output { .. } | Error::Internal(_) => {
            Exit::Usage
        }
        Error::Auth(a) if a.is_refusal() => Exit::Refused,
        Error::Auth(_) => Exit::Usage,
        Error::Fault(f) => match f.kind {
            FaultKind::Endpoint | FaultKind::Account | FaultKind::Field => Exit::Usage,
            FaultKind::Credentials
            | FaultKind::Redirected
            | FaultKind::Unreachable
            | FaultKind::TimedOut => Exit::Refused,
        },
    }
}

/// What to run next, when the error has one obvious fix beyond its message.
pub fn hint(e: &Error) -> Option<String> {
    match e {
        Error::Fault(f) => f.hint(),
        _ => None,
    }
}
