//! The profile of the data: what a file's leads look like before they are sent
//! (when the clicks happened on the run's clock, the most frequent sources,
//! mediums, campaigns and email domains, click ids, microconversions) and the
//! warnings about the classic mistakes ([`warnings`]), for the report and stderr.
//!
//! Which rows count: every valid row, duplicates included (the report's `valid`):
//! the profile shows the file as it is, and duplicates are known only on the
//! in-order thread. Rejected rows have no lead to profile. A run stopped early
//! profiles the batches read up to the stop.
//!
//! Where the work happens: each normalizing thread gathers what its batch's
//! leads show ([`BatchProfile`]: each lead's click, and its four counted values,
//! packed in three words when short; normalize hands them over in one call once
//! it has written the lead's JSON, [`crate::lead::Tallies`]). The in-order
//! thread counts them in file order ([`Profiler::add_batch`]: each click read on
//! the run's clock, each value looked up once in its column's exact counts,
//! which go to the Space-Saving summary past 4,096 values, see [`column`] and
//! [`topk`]). Gathering costs a normalizing thread about 200 instructions a
//! lead, the counting the in-order thread about 280 (callgrind, the 100k-row
//! bench file): on a machine with a core to spare, the counting runs beside the
//! normalizing. Memory is bounded whatever the number of rows: 1,024 counters
//! per column and at most 20,000 day counts ([`days`]).

pub mod column;
pub mod days;
pub mod render;
pub mod tally;
pub mod topk;
pub mod warnings;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::lead::{Counted, DstAdjust, Lead, Tallies};
use column::Column;
use days::{Clock, DAY_MS, DayCounts, HOUR_MS};
use tally::Gathered;
pub use warnings::Warning;

/// Values reported per column.
pub const TOP: usize = 10;
/// Space-Saving counters per column: a count is at most N/1024 (0.1% of the
/// leads) above the truth, and exact while a column has fewer distinct values.
pub const COUNTERS: usize = 1024;
/// Days listed in `by_day`, at most; past them, months (`by_month`).
pub const MAX_DAYS: usize = 10_000;

/// The columns whose most frequent values are kept, in the report's words.
const COLUMNS: [&str; 4] = ["utm_source", "utm_medium", "utm_campaign", "email_domains"];

/// What a profile sums over its leads: the same for a file and a run.
#[derive(Debug, Clone, Copy)]
struct Sums {
    leads: u64,
    /// UTC milliseconds.
    first: i64,
    last: i64,
    hours: [u64; 24],
    midnight: u64,
    gaps: u64,
    folds: u64,
    click_ids: u64,
    micro: u64,
}

impl Default for Sums {
    fn default() -> Sums {
        Sums {
            leads: 0,
            first: i64::MAX,
            last: i64::MIN,
            hours: [0; 24],
            midnight: 0,
            gaps: 0,
            folds: 0,
            click_ids: 0,
            micro: 0,
        }
    }
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.leads += o.leads;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        for (mine, theirs) in self.hours.iter_mut().zip(&o.hours) {
            *mine += theirs;
        }
        self.midnight += o.midnight;
        self.gaps += o.gaps;
        self.folds += o.folds;
        self.click_ids += o.click_ids;
        self.micro += o.micro;
    }
}

/// What one batch's leads show the profile, gathered on the normalizing thread
/// that normalized them, and counted in file order on the in-order thread
/// ([`Profiler::add_batch`]): each lead's values are looked up once, in the
/// file's counts, with no batch tally to build and merge. Memory: 104 bytes a
/// lead, and the text of its values longer than 16 bytes.
#[derive(Debug, Clone, Default)]
pub struct BatchProfile {
    /// The leads' clicks, UTC milliseconds.
    clicks: Vec<i64>,
    gaps: u64,
    folds: u64,
    click_ids: u64,
    micro: u64,
    /// Each lead's utm_source, utm_medium, utm_campaign and email domain (empty
    /// when absent), packed when short.
    values: Vec<[Gathered; 4]>,
    /// The longer values, back to back, each cut to [`topk::MAX_VALUE`] bytes.
    text: String,
}

impl BatchProfile {
    /// Room for long values a profile may keep to be used again (see
    /// [`BatchProfile::reusable`]); UTM values over 16 bytes are copied, up to
    /// 800 bytes a lead.
    pub const KEPT_TEXT: usize = 64 << 10;

    /// Whether to keep this profile to gather another batch: not when long
    /// values grew its text past [`BatchProfile::KEPT_TEXT`] (about 100 KB
    /// otherwise, for a batch of 1,024 leads).
    pub fn reusable(&self) -> bool {
        self.text.capacity() <= Self::KEPT_TEXT
    }

