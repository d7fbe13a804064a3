//! settings.email: invisible characters and a `mailto:` link taken out, trimmed and
//! lowercased, then checked as an RFC 5322 addr-spec (a dot-atom before `@`, a host
//! name after it) within RFC 5321's lengths. This runs for every row: ASCII text does
//! no Unicode work.

use std::borrow::Cow;

use super::limits::{DOMAIN_LABEL_MAX, EMAIL_DOMAIN_MAX, EMAIL_LOCAL_MAX, EMAIL_MAX};
use super::params::lowered;
use super::unicode::{shown, strip_invisible_cow};
use crate::cell::trim;

/// The address to send, or why there is none.
///
/// In order: Unicode format characters (category Cf: zero-width spaces and joiners,
/// BOM, soft hyphen, bidi marks) and non-ASCII white space (no-break spaces…) are
/// removed wherever they are; the value is trimmed; a `mailto:` scheme (any case) is
/// removed with any `//` after it and any `?subject=…` tail, and the address
/// percent-decoded (RFC 6068 §2); the address is lowercased. It must then be an addr-spec (RFC 5322 §3.4.1)
/// whose local part is a dot-atom of `atext` (§3.2.3) or non-ASCII letters (RFC
/// 6532), at most 64 octets, and whose domain is a host name of at least two labels
/// of letters, digits and inner hyphens, each at most 63 octets (RFC 1035 §2.3.4),
/// at most 255 in all, ending in a top-level domain of two or more characters that
/// is not a number; the whole at most 254 octets (RFC 5321 §4.5.3.1). Quoted local
/// parts and address literals (`[192.0.2.1]`) are refused: no lead form yields them.
/// Errors name the value as written, invisible characters escaped.
pub fn normalize_email<'a>(raw: impl Into<Cow<'a, str>>) -> Result<Cow<'a, str>, String> {
    let raw = raw.into();
    let as_written = raw.clone();
    let email = lowered(without_mailto(strip_invisible_cow(raw)));
    if email.len() > EMAIL_MAX {
        return Err(format!(
            "an email address of {} bytes ('{}…') is longer than the {EMAIL_MAX} RFC 5321 allows",
            email.len(),
            shown(&email.chars().take(40).collect::<String>())
        ));
    }
    if email.is_ascii() && ascii_addr_spec(email.as_bytes()) {
        return Ok(email);
    }
    match addr_spec_problem(&email) {
        None => Ok(email),
        Some(why) => Err(format!(
            "'{}' is not an email address: {why}",
            shown(trim(&as_written))
        )),
    }
}

/// Whether ASCII `b` is an addr-spec by the rules of [`addr_spec_problem`], in one
/// pass with no reason to build: the path of almost every row.
fn ascii_addr_spec(b: &[u8]) -> bool {
    let mut i = 0;
    let mut prev_dot = true;
    while i < b.len() && b[i] != b'@' {
        let c = b[i];
        if c == b'.' {
            if prev_dot {
                return false;
            }
            prev_dot = true;
        } else if c >= 128 || !ATEXT[usize::from(c)] {
            return false;
        } else {
            prev_dot = false;
        }
        i += 1;
    }
    if i == 0 || i == b.len() || prev_dot || i > EMAIL_LOCAL_MAX {
        return false;
    }
    let d = &b[i + 1..];
    if d.len() > EMAIL_DOMAIN_MAX {
        return false;
    }
    let label_ok = |l: &[u8]| {
        !l.is_empty() && l.len() <= DOMAIN_LABEL_MAX && l[0] != b'-' && l[l.len() - 1] != b'-'
    };
    let mut start = 0;
    let mut dots = 0;
    for (j, &c) in d.iter().enumerate() {
        if c == b'.' {
            if !label_ok(&d[start..j]) {
                return false;
            }
            start = j + 1;
            dots += 1;
        } else if c >= 128 || !LABEL[usize::from(c)] {
            return false;
        }
    }
    let tld = &d[start..];
    dots > 0 && label_ok(tld) && tld.len() >= 2 && !tld.iter().all(u8::is_ascii_digit)
}

