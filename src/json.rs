//! JSON text written by hand where it is hot: strings escaped for the set-click
//! fields and `--emit` lines (the JSON objects themselves are assembled by their
//! owners, keys sorted).

/// Append `s` as a JSON string literal.
pub fn json_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = first_escape(bytes, 0);
    while i < bytes.len() {
        let b = bytes[i];
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
        start = i + 1;
        i = first_escape(bytes, start);
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Index of the first byte at or after `from` that JSON must escape (`"`, `\`,
/// control characters), or the length. Eight bytes at a time: this runs over every
/// emitted and sent string.
fn first_escape(bytes: &[u8], from: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI != 0;
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&bytes[i..i + 8]);
        let x = u64::from_le_bytes(chunk);
        let control = x.wrapping_sub(LO * 0x20) & !x & HI != 0;
        if control || zero(x ^ (LO * u64::from(b'"'))) || zero(x ^ (LO * u64::from(b'\\'))) {
            break;
        }
        i += 8;
    }
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x20 || b == b'"' || b == b'\\' {
            return i;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn json_strings_round_trip(s in "(?s).{0,64}") {
            let mut out = String::new();
            json_str(&mut out, &s);
            let back: String = serde_json::from_str(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }
}
