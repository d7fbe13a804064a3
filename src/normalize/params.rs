//! url_parameters and settings: collecting keys from columns, a JSON column and the
//! query of current_url; the microconversion rule; compact JSON output. (The email
//! rule is in `email`.)

use std::borrow::Cow;

use super::columns::is_param_key;
pub use super::email::normalize_email;
use crate::cell::trim;
use crate::json::json_str;

/// Key/value pairs where the first value given for a key wins; written sorted.
/// Keys and values borrow from the row where they can: this runs for every row.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

/// `s` trimmed, without copying when it is borrowed or already trimmed.
fn trimmed(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(trim(b)),
        Cow::Owned(o) if trim(&o).len() == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(trim(&o).to_string()),
    }
}

/// `s` trimmed and lowercased, copying only when something changes.
pub fn lowered(s: Cow<'_, str>) -> Cow<'_, str> {
    let s = trimmed(s);
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        s
    }
}

impl<'a> Pairs<'a> {
    /// Add unless the key is already there or the value is empty after trimming.
    pub fn add(&mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) {
        let key = key.into();
        let value = trimmed(value.into());
        if value.is_empty() || self.0.iter().any(|(k, _)| *k == key) {
            return;
        }
        self.0.push((key, value));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes of the pairs written as a query string, `k=v&k=v`, unencoded.
    pub fn query_len(&self) -> usize {
        let pairs: usize = self.0.iter().map(|(k, v)| k.len() + v.len() + 1).sum();
        pairs + self.0.len().saturating_sub(1)
    }

    /// The pair with the longest value.
    pub fn longest(&self) -> Option<(&str, &str)> {
        self.0
            .iter()
            .max_by_key(|(_, v)| v.len())
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// `{"a":"1","b":"2"}` with keys sorted.
    pub fn to_json(&mut self) -> String {
        self.to_json_each(|_, _| {})
    }

    /// [`Pairs::to_json`], showing `each` every key and its value as written
    /// (borrowed for as long as the pairs are).
    pub fn to_json_each<'s>(&'s mut self, mut each: impl FnMut(&'s str, &'s str)) -> String {
        if !self.0.is_sorted_by(|a, b| a.0 <= b.0) {
            self.0.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        let pairs: &'s [(Cow<'a, str>, Cow<'a, str>)] = &self.0;
        let mut out = String::with_capacity(
            16 + pairs
                .iter()
                .map(|(k, v)| k.len() + v.len() + 6)
                .sum::<usize>(),
        );
        out.push('{');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(&mut out, k);
            out.push(':');
            json_str(&mut out, v);
            each(k, v);
        }
        out.push('}');
        out
    }
}

/// Keys of a `url_parameters` JSON object: trimmed and lowercased. Values: strings,
/// numbers and booleans as text; null dropped; nested values refused.
pub fn add_json_object(pairs: &mut Pairs<'_>, text: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("not a JSON object".to_string());
    };
    for (k, v) in map {
        let key = k.trim().to_lowercase();
        if key.is_empty() {
            continue;
        }
        let v = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => return Err(format!("value of '{key}' is not text")),
        };
        pairs.add(key, v);
    }
    Ok(())
}

/// utm_* and click ids from the query string of a URL, percent-decoded.
pub fn add_url_query<'a>(pairs: &mut Pairs<'a>, url: &'a str) {
    let Some((_, query)) = split_at_byte(url, b'?') else {
        return;
    };
    let query = split_at_byte(query, b'#').map_or(query, |(q, _)| q);
    // As `form_urlencoded::parse`, but a pair's value is decoded only when its key
    // is one we keep (most query parameters are not), and nothing is decoded that
    // has nothing to decode: this runs for every row with a URL.
    let mut rest = Some(query);
    while let Some(r) = rest {
        let (pair, after) = split_at_byte(r, b'&').map_or((r, None), |(p, a)| (p, Some(a)));
        rest = after;
        if pair.is_empty() {
            continue;
        }
        let (k, v) = split_at_byte(pair, b'=').unwrap_or((pair, ""));
        let key = lowered(form_decoded(k));
        if is_param_key(&key) {
            pairs.add(key, form_decoded(v));
        }
    }
}

/// `s` split around the first `b`, an ASCII byte (so both sides are `str`s): as
/// `split_once`, whose `char` search checks each match with a `memcmp` call.
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    debug_assert!(b.is_ascii());
    let i = memchr::memchr(b, s.as_bytes())?;
    Some((&s[..i], &s[i + 1..]))
}

