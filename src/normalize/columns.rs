//! Which column fills which set-click field: `--map`, automatic header aliases, and
//! the checks that a file has what a lead needs.

use std::fmt;
use std::str::FromStr;

use super::unicode;

/// Click ids that travel in `url_parameters` like UTMs.
pub const CLICK_IDS: [&str; 8] = [
    "gclid",
    "fbclid",
    "msclkid",
    "ttclid",
    "dclid",
    "gbraid",
    "wbraid",
    "li_fat_id",
];

/// A field a column can be mapped to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    ClickTime,
    ClickDate,
    ClickTimeOfDay,
    Email,
    Referrer,
    CurrentUrl,
    UrlParameters,
    Microconversion,
    /// A `utm_*` parameter or a click id, by its key.
    Param(String),
    /// `settings.KEY`.
    Setting(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::ClickTime => f.write_str("click_time"),
            Field::ClickDate => f.write_str("click_date"),
            Field::ClickTimeOfDay => f.write_str("click_time_of_day"),
            Field::Email => f.write_str("email"),
            Field::Referrer => f.write_str("referrer"),
            Field::CurrentUrl => f.write_str("current_url"),
            Field::UrlParameters => f.write_str("url_parameters"),
            Field::Microconversion => f.write_str("microconversion"),
            Field::Param(k) => f.write_str(k),
            Field::Setting(k) => write!(f, "settings.{k}"),
        }
    }
}

pub const FIELD_LIST: &str = "click_time, click_date, click_time_of_day, email, referrer, \
     current_url, url_parameters, microconversion, utm_*, gclid, fbclid, msclkid, ttclid, \
     dclid, gbraid, wbraid, li_fat_id, settings.KEY";

impl FromStr for Field {
    type Err = String;

    fn from_str(s: &str) -> Result<Field, String> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "click_time" => Field::ClickTime,
            "click_date" => Field::ClickDate,
            "click_time_of_day" => Field::ClickTimeOfDay,
            "email" => Field::Email,
            "referrer" | "referrer_url" => Field::Referrer,
            "current_url" => Field::CurrentUrl,
            "url_parameters" => Field::UrlParameters,
            "microconversion" => Field::Microconversion,
            k if is_param_key(k) => Field::Param(k.to_string()),
            _ => match s.split_once('.') {
                Some((prefix, key)) if prefix.eq_ignore_ascii_case("settings") => {
                    let key = key.trim();
                    match key {
                        "" => return Err("settings.KEY needs a key".into()),
                        "email" => return Err("use the field email, not settings.email".into()),
                        "microconversion" => {
                            return Err(
                                "use the field microconversion, not settings.microconversion"
                                    .into(),
                            );
                        }
                        _ => Field::Setting(key.to_string()),
                    }
                }
                _ => return Err(format!("unknown field '{s}'; fields are: {FIELD_LIST}")),
            },
        })
    }
}

/// A `utm_*` key or a click id (lowercase).
pub fn is_param_key(k: &str) -> bool {
    (k.len() > 4 && k.starts_with("utm_") && k[4..].bytes().all(is_key_byte))
        || CLICK_IDS.contains(&k)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
}

