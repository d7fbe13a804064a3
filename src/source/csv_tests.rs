//! Tests of the CSV reader: delimiter sniffing, cell reuse, line numbers, UTF-8.

use super::*;

/// Records of `inner`, headerless; `flexible` allows rows of any length.
fn records<'a>(inner: Box<dyn Read + 'a>, flexible: bool) -> CsvRecords<Box<dyn Read + 'a>> {
    CsvRecords {
        reader: csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(flexible)
            .from_reader(LineTracker::new(inner)),
        record: csv::ByteRecord::new(),
        spare: Vec::new(),
    }
}

#[test]
fn sniffs_each_candidate() {
    assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
    assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n"), b';');
    assert_eq!(sniff_delimiter(b"a\tb\tc\n1\t2\t3\n"), b'\t');
    assert_eq!(sniff_delimiter(b"a|b|c\n1|2|3\n"), b'|');
}

#[test]
fn sniffing_ignores_a_title_line_and_quoted_delimiters() {
    let data = b"Export of calls, november\nfecha;email;utm_source\n\"1,2\";a@b.co;x\n3;c@d.co;y\n";
    assert_eq!(sniff_delimiter(data), b';');
}

/// Reads one byte at a time: every run crosses a buffer boundary.
struct Trickle<'a>(&'a [u8]);
impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.split_first() {
            Some((b, rest)) if !buf.is_empty() => {
                buf[0] = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn recycled_cells_are_overwritten_exactly() {
    let data = b"a,b,c,d\n1,,3\nthe quick brown fox jumps over,x,,\n\xff,y,z,w\n";
    let mut recs = records(Box::new(&data[..]), true);
    let text = |s: &str| Cell::Text(CompactString::new(s));
    let mut next = |spare: Vec<Cell>| {
        recs.recycle(vec![spare]);
        recs.next_record().unwrap().unwrap()
    };
    let long = "a text longer than twenty-four bytes, on the heap";
    // More cells than the record, of every kind: the extra ones go.
    let r = next(vec![
        text(long),
        text("q"),
        Cell::Int(5),
        text("x"),
        Cell::Empty,
    ]);
    assert_eq!(r.cells, vec![text("a"), text("b"), text("c"), text("d")]);
    let r = next(vec![text(long), text(long), text(long), text(long)]);
    assert_eq!(r.cells, vec![text("1"), Cell::Empty, text("3")]);
    let r = next(vec![Cell::Empty]);
    assert_eq!(
        r.cells,
        vec![
            text("the quick brown fox jumps over"),
            text("x"),
            Cell::Empty,
            Cell::Empty
        ]
    );
    let r = next(vec![text(long), text(long)]);
    assert_eq!(r.cells[1..], [text("y"), text("z"), text("w")]);
    assert!(r.defect.is_some(), "invalid UTF-8 is still reported");
}

#[test]
fn a_character_split_by_a_delimiter_is_invalid_in_both_fields() {
    // Together the bytes would read "aéb", valid UTF-8; each field alone is not.
    let data = b"a\xc3,\xa9b,ok\ncaf\xc3\xa9,x,y\n";
    let mut recs = records(Box::new(&data[..]), false);
    let r = recs.next_record().unwrap().unwrap();
    assert_eq!(r.defect.map(|d| d.column), Some(Some(0)));
    assert_eq!(r.cells[2], Cell::Text(CompactString::new("ok")));
    let r = recs.next_record().unwrap().unwrap();
    assert!(r.defect.is_none());
    assert_eq!(r.cells[0], Cell::Text(CompactString::new("café")));
}

fn lines_of(data: &[u8], trickle: bool) -> Vec<u64> {
    let inner: Box<dyn Read> = if trickle {
        Box::new(Trickle(data))
    } else {
        Box::new(data)
    };
    let mut recs = records(inner, true);
    let mut out = Vec::new();
    while let Some(r) = recs.next_record().unwrap() {
        out.push(r.pos);
    }
    out
}

#[test]
fn line_numbers_survive_blank_lines_crlf_and_quoted_newlines() {
    let lf = b"\n\na,b\nc,d\n\n\ne,\"f\ng\"\nh,i";
    let crlf = b"a,b\r\nc,d\r\n\r\ne,\"f\r\ng\"\r\nh,i\r\n";
    for trickle in [false, true] {
        assert_eq!(lines_of(lf, trickle), [3, 4, 7, 9], "LF, trickle {trickle}");
        assert_eq!(
            lines_of(crlf, trickle),
            [1, 2, 4, 6],
            "CRLF, trickle {trickle}"
        );
    }
}

#[test]
fn invalid_utf8_in_prefix_names_line_and_offset() {
    let err = check_utf8_prefix(b"a,b\n1,caf\xe9\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("byte offset 9"), "{err}");
    assert!(err.contains("--encoding windows-1252"), "{err}");
    // A multi-byte character cut by the end of the prefix is not an error.
    assert!(check_utf8_prefix("ab\u{e9}".as_bytes()[..3].as_ref()).is_ok());
}
