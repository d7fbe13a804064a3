//! url_parameters and settings: collecting keys from columns, a JSON column and the
//! query of current_url; email and microconversion rules; compact JSON output.

use super::columns::is_param_key;

/// Key/value pairs where the first value given for a key wins; written sorted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// Add unless the key is already there or the value is empty after trimming.
    pub fn add(&mut self, key: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() || self.0.iter().any(|(k, _)| k == key) {
            return;
        }
        self.0.push((key.to_string(), value.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `{"a":"1","b":"2"}` with keys sorted.
    pub fn to_json(&mut self) -> String {
        self.0.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::with_capacity(
            16 + self
                .0
                .iter()
                .map(|(k, v)| k.len() + v.len() + 6)
                .sum::<usize>(),
        );
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(&mut out, k);
            out.push(':');
            json_str(&mut out, v);
        }
        out.push('}');
        out
    }
}

/// Append `s` as a JSON string literal.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1F => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => out.push_str(&format!("\\u{b:04x}")),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Keys of a `url_parameters` JSON object: trimmed and lowercased. Values: strings,
/// numbers and booleans as text; null dropped; nested values refused.
pub fn add_json_object(pairs: &mut Pairs, text: &str) -> Result<(), String> {
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
        pairs.add(&key, &v);
    }
    Ok(())
}

/// utm_* and click ids from the query string of a URL, percent-decoded.
pub fn add_url_query(pairs: &mut Pairs, url: &str) {
    let Some((_, query)) = url.split_once('?') else {
        return;
    };
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let key = k.trim().to_lowercase();
        if is_param_key(&key) {
            pairs.add(&key, &v);
        }
    }
}

/// Trimmed and lowercased; must look like `local@domain.tld`.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let bad = || format!("'{}' is not an email address", raw.trim());
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let ok_char = |c: char| {
        !c.is_whitespace()
            && !c.is_control()
            && !matches!(
                c,
                '<' | '>' | '(' | ')' | ',' | ';' | '"' | '@' | '[' | ']' | '\\'
            )
    };
    if local.is_empty() || !local.chars().all(ok_char) {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or("");
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
        || tld.chars().count() < 2
        || tld.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    Ok(email)
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

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
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
