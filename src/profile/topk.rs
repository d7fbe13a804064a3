//! The most frequent values of a column in bounded memory: exact counts of its
//! recent values ([`super::tally::Tally`], counted in file order on the in-order
//! thread) settled into a Space-Saving summary ([`TopK`]).
//!
//! Space-Saving (Metwally, Agrawal and El Abbadi, "Efficient Computation of
//! Frequent and Top-k Elements in Data Streams", ICDT 2005) keeps `m` counters.
//! A value already counted gets its weight added; a new one takes a free counter
//! or, when all are taken, the smallest, starting from that counter's count (kept
//! as the new value's `error`). Over `N` counted rows the counts add up to `N`, so
//! the smallest is at most `N/m`, and every count `c` of a value seen `f` times
//! satisfies `f <= c <= f + error <= f + N/m`; any value seen more than `N/m` times
//! holds a counter. With fewer than `m` distinct values every count is exact.
//!
//! Merging two summaries (recent values into a file's, a file into the run) follows
//! Cafaro, Pulimeno and Tempesta, "A parallel space saving algorithm for frequent
//! items and the Hurwitz zeta distribution" (Information Sciences 329, 2016): a
//! value missing from one side is given that side's smallest count (0 when it is
//! not full), and the `m` largest sums are kept; the bound stays `(N1 + N2)/m`. A
//! weighted update is that merge with a one-value exact summary.

use std::cmp::Reverse;

use xxhash_rust::xxh3::xxh3_64;

use super::tally::{Packed, mix};

/// Longest value kept, in bytes: longer ones are counted under their first 200
/// bytes (cut at a character boundary).
pub const MAX_VALUE: usize = 200;

/// `value` cut to at most [`MAX_VALUE`] bytes.
pub fn cut(value: &str) -> &str {
    if value.len() <= MAX_VALUE {
        return value;
    }
    let mut end = MAX_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// The hash a value is found by, in a [`super::tally::Tally`] and in a [`TopK`].
/// Values of up to 16 bytes (most UTM values and email domains) are [`Packed`]
/// (two words read as xxh3 reads them) and mixed by one folded multiply; longer
/// ones go through xxh3. Not for untrusted-input DoS resistance: the tables it
/// feeds are bounded per column.
#[inline]
pub fn hash(value: &str) -> u64 {
    match Packed::of(value.as_bytes()) {
        Some(p) => mix(p),
        None => xxh3_64(value.as_bytes()),
    }
}

const EMPTY: u32 = u32::MAX;

/// A slot: an entry's index in the owner's list and its value's hash (kept here,
/// so that a probe compares hashes without reading the entries).
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    index: u32,
}

const FREE: Slot = Slot {
    hash: 0,
    index: EMPTY,
};

/// Open addressing with linear probing: a value's 64-bit hash to the index of its
/// entry in the owner's list; the owner compares the values themselves.
#[derive(Debug, Clone, Default)]
pub(super) struct Slots {
    /// A power of two long, at most half full.
    slots: Vec<Slot>,
    len: usize,
}

impl Slots {
    /// Empty, keeping the room.
    pub(super) fn clear(&mut self) {
        if self.len > 0 {
            self.slots.fill(FREE);
            self.len = 0;
        }
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// The index under `hash` for which `is` says yes, probing from its home.
    #[inline]
    pub(super) fn find(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s.index == EMPTY {
                return None;
            }
            if s.hash == hash && is(s.index) {
                return Some(s.index);
            }
            i = (i + 1) & mask;
        }
    }

    /// Add `index` (not in yet) under `hash`.
    pub(super) fn insert(&mut self, hash: u64, index: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            let size = ((self.len + 1) * 4).next_power_of_two();
            let old = std::mem::replace(&mut self.slots, vec![FREE; size]);
            self.len = 0;
            for s in old.into_iter().filter(|s| s.index != EMPTY) {
                self.put(s);
            }
        }
        self.put(Slot { hash, index });
    }

    fn put(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(slot.hash);
        while self.slots[i].index != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        self.len += 1;
    }

    /// Take `index` (in, under `hash`) out, shifting back the entries after it
    /// that would no longer be found (Knuth's Algorithm R, TAOCP 6.4).
    fn remove(&mut self, hash: u64, index: u32) {
        if self.slots.is_empty() {
            return;
        }
        let mask = self.slots.len() - 1;
        let mut hole = self.home(hash);
        while self.slots[hole].index != index {
            if self.slots[hole].index == EMPTY {
                return;
            }
            hole = (hole + 1) & mask;
        }
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s.index == EMPTY {
                break;
            }
            let home = self.home(s.hash);
            // `s` stays when its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = FREE;
        self.len -= 1;
    }
}

#[derive(Debug, Clone)]
struct Counter {
    hash: u64,
    value: Box<str>,
    count: u64,
    /// How much `count` may exceed the value's true count.
    error: u64,
    /// Position in the heap.
    at: u32,
}

