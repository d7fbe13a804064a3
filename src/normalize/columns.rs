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

/// A mapping problem: the run stops before any row is read (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

/// The headers found, for messages: the first 30, then how many more.
fn list(header: &[String]) -> String {
    const SHOWN: usize = 30;
    let named: Vec<&String> = header.iter().filter(|h| !h.is_empty()).collect();
    if named.is_empty() {
        return "none".to_string();
    }
    let mut out: Vec<String> = named.iter().take(SHOWN).map(|h| format!("'{h}'")).collect();
    if named.len() > SHOWN {
        out.push(format!("and {} more", named.len() - SHOWN));
    }
    out.join(", ")
}

/// Find `column` in the header: exactly, then after canonicalization, then folded
/// ([`unicode::fold_header`]); at each step, more than one match is an error.
fn find_column(header: &[String], column: &str) -> Result<Option<usize>, MappingError> {
    if let Some(i) = header.iter().position(|h| h == column) {
        return Ok(Some(i));
    }
    let forms: [fn(&str) -> String; 2] = [canonical, unicode::fold_header];
    for form in forms {
        let want = form(column);
        let hits: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| form(h) == want)
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [] => continue,
            [i] => return Ok(Some(*i)),
            many => {
                return Err(MappingError(format!(
                    "column '{column}' matches several headers ({}); name it exactly as in the file",
                    many.iter()
                        .map(|&i| format!("'{}'", header[i]))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Ok(None)
}

/// Resolve explicit `--map` pairs and automatic aliases against a header.
pub fn resolve(header: &[String], explicit: &[(Field, String)]) -> Result<ColumnMap, MappingError> {
    let mut map = ColumnMap::default();
    let mut claimed = vec![false; header.len()];
    for (field, column) in explicit {
        let Some(i) = find_column(header, column)? else {
            return Err(MappingError(format!(
                "--map {field}={column}: no column '{column}'; columns found: {}",
                list(header)
            )));
        };
        if map.has(field) && !matches!(field, Field::ClickTime) {
            return Err(MappingError(format!("--map gives {field} twice")));
        }
        map.set(field, i);
        claimed[i] = true;
    }
    if map.click_time.is_some() && map.click_date.is_some() {
        return Err(MappingError(
            "--map click_time and click_date exclude each other: map click_time alone, or \
             click_date with click_time_of_day"
                .into(),
        ));
    }
    if map.click_time_of_day.is_some() && map.click_date.is_none() {
        return Err(MappingError(
            "--map click_time_of_day needs --map click_date=COLUMN too".into(),
        ));
    }

    // Automatic matching of what --map left open.
    let mut found: Vec<(Field, Vec<usize>)> = Vec::new();
    for (i, h) in header.iter().enumerate() {
        if claimed[i] {
            continue;
        }
        let Some(field) = auto_field(h) else { continue };
        if map.has(&field) {
            continue;
        }
        match found.iter_mut().find(|(f, _)| *f == field) {
            Some((_, cols)) => cols.push(i),
            None => found.push((field, vec![i])),
        }
    }
    for (field, cols) in found {
        if let [a, b, ..] = cols.as_slice() {
            let mut msg = format!(
                "columns '{}' and '{}' both look like {field}; choose one with --map {field}=COLUMN",
                header[*a], header[*b]
            );
            if field == Field::ClickTime {
                msg.push_str(&format!(
                    ", or join a date and a time column with --map click_date='{}' \
                     --map click_time_of_day='{}'",
                    header[*a], header[*b]
                ));
            }
            return Err(MappingError(msg));
        }
        map.set(&field, cols[0]);
    }

    if map.click_time.is_none() && map.click_date.is_none() {
        return Err(MappingError(format!(
            "no column for click_time; columns found: {}. Name it with --map click_time=COLUMN \
             (or --map click_date=COLUMN --map click_time_of_day=COLUMN)",
            list(header)
        )));
    }
    if map.email.is_none() {
        return Err(MappingError(format!(
            "no column for email (settings.email is required); columns found: {}. \
             Name it with --map email=COLUMN",
            list(header)
        )));
    }
    if map.params.is_empty() && map.url_parameters.is_none() && map.current_url.is_none() {
        return Err(MappingError(format!(
            "no column for url_parameters: no utm_* or click-id column, no url_parameters \
             column and no current_url to read a query from; columns found: {}. \
             Name one with --map utm_source=COLUMN (or url_parameters=, current_url=)",
            list(header)
        )));
    }
    // In key order, the url_parameters of most rows need no sorting.
    map.params.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(map)
}

/// How much a row looks like the header: cells that name a known field or a column
/// given with `--map`.
pub fn header_score(names: &[String], explicit: &[(Field, String)]) -> usize {
    names
        .iter()
        .filter(|n| {
            !n.is_empty()
                && (auto_field(n).is_some()
                    || explicit.iter().any(|(_, c)| {
                        c == *n
                            || canonical(c) == canonical(n)
                            || unicode::fold_header(c) == unicode::fold_header(n)
                    }))
        })
        .count()
}

#[cfg(test)]
#[path = "columns_tests.rs"]
mod tests;
