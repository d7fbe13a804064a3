//! Issue 13, "Input truth, round 2": values as spreadsheets, CRMs and data lakes
//! really write them, run through `setclick validate --emit -` in every format they
//! can arrive in (a CSV cell, an XLSX text, number or date cell, a Parquet string or
//! number), each emitted lead compared field by field, each rejection by its field
//! and the words of its reason.

mod common;

use std::collections::BTreeMap;

use common::{Workdir, json_lines};

/// One cell of a generated table.
#[derive(Debug, Clone)]
enum V {
    Text(String),
    /// A number cell (XLSX) or a Float64 column (Parquet); plain text in CSV.
    Num(f64),
    /// A number with a date format (XLSX only).
    Date(f64),
}

fn t(s: &str) -> V {
    V::Text(s.to_string())
}

/// What must become of one row.
#[derive(Debug, Clone)]
enum Want {
    /// Sent with this click_time and this settings.email.
    Lead(i64, &'static str),
    /// Rejected for this field, with a reason containing each of these.
    Rejected(&'static str, Vec<&'static str>),
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<V>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<V>) {
        self.rows.push(cells);
    }

    fn text(v: &V) -> String {
        match v {
            V::Text(s) => s.clone(),
            V::Num(x) | V::Date(x) => x.to_string(),
        }
    }

    fn write_csv(&self, w: &Workdir, name: &str) {
        let mut out = csv::WriterBuilder::new()
            .from_path(w.path(name))
            .expect("csv");
        out.write_record(&self.header).unwrap();
        for r in &self.rows {
            out.write_record(r.iter().map(Table::text)).unwrap();
        }
        out.flush().unwrap();
    }

