//! A lead: exactly the set-click fields of one valid row, ready to send or emit,
//! and what the data's profile counts of it ([`Tallies`]).

use xxhash_rust::xxh3::xxh3_128;

use crate::cell::Cell;
use crate::json::json_str;

/// How a naive time met its zone (daylight saving), counted in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DstAdjust {
    #[default]
    None,
    /// The wall-clock time does not exist (spring forward): moved later.
    Gap,
    /// The wall-clock time happens twice (fall back): the earlier was taken.
    Fold,
}

/// What the data's profile counts of one valid lead, borrowed from the lead's
/// fields as normalize writes its JSON texts: no value is looked for again in
/// the JSON. An absent value is empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counted<'a> {
    /// utm_source, utm_medium and utm_campaign of `url_parameters`, as sent
    /// (trimmed; unescaped).
    pub params: [&'a str; 3],
    /// The normalized email address.
    pub email: &'a str,
    /// `url_parameters` has a click id (gclid, fbclid, msclkid...).
    pub click_id: bool,
    /// `settings` has `"microconversion":"1"`.
    pub microconversion: bool,
}

/// Takes what the profile counts of each valid lead (the data profile's
/// `BatchProfile`, which gathers it on a normalizing thread for the in-order
/// thread to count). Normalize hands it over once a lead's every check has
/// passed, in one call after its JSON is written.
pub trait Tallies {
    /// One valid lead's values.
    fn lead(&mut self, counted: &Counted<'_>);
}

/// Nothing counted (normalize without a profile).
impl Tallies for () {
    fn lead(&mut self, _: &Counted<'_>) {}
}

#[derive(Debug, Clone)]
pub struct Lead {
    /// 1-based data row number.
    pub row: u64,
    /// Physical position (line, sheet row, Parquet row) for messages.
    pub pos: u64,
    /// Unix milliseconds, UTC.
    pub click_time: i64,
    /// Compact JSON object, keys sorted.
    pub url_parameters: String,
    /// Compact JSON object, keys sorted.
    pub settings: String,
    pub referrer: Option<String>,
    pub current_url: Option<String>,
    pub dst: DstAdjust,
    /// The row as read, for the rejects file should the server refuse it.
    pub cells: Vec<Cell>,
    /// The request body, when built ahead (import builds it on the normalizing
    /// threads, off the thread that sends).
    pub body: Option<bytes::Bytes>,
    /// The fingerprint, once worked out on a normalizing thread (`tally::check`),
    /// so that the thread recording sends does not hash the lead again.
    pub known_fingerprint: Option<u128>,
}

impl Lead {
    /// A lead with empty fields, for tests to fill in.
    #[cfg(test)]
    pub(crate) fn test(row: u64) -> Lead {
        Lead {
            row,
            pos: row,
            click_time: 1_720_000_000_000,
            url_parameters: String::new(),
            settings: String::new(),
            referrer: None,
            current_url: None,
            dst: DstAdjust::None,
            cells: vec![],
            body: None,
            known_fingerprint: None,
        }
    }

    /// Identity of what is sent: equal fingerprints mean equal leads.
    pub fn fingerprint(&self) -> u128 {
        self.known_fingerprint
            .unwrap_or_else(|| self.compute_fingerprint())
    }

    /// XXH3-128 of click_time, then each text field as its length + 1 and its
    /// bytes (0 for an absent one), all little-endian. The fingerprints of earlier
    /// runs are in state stores' ledgers: this must not change.
    fn compute_fingerprint(&self) -> u128 {
        thread_local! {
            static INPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        // Hashed in one call: the same digest as feeding the parts to a streaming
        // hasher (XXH3 is defined so), without its buffering, a third of the cost.
        INPUT.with_borrow_mut(|input| {
            input.clear();
            self.fingerprint_input(|bytes| input.extend_from_slice(bytes));
            xxh3_128(input)
        })
    }

    /// The fingerprint's input, in pieces, in order.
    fn fingerprint_input(&self, mut put: impl FnMut(&[u8])) {
        put(&self.click_time.to_le_bytes());
        for part in [
            Some(self.url_parameters.as_str()),
            Some(self.settings.as_str()),
            self.referrer.as_deref(),
            self.current_url.as_deref(),
        ] {
            match part {
                Some(s) => {
                    put(&(s.len() as u64 + 1).to_le_bytes());
                    put(s.as_bytes());
                }
                None => put(&0u64.to_le_bytes()),
            }
        }
    }

    /// One line of `--emit` output (JSON, no newline).
    pub fn write_json(&self, account_id: Option<&str>, out: &mut String) {
        out.push_str("{\"row\":");
        out.push_str(itoa::Buffer::new().format(self.row));
        out.push_str(",\"click_time\":");
        out.push_str(itoa::Buffer::new().format(self.click_time));
        out.push_str(",\"url_parameters\":");
        out.push_str(&self.url_parameters);
        out.push_str(",\"settings\":");
        out.push_str(&self.settings);
        for (key, value) in [
            ("referrer", self.referrer.as_deref()),
            ("current_url", self.current_url.as_deref()),
            ("account_id", account_id),
        ] {
            if let Some(v) = value {
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":");
                json_str(out, v);
            }
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Lead {
        Lead {
            row: 3,
            pos: 4,
            click_time: 1_634_707_888_000,
            url_parameters: r#"{"utm_source":"x"}"#.into(),
            settings: r#"{"email":"a@b.co"}"#.into(),
            referrer: None,
            current_url: Some("https://x.com/?a=\"1\"".into()),
            dst: DstAdjust::None,
            cells: vec![],
            body: None,
            known_fingerprint: None,
        }
    }

    #[test]
    fn emit_line_is_json_with_absent_fields_left_out() {
        let mut s = String::new();
        lead().write_json(Some("acc"), &mut s);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["row"], 3);
        assert_eq!(v["click_time"], 1_634_707_888_000i64);
        assert_eq!(v["url_parameters"]["utm_source"], "x");
        assert_eq!(v["settings"]["email"], "a@b.co");
        assert_eq!(v["current_url"], "https://x.com/?a=\"1\"");
        assert_eq!(v["account_id"], "acc");
        assert!(v.get("referrer").is_none());
    }

    #[test]
    fn fingerprint_ignores_row_number_but_not_fields() {
        let a = lead();
        let mut b = lead();
        b.row = 99;
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.referrer = Some(String::new());
        assert_ne!(a.fingerprint(), b.fingerprint());
        let mut c = lead();
        c.click_time += 1;
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    /// The fingerprint as first computed, with a streaming hasher fed the pieces:
    /// stores' ledgers hold fingerprints computed so (the known value below pins
    /// the pieces themselves).
    fn streamed_fingerprint(lead: &Lead) -> u128 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        lead.fingerprint_input(|bytes| h.update(bytes));
        h.digest128()
    }

    #[test]
    fn fingerprint_is_the_streamed_one_at_every_length() {
        // XXH3 takes different paths under 16, 128 and 240 bytes and over.
        for n in [0, 1, 20, 100, 120, 200, 230, 300, 1000, 5000] {
            let mut l = lead();
            l.referrer = Some("r".repeat(n));
            assert_eq!(l.fingerprint(), streamed_fingerprint(&l), "referrer of {n}");
            l.referrer = None;
            l.current_url = None;
            assert_eq!(l.fingerprint(), streamed_fingerprint(&l), "no URLs");
        }
        // A known value, so that a change of hash crate or of the parts shows.
        assert_eq!(
            lead().fingerprint(),
            201_879_680_379_509_208_874_152_808_993_316_280_502
        );
    }
}
