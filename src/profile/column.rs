//! A column's most frequent values over a file, fed a batch at a time in file
//! order: exact sums of recent batches, settled into a Space-Saving summary.

use super::tally::Tally;
use super::topk::{Frequent, TopK};

/// A column's most frequent values as batches come in, in file order: the
/// batches' exact counts are summed in an exact tally of the values seen since
/// it was last settled, and fed to the Space-Saving summary (one weighted update
/// per distinct value) only when that tally passes [`SETTLE`] distinct values,
/// or before the summary is read or merged. A weighted update is Space-Saving's
/// (the bound stays `N/m`), and a column with few distinct values costs one hash
/// look-up per value and batch instead of one summary update.
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

    /// A batch's exact counts (the next batch in file order).
    pub fn add_tally(&mut self, t: &Tally) {
        self.recent.absorb(t);
        if self.recent.len() > SETTLE {
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
    fn a_column_fed_batch_by_batch_keeps_the_bound_and_is_exact_when_it_fits() {
        // Many distinct values (past SETTLE, so the summed tally settles several
        // times), fed in batches of 1,024 as the pipeline does.
        let (stream, truth) = skewed(60_000, 20_000, 7);
        let mut column = Column::new(256);
        for batch in stream.chunks(1024) {
            let mut t = Tally::default();
            batch.iter().for_each(|v| t.add(v));
            column.add_tally(&t);
        }
        let mut settled = column.clone();
        settled.settle();
        check_bound(&settled.top, &truth, false);
        assert_eq!(
            column.top(10),
            settled.top.top(10),
            "reading settles a copy"
        );
        // Fewer distinct values than counters: exact, whatever the batches.
        let (stream, truth) = skewed(5_000, 100, 8);
        let mut column = Column::new(256);
        for batch in stream.chunks(300) {
            let mut t = Tally::default();
            batch.iter().for_each(|v| t.add(v));
            column.add_tally(&t);
        }
        for f in column.top(usize::MAX) {
            assert_eq!((f.count, f.error), (truth[&f.value], 0), "{f:?}");
        }
        // Two columns merged (a file into the run) keep the merged bound.
        let mut a = Column::new(256);
        let mut b = Column::new(256);
        let (s1, t1) = skewed(20_000, 9_000, 9);
        let (s2, t2) = skewed(20_000, 9_000, 10);
        for (col, s) in [(&mut a, &s1), (&mut b, &s2)] {
            for batch in s.chunks(1024) {
                let mut t = Tally::default();
                batch.iter().for_each(|v| t.add(v));
                col.add_tally(&t);
            }
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