    fn write_xlsx(&self, w: &Workdir, name: &str) {
        use rust_xlsxwriter::{Format, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("Leads").unwrap();
        let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss.000");
        for (c, h) in self.header.iter().enumerate() {
            ws.write_string(0, c as u16, h).unwrap();
        }
        for (i, r) in self.rows.iter().enumerate() {
            let row = 1 + i as u32;
            for (c, v) in r.iter().enumerate() {
                let col = c as u16;
                match v {
                    V::Text(s) if s.is_empty() => {}
                    V::Text(s) => {
                        ws.write_string(row, col, s).unwrap();
                    }
                    V::Num(x) => {
                        ws.write_number(row, col, *x).unwrap();
                    }
                    V::Date(x) => {
                        ws.write_number_with_format(row, col, *x, &date).unwrap();
                    }
                }
            }
        }
        wb.save(w.path(name)).unwrap();
    }

    /// Strings, or Float64 for a column of numbers.
    fn write_parquet(&self, w: &Workdir, name: &str) {
        use polars::prelude::*;
        let mut columns = Vec::new();
        for (c, h) in self.header.iter().enumerate() {
            let numbers: Option<Vec<f64>> = self
                .rows
                .iter()
                .map(|r| match r[c] {
                    V::Num(x) => Some(x),
                    _ => None,
                })
                .collect();
            let s = match numbers {
                Some(xs) => Series::new(h.as_str().into(), xs),
                None => Series::new(
                    h.as_str().into(),
                    self.rows
                        .iter()
                        .map(|r| Table::text(&r[c]))
                        .collect::<Vec<_>>(),
                ),
            };
            columns.push(s.into());
        }
        let mut df = DataFrame::new(self.rows.len(), columns).unwrap();
        ParquetWriter::new(std::fs::File::create(w.path(name)).unwrap())
            .finish(&mut df)
            .unwrap();
    }
}

/// `validate FILE ARGS --emit - --rejects rej.csv`: the exit code, the emitted leads
/// by row and the rejections by row (field, reason).
#[allow(clippy::type_complexity)]
fn validate(
    w: &Workdir,
    file: &str,
    args: &[&str],
) -> (
    i32,
    BTreeMap<u64, serde_json::Value>,
    BTreeMap<u64, (String, String)>,
    String,
) {
    let mut all = vec!["validate", file, "--emit", "-", "--rejects", "rej.csv"];
    all.extend_from_slice(args);
    let r = w.run(&all);
    let emitted = json_lines(&r.stdout)
        .into_iter()
        .map(|v| (v["row"].as_u64().unwrap(), v))
        .collect();
    let mut rejected = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(w.path("rej.csv")) {
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        for rec in rd.records() {
            let rec = rec.unwrap();
            // file, row, location, field, reason, then the cells.
            rejected.insert(
                rec[1].parse().unwrap(),
                (rec[3].to_string(), rec[4].to_string()),
            );
        }
        let _ = std::fs::remove_file(w.path("rej.csv"));
    }
    (r.code, emitted, rejected, r.stderr)
}

/// Check every row of `file` against `wants` (row N is `wants[N - 1]`).
fn check(w: &Workdir, file: &str, args: &[&str], wants: &[Want]) {
    let (code, emitted, rejected, stderr) = validate(w, file, args);
    let any_rejected = wants.iter().any(|x| matches!(x, Want::Rejected(..)));
    assert_eq!(code, i32::from(any_rejected), "{file}: exit code; {stderr}");
    for (i, want) in wants.iter().enumerate() {
        let row = i as u64 + 1;
        match want {
            Want::Lead(ms, email) => {
                let e = emitted.get(&row).unwrap_or_else(|| {
                    panic!("{file} row {row} not emitted: {:?}", rejected.get(&row))
                });
                assert_eq!(e["click_time"], *ms, "{file} row {row} click_time");
                assert_eq!(e["settings"]["email"], *email, "{file} row {row} email");
            }
            Want::Rejected(field, words) => {
                let (f, reason) = rejected.get(&row).unwrap_or_else(|| {
                    panic!("{file} row {row} not rejected: {:?}", emitted.get(&row))
                });
                assert_eq!(f, field, "{file} row {row}: {reason}");
                for word in words {
                    assert!(
                        reason.contains(word),
                        "{file} row {row}: '{word}' not in {reason}"
                    );
                }
            }
        }
    }
    assert_eq!(
        emitted.len() + rejected.len(),
        wants.len(),
        "{file}: every row accounted for"
    );
}

/// The same table as CSV, XLSX and Parquet, each checked.
fn check_all_formats(w: &Workdir, table: &Table, args: &[&str], wants: &[Want]) {
    table.write_csv(w, "t.csv");
    check(w, "t.csv", args, wants);
    table.write_xlsx(w, "t.xlsx");
    check(w, "t.xlsx", args, wants);
    table.write_parquet(w, "t.parquet");
    check(w, "t.parquet", args, wants);
}

const MADRID: [&str; 2] = ["--timezone", "Europe/Madrid"];

/// A table of (click_time, email, utm_source = google) rows.
fn times_table(times: &[V], email: impl Fn(usize) -> String) -> Table {
    let mut table = Table::new(&["click_time", "email", "utm_source"]);
    for (i, v) in times.iter().enumerate() {
        table.row(vec![v.clone(), V::Text(email(i)), t("google")]);
    }
    table
}

// 2024-05-01 14:56:00.000 in Madrid (UTC+2).
const MAY1_1456: i64 = 1_714_568_160_000;
// 2024-05-02 00:00:00.000 in Madrid.
const MAY2_0000: i64 = 1_714_600_800_000;

// ---- 1. Fractions of days, seconds and units round to the nearest millisecond ----

#[test]
fn excel_serials_round_to_the_nearest_millisecond_in_every_format() {
    let w = Workdir::new();
    let emails = ["s1@example.com", "s2@example.com", "s3@example.com"];
    // As text, as a number cell (a Float64 column in Parquet).
    for cell in [t("45413.6222222222"), V::Num(45413.6222222222)] {
        let table = times_table(
            &[
                cell.clone(),
                match &cell {
                    V::Num(_) => V::Num(45413.9999999999),
                    _ => t("45413.9999999999"),
                },
                match &cell {
                    V::Num(_) => V::Num(45413.62222222),
                    _ => t("45413.62222222"),
                },
            ],
            |i| emails[i].to_string(),
        );
        check_all_formats(
            &w,
            &table,
            &MADRID,
            &[
                Want::Lead(MAY1_1456, emails[0]),
                Want::Lead(MAY2_0000, emails[1]),
                // 0.62222222 days is 14:55:59.999808: the nearest millisecond is 14:56.
                Want::Lead(MAY1_1456, emails[2]),
            ],
        );
    }
    // --time-unit excel says the same of numbers that would otherwise be Unix times.
    let table = times_table(&[t("45413.6222222222")], |_| emails[0].to_string());
    table.write_csv(&w, "u.csv");
    let mut args = MADRID.to_vec();
    args.extend(["--time-unit", "excel"]);
    check(&w, "u.csv", &args, &[Want::Lead(MAY1_1456, emails[0])]);
}

#[test]
fn xlsx_date_cells_and_number_cells_agree_to_the_millisecond() {
    let w = Workdir::new();
    let table = times_table(
        &[
            V::Date(45413.6222222222),
            V::Num(45413.6222222222),
            V::Date(45413.9999999999),
            V::Date(45413.62222222),
        ],
        |i| format!("d{i}@example.com"),
    );
    table.write_xlsx(&w, "d.xlsx");
    check(
        &w,
        "d.xlsx",
        &MADRID,
        &[
            Want::Lead(MAY1_1456, "d0@example.com"),
            Want::Lead(MAY1_1456, "d1@example.com"),
            Want::Lead(MAY2_0000, "d2@example.com"),
            Want::Lead(MAY1_1456, "d3@example.com"),
        ],
    );
}

/// Rewrite an XLSX written by rust_xlsxwriter into the 1904 date system (what Excel
/// for Mac used by default until 2011): `<workbookPr date1904="1"/>`.
fn make_1904(path: &std::path::Path) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(path).unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..zin.len() {
        let mut entry = zin.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "xl/workbook.xml" {
            let xml = String::from_utf8(data).unwrap();
            assert!(xml.contains("<workbookPr"), "{xml}");
            data = xml
                .replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
                .into_bytes();
        }
        zout.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zout.write_all(&data).unwrap();
    }
    zout.finish().unwrap();
}