/// A Space-Saving summary with `capacity` counters (see the module's doc for the
/// algorithm and its bound).
#[derive(Debug, Clone)]
pub struct TopK {
    capacity: usize,
    counters: Vec<Counter>,
    /// Counter indices, a binary min-heap by count.
    heap: Vec<u32>,
    slots: Slots,
}

/// One of the most frequent values: `count` exceeds its true count by at most
/// `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frequent {
    pub value: String,
    pub count: u64,
    pub error: u64,
}

impl TopK {
    pub fn new(capacity: usize) -> TopK {
        TopK {
            capacity: capacity.max(1),
            counters: Vec::new(),
            heap: Vec::new(),
            slots: Slots::default(),
        }
    }

    fn find(&self, hash: u64, value: &str) -> Option<usize> {
        let c = &self.counters;
        self.slots
            .find(hash, |i| {
                let k = &c[i as usize];
                &*k.value == value
            })
            .map(|i| i as usize)
    }

    /// The smallest count when every counter is taken (what a value not counted
    /// may have been seen), else 0.
    pub fn floor(&self) -> u64 {
        match self.heap.first() {
            Some(&i) if self.counters.len() >= self.capacity => self.counters[i as usize].count,
            _ => 0,
        }
    }

    /// `weight` more rows with `value` (whose [`hash`] is `hash`).
    pub fn add(&mut self, hash: u64, value: &str, weight: u64) {
        let value = cut(value);
        if let Some(i) = self.find(hash, value) {
            self.counters[i].count += weight;
            let at = self.counters[i].at as usize;
            self.sift_down(at);
            return;
        }
        if self.counters.len() < self.capacity {
            let i = self.counters.len() as u32;
            self.counters.push(Counter {
                hash,
                value: value.into(),
                count: weight,
                error: 0,
                at: self.heap.len() as u32,
            });
            self.heap.push(i);
            self.slots.insert(hash, i);
            self.sift_up(self.heap.len() - 1);
            return;
        }
        // Every counter taken: the smallest goes to the new value.
        let i = self.heap[0];
        let c = &self.counters;
        self.slots.remove(c[i as usize].hash, i);
        let min = self.counters[i as usize].count;
        self.counters[i as usize] = Counter {
            hash,
            value: value.into(),
            count: min + weight,
            error: min,
            at: 0,
        };
        self.slots.insert(hash, i);
        self.sift_down(0);
    }

    /// Add another summary's counts (Cafaro et al.'s merge, see the module's doc).
    pub fn merge(&mut self, other: &TopK) {
        let (mine, theirs) = (self.floor(), other.floor());
        let mut all: Vec<Counter> = Vec::with_capacity(self.counters.len() + other.counters.len());
        for c in &self.counters {
            let (count, error) = match other.find(c.hash, &c.value) {
                Some(j) => (other.counters[j].count, other.counters[j].error),
                None => (theirs, theirs),
            };
            all.push(Counter {
                count: c.count + count,
                error: c.error + error,
                ..c.clone()
            });
        }
        for c in &other.counters {
            if self.find(c.hash, &c.value).is_none() {
                all.push(Counter {
                    count: c.count + mine,
                    error: c.error + mine,
                    ..c.clone()
                });
            }
        }
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        all.truncate(self.capacity);
        *self = TopK::new(self.capacity);
        for (i, mut c) in all.into_iter().enumerate() {
            c.at = i as u32;
            self.heap.push(i as u32);
            let hash = c.hash;
            self.counters.push(c);
            self.slots.insert(hash, i as u32);
        }
        // Sorted by count, largest first: reversed, it is a min-heap.
        self.heap.reverse();
        for (at, &i) in self.heap.iter().enumerate() {
            self.counters[i as usize].at = at as u32;
        }
    }

    /// The `k` largest counts, largest first (ties by value).
    pub fn top(&self, k: usize) -> Vec<Frequent> {
        let mut order: Vec<&Counter> = self.counters.iter().collect();
        order.sort_by_key(|c| (Reverse(c.count), &*c.value));
        order
            .into_iter()
            .take(k)
            .map(|c| Frequent {
                value: c.value.to_string(),
                count: c.count,
                error: c.error,
            })
            .collect()
    }

    fn count_at(&self, at: usize) -> u64 {
        self.counters[self.heap[at] as usize].count
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.counters[self.heap[a] as usize].at = a as u32;
        self.counters[self.heap[b] as usize].at = b as u32;
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if self.count_at(parent) <= self.count_at(at) {
                return;
            }
            self.swap(parent, at);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (l, r) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if l < self.heap.len() && self.count_at(l) < self.count_at(least) {
                least = l;
            }
            if r < self.heap.len() && self.count_at(r) < self.count_at(least) {
                least = r;
            }
            if least == at {
                return;
            }
            self.swap(at, least);
            at = least;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
