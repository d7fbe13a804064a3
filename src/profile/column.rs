//! A column's most frequent values over a file, fed a lead at a time in file
//! order: exact counts of the recent values, settled into a Space-Saving summary.

use super::tally::{Gathered, Tally};
use super::topk::{Frequent, TopK};

/// A column's most frequent values as leads come in, in file order: each value
/// is counted in an exact tally of the values seen since it was last settled,
/// and fed to the Space-Saving summary (one weighted update per distinct value)
/// only when that tally passes [`SETTLE`] distinct values, or before the summary
/// is read or merged. A weighted update is Space-Saving's (the bound stays
/// `N/m`), and a column with few distinct values costs one hash look-up per
/// value instead of one summary update.
#[derive(Debug, Clone)]
pub struct Column {
    top: TopK,
    recent: Tally,
}

/// Distinct values summed before they go to the summary (bounded memory:
/// values are at most [`super::topk::MAX_VALUE`] bytes).
pub const SETTLE: usize = 4096;

impl Column {
    pub fn new(capacity: usize) -> Column {
        Column {
            top: TopK::new(capacity),
            recent: Tally::default(),
        }
    }

    /// One more lead with `value` (empty: none), in file order.
    #[cfg(test)]
    pub fn add(&mut self, value: &str) {
        let mut text = String::new();
        self.add_gathered(Gathered::of(value, &mut text), &text);
    }

    /// One more lead with the value `g` gathered from a batch whose text is
    /// `text` (empty: none), in file order.
    #[inline(always)]
    pub fn add_gathered(&mut self, g: Gathered, text: &str) {
        // Only a new value can take the tally past SETTLE.
        if self.recent.add_gathered(g, text) && self.recent.len() > SETTLE {
            self.settle();
        }
    }

    fn settle(&mut self) {
        for (hash, value, n) in self.recent.iter() {
            self.top.add(hash, &value, n);
        }
        self.recent.clear();
    }

    /// Another column's values (a file's into the run's): Cafaro's merge.
    pub fn merge(&mut self, other: &Column) {
        self.settle();
        let mut theirs = other.clone();
        theirs.settle();
        self.top.merge(&theirs.top);
    }

    /// The `k` most frequent values.
    pub fn top(&self, k: usize) -> Vec<Frequent> {
        if self.recent.is_empty() {
            return self.top.top(k);
        }
        let mut settled = self.clone();
        settled.settle();
        settled.top.top(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::topk::tests::{check_bound, skewed};

    #[test]
    fn a_column_fed_value_by_value_keeps_the_bound_and_is_exact_when_it_fits() {
        // Many distinct values (past SETTLE, so the exact tally settles several
        // times), and empty values, which count as none.
        let (stream, truth) = skewed(60_000, 20_000, 7);
        let mut column = Column::new(256);
        for v in &stream {
            column.add(v);
            column.add("");
        }
        let mut settled = column.clone();
        settled.settle();
        check_bound(&settled.top, &truth, false);
        assert_eq!(
            column.top(10),
            settled.top.top(10),
            "reading settles a copy"
        );
        // Fewer distinct values than counters: exact.
        let (stream, truth) = skewed(5_000, 100, 8);
        let mut column = Column::new(256);
        stream.iter().for_each(|v| column.add(v));
        for f in column.top(usize::MAX) {
            assert_eq!((f.count, f.error), (truth[&f.value], 0), "{f:?}");
        }
        // Two columns merged (a file into the run) keep the merged bound.
        let mut a = Column::new(256);
        let mut b = Column::new(256);
        let (s1, t1) = skewed(20_000, 9_000, 9);
        let (s2, t2) = skewed(20_000, 9_000, 10);
        for (col, s) in [(&mut a, &s1), (&mut b, &s2)] {
            s.iter().for_each(|v| col.add(v));
        }
        a.merge(&b);
        let mut truth = t1;
        for (v, n) in t2 {
            *truth.entry(v).or_default() += n;
        }
        let mut settled = a.clone();
        settled.settle();
        check_bound(&settled.top, &truth, true);
    }
}