#[test]
fn workbooks_in_the_1904_date_system_count_their_serials_from_1904() {
    let w = Workdir::new();
    // 2024-05-01 14:56 is serial 43951.6222222222 counted from 1904-01-01.
    let table = times_table(
        &[
            V::Date(43951.6222222222),
            V::Num(43951.6222222222),
            t("43951.6222222222"),
        ],
        |i| format!("m{i}@example.com"),
    );
    table.write_xlsx(&w, "mac.xlsx");
    make_1904(&w.path("mac.xlsx"));
    check(
        &w,
        "mac.xlsx",
        &MADRID,
        &[
            Want::Lead(MAY1_1456, "m0@example.com"),
            Want::Lead(MAY1_1456, "m1@example.com"),
            Want::Lead(MAY1_1456, "m2@example.com"),
        ],
    );
}

#[test]
fn unix_times_with_fractions_round_to_the_nearest_millisecond() {
    let w = Workdir::new();
    // 14:55:59.9996 rounds up to 14:56:00.000; .0004 down.
    let table = times_table(
        &[
            t("1714568159.9996"),
            t("1714568159999.6"),
            t("1714568159999600"),
            t("1714568159999600000"),
            t("1714568160.0004"),
            V::Num(1714568159.9996),
            V::Num(1714568159999.6),
        ],
        |i| format!("u{i}@example.com"),
    );
    let wants: Vec<Want> = (0..7)
        .map(|i| {
            let e: &'static str = Box::leak(format!("u{i}@example.com").into_boxed_str());
            Want::Lead(MAY1_1456, e)
        })
        .collect();
    check_all_formats(&w, &table, &[], &wants);
}

// ---- 2. 12-hour times as software writes them ----