/// One `application/x-www-form-urlencoded` name or value decoded: `+` is a space,
/// `%XX` a byte, invalid UTF-8 replaced. Borrowed when there is nothing to decode.
fn form_decoded(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'+' || b == b'%') {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// Microconversion cell: `Some(true)` for 1/true/yes/y/si/sí, `Some(false)` for
/// 0/false/no/n and empty, `None` for anything else.
pub fn truthy(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "si" | "sí" => Some(true),
        "" | "0" | "false" | "no" | "n" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_empty_values_dropped_keys_sorted() {
        let mut p = Pairs::default();
        p.add("utm_source", " google ");
        p.add("utm_medium", "");
        p.add("utm_source", "bing");
        p.add("gclid", "Abc");
        assert_eq!(p.to_json(), r#"{"gclid":"Abc","utm_source":"google"}"#);
        // Each key and value as written, in order.
        p.add("utm_campaign", "say \"hi\"");
        let mut seen = Vec::new();
        let json = p.to_json_each(|k, v| seen.push(format!("{k}={v}")));
        assert_eq!(
            json,
            r#"{"gclid":"Abc","utm_campaign":"say \"hi\"","utm_source":"google"}"#
        );
        assert_eq!(
            seen,
            ["gclid=Abc", "utm_campaign=say \"hi\"", "utm_source=google"]
        );
    }

    #[test]
    fn json_column_keys_lowercased_values_trimmed() {
        let mut p = Pairs::default();
        p.add("utm_source", "col");
        add_json_object(
            &mut p,
            r#"{" UTM_Source ":"json"," UTM_Campaign ":" Black Friday ","n":3,"z":null,"e":""}"#,
        )
        .unwrap();
        assert_eq!(
            p.to_json(),
            r#"{"n":"3","utm_campaign":"Black Friday","utm_source":"col"}"#
        );
        assert!(add_json_object(&mut p, "[1]").is_err());
        assert!(
            add_json_object(&mut p, "{bad")
                .unwrap_err()
                .contains("JSON")
        );
        assert!(add_json_object(&mut p, r#"{"a":{"b":1}}"#).is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(add_json_object(&mut p, &deep).is_err());
    }

    #[test]
    fn url_query_gives_only_utms_and_click_ids_decoded() {
        let mut p = Pairs::default();
        add_url_query(
            &mut p,
            "https://x.com/p?UTM_Source=news%20letter&utm_medium=email&page=2&gclid=a+b#utm_term=no",
        );
        assert_eq!(
            p.to_json(),
            r#"{"gclid":"a b","utm_medium":"email","utm_source":"news letter"}"#
        );
        add_url_query(&mut p, "no query here");
    }

    /// The query parser before its fast path: every pair decoded.
    fn add_url_query_reference<'a>(pairs: &mut Pairs<'a>, url: &'a str) {
        let Some((_, query)) = url.split_once('?') else {
            return;
        };
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let key = lowered(k);
            if is_param_key(&key) {
                pairs.add(key, v);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn url_queries_parse_as_form_urlencoded_does(
            parts in proptest::collection::vec(
                ("(utm_|UTM_|utm%5F|utm+|gcl|x)?[a-z_%+0-9A-F]{0,6}", "[a-zA-Z0-9 %+&=#é.-]{0,12}"),
                0..6,
            ),
            sep in "[&=]{0,2}",
        ) {
            let query: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let url = format!("https://x.com/p?{}{sep}", query.join("&"));
            let (mut fast, mut reference) = (Pairs::default(), Pairs::default());
            add_url_query(&mut fast, &url);
            add_url_query_reference(&mut reference, &url);
            proptest::prop_assert_eq!(fast.to_json(), reference.to_json(), "{}", url);
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email("  Ana.Perez@Example.COM ").unwrap(),
            "ana.perez@example.com"
        );
        assert_eq!(
            normalize_email("a+tag@sub.example.es").unwrap(),
            "a+tag@sub.example.es"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@example",
            "ana@@x.com",
            "a b@x.com",
            "ana@x.c",
            "ana@x..com",
            "ana@1.2",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn truthiness() {
        for t in ["1", "TRUE", "Yes", "y", "SI", "Sí"] {
            assert_eq!(truthy(t), Some(true), "{t}");
        }
        for f in ["0", "false", "No", ""] {
            assert_eq!(truthy(f), Some(false), "{f}");
        }
        assert_eq!(truthy("maybe"), None);
    }
}
