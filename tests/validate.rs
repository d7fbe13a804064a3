//! `setclick validate` from the outside: generated files of every format, emitted
//! leads compared field by field, rejects, reports and exit codes.

mod common;

use common::{Workdir, assert_emitted, json_lines, leads, write_csv, write_parquet, write_xlsx};

fn report(w: &Workdir) -> serde_json::Value {
    serde_json::from_str(&w.read("report.json")).expect("report json")
}

/// `validate calls.csv` (Madrid time), emitting out.jsonl.
fn validate_calls(w: &Workdir, extra: &[&str]) -> common::Run {
    let args = [
        "validate",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--emit",
        "out.jsonl",
    ];
    w.run(&[&args[..], extra].concat())
}

/// 5,000 rows: several batches, so the cells of later rows reuse those of earlier
/// ones (long and short texts, empty cells) and must still come out exact.
#[test]
fn csv_emit_matches_generated_leads_field_by_field() {
    let w = Workdir::new();
    let data = leads(5000, 1, 10);
    write_csv(&w.path("calls.csv"), &data, b';');
    let r = validate_calls(&w, &["--rejects", "rejects.csv", "--report", "report.json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_emitted(&json_lines(&w.read("out.jsonl")), &data);

    let rep = report(&w);
    let bad = data.iter().filter(|l| l.bad.is_some()).count() as u64;
    assert_eq!(rep["totals"]["rows"], 5000);
    assert_eq!(rep["totals"]["rejected"], bad);
    assert_eq!(rep["totals"]["valid"], 5000 - bad);
    assert_eq!(rep["files"][0]["format"], "csv");
    assert_eq!(rep["files"][0]["header_row"], 2);
    assert_eq!(rep["files"][0]["mapping"]["click_time"], "Fecha");
    assert_eq!(rep["files"][0]["mapping"]["current_url"], "Landing Page");

    // Rejects: one line per bad row, its file, field, line and original cells.
    let rejects = w.read("rejects.csv");
    let mut rd = csv::Reader::from_reader(rejects.as_bytes());
    let head: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(head[0..5], ["file", "row", "location", "field", "reason"]);
    assert_eq!(head[5..], common::CSV_HEADER);
    let recs: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(recs.len() as u64, bad);
    let mut last = 0;
    for rec in &recs {
        assert_eq!(&rec[0], "calls.csv");
        let row: usize = rec[1].parse().unwrap();
        assert!(row > last, "in file order");
        last = row;
        let lead = &data[row - 1];
        assert_eq!(Some(&rec[3]), lead.bad, "row {row}");
        // Title line, header line, then data: row N is on line N + 2.
        assert_eq!(&rec[2], format!("line {}", row + 2));
        assert_eq!(&rec[6], lead.email);
        assert!(!rec[4].is_empty());
    }
}

#[test]
fn xlsx_with_title_rows_date_cells_and_text_dates() {
    let w = Workdir::new();
    let data = leads(120, 2, 9);
    write_xlsx(&w.path("crm.xlsx"), &data);
    let r = w.run(&[
        "validate",
        "crm.xlsx",
        "--timezone",
        "Europe/Madrid",
        "--emit",
        "out.jsonl",
        "--rejects",
        "rejects.csv",
        "--report",
        "report.json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_emitted(&json_lines(&w.read("out.jsonl")), &data);
    let rep = report(&w);
    assert_eq!(rep["files"][0]["header_row"], 3);
    assert_eq!(
        rep["files"][0]["mapping"]["microconversion"],
        "micro_conversion"
    );
    // Locations name the sheet and the cell of the failing column.
    let rejects = w.read("rejects.csv");
    let first_bad = data.iter().position(|l| l.bad == Some("email")).unwrap();
    assert!(
        rejects.contains(&format!("Leads!B{}", first_bad + 4)),
        "{rejects}"
    );
}

/// `validate` a file written by `write_parquet`, emitting out.jsonl. Zoned timestamps
/// are instants: no --timezone needed.
fn validate_parquet(w: &Workdir, name: &str, extra: &[&str]) -> common::Run {
    let args = [
        "validate",
        name,
        "--map",
        "click_time=click_ts",
        "--emit",
        "out.jsonl",
    ];
    w.run(&[&args[..], extra].concat())
}

#[test]
fn parquet_with_row_groups_categoricals_nulls_and_zoned_timestamps() {
    let w = Workdir::new();
    let data = leads(250, 3, 11);
    write_parquet(&w.path("backfill.parquet"), &data, 64);
    let r = validate_parquet(
        &w,
        "backfill.parquet",
        &["--rejects", "rejects.csv", "--report", "report.json"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_emitted(&json_lines(&w.read("out.jsonl")), &data);
    let rejects = w.read("rejects.csv");
    // Rejected rows are written whole: the unmapped "notes" column too, so that
    // a row can be traced; its row number is its place in the file, and the
    // location names the column to blame.
    let header = rejects.lines().next().unwrap();
    assert!(header.contains("notes"), "{header}");
    assert!(header.contains("email"), "{header}");
    assert!(rejects.contains(",column "), "{rejects}");
}

/// Row groups larger than a read slice (32k rows), read in slices (each against its
/// own row group) and turned into cells a chunk at a time: every row, in order,
/// with its fields, and rejected rows located by their row in the file.
#[test]
fn parquet_row_groups_larger_than_a_slice_keep_every_row_in_order() {
    let w = Workdir::new();
    // Bad rows 25,000 (in the first group) and 50,000 (in the second, whose rows
    // start at 35,001). polars writes 70,000 / 35,000 groups of balanced sizes.
    let data = leads(70_000, 9, 25_000);
    write_parquet(&w.path("big.parquet"), &data, 35_000);
    let r = validate_parquet(&w, "big.parquet", &["--rejects", "rejects.csv"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let emitted = json_lines(&w.read("out.jsonl"));
    assert_eq!(emitted.len(), 69_998);
    assert_emitted(&emitted, &data);
    let rejects = w.read("rejects.csv");
    let rows: Vec<&str> = rejects.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{rejects}");
    assert!(
        rows[0].starts_with("big.parquet,25000,column email,email,"),
        "{rejects}"
    );
    assert!(
        rows[1].starts_with("big.parquet,50000,column click_ts,click_time,"),
        "{rejects}"
    );
}

#[test]
fn tsv_gzip_and_stdin_give_the_same_leads() {
    let w = Workdir::new();
    let data = leads(50, 4, 0);
    write_csv(&w.path("a.tsv"), &data, b'\t');
    let plain = std::fs::read(w.path("a.tsv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    w.write("a.tsv.gz", gz.finish().unwrap());

    let a = w.run(&[
        "validate",
        "a.tsv",
        "--timezone",
        "Europe/Madrid",
        "--emit",
        "-",
    ]);
    let b = w.run(&[
        "validate",
        "a.tsv.gz",
        "--timezone",
        "Europe/Madrid",
        "--emit",
        "-",
    ]);
    let c = w.run_stdin(
        &[
            "validate",
            "-",
            "--timezone",
            "Europe/Madrid",
            "--emit",
            "-",
        ],
        Some(&plain),
    );
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_emitted(&json_lines(&a.stdout), &data);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stdout, c.stdout);
}

#[test]
fn windows_1252_needs_the_encoding_flag() {
    let w = Workdir::new();
    let text = "fecha,correo,utm_source,utm_campaign\n2024-07-01T10:00:00Z,jose@example.com,google,Campa\u{f1}a oto\u{f1}o\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    w.write("win.csv", &bytes);
    let r = w.run(&["validate", "win.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("win.csv"), "{}", r.stderr);
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
    assert!(r.stderr.contains("--encoding windows-1252"), "{}", r.stderr);
    let r = w.run(&[
        "validate",
        "win.csv",
        "--encoding",
        "windows-1252",
        "--emit",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        json_lines(&r.stdout)[0]["url_parameters"]["utm_campaign"],
        "Campaña otoño"
    );
}

#[test]
fn utf8_bom_crlf_quoted_newlines_and_ragged_rows() {
    let w = Workdir::new();
    let text = "\u{feff}click_time,email,utm_source,notes\r\n\
        2024-07-01T10:00:00Z,a@example.com,google,\"multi\r\nline, with comma\"\r\n\
        2024-07-01T11:00:00Z,b@example.com,google\r\n\
        2024-07-01T12:00:00Z,c@example.com,google,x,unexpected\r\n\
        2024-07-01T13:00:00Z,d@example.com,google,x,,\r\n";
    w.write("e.csv", text);
    let r = w.run(&[
        "validate",
        "e.csv",
        "--emit",
        "out.jsonl",
        "--rejects",
        "rej.csv",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let out = json_lines(&w.read("out.jsonl"));
    let rows: Vec<u64> = out.iter().map(|v| v["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, [1, 4], "trailing empty fields are tolerated");
    let rej = w.read("rej.csv");
    assert!(
        rej.contains("2,line 4,row,\"row has 3 fields, the header has 4\""),
        "{rej}"
    );
    assert!(
        rej.contains("3,line 5,row,\"row has 5 fields, the header has 4\""),
        "{rej}"
    );
}

#[test]
fn header_only_is_a_quiet_night() {
    let w = Workdir::new();
    w.write("empty-night.csv", "fecha;email;utm_source\n");
    let r = w.run(&["validate", "empty-night.csv", "--report", "report.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("no data rows"), "{}", r.stderr);
    assert_eq!(report(&w)["totals"]["rows"], 0);
}

#[test]
fn unreadable_files_exit_2_naming_file_and_cause() {
    let w = Workdir::new();
    w.write("empty.csv", "");
    w.write(
        "garbage.xlsx",
        b"\x00\x01garbage that is not a zip\xff".repeat(20),
    );
    w.write(
        "garbage.parquet",
        b"PAR1 not really parquet \x00\xff".repeat(20),
    );
    w.write(
        "binary.csv",
        b"\x00\x01\x02\x03\x04\x05\x06\x07\x08".repeat(100),
    );
    let data = leads(30, 5, 0);
    write_xlsx(&w.path("good.xlsx"), &data);
    let full = std::fs::read(w.path("good.xlsx")).unwrap();
    w.write("truncated.xlsx", &full[..full.len() / 2]);
    write_parquet(&w.path("good.parquet"), &data, 10);
    let full = std::fs::read(w.path("good.parquet")).unwrap();
    w.write("truncated.parquet", &full[..full.len() / 2]);
    for (file, cause) in [
        ("empty.csv", "empty"),
        ("garbage.xlsx", "XLSX"),
        ("garbage.parquet", "Parquet"),
        ("binary.csv", "binary"),
        ("truncated.xlsx", "XLSX"),
        ("truncated.parquet", "Parquet"),
        ("missing.csv", "no such file"),
    ] {
        let r = w.run(&["validate", file, "--timezone", "UTC"]);
        assert_eq!(r.code, 2, "{file}: {}", r.stderr);
        assert!(r.stderr.contains(file), "{file}: {}", r.stderr);
        assert!(r.stderr.contains(cause), "{file}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{file}: {}", r.stderr);
    }
}

#[test]
fn ambiguous_dates_and_naive_times_stop_the_run() {
    let w = Workdir::new();
    w.write(
        "amb.csv",
        "fecha,email,utm_source\n01/02/2024 10:00,a@b.co,x\n03/04/2024 10:00,a@b.co,x\n",
    );
    let r = w.run(&["validate", "amb.csv", "--timezone", "Europe/Madrid"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("ambiguous") && r.stderr.contains("--time-format"),
        "{}",
        r.stderr
    );
    let r = w.run(&[
        "validate",
        "amb.csv",
        "--timezone",
        "Europe/Madrid",
        "--time-format",
        "%m/%d/%Y %H:%M",
        "--emit",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 2024-01-02 10:00 in Madrid (UTC+1) = 09:00Z.
    assert_eq!(json_lines(&r.stdout)[0]["click_time"], 1_704_186_000_000i64);

    let r = w.run(&["validate", "amb.csv", "--time-format", "%d/%m/%Y %H:%M"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("'fecha'") && r.stderr.contains("--timezone"),
        "{}",
        r.stderr
    );
}

#[test]
fn mapping_errors_list_headers_and_explicit_maps_work() {
    let w = Workdir::new();
    w.write(
        "m.csv",
        "when,who,src\n2024-07-01T10:00:00Z,a@example.com,google\n",
    );
    let r = w.run(&["validate", "m.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("'when', 'who', 'src'"), "{}", r.stderr);
    let r = w.run(&[
        "validate",
        "m.csv",
        "--map",
        "click_time=when",
        "--map",
        "email=who",
        "--map",
        "utm_source=src",
        "--emit",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = &json_lines(&r.stdout)[0];
    assert_eq!(v["url_parameters"]["utm_source"], "google");
    assert_eq!(v["click_time"], 1_719_828_000_000i64);

    w.write("m.toml", "[map]\nclick_time = \"when\"\nemail = \"who\"\nutm_source = \"src\"\n[settings]\nconversion_type = \"call\"\n");
    let r = w.run(&[
        "validate",
        "m.csv",
        "--mapping",
        "m.toml",
        "--account-id",
        "acc-1",
        "--emit",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = &json_lines(&r.stdout)[0];
    assert_eq!(v["settings"]["conversion_type"], "call");
    assert_eq!(v["account_id"], "acc-1");
}

#[test]
fn directory_input_takes_supported_files_in_name_order_and_dedupes_across_files() {
    let w = Workdir::new();
    std::fs::create_dir(w.path("in")).unwrap();
    let data = leads(20, 6, 0);
    write_csv(&w.path("in/2024-07-02.csv"), &data[5..], b',');
    write_csv(&w.path("in/2024-07-01.csv"), &data[..10], b',');
    w.write("in/readme.txt.bak", "ignored");
    let r = w.run(&[
        "validate",
        "in",
        "--timezone",
        "Europe/Madrid",
        "--report",
        "report.json",
        "--emit",
        "out.jsonl",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = report(&w);
    assert!(
        rep["files"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("2024-07-01.csv")
    );
    assert_eq!(rep["totals"]["rows"], 25);
    assert_eq!(
        rep["totals"]["duplicates"], 5,
        "rows 6-10 repeat in the second file"
    );
    assert_eq!(json_lines(&w.read("out.jsonl")).len(), 20);

    let r = w.run(&[
        "validate",
        "in",
        "--timezone",
        "Europe/Madrid",
        "--no-dedupe",
        "--report",
        "report.json",
        "--emit",
        "out.jsonl",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report(&w)["totals"]["duplicates"], 0);
    assert_eq!(json_lines(&w.read("out.jsonl")).len(), 25);
}

/// Lines are emitted a batch at a time, skipping duplicates: wherever a duplicate
/// falls (first or last in a batch, several in a row, next to rejected rows), the
/// emitted rows are exactly the first occurrences of the valid leads, in order.
#[test]
fn duplicates_anywhere_in_a_batch_are_left_out_of_emit() {
    let w = Workdir::new();
    let mut data = leads(5000, 7, 50);
    // Pairs of repeats, a run of repeats across a batch boundary, repeats right
    // after bad rows, and a repeat as the very last row.
    for i in (1001..1200).step_by(2) {
        data[i] = data[i - 1].clone();
    }
    for i in 2040..2060 {
        data[i] = data[5].clone();
    }
    for i in (150..4000).step_by(50) {
        data[i] = data[i - 10].clone();
    }
    data[4999] = data[0].clone();
    write_csv(&w.path("calls.csv"), &data, b',');
    let r = validate_calls(&w, &["--report", "report.json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut first = std::collections::HashSet::new();
    let mut expected = Vec::new();
    let mut duplicates = 0;
    for (i, lead) in data.iter().enumerate() {
        if lead.bad.is_some() {
            continue;
        }
        if first.insert(format!("{lead:?}")) {
            expected.push(i as u64 + 1);
        } else {
            duplicates += 1;
        }
    }
    let emitted: Vec<u64> = json_lines(&w.read("out.jsonl"))
        .iter()
        .map(|l| l["row"].as_u64().unwrap())
        .collect();
    assert_eq!(emitted, expected);
    assert_eq!(report(&w)["totals"]["duplicates"], duplicates);
    assert!(duplicates > 150, "{duplicates}");
}

#[test]
fn help_explains_flags_and_exit_codes() {
    let w = Workdir::new();
    let r = w.run(&["validate", "--help"]);
    assert_eq!(r.code, 0);
    for flag in [
        "--timezone",
        "--map",
        "--mapping",
        "--emit",
        "--rejects",
        "--report",
        "--encoding",
        "--header-row",
        "--time-format",
    ] {
        assert!(r.stdout.contains(flag), "{flag} missing from --help");
    }
    let r = w.run(&["--help"]);
    assert!(r.stdout.contains("Exit codes"), "{}", r.stdout);
}

#[test]
fn parquet_time_columns_of_every_unit_zone_date_and_epoch() {
    use polars::prelude::*;
    let w = Workdir::new();
    // 2024-07-01T10:00:00.123Z and a null.
    let ms = 1_719_828_000_123i64;
    let ns = Series::new("ts_ns".into(), [Some(ms * 1_000_000), None])
        .into_datetime(TimeUnit::Nanoseconds, None);
    let us = Series::new("ts_us".into(), [Some(ms * 1_000), None])
        .into_datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC));
    let day = Series::new("day".into(), [Some(19_905i32), None])
        .cast(&DataType::Date)
        .unwrap(); // 2024-07-01
    let epoch = Series::new("epoch".into(), [Some(ms), None]);
    let email = Series::new("email".into(), ["a@example.com", "b@example.com"]);
    let src = Series::new("utm_source".into(), ["google", "bing"]);
    let mut df = DataFrame::new(
        2,
        vec![
            ns.into(),
            us.into(),
            day.into(),
            epoch.into(),
            email.into(),
            src.into(),
        ],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(w.path("t.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();

    let first = |args: &[&str]| {
        let mut all = vec!["validate", "t.parquet", "--emit", "-"];
        all.extend_from_slice(args);
        let r = w.run(&all);
        assert_eq!(r.code, 1, "the null row is rejected: {}", r.stderr);
        json_lines(&r.stdout)[0]["click_time"].as_i64().unwrap()
    };
    // Zone-less nanoseconds are wall-clock times: in UTC they equal the instant.
    assert_eq!(
        first(&["--map", "click_time=ts_ns", "--timezone", "UTC"]),
        ms
    );
    // Madrid is UTC+2 in July.
    assert_eq!(
        first(&["--map", "click_time=ts_ns", "--timezone", "Europe/Madrid"]),
        ms - 7_200_000
    );
    assert_eq!(first(&["--map", "click_time=ts_us"]), ms);
    assert_eq!(first(&["--map", "click_time=epoch"]), ms);
    assert_eq!(
        first(&["--map", "click_time=day", "--timezone", "UTC"]),
        1_719_792_000_000
    );
    let r = w.run(&["validate", "t.parquet", "--map", "click_time=ts_ns"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("'ts_ns'") && r.stderr.contains("--timezone"),
        "{}",
        r.stderr
    );
}

#[test]
fn parquet_with_an_unsupported_mapped_type_names_the_column() {
    use polars::prelude::*;
    let w = Workdir::new();
    let list = Series::new(
        "email".into(),
        [
            Series::new("".into(), [1i64, 2]),
            Series::new("".into(), [3i64]),
        ],
    );
    let t = Series::new(
        "click_time".into(),
        [1_719_828_000_000i64, 1_719_828_000_000],
    );
    let s = Series::new("utm_source".into(), ["a", "b"]);
    let mut df = DataFrame::new(2, vec![t.into(), list.into(), s.into()]).unwrap();
    ParquetWriter::new(std::fs::File::create(w.path("l.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();
    let r = w.run(&["validate", "l.parquet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("l.parquet") && r.stderr.contains("'email'") && r.stderr.contains("type"),
        "{}",
        r.stderr
    );
}

#[test]
fn huge_cells_nul_bytes_and_late_invalid_utf8_reject_rows_without_crashing() {
    let w = Workdir::new();
    let mut data = b"click_time,email,utm_source\n".to_vec();
    for i in 0..2000 {
        data.extend_from_slice(
            format!("2024-07-01T10:00:00Z,u{i}@example.com,google\n").as_bytes(),
        );
    }
    data.extend_from_slice(b"2024-07-01T10:00:00Z,nul\x00@example.com,google\n");
    data.extend_from_slice(b"2024-07-01T10:00:00Z,bad\xff@example.com,google\n");
    data.extend_from_slice(
        format!(
            "2024-07-01T10:00:00Z,big@example.com,{}\n",
            "x".repeat(10 << 20)
        )
        .as_bytes(),
    );
    w.write("h.csv", &data);
    let r = w.run(&[
        "validate",
        "h.csv",
        "--rejects",
        "rej.csv",
        "--report",
        "report.json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rep: serde_json::Value = serde_json::from_str(&w.read("report.json")).unwrap();
    assert_eq!(rep["totals"]["rows"], 2003);
    // Issue 13: the 10 MiB utm_source is beyond what a URL carries (8 KiB), a third
    // rejected row (it was sent before).
    assert_eq!(
        rep["totals"]["rejected"],
        3,
        "NUL, invalid UTF-8 and 10 MiB utm_source rows: {}",
        w.read("rej.csv").chars().take(500).collect::<String>()
    );
    let rej = w.read("rej.csv");
    assert!(
        rej.contains("invalid UTF-8"),
        "{}",
        &rej[..rej.len().min(400)]
    );
    assert!(rej.contains("more than the 8192 bytes a URL carries"));
}