// 2024-05-13 15:27:05 in Madrid.
const MAY13_152705: i64 = 1_715_606_825_000;
const MAY13_1527: i64 = 1_715_606_820_000;
const MAY13_0327: i64 = 1_715_563_620_000;
const MAY13_0927: i64 = 1_715_585_220_000;
const MAY13_1200: i64 = 1_715_594_400_000;
const MAY13_0030: i64 = 1_715_553_000_000;

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn twelve_hour_times_with_unicode_spaces_month_first() {
    let w = Workdir::new();
    let cases: &[(&str, Option<i64>)] = &[
        // ICU 72+, JavaScript, macOS: a narrow no-break space before PM.
        ("5/13/2024 3:27:05\u{202F}PM", Some(MAY13_152705)),
        ("5/13/2024 3:27:05\u{00A0}PM", Some(MAY13_152705)),
        // JavaScript's toLocaleString("en-US"): a comma after the date.
        ("5/13/2024, 3:27:05\u{202F}PM", Some(MAY13_152705)),
        ("5/13/2024 3:27:05 p.m.", Some(MAY13_152705)),
        ("5/13/2024\u{2009}3:27:05\u{202F}pm", Some(MAY13_152705)),
        ("5/13/2024 3:27:05 PM", Some(MAY13_152705)),
        ("5/13/2024 9:27 A.M.", Some(MAY13_0927)),
        (
            "\u{200E}5/13/2024 3:27:05\u{202F}PM\u{200E}",
            Some(MAY13_152705),
        ),
        // 13 PM does not exist: rejected, the narrow space shown escaped.
        ("5/13/2024 13:27:05\u{202F}PM", None),
    ];
    let times: Vec<V> = cases.iter().map(|c| t(c.0)).collect();
    let table = times_table(&times, |i| format!("h{i}@example.com"));
    let wants: Vec<Want> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, ms))| match ms {
            Some(ms) => Want::Lead(*ms, leak(format!("h{i}@example.com"))),
            None => Want::Rejected("click_time", vec!["13:27:05\\u{202F}PM"]),
        })
        .collect();
    check_all_formats(&w, &table, &MADRID, &wants);
}

#[test]
fn twelve_hour_times_with_locale_designators_day_first() {
    let w = Workdir::new();
    let cases: &[(&str, i64)] = &[
        // Windows/.NET es-ES.
        ("13/05/2024 03:27:00 p. m.", MAY13_1527),
        // ICU es: a no-break space inside the designator.
        ("13/05/2024 03:27:00 p.\u{00A0}m.", MAY13_1527),
        ("13/05/2024 3:27:00\u{202F}a.\u{00A0}m.", MAY13_0327),
        ("13/05/2024 03:27:00 a. m.", MAY13_0327),
        ("13/05/2024 03:27:00 a.m.", MAY13_0327),
        ("13/05/2024 03:27:00 p.m.", MAY13_1527),
        ("13/05/2024 12:00:00 p. m.", MAY13_1200),
        ("13/05/2024 12:30:00 a. m.", MAY13_0030),
        ("13/05/2024 09:27:00 AM", MAY13_0927),
        // German (older CLDR): vorm./nachm.
        ("13.05.2024 3:27:00 nachm.", MAY13_1527),
        ("13.05.2024 9:27:00 vorm.", MAY13_0927),
        // What exporters put between date and time.
        ("13/05/2024, 15:27:00", MAY13_1527),
        ("13.05.2024, 15:27", MAY13_1527),
        ("13/05/2024 às 15:27", MAY13_1527),
        ("13/05/2024 à 15:27:00", MAY13_1527),
        ("13.05.2024 um 15:27", MAY13_1527),
        ("13/05/2024 at 3:27:00\u{202F}PM", MAY13_1527),
        ("13/05/2024\u{3000}15:27", MAY13_1527),
    ];
    let times: Vec<V> = cases.iter().map(|c| t(c.0)).collect();
    let table = times_table(&times, |i| format!("e{i}@example.com"));
    let wants: Vec<Want> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, ms))| Want::Lead(*ms, leak(format!("e{i}@example.com"))))
        .collect();
    check_all_formats(&w, &table, &MADRID, &wants);
}

