//! The set-click request body: one lead's fields, form-encoded exactly as the
//! endpoint page shows them, in its order, with the wire choices where the API's
//! sources disagree.

use crate::lead::Lead;

/// Wire choices where the API's sources disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClickTimeUnit {
    #[default]
    Millis,
    Seconds,
}

#[derive(Debug, Clone)]
pub struct Wire {
    pub click_time_unit: ClickTimeUnit,
    /// `referrer` (endpoint page) or `referrer_url` (original collection).
    pub referrer_field: &'static str,
}

impl Default for Wire {
    fn default() -> Wire {
        Wire {
            click_time_unit: ClickTimeUnit::Millis,
            referrer_field: "referrer",
        }
    }
}

/// The form body of one lead (`application/x-www-form-urlencoded`), fields in
/// the endpoint page's order.
pub fn form_body(lead: &Lead, wire: &Wire, account_id: &str) -> Vec<u8> {
    let click_time = match wire.click_time_unit {
        ClickTimeUnit::Millis => lead.click_time,
        ClickTimeUnit::Seconds => lead.click_time.div_euclid(1000),
    };
    let capacity = 64
        + account_id.len() * 3
        + 3 * (lead.url_parameters.len()
            + lead.settings.len()
            + lead.referrer.as_ref().map_or(0, String::len)
            + lead.current_url.as_ref().map_or(0, String::len));
    let mut f = Vec::with_capacity(capacity);
    f.extend_from_slice(b"url_parameters=");
    form_escape(&mut f, &lead.url_parameters);
    f.extend_from_slice(b"&click_time=");
    f.extend_from_slice(itoa::Buffer::new().format(click_time).as_bytes());
    f.extend_from_slice(b"&settings=");
    form_escape(&mut f, &lead.settings);
    if let Some(r) = &lead.referrer {
        f.push(b'&');
        f.extend_from_slice(wire.referrer_field.as_bytes());
        f.push(b'=');
        form_escape(&mut f, r);
    }
    if let Some(u) = &lead.current_url {
        f.extend_from_slice(b"&current_url=");
        form_escape(&mut f, u);
    }
    f.extend_from_slice(b"&account_id=");
    form_escape(&mut f, account_id);
    f
}

/// Bytes that `application/x-www-form-urlencoded` leaves as they are (WHATWG URL
/// standard: alphanumerics and `*-._`).
const FORM_SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_');
        b += 1;
    }
    t
};

/// Append `s` form-encoded: space as `+`, the rest as `%XX` (what
/// `form_urlencoded` writes, without its per-piece iterator).
fn form_escape(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    // Room for the worst case, written by index, then cut to what was written.
    let mut at = out.len();
    out.resize(at + 3 * bytes.len(), 0);
    let dst = &mut out[..];
    for &b in bytes {
        if FORM_SAFE[b as usize] {
            dst[at] = b;
            at += 1;
        } else if b == b' ' {
            dst[at] = b'+';
            at += 1;
        } else {
            dst[at] = b'%';
            dst[at + 1] = HEX[(b >> 4) as usize];
            dst[at + 2] = HEX[(b & 15) as usize];
            at += 3;
        }
    }
    out.truncate(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Lead {
        Lead {
            row: 1,
            pos: 2,
            click_time: 1_634_707_888_123,
            url_parameters: r#"{"utm_source":"a b&c"}"#.into(),
            settings: r#"{"email":"ana+x@example.com"}"#.into(),
            referrer: Some("https://facebook.com/".into()),
            current_url: None,
            dst: Default::default(),
            cells: vec![],
            body: None,
            known_fingerprint: None,
            marks: Default::default(),
        }
    }

    #[test]
    fn form_body_has_exactly_the_set_click_fields() {
        let body = String::from_utf8(form_body(&lead(), &Wire::default(), "acc")).unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let want: Vec<(String, String)> = [
            ("url_parameters", r#"{"utm_source":"a b&c"}"#),
            ("click_time", "1634707888123"),
            ("settings", r#"{"email":"ana+x@example.com"}"#),
            ("referrer", "https://facebook.com/"),
            ("account_id", "acc"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs, want);
        assert!(
            !body.contains(' ') && !body.contains("+x@"),
            "encoded: {body}"
        );

        let legacy = Wire {
            click_time_unit: ClickTimeUnit::Seconds,
            referrer_field: "referrer_url",
        };
        let body = String::from_utf8(form_body(&lead(), &legacy, "acc")).unwrap();
        assert!(
            body.contains("click_time=1634707888&") && body.contains("referrer_url="),
            "{body}"
        );
    }

    proptest::proptest! {
        #[test]
        fn form_escape_writes_what_form_urlencoded_writes(s in "\\PC*") {
            let mut ours = Vec::new();
            form_escape(&mut ours, &s);
            let theirs: String = form_urlencoded::byte_serialize(s.as_bytes()).collect();
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), theirs);
        }
    }
}
