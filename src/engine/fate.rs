//! Every row's fate, and the counts derived from it. A row enters in one state and
//! moves only along the transitions [`RowFate::can_become`] allows; one thread owns
//! a file's [`Fates`] (the consumer in validate, the recorder in import), and every
//! count in the report is read off them, never adjusted on its own.

use std::fmt;

use crate::report::Counts;

/// Where a row is in its life.
///
/// ```text
///  read ─┬─> Rejected | Duplicate | Resumed | Checked | Failed (final)
///        ├─> Uncertain ──> Pending                              (resent)
///        └─> Pending ──┬─> InLedger                             (final)
///                      └─> InFlight ──┬─> Sent | Refused | Failed | Uncertain
///                                     └─> Pending               (not sent: the run stopped)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowFate {
    /// Failed a check before sending (time, email, parameters, shape).
    Rejected,
    /// Repeats an earlier lead of this run exactly: sent once.
    Duplicate,
    /// Done by an earlier run of this file: resumed past.
    Resumed,
    /// Sent before (this file or another), as the store's ledger says.
    InLedger,
    /// Valid; nothing is sent (validate).
    Checked,
    /// Valid and waiting to be sent; at the end of a run, not sent.
    Pending,
    /// Marked in flight in the store and handed to the senders.
    InFlight,
    /// The API took it.
    Sent,
    /// The API refused this lead (400/422 about it).
    Refused,
    /// Retryable answers about it ran out (in this run, or in an earlier one and
    /// not retried now): the next run sends it again.
    Failed,
    /// Its request may have reached the API and no answer says whether it did.
    Uncertain,
}

impl RowFate {
    pub const ALL: [RowFate; 11] = [
        RowFate::Rejected,
        RowFate::Duplicate,
        RowFate::Resumed,
        RowFate::InLedger,
        RowFate::Checked,
        RowFate::Pending,
        RowFate::InFlight,
        RowFate::Sent,
        RowFate::Refused,
        RowFate::Failed,
        RowFate::Uncertain,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// States a row may enter when it is read.
    pub fn is_entry(self) -> bool {
        matches!(
            self,
            RowFate::Rejected
                | RowFate::Duplicate
                | RowFate::Resumed
                | RowFate::Checked
                | RowFate::Failed
                | RowFate::Pending
                | RowFate::Uncertain
        )
    }

    /// Whether a row may move from `self` to `to`.
    pub fn can_become(self, to: RowFate) -> bool {
        use RowFate::*;
        matches!(
            (self, to),
            (Pending, InFlight | InLedger)
                | (InFlight, Sent | Refused | Failed | Uncertain | Pending)
                | (Uncertain, Pending)
        )
    }

    /// No transition leaves this state.
    pub fn is_final(self) -> bool {
        !RowFate::ALL.iter().any(|to| self.can_become(*to))
    }
}

impl fmt::Display for RowFate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A move the state machine does not allow: a bug in the caller, reported, and
/// the counts left as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Illegal {
    #[error("a row cannot start as {0}")]
    Entry(RowFate),
    #[error("no row is {0} to become {1}")]
    Absent(RowFate, RowFate),
    #[error("a row cannot go from {0} to {1}")]
    Move(RowFate, RowFate),
}

/// How many of a file's rows are in each state, and the rows whose delivery is
/// uncertain (sent maybe twice, or maybe not at all).
#[derive(Debug, Clone, Default)]
pub struct Fates {
    by_state: [u64; RowFate::ALL.len()],
    uncertain_rows: Vec<u64>,
}

impl Fates {
    /// A row read, in its first state.
    pub fn enter(&mut self, fate: RowFate) -> Result<(), Illegal> {
        if !fate.is_entry() {
            return Err(Illegal::Entry(fate));
        }
        self.by_state[fate.index()] += 1;
        Ok(())
    }

    /// A row moves from `from` to `to`.
    pub fn advance(&mut self, from: RowFate, to: RowFate) -> Result<(), Illegal> {
        if !from.can_become(to) {
            return Err(Illegal::Move(from, to));
        }
        if self.by_state[from.index()] == 0 {
            return Err(Illegal::Absent(from, to));
        }
        self.by_state[from.index()] -= 1;
        self.by_state[to.index()] += 1;
        Ok(())
    }

    /// Rows in `fate` now.
    pub fn count(&self, fate: RowFate) -> u64 {
        self.by_state[fate.index()]
    }

    /// Rows read.
    pub fn rows(&self) -> u64 {
        self.by_state.iter().sum()
    }

    /// List `row` as uncertain: its request may have reached the API without an
    /// answer (now, or in a run that died), whatever became of it since.
    pub fn note_uncertain(&mut self, row: u64) {
        self.uncertain_rows.push(row);
    }

