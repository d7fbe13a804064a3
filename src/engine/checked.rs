//! A row as the in-order consumer receives it, prepared on a normalizing thread:
//! a valid lead with its fingerprint, or the reasons it was rejected; and the
//! run's duplicate check over those fingerprints.

use crate::lead::Lead;
use crate::normalize::{Outcome, Rejected};
use crate::seen::{Limits, SeenSet};

/// Fingerprints (128-bit) of the leads seen in this run, across files, in bounded
/// memory (see [`crate::seen`]); `None` when duplicates are not looked for
/// (`--no-dedupe`).
#[derive(Default)]
pub struct Seen(Option<Box<SeenSet>>);

impl Seen {
    pub fn new(dedupe: bool) -> Seen {
        Seen(dedupe.then(|| Box::new(SeenSet::new(Limits::DEFAULT))))
    }

    /// Bring what looking these fingerprints up will touch into the cache (see
    /// [`SeenSet::warm`]).
    pub fn warm<P>(&self, batch: &[Checked<P>]) {
        if let Some(s) = &self.0 {
            s.warm(batch.iter().filter_map(|c| match c {
                Checked::Valid(v) => Some(v.fingerprint),
                Checked::Rejected(_) => None,
            }));
        }
    }

    /// True the first time a fingerprint is seen (always, without dedupe).
    pub fn first(&mut self, fingerprint: u128) -> bool {
        self.0.as_mut().is_none_or(|s| s.insert(fingerprint))
    }
}

/// A valid lead as the in-order consumer needs it.
pub struct Valid<P> {
    pub fingerprint: u128,
    /// The lead (import) or what the consumer keeps of it (validate: the length
    /// of its emitted line).
    pub payload: P,
}

/// An outcome prepared for counting: fingerprinted when valid.
pub enum Checked<P> {
    Valid(Valid<P>),
    Rejected(Rejected),
}

/// Fingerprint a valid lead and turn it into what the consumer needs.
pub fn check<P>(outcome: Outcome, payload: impl FnOnce(Lead) -> P) -> Checked<P> {
    match outcome {
        Outcome::Valid(mut lead) => {
            let fingerprint = lead.fingerprint();
            lead.known_fingerprint = Some(fingerprint);
            Checked::Valid(Valid {
                fingerprint,
                payload: payload(lead),
            })
        }
        Outcome::Rejected(r) => Checked::Rejected(r),
    }
}