/// `mailto:ADDR[?…]` (scheme in any case) as `ADDR`, percent-decoded and trimmed;
/// other text unchanged.
fn without_mailto(s: Cow<'_, str>) -> Cow<'_, str> {
    let t = trim(&s);
    let is_link = t.len() >= 7 && t.as_bytes()[..7].eq_ignore_ascii_case(b"mailto:");
    if !is_link {
        // Trimmed by the caller.
        return s;
    }
    // `mailto://addr`, as some write it, is `mailto:addr` (RFC 6068 has no authority).
    let addr = t[7..].trim_start_matches('/');
    let addr = addr.split('?').next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(addr).decode_utf8_lossy();
    Cow::Owned(trim(&decoded).to_string())
}

/// ASCII bytes allowed in a dot-atom's atoms (RFC 5322 §3.2.3 `atext`): letters,
/// digits and ``!#$%&'*+-/=?^_`{|}~``.
const ATEXT: [bool; 128] = ascii_table(b"!#$%&'*+-/=?^_`{|}~");
/// ASCII bytes allowed in a host name's labels besides `.`: letters, digits, `-`.
const LABEL: [bool; 128] = ascii_table(b"-");

const fn ascii_table(symbols: &[u8]) -> [bool; 128] {
    let mut t = [false; 128];
    let mut c = 0;
    while c < 128 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < symbols.len() {
        t[symbols[i] as usize] = true;
        i += 1;
    }
    t
}

/// The character at byte `i` of `s` (a char boundary), escaped for a reason.
fn char_at(s: &str, i: usize) -> String {
    let c = s[i..].chars().next().unwrap_or(' ');
    shown(c.encode_utf8(&mut [0; 4])).into_owned()
}

/// What makes `email` (trimmed, lowercased) not an addr-spec, or `None`. One pass
/// over the bytes of each part: this runs for every row.
fn addr_spec_problem(email: &str) -> Option<String> {
    let Some(at) = memchr::memchr(b'@', email.as_bytes()) else {
        return Some("it has no '@'".into());
    };
    let (local, domain) = (&email[..at], &email[at + 1..]);
    if memchr::memchr(b'@', domain.as_bytes()).is_some() {
        return Some("it has more than one '@'".into());
    }
    if local.is_empty() {
        return Some("nothing before '@'".into());
    }
    if local.len() > EMAIL_LOCAL_MAX {
        return Some(format!(
            "the part before '@' is {} bytes, more than the {EMAIL_LOCAL_MAX} RFC 5321 allows",
            local.len()
        ));
    }
    let mut prev_dot = true;
    for (i, &b) in local.as_bytes().iter().enumerate() {
        let ok = match b {
            b'.' if prev_dot => {
                return Some("a '.' at the start of the part before '@', or two in a row".into());
            }
            b'.' => true,
            0..=127 => ATEXT[usize::from(b)],
            // Non-ASCII (RFC 6532): any character but controls and spaces; checked
            // at the first byte of each.
            0xC0.. => {
                let c = local[i..].chars().next().unwrap_or(' ');
                !c.is_control() && !c.is_whitespace()
            }
            _ => true,
        };
        if !ok {
            return Some(format!("'{}' is not allowed before '@'", char_at(local, i)));
        }
        prev_dot = b == b'.';
    }
    if prev_dot {
        return Some("a '.' at the end of the part before '@'".into());
    }
    domain_problem(domain)
}

fn domain_problem(domain: &str) -> Option<String> {
    if domain.is_empty() {
        return Some("nothing after '@'".into());
    }
    if domain.len() > EMAIL_DOMAIN_MAX {
        return Some(format!(
            "the domain is {} bytes, more than the {EMAIL_DOMAIN_MAX} RFC 5321 allows",
            domain.len()
        ));
    }
    let Some(dot) = memchr::memrchr(b'.', domain.as_bytes()) else {
        return Some("the domain has no '.'".into());
    };
    if let Some(why) = domain.split('.').find_map(label_problem) {
        return Some(why);
    }
    let tld = &domain[dot + 1..];
    if tld.chars().count() < 2 {
        return Some(format!("the top-level domain '{tld}' has one character"));
    }
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("the top-level domain '{tld}' is a number"));
    }
    None
}