    /// The uncertain rows, in order, each once.
    pub fn uncertain_rows(&self) -> Vec<u64> {
        let mut rows = self.uncertain_rows.clone();
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    /// The report's counts, read off the states.
    pub fn counts(&self) -> Counts {
        let n = |f| self.count(f);
        let rejected = n(RowFate::Rejected) + n(RowFate::Refused);
        Counts {
            rows: self.rows(),
            valid: self.rows() - rejected,
            rejected,
            duplicates: n(RowFate::Duplicate),
            sent: n(RowFate::Sent),
            failed: n(RowFate::Failed),
            skipped: n(RowFate::Resumed) + n(RowFate::InLedger),
            resumed: n(RowFate::Resumed),
            in_ledger: n(RowFate::InLedger),
            uncertain: self.uncertain_rows().len() as u64,
            pending: n(RowFate::Pending) + n(RowFate::InFlight),
            unknown: n(RowFate::Uncertain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RowFate::*;
    use super::*;

    /// Every legal move, written out: the state machine must allow exactly these.
    const LEGAL: [(RowFate, RowFate); 8] = [
        (Pending, InFlight),
        (Pending, InLedger),
        (InFlight, Sent),
        (InFlight, Refused),
        (InFlight, Failed),
        (InFlight, Uncertain),
        (InFlight, Pending),
        (Uncertain, Pending),
    ];

    #[test]
    fn exactly_the_drawn_transitions_are_legal() {
        for from in RowFate::ALL {
            for to in RowFate::ALL {
                let legal = LEGAL.contains(&(from, to));
                assert_eq!(from.can_become(to), legal, "{from} -> {to}");
                let mut f = Fates::default();
                f.by_state[from.index()] = 1;
                let moved = f.advance(from, to);
                if legal {
                    assert_eq!(moved, Ok(()), "{from} -> {to}");
                    assert_eq!((f.count(from), f.count(to)), (0, 1));
                } else {
                    assert_eq!(moved, Err(Illegal::Move(from, to)), "{from} -> {to}");
                    assert_eq!(f.count(from), 1, "an illegal move changes nothing");
                }
            }
        }
    }

    #[test]
    fn rows_enter_only_in_entry_states() {
        for fate in RowFate::ALL {
            let mut f = Fates::default();
            let entered = f.enter(fate);
            if matches!(fate, InFlight | Sent | Refused | InLedger) {
                assert_eq!(entered, Err(Illegal::Entry(fate)));
                assert_eq!(f.rows(), 0);
            } else {
                assert_eq!(entered, Ok(()));
                assert_eq!(f.count(fate), 1);
            }
        }
    }

    #[test]
    fn a_move_needs_a_row_in_its_source_state() {
        let mut f = Fates::default();
        assert_eq!(
            f.advance(InFlight, Sent),
            Err(Illegal::Absent(InFlight, Sent))
        );
        f.enter(Pending).unwrap();
        f.advance(Pending, InFlight).unwrap();
        f.advance(InFlight, Sent).unwrap();
        assert_eq!(
            f.advance(InFlight, Sent),
            Err(Illegal::Absent(InFlight, Sent)),
            "one row is sent once"
        );
    }

    #[test]
    fn final_states_have_no_way_out() {
        let finals: Vec<RowFate> = RowFate::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            [
                Rejected, Duplicate, Resumed, InLedger, Checked, Sent, Refused, Failed
            ]
        );
    }

    #[test]
    fn counts_are_read_off_the_states() {
        let mut f = Fates::default();
        for fate in [
            Rejected, Duplicate, Resumed, Pending, Pending, Pending, Pending,
        ] {
            f.enter(fate).unwrap();
        }
        f.enter(Uncertain).unwrap();
        f.note_uncertain(9);
        f.advance(Uncertain, Pending).unwrap();
        for _ in 0..5 {
            f.advance(Pending, InFlight).unwrap();
        }
        f.advance(InFlight, Sent).unwrap();
        f.advance(InFlight, Refused).unwrap();
        f.advance(InFlight, Failed).unwrap();
        f.advance(InFlight, Uncertain).unwrap();
        f.note_uncertain(7);
        f.note_uncertain(7);
        let c = f.counts();
        assert_eq!(c.rows, 8);
        assert_eq!(c.rejected, 2, "rejected before sending, and refused");
        assert_eq!(c.valid, 6);
        assert_eq!((c.duplicates, c.skipped), (1, 1));
        assert_eq!((c.sent, c.failed), (1, 1));
        assert_eq!(c.pending, 1, "one still in flight");
        assert_eq!(c.uncertain, 2);
        assert_eq!(f.uncertain_rows(), [7, 9]);
    }
}
