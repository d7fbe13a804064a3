//! The set-click fields of a row besides click_time: `settings` (email,
//! microconversion, `settings.KEY` columns, `--setting` constants), `url_parameters`
//! (mapped columns, a JSON column, the query of current_url), `referrer` and
//! `current_url`; each held to its size limit (`limits`).

use std::borrow::Cow;

use super::limits::{self, QUERY_MAX, REFERRER_MAX, SETTING_MAX, URL_MAX};
use super::params::{self, Pairs};
use super::unicode::shown;
use super::{Normalizer, Problem};
use crate::cell::Cell;
use crate::lead::{Counted, Tallies};

/// The set-click fields of a row other than click_time, ready to send.
pub(super) struct Fields {
    pub url_parameters: String,
    pub settings: String,
    pub referrer: Option<String>,
    pub current_url: Option<String>,
}

/// `key == want`, compared as an array of known size (a few word compares, no
/// call to `bcmp`): this runs for every key of every row.
#[inline(always)]
fn is<const N: usize>(key: &str, want: &[u8; N]) -> bool {
    <&[u8; N]>::try_from(key.as_bytes()).is_ok_and(|k| k == want)
}

fn problem(problems: &mut Vec<Problem>, field: &str, column: Option<usize>, reason: String) {
    problems.push(Problem {
        field: field.into(),
        column,
        reason,
    });
}

impl Normalizer {
    /// Everything but click_time, borrowing from the row until the JSON is written.
    /// `t` gets the values the profile counts as the JSON is written: once every
    /// check of the fields has passed.
    pub(super) fn fields(
        &self,
        cells: &[Cell],
        problems: &mut Vec<Problem>,
        t: &mut impl Tallies,
    ) -> Option<Fields> {
        let m = &self.map;
        let text = |i: Option<usize>| i.and_then(|i| cells.get(i)).and_then(Cell::text);
        let before = problems.len();
        let mut settings = self.settings(cells, problems);

        let referrer = text(m.referrer).map(plain_url);
        if let Some(r) = referrer.as_deref().filter(|r| r.len() > REFERRER_MAX) {
            let why = "browsers send (W3C Referrer Policy)";
            let reason = limits::too_long("a referrer", r, REFERRER_MAX, why);
            problem(problems, "referrer", m.referrer, reason);
        }
        let current_url = text(m.current_url).map(plain_url);
        if let Some(u) = current_url.as_deref().filter(|u| u.len() > URL_MAX) {
            let why = "web servers take in a request (nginx, Apache defaults)";
            let reason = limits::too_long("a URL", u, URL_MAX, why);
            problem(problems, "current_url", m.current_url, reason);
        }
        let url_params = self.url_parameters(cells, current_url.as_deref(), problems);
        if problems.len() > before {
            return None;
        }
        let owned = |u: Option<Cow<'_, str>>| u.filter(|s| !s.is_empty()).map(Cow::into_owned);
        let mut url_pairs = url_params?;
        let mut counted = Counted::default();
        let url_parameters = url_pairs.to_json_each(|key, value| {
            if is(key, b"utm_source") {
                counted.params[0] = value;
            } else if is(key, b"utm_medium") {
                counted.params[1] = value;
            } else if is(key, b"utm_campaign") {
                counted.params[2] = value;
            } else if !key.starts_with("utm_") {
                counted.click_id |= super::columns::CLICK_IDS.contains(&key);
            }
        });
        let settings = settings.to_json_each(|key, value| {
            if is(key, b"email") {
                counted.email = value;
            } else if is(key, b"microconversion") {
                counted.microconversion = value == "1";
            }
        });
        t.lead(&counted);
        Some(Fields {
            url_parameters,
            settings,
            referrer: owned(referrer),
            current_url: owned(current_url),
        })
    }