/// A host name label (RFC 1035 §2.3.4, with IDN letters): 1 to 63 octets of letters,
/// digits and hyphens, no hyphen at either end.
fn label_problem(label: &str) -> Option<String> {
    let b = label.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return Some("the domain has an empty label (a '.' at an end, or two in a row)".into());
    };
    if b.len() > DOMAIN_LABEL_MAX {
        return Some(format!(
            "the domain label '{}…' is {} bytes, more than the {DOMAIN_LABEL_MAX} RFC 1035 allows",
            label.chars().take(20).collect::<String>(),
            b.len()
        ));
    }
    if first == b'-' || last == b'-' {
        return Some(format!(
            "the domain label '{label}' starts or ends with '-'"
        ));
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = match c {
            0..=127 => LABEL[usize::from(c)],
            0xC0.. => label[i..].chars().next().is_some_and(char::is_alphanumeric),
            _ => true,
        };
        if !ok {
            return Some(format!(
                "'{}' is not allowed in a domain",
                char_at(label, i)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_taken_out_anywhere() {
        for (raw, want) in [
            ("\u{200B}ana.lopez@example.com", "ana.lopez@example.com"),
            ("ana.lopez\u{200B}@example.com", "ana.lopez@example.com"),
            ("\u{FEFF}Luis@Example.com", "luis@example.com"),
            ("marta\u{00AD}@example.com", "marta@example.com"),
            ("jordi@exam\u{200C}ple.com\u{2060}", "jordi@example.com"),
            ("\u{00A0}lucia@example.com\u{202F}", "lucia@example.com"),
            ("sara\u{3000}@example.com", "sara@example.com"),
            ("\u{200E}josé@correo.es\u{200F}", "josé@correo.es"),
        ] {
            assert_eq!(normalize_email(raw).as_deref(), Ok(want), "{raw:?}");
        }
    }

    #[test]
    fn mailto_links_give_their_address() {
        for (raw, want) in [
            ("mailto:sarah.free@example.org", "sarah.free@example.org"),
            ("MAILTO:Tom@Example.com", "tom@example.com"),
            (
                " mailto:ivan@example.com?subject=Hola&body=x",
                "ivan@example.com",
            ),
            ("Mailto:nina%2Btag@example.com", "nina+tag@example.com"),
            ("mailto:%41na@example.com", "ana@example.com"),
            ("mailto://eva@example.com", "eva@example.com"),
        ] {
            assert_eq!(normalize_email(raw).as_deref(), Ok(want), "{raw:?}");
        }
        assert!(normalize_email("mailto:").is_err());
        assert!(normalize_email("mailto:a@example.com,b@example.com").is_err());
    }

    #[test]
    fn what_is_not_an_addr_spec_is_rejected_with_the_reason() {
        let why = |raw: &str| normalize_email(raw).unwrap_err();
        assert_eq!(
            why("\u{200B}ana@@example.com"),
            "'\\u{200B}ana@@example.com' is not an email address: it has more than one '@'"
        );
        assert!(why("ana..lopez@example.com").contains("two in a row"));
        assert!(why(".ana@example.com").contains("'.'"));
        assert!(why("ana lopez@example.com").contains("' ' is not allowed"));
        assert!(why("a:b@example.com").contains("':' is not allowed"));
        assert!(why("ana@exa_mple.com").contains("'_' is not allowed in a domain"));
        assert!(why("ana@-example.com").contains("'-'"));
        assert!(why(&format!("{}@example.com", "l".repeat(65))).contains("65 bytes"));
        assert!(why(&format!("a@{}.com", "d".repeat(64))).contains("63"));
        assert!(why(&format!("a@{}.com", "d.".repeat(130))).contains("254"));
        // The limits themselves are allowed.
        let longest_local = format!("{}@example.com", "l".repeat(64));
        assert!(normalize_email(longest_local.as_str()).is_ok());
        let longest_label = format!("a@{}.com", "d".repeat(63));
        assert!(normalize_email(longest_label.as_str()).is_ok());
        for ok in [
            "o'brien@example.ie",
            "a+b=c@example.com",
            "user_1@sub.example.co.uk",
            "ñandú@correo.es",
            "a@b.xn--p1ai",
        ] {
            assert!(normalize_email(ok).is_ok(), "{ok}");
        }
    }

    proptest::proptest! {
        /// Invisible characters anywhere in a valid address, and a `mailto:` link
        /// around it, change nothing of what is sent.
        #[test]
        fn invisible_characters_and_links_change_nothing(
            local in "[a-z0-9][a-z0-9._+-]{0,10}[a-z0-9]",
            domain in "[a-z0-9]{1,10}\\.[a-z]{2,6}",
            marks in proptest::collection::vec((0usize..40, 0usize..8), 0..4),
            link in proptest::sample::select(vec!["", "mailto:", "MAILTO:", "Mailto:"]),
            tail in proptest::sample::select(vec!["", "?subject=Hola", "?cc=x@y.com&body=a"]),
        ) {
            proptest::prop_assume!(!local.contains(".."));
            let clean = format!("{local}@{domain}");
            const INVISIBLE: [char; 8] = [
                '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{00A0}', '\u{202F}',
            ];
            let mut chars: Vec<char> = clean.chars().collect();
            for (at, which) in marks {
                chars.insert(at.min(chars.len()), INVISIBLE[which]);
            }
            let marked: String = chars.into_iter().collect();
            let raw = if link.is_empty() { marked } else { format!("{link}{marked}{tail}") };
            let got = normalize_email(raw.as_str());
            proptest::prop_assert_eq!(got.as_deref(), Ok(clean.as_str()), "{:?}", raw);
        }
    }

    proptest::proptest! {
        /// The one-pass ASCII check and the check that gives reasons agree.
        #[test]
        fn the_ascii_fast_path_agrees_with_the_reasons(
            s in proptest::prop_oneof![
                "[a-z0-9.@_+ :-]{0,12}(\\.[a-z0-9-]{0,4}){0,3}",
                "[a-z0-9._+-]{1,8}@[a-z0-9_-]{1,6}(\\.[a-z0-9-]{0,6}){0,3}",
                "[a-z.]{60,70}@[a-z-]{60,66}\\.[a-z0-9]{1,3}",
            ],
        ) {
            proptest::prop_assert_eq!(ascii_addr_spec(s.as_bytes()), addr_spec_problem(&s).is_none(), "{:?}", s);
        }
    }

    #[test]
    fn ascii_addresses_are_borrowed_when_nothing_changes() {
        assert!(matches!(
            normalize_email("ana@example.com"),
            Ok(Cow::Borrowed(_))
        ));
    }
}
