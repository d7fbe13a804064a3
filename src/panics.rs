//! Panics inside third-party readers (polars on a damaged Parquet file) are caught
//! and reported as errors; this keeps the panic message itself off stderr, so that a
//! damaged file gives one clear error and no "thread panicked" noise.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Install the hook once; panics outside [`quietly`] go to the previous hook.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.get() {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                LAST.with_borrow_mut(|l| *l = msg);
            } else {
                previous(info);
            }
        }));
    });
}

/// Run `f`, turning a panic into `Err` with its message, silently.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = QUIET.replace(true);
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.set(was);
    result.map_err(|_| LAST.with_borrow_mut(std::mem::take))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        super::install_hook();
        let r: Result<(), String> = super::quietly(|| panic!("thrift bool field"));
        assert_eq!(r.unwrap_err(), "thrift bool field");
        assert_eq!(super::quietly(|| 7).unwrap(), 7);
    }
}
