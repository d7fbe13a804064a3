//! The Parquet reader (polars, sliced, projected), then normalization.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::run(data, "parquet", &["--timezone", "UTC"]));