    /// Empty, keeping the room it grew to.
    pub fn clear(&mut self) {
        self.clicks.clear();
        self.text.clear();
        self.values.clear();
        (self.gaps, self.folds, self.click_ids, self.micro) = (0, 0, 0, 0);
    }

    /// One valid lead's click (its values come when normalize hands them
    /// over: [`Tallies`]).
    #[inline]
    pub fn add(&mut self, lead: &Lead) {
        self.clicks.push(lead.click_time);
        match lead.dst {
            DstAdjust::Gap => self.gaps += 1,
            DstAdjust::Fold => self.folds += 1,
            DstAdjust::None => {}
        }
    }
}

impl Tallies for BatchProfile {
    /// Out of line: one small copy, outside normalize's code (which is larger
    /// than the core's instruction cache).
    #[inline(never)]
    fn lead(&mut self, counted: &Counted<'_>) {
        let [source, medium, campaign] = counted.params;
        let domain = domain(counted.email).unwrap_or_default();
        let text = &mut self.text;
        self.values.push([
            Gathered::of(source, text),
            Gathered::of(medium, text),
            Gathered::of(campaign, text),
            Gathered::of(domain, text),
        ]);
        self.click_ids += u64::from(counted.click_id);
        self.micro += u64::from(counted.microconversion);
    }
}

/// The domain of a normalized email address (after its `@`).
fn domain(email: &str) -> Option<&str> {
    let at = memchr::memrchr(b'@', email.as_bytes())?;
    Some(&email[at + 1..]).filter(|d| !d.is_empty())
}

/// A file's (or a run's) profile as it is built: batches counted in, files
/// merged in.
#[derive(Debug, Clone)]
pub struct Profiler {
    clock: Arc<Clock>,
    sums: Sums,
    days: DayCounts,
    columns: [Column; 4],
}

impl Default for Profiler {
    fn default() -> Profiler {
        Profiler::new(None)
    }
}

impl Profiler {
    /// Hours and days on `zone`'s clock (UTC for `None`).
    pub fn new(zone: Option<&TimeZone>) -> Profiler {
        Profiler {
            clock: Arc::new(Clock::new(zone)),
            sums: Sums::default(),
            days: DayCounts::default(),
            columns: std::array::from_fn(|_| Column::new(COUNTERS)),
        }
    }

    /// An empty profile on the same clock (a file's, from the run's), without
    /// building the zone's table again.
    pub fn fresh(&self) -> Profiler {
        Profiler {
            clock: Arc::clone(&self.clock),
            sums: Sums::default(),
            days: DayCounts::default(),
            columns: std::array::from_fn(|_| Column::new(COUNTERS)),
        }
    }

    /// Leads profiled.
    pub fn leads(&self) -> u64 {
        self.sums.leads
    }

    /// A batch's leads, in file order (on the in-order thread): each click
    /// read on the clock, each value counted in its column.
    pub fn add_batch(&mut self, b: &BatchProfile) {
        let clock = &*self.clock;
        let s = &mut self.sums;
        for &utc in &b.clicks {
            let (day, of_day) = days::day_and_time(clock.local(utc));
            s.first = s.first.min(utc);
            s.last = s.last.max(utc);
            s.hours[(of_day as u64 / HOUR_MS as u64) as usize] += 1;
            // A date without a time of day: midnight on the zone's clock, or in
            // UTC for a date written with a `Z` or read from a UTC timestamp
            // column.
            s.midnight += u64::from(of_day == 0 || utc % DAY_MS == 0);
            self.days.add(day, 1);
        }
        s.leads += b.clicks.len() as u64;
        s.gaps += b.gaps;
        s.folds += b.folds;
        s.click_ids += b.click_ids;
        s.micro += b.micro;
        let [sources, mediums, campaigns, domains] = &mut self.columns;
        let text = b.text.as_str();
        for &[source, medium, campaign, domain] in &b.values {
            // One call each, not a loop over the four: each is inlined apart.
            sources.add_gathered(source, text);
            mediums.add_gathered(medium, text);
            campaigns.add_gathered(campaign, text);
            domains.add_gathered(domain, text);
        }
    }

    /// Another profile's leads (a file's into the run's). The clock is the
    /// other's when this one has no zone yet (every file of a run has the same).
    pub fn merge(&mut self, o: &Profiler) {
        if self.clock.zone().is_none() && o.clock.zone().is_some() {
            self.clock = Arc::clone(&o.clock);
        }
        if o.sums.leads == 0 {
            return;
        }
        self.sums.add(&o.sums);
        self.days.merge(&o.days);
        for (mine, theirs) in self.columns.iter_mut().zip(&o.columns) {
            mine.merge(theirs);
        }
    }

    /// Naive times that fell in a DST gap (moved later) and in a fold (the
    /// earlier taken).
    pub fn dst(&self) -> (u64, u64) {
        (self.sums.gaps, self.sums.folds)
    }

