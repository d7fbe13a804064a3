//! Time text as exporters write it, rewritten to the shapes the parser reads: Unicode
//! spaces and format characters, Unicode hyphens and minus signs, full-width forms,
//! the comma or word some locales put between date and time, and the AM/PM
//! designators of the locales users export from (en, es, pt, fr, de, it). Only text
//! the parser could not read as it was comes here: the per-row fast path never does.

use crate::normalize::unicode::is_format;

/// Words (lowercase, after the date) that stand between a date and its time:
/// JavaScript's and ICU's `dateStyle`+`timeStyle` patterns of en ("at"), fr ("à"),
/// pt ("às"), es ("a las", "a la"), de ("um"), it ("alle", "alle ore"), nl ("om")
/// (source: CLDR `dateTimeFormats`, `atTime` variants, of those locales); and the
/// marks CRMs and form tools put there: `-` (also an en dash), `@`, `|`.
const JOINING_WORDS: [&[&str]; 12] = [
    &["-"],
    &["@"],
    &["|"],
    &["at"],
    &["à"],
    &["às"],
    &["a", "las"],
    &["a", "la"],
    &["um"],
    &["alle", "ore"],
    &["alle"],
    &["om"],
];

/// AM/PM designators (lowercase, spaces as one ASCII space) and what they mean, longest
/// first; plain `AM`/`PM` (en, fr, it, pt-BR, de today) the parser reads itself.
/// Source: CLDR `dayPeriods` (abbreviated, format): en-CA/en-AU/en-IE ("a.m.",
/// "p.m."), es ("a. m.", "p. m."; ICU puts a no-break space inside), pt-PT and fr-CA
/// ("a.m.", "p.m."), de in older CLDR releases ("vorm.", "nachm."); .NET on ICU writes
/// these, and Windows' es-ES writes "a. m."/"p. m." too.
const DESIGNATORS: [(&str, &str); 10] = [
    ("nachm.", "PM"),
    ("vorm.", "AM"),
    ("a. m.", "AM"),
    ("p. m.", "PM"),
    ("a.m.", "AM"),
    ("p.m.", "PM"),
    ("a. m", "AM"),
    ("p. m", "PM"),
    ("a.m", "AM"),
    ("p.m", "PM"),
];

/// Characters only: format characters (Cf) dropped; white space (any Unicode space,
/// tab) as one ASCII space; hyphens, dashes and minus signs (U+2010-U+2013, U+2212,
/// U+FE63, U+FF0D) as `-`; full-width ASCII forms (U+FF01-U+FF5E) as ASCII; then the
/// AM/PM designators above as `AM`/`PM`. For `--time-format`, whose pattern says
/// where commas and words go. `None` when nothing changes.
pub(super) fn normalized_chars(s: &str) -> Option<String> {
    let mapped = map_chars(s);
    let out = designators(&mapped);
    (out != s).then_some(out)
}

/// [`normalized_chars`], and the comma or word between the date and the time (when
/// the text starts with a digit, as dates do) taken out. `None` when nothing changes.
pub(super) fn normalized(s: &str) -> Option<String> {
    let mapped = map_chars(s);
    let joined = join_date_and_time(&mapped);
    let out = designators(&joined);
    (out != s).then_some(out)
}

fn map_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if c.is_ascii() && !c.is_ascii_whitespace() => out.push(c),
            c if c.is_whitespace() => out.push(' '),
            '\u{2010}'..='\u{2013}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => out.push('-'),
            '\u{FF01}'..='\u{FF5E}' => {
                out.push(char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c));
            }
            c if is_format(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// `13/05/2024, 15:27` and `13/05/2024 à 15:27` as `13/05/2024 15:27`.
fn join_date_and_time(s: &str) -> String {
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return s.to_string();
    }
    let mut words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
    if words.len() < 2 {
        return words.join(" ");
    }
    if let Some(date) = words[0].strip_suffix(',') {
        words[0] = date;
    } else if words[1] == "," {
        words.remove(1);
    } else {
        for joining in JOINING_WORDS {
            let n = joining.len();
            let matches = words.len() > n
                && words[1..=n]
                    .iter()
                    .zip(joining)
                    .all(|(w, j)| w.to_lowercase() == *j);
            if matches {
                words.drain(1..=n);
                break;
            }
        }
    }
    words.join(" ")
}

