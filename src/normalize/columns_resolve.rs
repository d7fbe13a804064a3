//! Resolving a header against `--map` and the automatic aliases, and the one
//! message that names every mapping problem.

use super::{ColumnMap, Field, auto_field, canonical, unicode};

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
///
/// Every problem is found before returning, so that one run names them all: a
/// `--map` column that is missing or ambiguous, a field mapped twice or in a
/// combination that excludes itself, two headers that look like one field, and each
/// required field left without a column. The error lists them one per line and the
/// headers found once.
pub fn resolve(header: &[String], explicit: &[(Field, String)]) -> Result<ColumnMap, MappingError> {
    let mut found = Resolution {
        header,
        explicit,
        map: ColumnMap::default(),
        problems: Vec::new(),
        list_headers: false,
        ambiguous: Vec::new(),
    };
    let claimed = found.explicit_columns();
    found.automatic_columns(&claimed);
    found.required_fields();
    if !found.problems.is_empty() {
        return Err(found.error());
    }
    let mut map = found.map;
    // In key order, the url_parameters of most rows need no sorting.
    map.params.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(map)
}

/// A header being resolved: what is mapped so far and what is wrong.
struct Resolution<'a> {
    header: &'a [String],
    explicit: &'a [(Field, String)],
    map: ColumnMap,
    problems: Vec<String>,
    /// Whether a problem is a column the header lacks, so the headers found are listed.
    list_headers: bool,
    /// Fields that two or more headers look like.
    ambiguous: Vec<Field>,
}

impl Resolution<'_> {
    /// Whether `--map` names `field` (found in the header or not).
    fn mapped(&self, field: &Field) -> bool {
        self.explicit.iter().any(|(f, _)| f == field)
    }

    /// Apply `--map`; returns which columns it claimed.
    fn explicit_columns(&mut self) -> Vec<bool> {
        let mut claimed = vec![false; self.header.len()];
        for (field, column) in self.explicit {
            let i = match find_column(self.header, column) {
                Ok(Some(i)) => i,
                Ok(None) => {
                    self.problems
                        .push(format!("--map {field}={column}: no column '{column}'"));
                    self.list_headers = true;
                    continue;
                }
                Err(MappingError(e)) => {
                    self.problems.push(format!("--map {field}={column}: {e}"));
                    continue;
                }
            };
            if self.map.has(field) && !matches!(field, Field::ClickTime) {
                self.problems.push(format!("--map gives {field} twice"));
                continue;
            }
            self.map.set(field, i);
            claimed[i] = true;
        }
        if self.mapped(&Field::ClickTime) && self.mapped(&Field::ClickDate) {
            self.problems.push(
                "--map click_time and click_date exclude each other: map click_time alone, or \
                 click_date with click_time_of_day"
                    .into(),
            );
        }
        if self.mapped(&Field::ClickTimeOfDay) && !self.mapped(&Field::ClickDate) {
            self.problems
                .push("--map click_time_of_day needs --map click_date=COLUMN too".into());
        }
        claimed
    }

    /// Match the headers `--map` left open by their aliases; two headers for one
    /// field is a problem naming both.
    fn automatic_columns(&mut self, claimed: &[bool]) {
        let mut found: Vec<(Field, Vec<usize>)> = Vec::new();
        for (i, h) in self.header.iter().enumerate() {
            if claimed[i] {
                continue;
            }
            let Some(field) = auto_field(h) else { continue };
            // Left to --map: found there, or given there and missing (already a problem).
            let given = self.mapped(&field)
                || (field == Field::ClickTime && self.mapped(&Field::ClickDate));
            if given || self.map.has(&field) {
                continue;
            }
            match found.iter_mut().find(|(f, _)| *f == field) {
                Some((_, cols)) => cols.push(i),
                None => found.push((field, vec![i])),
            }
        }
        for (field, cols) in found {
            if let [a, b, ..] = cols.as_slice() {
                let (a, b) = (&self.header[*a], &self.header[*b]);
                let mut msg = format!(
                    "columns '{a}' and '{b}' both look like {field}; choose one with --map {field}=COLUMN"
                );
                if field == Field::ClickTime {
                    msg.push_str(&format!(
                        ", or join a date and a time column with --map click_date='{a}' \
                         --map click_time_of_day='{b}'"
                    ));
                }
                self.problems.push(msg);
                self.ambiguous.push(field);
                continue;
            }
            self.map.set(&field, cols[0]);
        }
    }

    /// A required field is missing only if nothing mapped, found or ambiguous covers
    /// it: one cause, one line.
    fn required_fields(&mut self) {
        let covered = |r: &Self, f: &Field| r.mapped(f) || r.ambiguous.contains(f);
        let time = [Field::ClickTime, Field::ClickDate, Field::ClickTimeOfDay];
        let no_time = self.map.click_time.is_none() && self.map.click_date.is_none();
        if no_time && !time.iter().any(|f| covered(self, f)) {
            self.missing(
                "no column for click_time. Name it with --map click_time=COLUMN \
                 (or --map click_date=COLUMN --map click_time_of_day=COLUMN)",
            );
        }
        if self.map.email.is_none() && !covered(self, &Field::Email) {
            self.missing(
                "no column for email (settings.email is required). \
                 Name it with --map email=COLUMN",
            );
        }
        let query = |f: &Field| {
            matches!(
                f,
                Field::Param(_) | Field::UrlParameters | Field::CurrentUrl
            )
        };
        let query_covered =
            self.explicit.iter().any(|(f, _)| query(f)) || self.ambiguous.iter().any(query);
        let map = &self.map;
        if map.params.is_empty()
            && map.url_parameters.is_none()
            && map.current_url.is_none()
            && !query_covered
        {
            self.missing(
                "no column for url_parameters: no utm_* or click-id column, no \
                 url_parameters column and no current_url to read a query from. \
                 Name one with --map utm_source=COLUMN (or url_parameters=, current_url=)",
            );
        }
    }

    fn missing(&mut self, problem: &str) {
        self.problems.push(problem.to_string());
        self.list_headers = true;
    }

    /// One message: a single problem as it is, several one per line; the headers
    /// found once, when a problem is a column the header lacks.
    fn error(&self) -> MappingError {
        let mut msg = match self.problems.as_slice() {
            [one] => one.clone(),
            many => {
                let mut msg = format!("{} mapping problems:", many.len());
                for p in many {
                    msg.push_str("\n  - ");
                    msg.push_str(p);
                }
                msg
            }
        };
        if self.list_headers {
            msg.push_str(&format!("\ncolumns found: {}", list(self.header)));
        }
        MappingError(msg)
    }
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
