//! One import at a time per state directory: an advisory lock on a file that
//! names its holder. The lock dies with its process, so a crash never leaves it held.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use super::{LOCK_FILE, StateError, unusable};

/// Take the directory's lock or say who holds it.
pub(super) fn take(dir: &Path) -> Result<File, StateError> {
    let path = dir.join(LOCK_FILE);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| unusable(&path, e))?;
    match f.try_lock() {
        Ok(()) => {
            f.set_len(0).map_err(|e| unusable(&path, e))?;
            writeln!(
                f,
                "pid {} started {}",
                std::process::id(),
                jiff::Timestamp::now()
            )
            .map_err(|e| unusable(&path, e))?;
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            Err(StateError::Busy(format!(
                "another import is running on the state directory {} ({}); wait for it, or use \
                 another --state-dir",
                dir.display(),
                holder.trim()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(unusable(&path, e)),
    }
}

/// Who holds the directory's lock, when an import runs there now: its lock
/// file's line (`pid N started T`).
pub(super) fn holder(dir: &Path) -> Option<String> {
    let path = dir.join(LOCK_FILE);
    let mut f = std::fs::OpenOptions::new().read(true).open(&path).ok()?;
    match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            None
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            Some(text.trim().to_string())
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}
