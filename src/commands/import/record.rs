//! What each lead's fate does to the counts, the state store and the rejects file.

use std::collections::BTreeMap;

use super::feed::Books;
use crate::dispatch::{Event, Fate};
use crate::lead::Lead;
use crate::normalize::{Problem, Rejected};
use crate::state::{LedgerKey, RowOutcome, RowState};

/// Answers by HTTP status (and `transport` for none), counted without a map
/// lookup per answer.
pub(super) struct HttpCounts {
    by_status: Box<[u64; 1000]>,
    transport: u64,
}

impl Default for HttpCounts {
    fn default() -> HttpCounts {
        HttpCounts {
            by_status: Box::new([0; 1000]),
            transport: 0,
        }
    }
}

impl HttpCounts {
    pub fn count(&mut self, answer: Option<u16>) {
        match answer {
            Some(s) if (s as usize) < self.by_status.len() => self.by_status[s as usize] += 1,
            // hyper parses only three-digit codes: none is 1000 or more.
            Some(_) | None => self.transport += 1,
        }
    }

    /// The counts as the report shows them: `{"200": n, "transport": m}`.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = self
            .by_status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        if self.transport > 0 {
            m.insert("transport".into(), self.transport);
        }
        m
    }
}

/// Turn a dispatcher event into counts, store records (added to `state`'s list,
/// for the writer to take in one message) and rejects lines; returns the retries
/// it took.
pub(super) fn record(
    event: Event,
    b: &mut Books,
    state: Option<(&mut Vec<RowOutcome>, i64)>,
    shared_name: Option<&str>,
    http: &mut HttpCounts,
) -> u64 {
    for a in &event.answers {
        http.count(*a);
    }
    let retries = event.answers.len().saturating_sub(1) as u64;
    let status = event.status();
    let Books {
        tally,
        rejects,
        write_error,
        ..
    } = b;
    let (mut outcomes, file_id) = match state {
        Some((w, id)) => (Some(w), id),
        None => (None, 0),
    };
    let outcome = |state: RowState, message: Option<String>, key: Option<LedgerKey>| RowOutcome {
        file_id,
        row: event.lead.row,
        state,
        status,
        message,
        key,
    };
    let c = &mut tally.report.counts;
    match event.fate {
        Fate::Sent => {
            c.sent += 1;
            if let Some(w) = outcomes.as_mut() {
                w.push(outcome(
                    RowState::Sent,
                    None,
                    Some(LedgerKey::new(
                        event.lead.click_time,
                        event.lead.fingerprint(),
                    )),
                ));
            }
        }
        Fate::Failed(message) => {
            c.failed += 1;
            if let Some(w) = outcomes.as_mut() {
                w.push(outcome(RowState::Failed, Some(message.clone()), None));
            }
            if let Some(w) = rejects.as_mut()
                && let Err(e) = w.write(
                    shared_name,
                    &tally.locator,
                    &as_rejected(event.lead, "send", message),
                )
            {
                write_error.get_or_insert(e);
            }
        }
        Fate::Rejected(message) => {
            c.valid -= 1;
            if let Some(w) = outcomes.as_mut() {
                w.push(outcome(RowState::Rejected, Some(message.clone()), None));
            }
            if let Err(e) = tally.rejected(
                &as_rejected(event.lead, "server", message),
                false,
                rejects.as_mut(),
            ) {
                write_error.get_or_insert(e);
            }
        }
        Fate::Unsent => {
            c.pending += 1;
            if let Some(w) = outcomes.as_mut() {
                w.push(RowOutcome::unsent(file_id, event.lead.row));
            }
        }
    }
    retries
}

/// A lead the server refused or that could not be sent, as a rejects row.
fn as_rejected(lead: Lead, field: &str, reason: String) -> Rejected {
    Rejected {
        row: lead.row,
        pos: lead.pos,
        problems: vec![Problem {
            field: field.to_string(),
            column: None,
            reason,
        }],
        cells: lead.cells,
    }
}
