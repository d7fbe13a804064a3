//! The XLSX reader (calamine's streaming cells, the zip-bomb guard), then framing.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::run(data, "xlsx", &["--timezone", "UTC"]));