/// Header canonicalization: trim, lowercase, white space (any Unicode space) and
/// hyphens to `_`, Unicode format characters (zero-width spaces, BOM) dropped. Keys of
/// `utm_*` and `settings.KEY` columns are sent in this form.
pub fn canonical(header: &str) -> String {
    header
        .trim()
        .chars()
        .filter(|&c| !unicode::is_format(c))
        .map(|c| match c {
            '-' => '_',
            c if c.is_whitespace() => '_',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Google Forms names its first column "Timestamp" in the form's language: es
/// "Marca temporal", pt "Carimbo de data/hora", fr "Horodateur", de "Zeitstempel",
/// it "Informazioni cronologiche". The rest: the words for date and time in es, pt,
/// fr, de and it.
const CLICK_TIME_ALIASES: &[&str] = &[
    "click_time",
    "timestamp",
    "datetime",
    "date_time",
    "time",
    "date",
    "created_at",
    "created",
    "call_time",
    "call_date",
    "fecha",
    "fecha_hora",
    "fecha_y_hora",
    "marca_temporal",
    "data_hora",
    "data_e_hora",
    "carimbo_de_data_hora",
    "date_heure",
    "date_et_heure",
    "horodatage",
    "horodateur",
    "datum_uhrzeit",
    "datum_und_uhrzeit",
    "zeitstempel",
    "data_ora",
    "data_e_ora",
    "informazioni_cronologiche",
];
/// With Google Forms' "Email address" column in es, pt, fr, de and it.
const EMAIL_ALIASES: &[&str] = &[
    "email",
    "e_mail",
    "mail",
    "email_address",
    "e_mail_address",
    "correo",
    "correo_electronico",
    "direccion_de_correo_electronico",
    "direccion_de_correo",
    "endereco_de_e_mail",
    "endereco_de_email",
    "courriel",
    "adresse_e_mail",
    "adresse_email",
    "adresse_mail",
    "e_mail_adresse",
    "email_adresse",
    "indirizzo_email",
    "indirizzo_e_mail",
    "posta_elettronica",
];
const REFERRER_ALIASES: &[&str] = &["referrer", "referer", "referrer_url"];
const CURRENT_URL_ALIASES: &[&str] = &[
    "current_url",
    "url",
    "page_url",
    "landing_page",
    "landing_url",
];

/// The field a header names on its own. Aliases are matched against the header both
/// canonicalized and folded ([`unicode::fold_header`]: accents, Unicode spaces and
/// dashes, `/`), so `Correo electrónico` and `Fecha/Hora` are found.
pub fn auto_field(header: &str) -> Option<Field> {
    let c = canonical(header);
    if is_param_key(&c) {
        return Some(Field::Param(c));
    }
    let f = unicode::fold_header(header);
    if is_param_key(&f) {
        return Some(Field::Param(f));
    }
    let named = |aliases: &[&str]| aliases.contains(&c.as_str()) || aliases.contains(&f.as_str());
    if named(CLICK_TIME_ALIASES) {
        return Some(Field::ClickTime);
    }
    if named(EMAIL_ALIASES) {
        return Some(Field::Email);
    }
    if named(REFERRER_ALIASES) {
        return Some(Field::Referrer);
    }
    if named(CURRENT_URL_ALIASES) {
        return Some(Field::CurrentUrl);
    }
    if named(&["url_parameters"]) {
        return Some(Field::UrlParameters);
    }
    if named(&["microconversion", "micro_conversion"]) {
        return Some(Field::Microconversion);
    }
    match c.strip_prefix("settings.") {
        Some(k) if !k.is_empty() && k != "email" && k != "microconversion" => {
            Some(Field::Setting(k.to_string()))
        }
        _ => None,
    }
}

/// Column indices (0-based, into the header) for each field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnMap {
    pub click_time: Option<usize>,
    pub click_date: Option<usize>,
    pub click_time_of_day: Option<usize>,
    pub email: Option<usize>,
    pub referrer: Option<usize>,
    pub current_url: Option<usize>,
    pub url_parameters: Option<usize>,
    pub microconversion: Option<usize>,
    pub params: Vec<(String, usize)>,
    pub settings: Vec<(String, usize)>,
}

impl ColumnMap {
    /// Every column the map reads, sorted, once each.
    pub fn used(&self) -> Vec<usize> {
        let mut v: Vec<usize> = [
            self.click_time,
            self.click_date,
            self.click_time_of_day,
            self.email,
            self.referrer,
            self.current_url,
            self.url_parameters,
            self.microconversion,
        ]
        .into_iter()
        .flatten()
        .chain(self.params.iter().map(|p| p.1))
        .chain(self.settings.iter().map(|p| p.1))
        .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Rewrite indices after reading only `projection` (sorted header indices).
    pub fn project(&mut self, projection: &[usize]) {
        let at = |i: usize| projection.iter().position(|&p| p == i).unwrap_or(i);
        for slot in [
            &mut self.click_time,
            &mut self.click_date,
            &mut self.click_time_of_day,
            &mut self.email,
            &mut self.referrer,
            &mut self.current_url,
            &mut self.url_parameters,
            &mut self.microconversion,
        ] {
            *slot = slot.map(at);
        }
        for p in self.params.iter_mut().chain(self.settings.iter_mut()) {
            p.1 = at(p.1);
        }
    }

    fn slot(&mut self, field: &Field) -> Option<&mut Option<usize>> {
        Some(match field {
            Field::ClickTime => &mut self.click_time,
            Field::ClickDate => &mut self.click_date,
            Field::ClickTimeOfDay => &mut self.click_time_of_day,
            Field::Email => &mut self.email,
            Field::Referrer => &mut self.referrer,
            Field::CurrentUrl => &mut self.current_url,
            Field::UrlParameters => &mut self.url_parameters,
            Field::Microconversion => &mut self.microconversion,
            Field::Param(_) | Field::Setting(_) => return None,
        })
    }

    fn set(&mut self, field: &Field, index: usize) {
        match field {
            Field::Param(k) => self.params.push((k.clone(), index)),
            Field::Setting(k) => self.settings.push((k.clone(), index)),
            f => {
                if let Some(slot) = self.slot(f) {
                    *slot = Some(index);
                }
            }
        }
    }

    fn has(&mut self, field: &Field) -> bool {
        match field {
            Field::Param(k) => self.params.iter().any(|p| &p.0 == k),
            Field::Setting(k) => self.settings.iter().any(|p| &p.0 == k),
            Field::ClickTime => self.click_time.is_some() || self.click_date.is_some(),
            f => self.slot(f).is_some_and(|s| s.is_some()),
        }
    }
}

#[path = "columns_resolve.rs"]
mod resolve;
pub use resolve::{MappingError, header_score, resolve};

#[cfg(test)]
#[path = "columns_tests.rs"]
mod tests;
