//! The CSV reader with sniffing and encodings, then framing and normalization.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the options, so that every path is reached.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let args: &[&str] = match pick % 4 {
        0 => &["--timezone", "UTC"],
        1 => &["--timezone", "UTC", "--encoding", "windows-1252"],
        2 => &["--timezone", "UTC", "--delimiter", ";", "--header-row", "2"],
        _ => &[
            "--map",
            "click_time=a",
            "--map",
            "email=b",
            "--map",
            "utm_source=c",
        ],
    };
    common::run(rest, "csv", args);
});
