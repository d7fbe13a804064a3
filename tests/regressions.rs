//! Inputs that once crashed setclick, found by the fuzz targets in `fuzz/`. Each runs
//! the real binary; the artifact is inlined.

mod common;

use common::{Workdir, json_lines};

/// `fuzz/artifacts/time/crash-2a4500b5…`: a time with dozens of fraction digits made
/// the digit scanner overflow (a panic in debug builds, a silent wrap in release).
#[test]
fn a_time_with_sixty_fraction_digits() {
    let w = Workdir::new();
    let t = format!("2021-10-20 07:31:28.66202{}", "4".repeat(55));
    w.write(
        "t.csv",
        format!("click_time,email,utm_source\n{t},a@example.com,x\n"),
    );
    let r = w.run(&["validate", "t.csv", "--timezone", "UTC", "--emit", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json_lines(&r.stdout)[0]["click_time"], 1_634_715_088_662i64);

    // The artifact itself: an ambiguous day/month date with junk after it.
    let crash = "11-10-20 07:31:28.66202444444444444444444444444444444444444444444444444444444444102120.1216244444444444444110220.`12162002988";
    w.write(
        "c.csv",
        format!("click_time,email,utm_source\n{crash},b@example.com,x\n"),
    );
    for extra in [&[][..], &["--time-format", "%d-%m-%y %H:%M:%S"][..]] {
        let mut args = vec!["validate", "c.csv", "--timezone", "UTC"];
        args.extend_from_slice(extra);
        let r = w.run(&args);
        assert!(r.code == 1 || r.code == 2, "{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(r.stderr.contains("c.csv"), "{}", r.stderr);
    }
}

/// `fuzz/artifacts/parquet/crash-07d6e8d0…`: damaged Parquet metadata makes polars
/// panic ("thrift bool field"). setclick catches it; the message must be one clear
/// error, without the panic's own noise.
#[test]
fn damaged_parquet_metadata_that_makes_polars_panic() {
    let w = Workdir::new();
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fuzz-parquet-thrift-bool.parquet"
    ))
    .unwrap();
    w.write("damaged.parquet", bytes);
    let r = w.run(&["validate", "damaged.parquet", "--timezone", "UTC"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("damaged.parquet") && r.stderr.contains("not a readable Parquet file"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// `fuzz/artifacts/parquet/crash-45d732dc…`: a 7 KB file whose footer claims a list
/// of billions of row groups; polars reserved 47 GB for it and the process aborted.
/// The footer is now checked before polars reads it.
#[test]
fn a_parquet_footer_claiming_billions_of_row_groups() {
    let w = Workdir::new();
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fuzz-parquet-huge-list.parquet"
    ))
    .unwrap();
    w.write("huge.parquet", bytes);
    let r = w.run(&["validate", "huge.parquet", "--timezone", "UTC"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("huge.parquet") && r.stderr.contains("damaged metadata"),
        "{}",
        r.stderr
    );
}
