//! settings.email: invisible characters and a `mailto:` link taken out, trimmed and
//! lowercased, then checked as an RFC 5322 addr-spec (a dot-atom before `@`, a host
//! name after it) within RFC 5321's lengths. This runs for every row: ASCII text does
//! no Unicode work.

use std::borrow::Cow;

use super::limits::{DOMAIN_LABEL_MAX, EMAIL_DOMAIN_MAX, EMAIL_LOCAL_MAX, EMAIL_MAX};
use super::params::lowered;
use super::unicode::{shown, strip_invisible_cow};
use crate::source::trim;

/// The address to send, or why there is none.
///
/// In order: Unicode format characters (category Cf: zero-width spaces and joiners,
/// BOM, soft hyphen, bidi marks) and non-ASCII white space (no-break spaces…) are
/// removed wherever they are; the value is trimmed; a `mailto:` scheme (any case) is
/// removed with any `?subject=…` tail, and the address percent-decoded (RFC 6068
/// §2); the address is lowercased. It must then be an addr-spec (RFC 5322 §3.4.1)
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
    match addr_spec_problem(&email) {
        None => Ok(email),
        Some(why) => Err(format!(
            "'{}' is not an email address: {why}",
            shown(trim(&as_written))
        )),
    }
}

/// `mailto:ADDR[?…]` (scheme in any case) as `ADDR`, percent-decoded; other text
/// trimmed, unchanged.
fn without_mailto(s: Cow<'_, str>) -> Cow<'_, str> {
    let t = trim(&s);
    let is_link = t.len() >= 7 && t.as_bytes()[..7].eq_ignore_ascii_case(b"mailto:");
    if !is_link {
        return match s {
            Cow::Borrowed(b) => Cow::Borrowed(trim(b)),
            Cow::Owned(o) => Cow::Owned(trim(&o).to_string()),
        };
    }
    let addr = t[7..].split('?').next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(addr).decode_utf8_lossy();
    Cow::Owned(trim(&decoded).to_string())
}

/// RFC 5322 §3.2.3 `atext` besides letters and digits.
const ATEXT_SYMBOLS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";

fn local_char_ok(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || ATEXT_SYMBOLS.contains(&(c as u8))
    } else {
        !c.is_control() && !c.is_whitespace()
    }
}

fn domain_char_ok(c: char) -> bool {
    c.is_alphanumeric() || c == '-'
}

/// What makes `email` (trimmed, lowercased) not an addr-spec, or `None`.
fn addr_spec_problem(email: &str) -> Option<String> {
    let Some(at) = memchr::memchr(b'@', email.as_bytes()) else {
        return Some("it has no '@'".into());
    };
    let (local, domain) = (&email[..at], &email[at + 1..]);
    if domain.contains('@') {
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
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("a '.' at either end of the part before '@', or two in a row".into());
    }
    if let Some(c) = local.chars().find(|&c| c != '.' && !local_char_ok(c)) {
        return Some(format!(
            "'{}' is not allowed before '@'",
            shown(&c.to_string())
        ));
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
    for label in domain.split('.') {
        if label.is_empty() {
            return Some("the domain has an empty label (a '.' at an end, or two in a row)".into());
        }
        if label.len() > DOMAIN_LABEL_MAX {
            return Some(format!(
                "the domain label '{}…' is {} bytes, more than the {DOMAIN_LABEL_MAX} RFC 1035 allows",
                label.chars().take(20).collect::<String>(),
                label.len()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!(
                "the domain label '{label}' starts or ends with '-'"
            ));
        }
        if let Some(c) = label.chars().find(|&c| !domain_char_ok(c)) {
            return Some(format!(
                "'{}' is not allowed in a domain",
                shown(&c.to_string())
            ));
        }
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

    #[test]
    fn ascii_addresses_are_borrowed_when_nothing_changes() {
        assert!(matches!(
            normalize_email("ana@example.com"),
            Ok(Cow::Borrowed(_))
        ));
    }
}