#[test]
fn unicode_dashes_and_minus_signs_in_iso_times() {
    let w = Workdir::new();
    let cases: &[(&str, i64)] = &[
        // U+2011 non-breaking hyphens in the date.
        ("2024\u{2011}05\u{2011}13 15:27:05", MAY13_152705),
        // U+2212 minus sign in the offset (ICU writes it so in several locales).
        ("2024-05-13T08:27:05\u{2212}05:00", MAY13_152705),
        ("2024-05-13T13:27:05\u{00A0}Z", MAY13_152705),
        ("\u{FEFF}2024-05-13 15:27:05", MAY13_152705),
    ];
    let times: Vec<V> = cases.iter().map(|c| t(c.0)).collect();
    let table = times_table(&times, |i| format!("i{i}@example.com"));
    let wants: Vec<Want> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, ms))| Want::Lead(*ms, leak(format!("i{i}@example.com"))))
        .collect();
    check_all_formats(&w, &table, &MADRID, &wants);
}

// ---- 3 and 4. Emails: invisible characters, mailto: links ----

#[test]
fn invisible_characters_and_mailto_links_are_taken_out_of_emails() {
    let w = Workdir::new();
    let cases: &[(&str, Option<&str>)] = &[
        (
            "\u{200B}ana.lopez@example.com",
            Some("ana.lopez@example.com"),
        ),
        (
            "ana.lopez\u{200B}@example.com",
            Some("ana.lopez@example.com"),
        ),
        ("\u{FEFF}luis@example.com", Some("luis@example.com")),
        ("marta\u{00AD}@example.com", Some("marta@example.com")),
        (
            "jordi@exam\u{200C}ple.com\u{2060}",
            Some("jordi@example.com"),
        ),
        (
            "\u{00A0}lucia@example.com\u{202F}",
            Some("lucia@example.com"),
        ),
        ("pablo\u{200D}@example.com", Some("pablo@example.com")),
        ("sara\u{3000}@example.com", Some("sara@example.com")),
        (
            "mailto:sarah.free@example.org",
            Some("sarah.free@example.org"),
        ),
        ("MAILTO:Tom@Example.com", Some("tom@example.com")),
        (
            "mailto:ivan@example.com?subject=Hola",
            Some("ivan@example.com"),
        ),
        (
            "Mailto:nina%2Btag@example.com",
            Some("nina+tag@example.com"),
        ),
        ("\u{200B}mailto:olga@example.com", Some("olga@example.com")),
        // Still not an address after stripping: rejected, the value shown escaped.
        ("\u{200B}ana@@example.com", None),
        ("mailto:", None),
        ("mailto:a@example.com,b@example.com", None),
        ("ana lopez@example.com", None),
        ("ana..lopez@example.com", None),
    ];
    let emails: Vec<V> = cases.iter().map(|c| t(c.0)).collect();
    let mut table = Table::new(&["click_time", "email", "utm_source"]);
    for (i, e) in emails.iter().enumerate() {
        table.row(vec![
            t(&format!("2024-05-13T13:27:{:02}Z", i)),
            e.clone(),
            t("google"),
        ]);
    }
    let wants: Vec<Want> = cases
        .iter()
        .enumerate()
        .map(|(i, (raw, want))| match want {
            Some(e) => Want::Lead(MAY13_152705 - 5_000 + i as i64 * 1000, e),
            None if raw.starts_with('\u{200B}') => {
                Want::Rejected("email", vec!["\\u{200B}ana@@example.com", "not an email"])
            }
            None => Want::Rejected("email", vec!["not an email"]),
        })
        .collect();
    check_all_formats(&w, &table, &[], &wants);
}

// ---- 6. Precision lost to exponent notation ----

