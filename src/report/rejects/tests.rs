//! The rejects table: the guard round-trips, one header for every file, file order.

use super::*;

fn reject(row: u64, cells: &[&str]) -> Reject {
    Reject {
        row,
        location: format!("line {}", row + 1),
        field: "email".into(),
        reason: "missing".into(),
        cells: cells.iter().map(|c| c.to_string()).collect(),
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn formulas_are_neutralized_but_numbers_kept() {
    assert_eq!(guard("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
    assert_eq!(guard("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(guard("+34 600"), "'+34 600");
    assert_eq!(guard("-20%_flash"), "'-20%_flash");
    assert_eq!(guard("-5"), "-5");
    assert_eq!(guard("plain"), "plain");
    assert_eq!(
        guard("'quoted"),
        "''quoted",
        "a leading quote is kept through"
    );
}

proptest::proptest! {
    #[test]
    fn guarded_cells_read_back_as_they_were(s in "(['=+@\\-\t\r]{0,3})\\PC{0,12}") {
        let guarded = guard(&s);
        proptest::prop_assert_eq!(unguard(&guarded), s.as_str());
    }
}

#[test]
fn recognizes_its_own_header() {
    assert!(is_rejects_header(&names(&[
        "file", "row", "location", "field", "reason", "Fecha"
    ])));
    assert!(!is_rejects_header(&names(&["file", "row", "location"])));
    assert!(!is_rejects_header(&names(&[
        "row", "location", "field", "reason", "x"
    ])));
}

#[test]
fn one_table_for_every_file_with_rows_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rejects.csv");
    let mut r = Rejects::create(&path).unwrap();
    r.start_file("a.csv", &names(&["Fecha", "Email", "Notes"]));
    r.in_order(&reject(2, &["01/02", "x", "n"])).unwrap();
    r.later(reject(5, &["05/02", "y@z.co", "-20%_flash"]));
    r.later(reject(1, &["01/01", "w@z.co", "n1"]));
    r.in_order(&reject(9, &["09/02", "q", ""])).unwrap();
    r.start_file("b.xlsx", &names(&["Email", "Phone", "Notes", "Notes"]));
    r.in_order(&reject(3, &["e", "+34 600", "one", "two"]))
        .unwrap();
    r.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "file", "row", "location", "field", "reason", "Fecha", "Email", "Notes", "Phone",
            "Notes"
        ]
    );
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(
        keys,
        [
            ("a.csv".into(), "1".into()),
            ("a.csv".into(), "2".into()),
            ("a.csv".into(), "5".into()),
            ("a.csv".into(), "9".into()),
            ("b.xlsx".into(), "3".into()),
        ]
    );
    assert_eq!(rows[2][7], "'-20%_flash", "guarded");
    assert_eq!(rows[4][6], "e", "b's Email under the shared Email column");
    assert_eq!(rows[4][8], "'+34 600");
    assert_eq!((rows[4][7].as_str(), rows[4][9].as_str()), ("one", "two"));
    assert_eq!(rows[0][8], "", "a's rows have no Phone");
}

#[test]
fn a_run_without_rejected_rows_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rejects.csv");
    let mut r = Rejects::create(&path).unwrap();
    r.start_file("a.csv", &names(&["x"]));
    r.finish().unwrap();
    assert!(!path.exists(), "no rejected row, no file");
    std::fs::write(
        &path,
        "file,row,location,field,reason,x\na.csv,3,line 4,x,bad,v\n",
    )
    .unwrap();
    let mut r = Rejects::create(&path).unwrap();
    r.start_file("a.csv", &names(&["x"]));
    r.finish().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "file,row,location,field,reason,x\na.csv,3,line 4,x,bad,v\n"
    );
}

/// A second run the same day (`rejects-{date}.csv`): the first run's rows kept
/// first, one header, the union of the columns.
#[test]
fn a_second_run_adds_its_rows_under_one_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rejects.csv");
    let mut r = Rejects::create(&path).unwrap();
    r.start_file("a.csv", &names(&["x", "y"]));
    r.in_order(&reject(3, &["=1", "b"])).unwrap();
    r.finish().unwrap();
    let mut r = Rejects::create(&path).unwrap();
    r.start_file("b.csv", &names(&["y", "z"]));
    r.in_order(&reject(7, &["c", "d"])).unwrap();
    r.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "file,row,location,field,reason,x,y,z");
    assert!(
        lines[1].starts_with("a.csv,3,") && lines[1].ends_with(",'=1,b,"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("b.csv,7,") && lines[2].ends_with(",,c,d"),
        "{text}"
    );
}

#[test]
fn a_missing_directory_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs").join("rejects.csv");
    let e = Rejects::create(&path).err().expect("refused");
    assert!(e.to_string().contains("mkdir -p"), "{e}");
}
