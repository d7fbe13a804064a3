//! Unicode clean-up shared by the normalizers: which characters are invisible (format
//! characters, white space other than the ASCII space), taking them out, folding
//! header names (accents, compatibility forms, Unicode spaces and dashes), and showing
//! a value in a rejection reason with its invisible characters escaped.
//!
//! Character properties come from ICU4X (`icu_properties`, `icu_normalizer`), which
//! the URL parser already brings in: Unicode's own data, not tables kept here.

use std::borrow::Cow;

use icu_normalizer::DecomposingNormalizerBorrowed;
use icu_properties::props::GeneralCategory;
use icu_properties::{CodePointMapData, CodePointMapDataBorrowed};

const CATEGORIES: CodePointMapDataBorrowed<'static, GeneralCategory> =
    CodePointMapData::<GeneralCategory>::new();

/// Unicode general category Cf (format; Unicode Standard §4.5, UCD
/// `DerivedGeneralCategory.txt`): zero-width space, non-joiner and joiner (U+200B to
/// U+200D), word joiner (U+2060), byte order mark / zero-width no-break space
/// (U+FEFF), soft hyphen (U+00AD), bidirectional marks (U+200E, U+200F, U+061C,
/// U+202A to U+202E, U+2066 to U+2069) and the like. They have no glyph: text
/// copied from web pages, CRMs and chat tools carries them unseen.
pub fn is_format(c: char) -> bool {
    !c.is_ascii() && CATEGORIES.get(c) == GeneralCategory::Format
}

/// A character nobody sees in a value: Cf ([`is_format`]) or non-ASCII white space
/// (Unicode `White_Space`: U+00A0 no-break space, U+202F narrow no-break space,
/// U+2000 to U+200A, U+3000 ideographic space, U+0085, U+1680, U+2028, U+2029).
pub fn is_invisible(c: char) -> bool {
    !c.is_ascii() && (c.is_whitespace() || is_format(c))
}

/// `s` without [`is_invisible`] characters; borrowed when it has none (always for
/// ASCII text, checked without decoding).
pub fn strip_invisible(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || !s.chars().any(is_invisible) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().filter(|&c| !is_invisible(c)).collect())
}

/// [`strip_invisible`] of a `Cow`, keeping what it borrows.
pub fn strip_invisible_cow(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => strip_invisible(b),
        Cow::Owned(o) => match strip_invisible(&o) {
            Cow::Borrowed(_) => Cow::Owned(o),
            Cow::Owned(stripped) => Cow::Owned(stripped),
        },
    }
}

/// Values longer than this many characters are cut in reasons.
const SHOWN_MAX: usize = 100;
/// How many characters of a cut value a reason keeps.
const SHOWN_HEAD: usize = 60;

/// `s` for a rejection reason: control characters, [`is_format`] characters and
/// white space other than U+0020 written as `\u{XXXX}` (so that `3:27:05\u{202F}PM`
/// does not read as an accepted `3:27:05 PM`), and a value of more than 100
/// characters cut to its first 60 with `… (N bytes)`.
pub fn shown(s: &str) -> Cow<'_, str> {
    let visible = |c: char| c == ' ' || !(c.is_control() || c.is_whitespace() || is_format(c));
    let long = s.len() > SHOWN_MAX && s.chars().nth(SHOWN_MAX).is_some();
    if !long && s.chars().all(visible) {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    for c in s.chars().take(if long { SHOWN_HEAD } else { usize::MAX }) {
        if visible(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        }
    }
    if long {
        out.push_str(&format!("… ({} bytes)", s.len()));
    }
    Cow::Owned(out)
}

/// A header name for alias matching: compatibility-decomposed (NFKD, Unicode Standard
/// Annex #15) with its nonspacing marks (category Mn: accents) removed, lowercased,
/// format characters dropped, and each run of white space, dashes (category Pd:
/// U+2010 hyphen, U+2011 non-breaking hyphen, U+2013 en dash…), `-`, `_` and `/`
/// made one `_`; trimmed of `_`. `Correo electrónico` → `correo_electronico`,
/// `Fecha/Hora` → `fecha_hora`, `E‑mail` → `e_mail`.
pub fn fold_header(s: &str) -> String {
    let decomposed: Cow<'_, str> = if s.is_ascii() {
        Cow::Borrowed(s)
    } else {
        DecomposingNormalizerBorrowed::new_nfkd().normalize(s)
    };
    let mut out = String::with_capacity(decomposed.len());
    let mut gap = false;
    for c in decomposed.chars() {
        let category = (!c.is_ascii()).then(|| CATEGORIES.get(c));
        match category {
            Some(GeneralCategory::NonspacingMark | GeneralCategory::Format) => continue,
            Some(GeneralCategory::DashPunctuation) => gap = true,
            _ if c.is_whitespace() || matches!(c, '-' | '_' | '/') => gap = true,
            _ => {
                if gap && !out.is_empty() {
                    out.push('_');
                }
                gap = false;
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_format_characters_and_unicode_spaces() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{200E}',
            '\u{00A0}', '\u{202F}', '\u{2009}', '\u{3000}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
        for c in ['a', ' ', 'é', '@', '\u{2011}', 'ß'] {
            assert!(!is_invisible(c), "U+{:04X}", c as u32);
        }
        assert_eq!(strip_invisible("\u{200B}ana\u{00A0}@x.com"), "ana@x.com");
        assert!(matches!(strip_invisible("ana@x.com"), Cow::Borrowed(_)));
        assert!(matches!(strip_invisible("josé@x.es"), Cow::Borrowed(_)));
    }

    #[test]
    fn reasons_show_invisible_characters_escaped_and_long_values_cut() {
        assert_eq!(shown("3:27:05\u{202F}PM"), "3:27:05\\u{202F}PM");
        assert_eq!(shown("a\tb\u{200B}c é"), "a\\u{0009}b\\u{200B}c é");
        assert!(matches!(shown("plain text"), Cow::Borrowed(_)));
        let long = "g".repeat(12 << 20);
        let s = shown(&long);
        assert_eq!(s, format!("{}… (12582912 bytes)", "g".repeat(60)));
        let hundred = "é".repeat(100);
        assert_eq!(shown(&hundred), hundred.as_str());
    }

    #[test]
    fn headers_fold_accents_spaces_and_dashes() {
        assert_eq!(fold_header("Correo electrónico"), "correo_electronico");
        assert_eq!(fold_header("Teléfono"), "telefono");
        assert_eq!(fold_header("Fecha/Hora"), "fecha_hora");
        assert_eq!(fold_header("E\u{2011}mail"), "e_mail");
        assert_eq!(
            fold_header(" Correo\u{00A0}Electrónico "),
            "correo_electronico"
        );
        assert_eq!(fold_header("Fecha - Hora"), "fecha_hora");
        assert_eq!(
            fold_header("\u{FEFF}Endereço de e-mail"),
            "endereco_de_e_mail"
        );
        assert_eq!(fold_header("ＵＴＭ Source"), "utm_source");
        assert_eq!(fold_header("settings.Categoría"), "settings.categoria");
    }
}