/// Designators after the time (past its first `:`) as `AM`/`PM`, when they stand as
/// words of their own: preceded by a space or a digit, followed by the end, a space
/// or an offset.
fn designators(s: &str) -> String {
    let Some(colon) = s.find(':') else {
        return s.to_string();
    };
    // Designators are ASCII: an ASCII-only lowercase keeps every byte where it was.
    let lower = s.to_ascii_lowercase();
    let b = lower.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let starts_word = i > colon && (b[i - 1] == b' ' || b[i - 1].is_ascii_digit());
        if starts_word && let Some((len, rep)) = designator_at(&lower[i..]) {
            if b[i - 1].is_ascii_digit() {
                out.push(' ');
            }
            out.push_str(rep);
            i += len;
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The designator `rest` starts with, as (its length, `AM` or `PM`).
fn designator_at(rest: &str) -> Option<(usize, &'static str)> {
    let (pat, rep) = DESIGNATORS.iter().find(|(p, _)| rest.starts_with(p))?;
    let after = rest[pat.len()..].bytes().next();
    match after {
        None | Some(b' ' | b'+' | b'-' | b'z') => Some((pat.len(), rep)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_spaces_designators_and_joining_words() {
        let n = |s: &str| normalized(s).unwrap_or_else(|| s.to_string());
        assert_eq!(n("5/13/2024 3:27:05\u{202F}PM"), "5/13/2024 3:27:05 PM");
        assert_eq!(n("5/13/2024, 3:27:05\u{00A0}PM"), "5/13/2024 3:27:05 PM");
        assert_eq!(
            n("13/05/2024 03:27:00 p.\u{00A0}m."),
            "13/05/2024 03:27:00 PM"
        );
        assert_eq!(n("13/05/2024 03:27:00 a. m."), "13/05/2024 03:27:00 AM");
        assert_eq!(n("13/05/2024 3:27p.m."), "13/05/2024 3:27 PM");
        assert_eq!(n("13.05.2024 3:27:00 nachm."), "13.05.2024 3:27:00 PM");
        assert_eq!(n("13/05/2024 às 15:27"), "13/05/2024 15:27");
        assert_eq!(n("13/05/2024 a las 15:27"), "13/05/2024 15:27");
        assert_eq!(n("13/05/2024 alle ore 15:27"), "13/05/2024 15:27");
        assert_eq!(n("13/05/2024 , 15:27"), "13/05/2024 15:27");
        assert_eq!(n("13/05/2024 - 15:27"), "13/05/2024 15:27");
        assert_eq!(n("13/05/2024 \u{2013} 15:27"), "13/05/2024 15:27");
        assert_eq!(n("2024-05-13 @ 15:27"), "2024-05-13 15:27");
        assert_eq!(
            n("\u{FEFF}2024\u{2011}05\u{2011}13 15:27"),
            "2024-05-13 15:27"
        );
        assert_eq!(n("2024-05-13T08:27\u{2212}05:00"), "2024-05-13T08:27-05:00");
        assert_eq!(n("２０２４-05-13 15：27"), "2024-05-13 15:27");
        // Designators only after the time, and only as words.
        assert_eq!(n("13/05/2024 a las 9:27 a. m."), "13/05/2024 9:27 AM");
        assert_eq!(n("2024-05-13 15:27 pmx"), "2024-05-13 15:27 pmx");
        // RFC 2822 starts with a weekday: its comma stays.
        assert_eq!(normalized("Mon, 13 May 2024 15:27:00 +0200"), None);
        assert_eq!(normalized("2024-05-13 15:27"), None);
        // A format's commas and words are the format's business.
        assert_eq!(
            normalized_chars("13/05/2024,\u{202F}3:27 p. m.").as_deref(),
            Some("13/05/2024, 3:27 PM")
        );
    }
}
