//! The files in `samples/`: how they are made, and that they validate as README says.
//! Regenerate with `cargo test --test samples -- --ignored`.

mod common;

use std::path::PathBuf;

use common::{Workdir, json_lines, leads, write_csv, write_parquet, write_xlsx};

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

#[test]
#[ignore = "rewrites samples/"]
fn regenerate_samples() {
    let dir = samples();
    std::fs::create_dir_all(&dir).unwrap();
    write_csv(
        &dir.join("call-centre-export.csv"),
        &leads(300, 11, 25),
        b';',
    );
    write_csv(
        &dir.join("nightly-2024-08-31.csv"),
        &leads(120, 14, 0),
        b';',
    );
    write_xlsx(&dir.join("crm-leads.xlsx"), &leads(200, 12, 40));
    write_parquet(&dir.join("backfill-2024.parquet"), &leads(500, 13, 50), 128);
}

fn sample(name: &str) -> String {
    samples().join(name).display().to_string()
}

#[test]
fn samples_validate_as_documented() {
    let w = Workdir::new();
    let r = w.run(&[
        "import",
        &sample("nightly-2024-08-31.csv"),
        "--timezone",
        "Europe/Madrid",
        "--sandbox",
    ]);
    assert_eq!(r.code, 0, "the README's first command: {}", r.stderr);
    assert!(
        r.stderr
            .contains("sandbox received 120 requests: 120 clicks accepted"),
        "{}",
        r.stderr
    );
    for (args, rows, rejected) in [
        (
            vec![
                sample("call-centre-export.csv"),
                "--timezone".into(),
                "Europe/Madrid".into(),
            ],
            300,
            12,
        ),
        (
            vec![
                sample("crm-leads.xlsx"),
                "--timezone".into(),
                "Europe/Madrid".into(),
            ],
            200,
            5,
        ),
        (
            vec![
                sample("backfill-2024.parquet"),
                "--mapping".into(),
                sample("backfill.toml"),
            ],
            500,
            10,
        ),
    ] {
        let mut all = vec!["validate".to_string()];
        all.extend(args);
        all.extend([
            "--report".into(),
            "report.json".into(),
            "--emit".into(),
            "out.jsonl".into(),
        ]);
        let argv: Vec<&str> = all.iter().map(String::as_str).collect();
        let r = w.run(&argv);
        assert_eq!(r.code, 1, "{argv:?}: {}", r.stderr);
        let rep: serde_json::Value = serde_json::from_str(&w.read("report.json")).unwrap();
        assert_eq!(rep["totals"]["rows"], rows, "{argv:?}");
        assert_eq!(rep["totals"]["rejected"], rejected, "{argv:?}");
        assert_eq!(
            json_lines(&w.read("out.jsonl")).len() as u64,
            rows - rejected
        );
    }
}