#[test]
fn times_in_exponent_notation_too_coarse_for_a_second_are_rejected() {
    let w = Workdir::new();
    let coarse = vec!["1.71557E+12", "format the column"];
    let cases: Vec<(&str, Want)> = vec![
        ("1.71557E+12", Want::Rejected("click_time", coarse)),
        (
            "1,71557E+12",
            Want::Rejected("click_time", vec!["1,71557E+12", "format the column"]),
        ),
        (
            "1.71557e12",
            Want::Rejected("click_time", vec!["1.71557e12", "precise"]),
        ),
        (
            "1.71557E+09",
            Want::Rejected("click_time", vec!["1.71557E+09", "text"]),
        ),
        (
            "4.54136E+04",
            Want::Rejected("click_time", vec!["4.54136E+04", "number"]),
        ),
        // Twelve digits after the point: exact to the millisecond.
        (
            "1.715570000000E+12",
            Want::Lead(1_715_570_000_000, "x5@example.com"),
        ),
        (
            "1.715570123456E+12",
            Want::Lead(1_715_570_123_456, "x6@example.com"),
        ),
        (
            "1.7155701234E+09",
            Want::Lead(1_715_570_123_400, "x7@example.com"),
        ),
        (
            "1,715570123457E+12",
            Want::Lead(1_715_570_123_457, "x8@example.com"),
        ),
    ];
    let times: Vec<V> = cases.iter().map(|c| t(c.0)).collect();
    let table = times_table(&times, |i| format!("x{i}@example.com"));
    let wants: Vec<Want> = cases.into_iter().map(|c| c.1).collect();
    check_all_formats(&w, &table, &MADRID, &wants);
    // A forced unit does not make a rounded number precise.
    table.write_csv(&w, "ms.csv");
    let mut args = MADRID.to_vec();
    args.extend(["--time-unit", "ms"]);
    let (_, emitted, rejected, _) = validate(&w, "ms.csv", &args);
    assert!(
        rejected
            .get(&1)
            .is_some_and(|r| r.1.contains("format the column"))
    );
    assert!(!emitted.contains_key(&1));
}

// ---- 7. Size limits ----

#[test]
fn values_beyond_their_limit_are_rejected_never_sent() {
    let w = Workdir::new();
    let mut table = Table::new(&[
        "click_time",
        "email",
        "utm_source",
        "referrer",
        "current_url",
        "settings.note",
    ]);
    let url = |n: usize| format!("https://example.com/?q={}", "a".repeat(n - 23));
    let ok = |i: usize| format!("2024-05-13T13:27:{i:02}Z");
    let rows: Vec<(Vec<String>, Want)> = vec![
        (
            vec![
                ok(0),
                "big@example.com".into(),
                "g".repeat(12 << 20),
                "".into(),
                "".into(),
                "".into(),
            ],
            Want::Rejected(
                "url_parameters",
                vec!["utm_source", "12582912 bytes", "8192"],
            ),
        ),
        (
            vec![
                ok(1),
                "r1@example.com".into(),
                "google".into(),
                url(4097),
                "".into(),
                "".into(),
            ],
            Want::Rejected("referrer", vec!["4097 bytes", "4096"]),
        ),
        (
            vec![
                ok(2),
                "r2@example.com".into(),
                "google".into(),
                url(4096),
                "".into(),
                "".into(),
            ],
            Want::Lead(MAY13_152705 - 3000, "r2@example.com"),
        ),
        (
            vec![
                ok(3),
                "u1@example.com".into(),
                "google".into(),
                "".into(),
                url(8193),
                "".into(),
            ],
            Want::Rejected("current_url", vec!["8193 bytes", "8192"]),
        ),
        (
            vec![
                ok(4),
                "u2@example.com".into(),
                "google".into(),
                "".into(),
                url(8192),
                "".into(),
            ],
            Want::Lead(MAY13_152705 - 1000, "u2@example.com"),
        ),
        (
            vec![
                ok(5),
                "n1@example.com".into(),
                "google".into(),
                "".into(),
                "".into(),
                "n".repeat(8193),
            ],
            Want::Rejected("settings.note", vec!["8193 bytes", "8192"]),
        ),
        (
            vec![
                ok(6),
                format!("{}@example.com", "l".repeat(65)),
                "google".into(),
                "".into(),
                "".into(),
                "".into(),
            ],
            Want::Rejected("email", vec!["64"]),
        ),
        (
            vec![
                ok(7),
                format!("a@{}.com", "d".repeat(64)),
                "google".into(),
                "".into(),
                "".into(),
                "".into(),
            ],
            Want::Rejected("email", vec!["63"]),
        ),
        (
            vec![
                ok(8),
                format!("{}@example.com", "l".repeat(64)),
                "google".into(),
                "".into(),
                "".into(),
                "".into(),
            ],
            Want::Lead(
                MAY13_152705 + 3000,
                leak(format!("{}@example.com", "l".repeat(64))),
            ),
        ),
    ];
    let mut wants = Vec::new();
    for (cells, want) in rows {
        table.row(cells.iter().map(|s| t(s)).collect());
        wants.push(want);
    }
    // The time column of a huge cell: rejected with its start shown, not 1 MiB of it.
    table.row(vec![
        t(&"9".repeat(1 << 20)),
        t("huge@example.com"),
        t("google"),
        t(""),
        t(""),
        t(""),
    ]);
    wants.push(Want::Rejected("click_time", vec!["bytes"]));
    table.write_csv(&w, "big.csv");
    check(&w, "big.csv", &[], &wants);
    let (_, _, rejected, _) = validate(&w, "big.csv", &[]);
    assert!(rejected[&10].1.len() < 400, "{}", &rejected[&10].1[..400]);
    table.write_parquet(&w, "big.parquet");
    check(&w, "big.parquet", &[], &wants);
}