    /// email, microconversion, `settings.KEY` columns and `--setting` constants.
    fn settings<'a>(&'a self, cells: &'a [Cell], problems: &mut Vec<Problem>) -> Pairs<'a> {
        let m = &self.map;
        let text = |i: Option<usize>| i.and_then(|i| cells.get(i)).and_then(Cell::text);
        let mut settings = Pairs::default();
        match text(m.email) {
            None => problem(problems, "email", m.email, "missing".into()),
            Some(raw) => match params::normalize_email(raw) {
                Ok(e) => settings.add("email", e),
                Err(reason) => problem(problems, "email", m.email, reason),
            },
        }
        let micro_cell = m.microconversion.and_then(|i| cells.get(i));
        let micro = match micro_cell {
            None | Some(Cell::Empty) => Some(false),
            Some(Cell::Bool(b)) => Some(*b),
            Some(Cell::Int(i)) => match i {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            },
            Some(Cell::Float(x)) if *x == 0.0 || *x == 1.0 => Some(*x == 1.0),
            Some(c) => c.text().map_or(Some(false), |t| params::truthy(&t)),
        };
        match micro {
            Some(on) => {
                if on || self.microconversion {
                    settings.add("microconversion", "1");
                }
            }
            None => problem(
                problems,
                "microconversion",
                m.microconversion,
                format!(
                    "'{}' is not yes or no (1, true, yes, y, si, sí / 0, false, no, n)",
                    shown(&micro_cell.map(|c| c.to_string()).unwrap_or_default())
                ),
            ),
        }
        for (key, i) in &m.settings {
            let Some(v) = text(Some(*i)) else { continue };
            if v.len() > SETTING_MAX {
                let why = "a setting may hold (a URL parameter's limit)";
                let reason = limits::too_long("a value", &v, SETTING_MAX, why);
                problem(problems, &format!("settings.{key}"), Some(*i), reason);
                continue;
            }
            settings.add(key.as_str(), v);
        }
        for (key, value) in &self.constants {
            settings.add(key.as_str(), value.as_str());
        }
        settings
    }

    /// Mapped `utm_*`/click-id columns, then a `url_parameters` JSON column, then the
    /// query of `current_url`; the first wins per key. `None` when the row has none,
    /// a JSON column that is not an object, or more than fits in a URL.
    fn url_parameters<'a>(
        &'a self,
        cells: &'a [Cell],
        current_url: Option<&'a str>,
        problems: &mut Vec<Problem>,
    ) -> Option<Pairs<'a>> {
        let m = &self.map;
        let text = |i: Option<usize>| i.and_then(|i| cells.get(i)).and_then(Cell::text);
        let mut pairs = Pairs::default();
        for (key, i) in &m.params {
            if let Some(v) = text(Some(*i)) {
                pairs.add(key.as_str(), v);
            }
        }
        if let Some(json) = text(m.url_parameters)
            && let Err(reason) = params::add_json_object(&mut pairs, &json)
        {
            problem(problems, "url_parameters", m.url_parameters, reason);
            return None;
        }
        if let Some(u) = current_url {
            params::add_url_query(&mut pairs, u);
        }
        let first_column = || {
            m.params
                .iter()
                .map(|p| p.1)
                .min()
                .or(m.url_parameters)
                .or(m.current_url)
        };
        if pairs.is_empty() {
            let reason = "no UTM parameter or click id in this row".into();
            problem(problems, "url_parameters", first_column(), reason);
            return None;
        }
        let length = pairs.query_len();
        if length > QUERY_MAX {
            let (key, value) = pairs.longest().unwrap_or_default();
            let column = m.params.iter().find(|p| p.0 == key).map(|p| p.1);
            let reason = format!(
                "{length} bytes as a query string, more than the {QUERY_MAX} bytes a URL \
                 carries (nginx, Apache defaults; RFC 9110 §4.1): {key} has {} bytes ('{}')",
                value.len(),
                limits::preview(value)
            );
            let column = column.or_else(first_column);
            problem(problems, "url_parameters", column, reason);
            return None;
        }
        Some(pairs)
    }
}

/// URLs are sent plain: trimmed, and one pair of JSON-style quotes removed (users copy
/// the API page's examples, which quote them).
pub(super) fn plain_url(s: Cow<'_, str>) -> Cow<'_, str> {
    let unquote = |t: &str| -> Option<(usize, usize)> {
        let inner = t.trim().strip_prefix('"')?.strip_suffix('"')?.trim();
        let start = inner.as_ptr() as usize - t.as_ptr() as usize;
        Some((start, start + inner.len()))
    };
    match s {
        Cow::Borrowed(b) => {
            let t = b.trim();
            match unquote(t) {
                Some((a, z)) => Cow::Borrowed(&t[a..z]),
                None => Cow::Borrowed(t),
            }
        }
        Cow::Owned(o) => match unquote(&o) {
            Some((a, z)) => Cow::Owned(o[a..z].to_string()),
            None => Cow::Owned(o.trim().to_string()),
        },
    }
}