    fn wall(&self, utc: i64) -> String {
        if self.sums.leads == 0 {
            return String::new();
        }
        warnings::wall(self.clock.local(utc))
    }

    /// The warnings the leads so far deserve.
    pub fn warnings(&self) -> Vec<Warning> {
        let (first_local, last_local) = (self.wall(self.sums.first), self.wall(self.sums.last));
        let zone = self.clock.zone().map(|_| self.clock.name());
        warnings::check(&warnings::Shape {
            leads: self.sums.leads,
            first: self.sums.first,
            last: self.sums.last,
            first_local: &first_local,
            last_local: &last_local,
            hours: &self.sums.hours,
            midnight: self.sums.midnight,
            zone: zone.as_deref(),
        })
    }

    /// The profile as the report shows it.
    pub fn summary(&self) -> Profile {
        let rfc3339 = |ms: i64| {
            (self.sums.leads > 0)
                .then(|| Timestamp::from_millisecond(ms).ok())
                .flatten()
                .map(|t| t.to_string())
        };
        let (days, by_month) = self.days.keyed(MAX_DAYS);
        let (by_day, by_month) = match by_month {
            false => (Some(days), None),
            true => (None, Some(days)),
        };
        let tops: Vec<Vec<topk::Frequent>> = self.columns.iter().map(|c| c.top(TOP)).collect();
        let top_error = COLUMNS
            .iter()
            .zip(&tops)
            .filter_map(|(name, top)| {
                let e = top.iter().map(|f| f.error).max().unwrap_or(0);
                (e > 0).then(|| (name.to_string(), e))
            })
            .collect();
        let [source, medium, campaign, domains] = std::array::from_fn(|i| {
            Top(tops[i].iter().map(|f| (f.value.clone(), f.count)).collect())
        });
        Profile {
            leads: self.sums.leads,
            click_time: ClickTimes {
                zone: self.clock.name(),
                first: rfc3339(self.sums.first),
                last: rfc3339(self.sums.last),
                first_local: self.wall(self.sums.first),
                last_local: self.wall(self.sums.last),
                by_hour: self.sums.hours,
                by_day,
                by_month,
                at_midnight: self.sums.midnight,
                dst_gaps: self.sums.gaps,
                dst_folds: self.sums.folds,
            },
            utm_source: source,
            utm_medium: medium,
            utm_campaign: campaign,
            email_domains: domains,
            top_error,
            with_click_id: self.sums.click_ids,
            microconversions: self.sums.micro,
            warnings: self.warnings(),
        }
    }
}

/// The profile in the report (`profile` of each file and of `totals`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Profile {
    /// Leads profiled: the valid rows, duplicates included.
    pub leads: u64,
    pub click_time: ClickTimes,
    /// The 10 most frequent values of each column, most frequent first.
    pub utm_source: Top,
    pub utm_medium: Top,
    pub utm_campaign: Top,
    /// Of the email addresses, after their `@`.
    pub email_domains: Top,
    /// Per column with more distinct values than counters: the most one of its
    /// counts above may exceed the true count (at most leads / 1024).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub top_error: BTreeMap<String, u64>,
    /// Leads with a click id (gclid, fbclid, msclkid...) in url_parameters.
    pub with_click_id: u64,
    pub microconversions: u64,
    pub warnings: Vec<Warning>,
}

/// When the clicks happened.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ClickTimes {
    /// Hours and days are on this zone's clock: the run's `--timezone`, or UTC.
    pub zone: String,
    /// The earliest and latest click, RFC 3339 in UTC (`None` without leads).
    pub first: Option<String>,
    pub last: Option<String>,
    /// The same on the zone's clock (`YYYY-MM-DD HH:MM:SS`), for stderr.
    #[serde(skip)]
    pub first_local: String,
    #[serde(skip)]
    pub last_local: String,
    /// Leads by hour of day, 00 to 23.
    pub by_hour: [u64; 24],
    /// `YYYY-MM-DD -> leads`, the days with leads...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_day: Option<BTreeMap<String, u64>>,
    /// ...or, past 10,000 such days, `YYYY-MM -> leads`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_month: Option<BTreeMap<String, u64>>,
    /// Leads at exactly 00:00:00.000 on the zone's clock or in UTC (dates
    /// without a time of day).
    pub at_midnight: u64,
    /// Naive times that fell in a DST gap (moved later) or fold (earlier taken);
    /// also the file report's `dst_gaps` and `dst_folds`.
    pub dst_gaps: u64,
    pub dst_folds: u64,
}

/// Values and their counts, most frequent first: a JSON object in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Top(pub Vec<(String, u64)>);

impl Serialize for Top {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (value, count) in &self.0 {
            m.serialize_entry(value, count)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests;
