//! A hostile-file corpus, generated here: every file must end with exit 1 or 2 and a
//! message naming the file and the cause, never a panic, and within a memory limit
//! (RLIMIT_AS) set on the child process.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Workdir, leads, write_csv, write_parquet, write_xlsx};

/// Address-space limit for each run: generous for the runtime's reservations,
/// far below what an unbounded read of these files would take.
const LIMIT_BYTES: u64 = 2 << 30;

struct Case {
    file: &'static str,
    args: Vec<&'static str>,
    /// Text that stderr must contain (besides the file name).
    cause: &'static str,
}

fn run_limited(w: &Workdir, file: &str, args: &[&str]) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_setclick"));
    c.current_dir(w.dir.path())
        .arg("validate")
        .arg(file)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in pre_exec.
        unsafe {
            c.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: LIMIT_BYTES,
                    rlim_max: LIMIT_BYTES,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = c.output().expect("run setclick");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes one part of a zip archive.
type Part<'a> = (&'a str, &'a dyn Fn(&mut dyn Write));

fn zip_with(path: &std::path::Path, parts: &[Part<'_>]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    for (name, write) in parts {
        z.start_file(*name, opts).unwrap();
        write(&mut z);
    }
    z.finish().unwrap();
}

/// The minimal parts of a workbook around one sheet's XML and a shared-strings part.
fn workbook(
    path: &std::path::Path,
    sheet: &dyn Fn(&mut dyn Write),
    strings: &dyn Fn(&mut dyn Write),
) {
    let text = |s: &'static str| move |w: &mut dyn Write| w.write_all(s.as_bytes()).unwrap();
    zip_with(
        path,
        &[
            (
                "[Content_Types].xml",
                &text(
                    r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
                ),
            ),
            (
                "_rels/.rels",
                &text(
                    r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
                ),
            ),
            (
                "xl/workbook.xml",
                &text(
                    r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
                ),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                &text(
                    r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#,
                ),
            ),
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/sharedStrings.xml", strings),
        ],
    );
}

fn corpus(w: &Workdir) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut case = |file: &'static str, args: &[&'static str], cause: &'static str| {
        cases.push(Case {
            file,
            args: args.to_vec(),
            cause,
        });
    };
    let good = leads(40, 61, 0);
    write_csv(&w.path("good.csv"), &good, b',');
    let csv = std::fs::read(w.path("good.csv")).unwrap();
    write_xlsx(&w.path("good.xlsx"), &good);
    let xlsx = std::fs::read(w.path("good.xlsx")).unwrap();
    write_parquet(&w.path("good.parquet"), &good, 10);
    let parquet = std::fs::read(w.path("good.parquet")).unwrap();
    let tz: &[&str] = &["--timezone", "Europe/Madrid"];

    // Truncated: mid-row, mid-zip, mid-footer.
    let cut = csv.len() - 60;
    let end = csv[..cut].iter().rposition(|&b| b == b',').unwrap();
    w.write("truncated.csv", &csv[..end]);
    case("truncated.csv", tz, "fields");
    w.write("truncated.xlsx", &xlsx[..xlsx.len() * 2 / 3]);
    case("truncated.xlsx", tz, "XLSX");
    w.write("truncated.parquet", &parquet[..parquet.len() - 20]);
    case("truncated.parquet", &[], "Parquet");

    // Empty, and contents under the wrong extension.
    for f in ["empty.csv", "empty.xlsx", "empty.parquet"] {
        w.write(f, b"");
    }
    case("empty.csv", tz, "empty");
    case("empty.xlsx", tz, "XLSX");
    case("empty.parquet", &[], "Parquet");
    w.write("parquet-named.csv", &parquet);
    case("parquet-named.csv", tz, "binary");
    w.write("csv-named.xlsx", &csv);
    case("csv-named.xlsx", tz, "XLSX");
    w.write("xlsx-named.parquet", &xlsx);
    case("xlsx-named.parquet", &[], "Parquet");

    // Zip bombs: a shared-strings table that unpacks to 300 MB, and a cell a million
    // columns to the right.
    workbook(
        &w.path("bomb-strings.xlsx"),
        &|o| {
            o.write_all(b"<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData/></worksheet>").unwrap()
        },
        &|o| {
            o.write_all(b"<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">").unwrap();
            let chunk = "<si><t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</t></si>"
                .repeat(16 * 1024);
            for _ in 0..(300 << 20) / chunk.len() {
                o.write_all(chunk.as_bytes()).unwrap();
            }
            o.write_all(b"</sst>").unwrap();
        },
    );
    case("bomb-strings.xlsx", tz, "zip bomb");
    workbook(
        &w.path("million-columns.xlsx"),
        &|o| {
            o.write_all(br#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:AAAAA1"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c><c r="BDWGN1" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>"#).unwrap()
        },
        &|o| {
            o.write_all(b"<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"/>").unwrap()
        },
    );
    case("million-columns.xlsx", tz, "column");

    // Bytes: invalid UTF-8 in the middle, NUL bytes, a 10 MB cell.
    let mut bad = csv.clone();
    let mid = bad.len() / 2;
    let at = mid + bad[mid..].iter().position(|&b| b == b'@').unwrap();
    bad[at] = 0xFF;
    let mut big = b"click_time,email,utm_source\n2024-07-01T10:00:00Z,a@example.com,x\n".to_vec();
    big.extend_from_slice(
        format!(
            "2024-07-01T10:00:00Z,{}@example.com,x\n",
            "b".repeat(10 << 20)
        )
        .as_bytes(),
    );
    w.write("utf8-middle.csv", &bad);
    case("utf8-middle.csv", tz, "invalid UTF-8");
    let mut nul = b"click_time,email,utm_source\n".to_vec();
    for i in 0..300 {
        nul.extend_from_slice(format!("2024-07-01T10:00:00Z,u{i}@example.com,x\n").as_bytes());
    }
    nul.extend_from_slice(b"2024-07-01T10:00:00Z,nul\x00@example.com,x\n");
    w.write("nul.csv", &nul);
    case("nul.csv", &[], "email");
    w.write("big-cell.csv", &big);
    case("big-cell.csv", &[], "email");

    // Shapes: 100,000 columns, deeply nested JSON, duplicate headers, headers equal
    // but for case and spaces.
    let mut wide = String::from("click_time,email,utm_source");
    for i in 0..100_000 {
        wide.push_str(&format!(",c{i}"));
    }
    wide.push('\n');
    for i in 0..20 {
        wide.push_str(&format!(
            "2024-07-01T10:00:00Z,u{i}@example.com,x{}\n",
            ",".repeat(100_000)
        ));
    }
    wide.push_str("2024-07-01T10:00:00Z,not-an-email,x\n");
    w.write("wide.csv", &wide);
    case("wide.csv", &[], "the header has 100003");
    let deep = format!("{}1{}", "{\"\"a\"\":".repeat(5000), "}".repeat(5000));
    w.write(
        "deep-json.csv",
        format!("click_time,email,url_parameters\n2024-07-01T10:00:00Z,a@example.com,\"{deep}\"\n"),
    );
    case("deep-json.csv", &[], "url_parameters");
    w.write(
        "dup-headers.csv",
        "click_time,email,email,utm_source\n2024-07-01T10:00:00Z,a@example.com,b@example.com,x\n",
    );
    case("dup-headers.csv", &[], "'email' and 'email'");
    w.write(
        "case-headers.csv",
        "click_time,Email, email ,utm_source\n2024-07-01T10:00:00Z,a@example.com,b@example.com,x\n",
    );
    case("case-headers.csv", &[], "both look like email");

    // Formulas and error cells in XLSX.
    {
        use rust_xlsxwriter::{Formula, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["click_time", "email", "utm_source"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "2024-07-01T10:00:00Z").unwrap();
        ws.write_formula(1, 1, Formula::new("=1/0").set_result("#DIV/0!"))
            .unwrap();
        ws.write_string(1, 2, "x").unwrap();
        ws.write_string(2, 0, "2024-07-01T10:00:00Z").unwrap();
        ws.write_formula(
            2,
            1,
            Formula::new("=CONCAT(\"a\",\"@example.com\")").set_result("a@example.com"),
        )
        .unwrap();
        ws.write_formula(2, 2, Formula::new("=NA()").set_result("#N/A"))
            .unwrap();
        wb.save(w.path("formulas.xlsx")).unwrap();
    }
    case("formulas.xlsx", &[], "#");

    // Parquet with a type setclick cannot read in a mapped column.
    {
        use polars::prelude::*;
        let t = Series::new("click_time".into(), [1_719_828_000_000i64]);
        let e = Series::new("email".into(), [Series::new("".into(), [1i64])]);
        let s = Series::new("utm_source".into(), ["x"]);
        let mut df = DataFrame::new(1, vec![t.into(), e.into(), s.into()]).unwrap();
        ParquetWriter::new(std::fs::File::create(w.path("list-email.parquet")).unwrap())
            .finish(&mut df)
            .unwrap();
    }
    case("list-email.parquet", &[], "type");
    cases
}

#[test]
fn every_hostile_file_ends_with_a_clear_error_in_bounded_memory() {
    let w = Workdir::new();
    for case in corpus(&w) {
        let (code, stderr) = run_limited(&w, case.file, &case.args);
        let shown: String = stderr.chars().take(600).collect();
        assert!(
            code == 1 || code == 2,
            "{}: exit {code}: {shown}",
            case.file
        );
        assert!(
            stderr.contains(case.file),
            "{}: the message names the file: {shown}",
            case.file
        );
        assert!(
            stderr.contains(case.cause),
            "{}: the message names the cause ({}): {shown}",
            case.file,
            case.cause
        );
        assert!(!stderr.contains("panicked"), "{}: {shown}", case.file);
        assert!(
            stderr.len() < 64 * 1024,
            "{}: the message stays readable ({} bytes)",
            case.file,
            stderr.len()
        );
    }
}
