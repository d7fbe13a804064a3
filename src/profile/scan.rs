//! The pairs of a lead's compact JSON objects (`url_parameters`, `settings`:
//! `{"key":"value",...}`, strings only, as `normalize::params::Pairs` writes them)
//! read without a JSON parser: this runs for every valid row.

use std::borrow::Cow;

/// Call `f` with each `(key, value)` of a flat object of strings; values are
/// unescaped when they hold escapes. Stops quietly at anything else.
pub fn pairs<'a>(json: &'a str, mut f: impl FnMut(&'a str, Cow<'a, str>)) {
    let bytes = json.as_bytes();
    if bytes.first() != Some(&b'{') {
        return;
    }
    let mut at = 1;
    while let Some((key, after)) = string(json, at) {
        if bytes.get(after) != Some(&b':') {
            return;
        }
        let Some((value, next)) = string(json, after + 1) else {
            return;
        };
        f(key.raw(json), value.text(json));
        match bytes.get(next) {
            Some(b',') => at = next + 1,
            _ => return,
        }
    }
}

/// A string's place in the text: between its quotes, and whether it has escapes.
#[derive(Clone, Copy)]
struct Span {
    open: usize,
    close: usize,
    escaped: bool,
}

impl Span {
    fn raw(self, json: &str) -> &str {
        &json[self.open + 1..self.close]
    }

    fn text(self, json: &str) -> Cow<'_, str> {
        let raw = self.raw(json);
        if !self.escaped {
            return Cow::Borrowed(raw);
        }
        serde_json::from_str::<String>(&json[self.open..=self.close])
            .map_or(Cow::Borrowed(raw), Cow::Owned)
    }
}

/// The string that starts at `open`, and where the text after its closing quote
/// starts.
fn string(json: &str, open: usize) -> Option<(Span, usize)> {
    let bytes = json.as_bytes();
    if bytes.get(open) != Some(&b'"') {
        return None;
    }
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
        if bytes[j] == b'"' {
            let span = Span {
                open,
                close: j,
                escaped,
            };
            return Some((span, j + 1));
        }
        escaped = true;
        i = j + 2;
    }
}

/// The domain of a normalized email address (after its `@`).
pub fn domain(email: &str) -> Option<&str> {
    let at = memchr::memrchr(b'@', email.as_bytes())?;
    Some(&email[at + 1..]).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(json: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        pairs(json, |k, v| out.push((k.to_string(), v.into_owned())));
        out
    }

    #[test]
    fn pairs_of_compact_objects() {
        assert_eq!(
            all(r#"{"gclid":"Abc","utm_source":"google"}"#),
            [
                ("gclid".to_string(), "Abc".to_string()),
                ("utm_source".into(), "google".into())
            ]
        );
        assert!(all("{}").is_empty());
        assert!(all("").is_empty());
    }

    #[test]
    fn escaped_values_are_unescaped() {
        let mut json = String::from("{");
        crate::json::json_str(&mut json, "utm_campaign");
        json.push(':');
        crate::json::json_str(&mut json, "a \"b\" \\ c\n\u{1}é");
        json.push(',');
        crate::json::json_str(&mut json, "utm_source");
        json.push(':');
        crate::json::json_str(&mut json, "x");
        json.push('}');
        assert_eq!(
            all(&json),
            [
                (
                    "utm_campaign".to_string(),
                    "a \"b\" \\ c\n\u{1}é".to_string()
                ),
                ("utm_source".into(), "x".into())
            ]
        );
    }

    #[test]
    fn what_is_not_a_flat_object_of_strings_stops_the_scan() {
        assert_eq!(
            all(r#"{"a":"1","b":2}"#),
            [("a".to_string(), "1".to_string())]
        );
        assert!(all(r#"{"a" "1"}"#).is_empty());
        assert!(all(r#"{"a":1,"b":"2"}"#).is_empty(), "a number");
        assert!(all(r#"{"a":"1"#).is_empty(), "unterminated");
        assert!(all(r#"{"a":"1\"#).is_empty(), "a trailing backslash");
    }

    #[test]
    fn domains_of_emails() {
        assert_eq!(domain("ana@example.com"), Some("example.com"));
        assert_eq!(domain("no-at"), None);
        assert_eq!(domain("x@"), None);
    }
}
