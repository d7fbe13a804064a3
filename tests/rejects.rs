//! The rejects file as a user lives it: one table per run whatever the files,
//! readable with any CSV reader, rows in file order; and fixed and imported again,
//! it sends exactly the original values.

mod common;

use common::{TestSandbox, Workdir, json_lines, leads, write_csv, write_xlsx};
use setclick::sandbox::SandboxConfig;

fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let head = rd.headers().unwrap().iter().map(String::from).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (head, rows)
}

#[test]
fn a_csv_and_an_xlsx_give_one_table_with_one_header_in_file_order() {
    let w = Workdir::new();
    std::fs::create_dir(w.path("in")).unwrap();
    let csv_leads = leads(40, 61, 7);
    let xlsx_leads = leads(30, 62, 6);
    write_csv(&w.path("in/a-calls.csv"), &csv_leads, b',');
    write_xlsx(&w.path("in/b-crm.xlsx"), &xlsx_leads);
    let sb = TestSandbox::start(SandboxConfig {
        reject_rate: 0.2,
        seed: 4,
        ..SandboxConfig::default()
    });
    let r = w.run_against(
        &sb,
        &[
            "import",
            "in",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
            "--concurrency",
            "8",
            "--rejects",
            "rejects.csv",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (head, rows) = table(&w.read("rejects.csv"));
    assert_eq!(head[..5], ["file", "row", "location", "field", "reason"]);
    assert_eq!(
        head.iter().filter(|h| *h == "file").count(),
        1,
        "one header line, not one per file: {head:?}"
    );
    for name in common::CSV_HEADER.iter().chain(&["Created At", "E-mail"]) {
        assert!(head.iter().any(|h| h == name), "{name} in {head:?}");
    }
    let bad = |ls: &[common::Lead]| ls.iter().filter(|l| l.bad.is_some()).count();
    let refused = sb.sb.stats().bad_request as usize;
    assert_eq!(rows.len(), bad(&csv_leads) + bad(&xlsx_leads) + refused);
    // Each file's rows together, in its order, validation and API refusals alike.
    let files: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let first_xlsx = files.iter().position(|f| f.ends_with(".xlsx")).unwrap();
    assert!(
        files[..first_xlsx]
            .iter()
            .all(|f| f.ends_with("a-calls.csv"))
    );
    assert!(
        files[first_xlsx..]
            .iter()
            .all(|f| f.ends_with("b-crm.xlsx"))
    );
    for part in [&rows[..first_xlsx], &rows[first_xlsx..]] {
        let numbers: Vec<u64> = part.iter().map(|r| r[1].parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|p| p[0] < p[1]), "{numbers:?}");
    }
    assert!(
        rows.iter().any(|r| r[3] == "server"),
        "API refusals are in it"
    );
    // XLSX locations name the cell, or the row without repetition.
    for r in &rows[first_xlsx..] {
        assert!(
            r[2].starts_with("Leads!") || r[2].starts_with("Leads, row "),
            "{r:?}"
        );
    }
}

#[test]
fn a_fixed_rejects_file_imported_again_sends_exactly_the_original_values() {
    let w = Workdir::new();
    w.write(
        "calls.csv",
        "Fecha,Email,utm_source,utm_campaign,utm_content\n\
         31/02/2024 10:00,ana@example.com,google,-20%_flash,@home\n\
         01/03/2024 11:00,luis@example.com,=cmd,+plus,'quoted\n\
         02/03/2024 12:00,sara@example.com,bing,summer,ok\n",
    );
    let r = w.run(&[
        "validate",
        "calls.csv",
        "--timezone",
        "Europe/Madrid",
        "--rejects",
        "rejects.csv",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rejects = w.read("rejects.csv");
    assert!(
        rejects.contains("'-20%_flash") && rejects.contains("'@home"),
        "{rejects}"
    );
    // The user fixes the date in a text editor (or a spreadsheet that keeps text).
    w.write("fixed.csv", rejects.replace("31/02/2024", "29/02/2024"));
    let sb = TestSandbox::start(SandboxConfig::default());
    let r = w.run_against(
        &sb,
        &[
            "import",
            "fixed.csv",
            "--timezone",
            "Europe/Madrid",
            "--rate",
            "unlimited",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let clicks = sb.sb.clicks();
    assert_eq!(clicks.len(), 1, "{}", r.stderr);
    let p = &clicks[0].url_parameters;
    assert_eq!(p["utm_source"], "google");
    assert_eq!(p["utm_campaign"], "-20%_flash");
    assert_eq!(p["utm_content"], "@home");
    assert_eq!(clicks[0].settings["email"], "ana@example.com");
    assert!(
        p.get("file").is_none() && clicks[0].settings.get("reason").is_none(),
        "the leading columns are not mapped"
    );

    // A guarded cell of a valid row, emitted from the rejects file, reads back too.
    let rows = "file,row,location,field,reason,Fecha,Email,utm_source,utm_campaign,utm_content\n\
                calls.csv,2,line 3,x,y,13/03/2024 11:00,luis@example.com,'=cmd,'+plus,''quoted\n";
    w.write("again.csv", rows);
    let r = w.run(&[
        "validate",
        "again.csv",
        "--timezone",
        "Europe/Madrid",
        "--emit",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lead = &json_lines(&r.stdout)[0];
    assert_eq!(lead["url_parameters"]["utm_source"], "=cmd");
    assert_eq!(lead["url_parameters"]["utm_campaign"], "+plus");
    assert_eq!(lead["url_parameters"]["utm_content"], "'quoted");
}

/// A cron's second run the same day (`rejects = "rejects-{date}.csv"`) on a file
/// already imported keeps the first run's rejected rows; a run with rejected rows
/// of its own adds them under the one header.
#[test]
fn a_second_run_the_same_day_keeps_the_first_runs_rejects() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(40, 91, 5), b',');
    write_csv(&w.path("more.csv"), &leads(20, 92, 4), b',');
    let sb = TestSandbox::start(SandboxConfig::default());
    std::fs::create_dir(w.path("logs")).unwrap();
    w.write(
        "nightly.toml",
        "timezone = \"Europe/Madrid\"\nrate = \"unlimited\"\nrejects = \"logs/rejects-{date}.csv\"\n",
    );
    let dated = setclick::config::dated(
        std::path::Path::new("logs/rejects-{date}.csv"),
        jiff::Timestamp::now(),
    );
    let name = dated.to_string_lossy().into_owned();
    let run = |file: &str, code: i32| {
        let r = w.run_against(&sb, &["import", file, "--config", "nightly.toml"]);
        assert_eq!(r.code, code, "{}", r.stderr);
        r
    };
    run("calls.csv", 1);
    let first = w.read(&name);
    assert_eq!(first.lines().count(), 1 + 8, "{first}");
    let r = run("calls.csv", 0);
    assert!(r.stderr.contains("already imported"), "{}", r.stderr);
    assert_eq!(w.read(&name), first, "nothing rejected: the file as it was");
    run("more.csv", 1);
    let both = w.read(&name);
    assert_eq!(both.lines().count(), 1 + 8 + 5, "{both}");
    assert_eq!(both.matches("file,row,location").count(), 1, "{both}");
    assert!(both.starts_with(&first), "{both}");
}

#[test]
fn an_output_in_a_missing_directory_is_named_with_the_fix() {
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(5, 93, 0), b',');
    for flag in ["--rejects", "--report"] {
        let r = w.run(&[
            "validate",
            "calls.csv",
            "--timezone",
            "UTC",
            flag,
            "nosuch/out.csv",
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("nosuch does not exist") && r.stderr.contains("mkdir -p"),
            "{flag}: {}",
            r.stderr
        );
    }
}