// ---- 8. Headers with accents, Unicode spaces and hyphens ----

#[test]
fn headers_with_accents_and_unicode_spaces_match_their_aliases() {
    let w = Workdir::new();
    for (time_h, email_h) in [
        ("Fecha/Hora", "Correo electrónico"),
        ("Fecha", "E\u{2011}mail"),
        ("Fecha\u{00A0}hora", "Correo\u{00A0}Electrónico"),
        ("Marca temporal", "Dirección de correo electrónico"),
        ("Carimbo de data/hora", "Endereço de e-mail"),
        ("Horodateur", "Adresse e-mail"),
        ("Zeitstempel", "E-Mail-Adresse"),
        ("Informazioni cronologiche", "Indirizzo email"),
    ] {
        let mut table = Table::new(&[time_h, email_h, "UTM Source", "Teléfono"]);
        table.row(vec![
            t("2024-05-13T13:27:05Z"),
            t("ana@example.com"),
            t("google"),
            t("+34 600 000 000"),
        ]);
        for (name, write) in [
            ("h.csv", Table::write_csv as fn(&Table, &Workdir, &str)),
            ("h.xlsx", Table::write_xlsx),
            ("h.parquet", Table::write_parquet),
        ] {
            write(&table, &w, name);
            let r = w.run(&["validate", name, "--emit", "-", "--report", "rep.json"]);
            assert_eq!(r.code, 0, "{name} {time_h} / {email_h}: {}", r.stderr);
            let out = json_lines(&r.stdout);
            assert_eq!(out[0]["settings"]["email"], "ana@example.com");
            assert_eq!(out[0]["click_time"], MAY13_152705);
            let rep: serde_json::Value = serde_json::from_str(&w.read("rep.json")).unwrap();
            assert_eq!(rep["files"][0]["mapping"]["email"], email_h, "{name}");
            assert_eq!(rep["files"][0]["mapping"]["click_time"], time_h, "{name}");
        }
    }
    // --map finds a column by its folded name too.
    let mut table = Table::new(&["Fecha de alta", "Correo electrónico", "utm_source"]);
    table.row(vec![
        t("2024-05-13T13:27:05Z"),
        t("ana@example.com"),
        t("google"),
    ]);
    table.write_csv(&w, "m.csv");
    let r = w.run(&[
        "validate",
        "m.csv",
        "--map",
        "click_time=fecha de alta",
        "--map",
        "email=CORREO ELECTRONICO",
        "--emit",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
