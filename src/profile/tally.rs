//! Exact counts of a column's recent values ([`Tally`]): short
//! values packed in three words ([`Packed`]) and counted without their text,
//! longer ones kept in a text. See [`super::topk`] for what the counts feed.

use super::topk::{Slots, cut, hash};

/// A value of up to [`Packed::MAX`] bytes in three words: two little-endian
/// words (or half words, or three bytes) read from its start and from its end,
/// as xxh3 reads them, and its length. They overlap, so together they hold every
/// byte: equal values pack equal, and the value is rebuilt from them
/// ([`Packed::bytes`]). A [`Tally`] counts such values without their text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Packed {
    lo: u64,
    hi: u64,
    len: u64,
}

impl Packed {
    /// The longest value packed, in bytes.
    pub const MAX: usize = 16;

    /// `value` packed; `None` when longer than [`Packed::MAX`].
    #[inline(always)]
    pub fn of(value: &[u8]) -> Option<Packed> {
        let b = value;
        let n = b.len();
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                b[at..at + 4].try_into().unwrap_or([0; 4]),
            ))
        };
        let (lo, hi) = match n {
            0 => (0, 0),
            1..=3 => (
                u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
                0,
            ),
            4..=7 => (half(0), half(n - 4)),
            8..=16 => (word(0), word(n - 8)),
            _ => return None,
        };
        Some(Packed {
            lo,
            hi,
            len: n as u64,
        })
    }

    /// The value's bytes (the first `.1` of `.0`), written back where
    /// [`Packed::of`] read them.
    fn bytes(self) -> ([u8; 16], usize) {
        let n = (self.len as usize).min(Packed::MAX);
        let mut b = [0u8; 16];
        match n {
            0 => {}
            1..=3 => {
                b[0] = self.lo as u8;
                b[n / 2] = (self.lo >> 8) as u8;
                b[n - 1] = (self.lo >> 16) as u8;
            }
            4..=7 => {
                b[..4].copy_from_slice(&(self.lo as u32).to_le_bytes());
                b[n - 4..n].copy_from_slice(&(self.hi as u32).to_le_bytes());
            }
            _ => {
                b[..8].copy_from_slice(&self.lo.to_le_bytes());
                b[n - 8..n].copy_from_slice(&self.hi.to_le_bytes());
            }
        }
        (b, n)
    }
}

/// A value as a normalizing thread gathers it for the in-order thread to count:
/// packed when it is short (its bytes are not copied), else its place in the
/// batch's text. An empty value is no value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gathered(Packed);

/// [`Gathered`]'s length for a value kept in the batch's text, at `lo..hi`.
const IN_TEXT: u64 = u64::MAX;

impl Gathered {
    /// `value` gathered: packed, or (cut to [`super::topk::MAX_VALUE`] bytes)
    /// appended to `text`.
    #[inline(always)]
    pub fn of(value: &str, text: &mut String) -> Gathered {
        match Packed::of(value.as_bytes()) {
            Some(p) => Gathered(p),
            None => Gathered::in_text(value, text),
        }
    }

    #[inline(never)]
    fn in_text(value: &str, text: &mut String) -> Gathered {
        let lo = text.len() as u64;
        text.push_str(cut(value));
        Gathered(Packed {
            lo,
            hi: text.len() as u64,
            len: IN_TEXT,
        })
    }
}

/// The hash of a packed value: one folded multiply (foldhash's mix).
#[inline(always)]
pub(super) fn mix(p: Packed) -> u64 {
    const K0: u64 = 0x243f_6a88_85a3_08d3;
    const K1: u64 = 0x1319_8a2e_0370_7344;
    let mixed = u128::from(p.lo ^ K0) * u128::from(p.hi ^ K1 ^ p.len);
    (mixed as u64) ^ (mixed >> 64) as u64
}

/// A packed value rebuilt, read as a `&str`.
#[derive(Debug, Clone, Copy)]
pub struct Short {
    bytes: [u8; 16],
    len: usize,
}

impl From<Packed> for Short {
    fn from(p: Packed) -> Short {
        let (bytes, len) = p.bytes();
        Short { bytes, len }
    }
}

impl std::ops::Deref for Short {
    type Target = str;

    fn deref(&self) -> &str {
        // The bytes of a `&str` it was packed from: UTF-8 (nothing else is
        // packed, see `Gathered::of` and `Tally::add`).
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// A value handed out by [`Tally::iter`]: rebuilt from its packed words, or in
/// the tally's text.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Short(Short),
    Long(&'a str),
}

impl std::ops::Deref for Value<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Value::Short(s) => s,
            Value::Long(s) => s,
        }
    }
}

/// A value longer than [`Packed::MAX`]: its hash, its place in the tally's
/// text, and its count.
#[derive(Debug, Clone, Copy)]
struct LongCount {
    hash: u64,
    start: u32,
    len: u32,
    count: u64,
}

/// A value of up to 16 bytes and its count, in three words (all zero: a free
/// slot of [`Tally`]'s table).
#[derive(Debug, Clone, Copy, Default)]
struct Counting {
    lo: u64,
    hi: u64,
    /// `count << LEN_BITS | len`: every value counted has a count of at least 1.
    meta: u64,
}

/// Bits of [`Counting::meta`] that hold the value's length (0 to 16).
const LEN_BITS: u32 = 5;
const LEN_MASK: u64 = (1 << LEN_BITS) - 1;

impl Counting {
    /// `key`, counted once.
    fn new(key: Packed) -> Counting {
        Counting {
            lo: key.lo,
            hi: key.hi,
            meta: 1 << LEN_BITS | key.len,
        }
    }

    fn key(&self) -> Packed {
        Packed {
            lo: self.lo,
            hi: self.hi,
            len: self.meta & LEN_MASK,
        }
    }

    fn count(&self) -> u64 {
        self.meta >> LEN_BITS
    }
}

/// Exact counts of a column's values since it last settled (at most
/// [`super::column::SETTLE`] distinct values and one more, each cut to
/// [`super::topk::MAX_VALUE`] bytes). Values of up to 16 bytes
/// (most UTM values and email domains) are counted in an open-addressing table
/// of their [`Packed`] words and counts, without their text; longer ones are
/// kept back to back in a text and found through [`Slots`].
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// The short values in order of first sight (their counts are in `table`).
    short: Vec<Packed>,
    /// Open addressing with linear probing: each short value with its count, or
    /// a free slot (a count of 0). A power of two long (or empty), at most half
    /// full and one more slot, so that a column's [`super::column::SETTLE`]
    /// values and the one that settles them fit in 8,192 slots (192 KiB). A hit
    /// reads one slot: 24 bytes, a thousand values in 48 KiB.
    table: Vec<Counting>,
    /// The longer values, back to back.
    text: String,
    entries: Vec<LongCount>,
    slots: Slots,
}

impl Tally {
    /// One more row with `value`; whether it is new.
    #[cfg(test)]
    pub fn add(&mut self, value: &str) -> bool {
        match Packed::of(value.as_bytes()) {
            Some(k) => self.add_short(k),
            None => {
                let value = cut(value);
                self.add_long(hash(value), value)
            }
        }
    }

    /// One more row with `value`, unless it is empty (an absent value).
    #[cfg(test)]
    pub fn add_present(&mut self, value: &str) {
        if !value.is_empty() {
            self.add(value);
        }
    }

    /// One more row with the value `g` gathered from a batch whose text is
    /// `text`; nothing for an empty value. Whether the value is new (not
    /// counted since the tally was last cleared).
    #[inline(always)]
    pub fn add_gathered(&mut self, g: Gathered, text: &str) -> bool {
        let key = g.0;
        if key.len == IN_TEXT {
            // A value is in the text it was gathered into: always found.
            let v = text.get(key.lo as usize..key.hi as usize);
            debug_assert!(v.is_some(), "a value gathered into another text");
            v.is_some_and(|v| self.add_long(hash(v), v))
        } else {
            key.len != 0 && self.add_short(key)
        }
    }

    /// Whether `key` is new.
    #[inline(always)]
    fn add_short(&mut self, key: Packed) -> bool {
        let mask = self.table.len().wrapping_sub(1);
        let mut i = mix(key) as usize & mask;
        // An empty table (`mask` all ones, nothing to read) takes the insert.
        while let Some(c) = self.table.get_mut(i) {
            if c.meta == 0 {
                if self.short.len() * 2 <= mask + 1 {
                    // The free slot the probe ended on.
                    *c = Counting::new(key);
                    self.short.push(key);
                    return true;
                }
                break;
            }
            if c.lo == key.lo && c.hi == key.hi && c.meta & LEN_MASK == key.len {
                c.meta += 1 << LEN_BITS;
                return false;
            }
            i = (i + 1) & mask;
        }
        self.grow_and_insert(key);
        true
    }

    /// A short value not in yet, in a table grown first to keep it at most
    /// half full (and one more slot).
    #[cold]
    fn grow_and_insert(&mut self, key: Packed) {
        self.short.push(key);
        let size = (self.short.len() * 2).next_power_of_two().max(64);
        let old = std::mem::replace(&mut self.table, vec![Counting::default(); size]);
        let new = std::iter::once(Counting::new(key));
        for c in old.into_iter().filter(|c| c.meta != 0).chain(new) {
            let slot = self.slot_of(c.key());
            self.table[slot] = c;
        }
    }

    /// Where `key` is in the table, or the free slot where it would go.
    fn slot_of(&self, key: Packed) -> usize {
        let mask = self.table.len() - 1;
        let mut i = mix(key) as usize & mask;
        while self.table[i].meta != 0 && self.table[i].key() != key {
            i = (i + 1) & mask;
        }
        i
    }

    /// Whether `value` is new.
    fn add_long(&mut self, hash: u64, value: &str) -> bool {
        let (text, entries) = (self.text.as_bytes(), &mut self.entries);
        let found = self.slots.find(hash, |i| {
            let e = &entries[i as usize];
            e.len as usize == value.len()
                && text.get(e.start as usize..(e.start + e.len) as usize) == Some(value.as_bytes())
        });
        if let Some(i) = found {
            entries[i as usize].count += 1;
            return false;
        }
        let index = self.entries.len() as u32;
        self.entries.push(LongCount {
            hash,
            start: self.text.len() as u32,
            len: value.len() as u32,
            count: 1,
        });
        self.text.push_str(value);
        self.slots.insert(hash, index);
        true
    }

    /// Empty, keeping the room (a column's tally counts again once settled).
    pub fn clear(&mut self) {
        if !self.short.is_empty() {
            self.table.fill(Counting::default());
            self.short.clear();
        }
        self.text.clear();
        self.entries.clear();
        self.slots.clear();
    }

    /// Distinct values.
    pub fn len(&self) -> usize {
        self.short.len() + self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(hash, value, count)` of each distinct value: the short ones in order
    /// of first sight, then the longer ones in order of first sight.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Value<'_>, u64)> {
        let short = self.short.iter().map(|&k| {
            let count = self.table[self.slot_of(k)].count();
            (mix(k), Value::Short(k.into()), count)
        });
        let long = self.entries.iter().map(|e| {
            let v = &self.text[e.start as usize..(e.start + e.len) as usize];
            (e.hash, Value::Long(v), e.count)
        });
        short.chain(long)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::column::SETTLE;

    #[test]
    fn the_values_that_settle_a_column_fit_in_a_table_of_twice_settle_slots() {
        let mut t = Tally::default();
        for i in 0..=SETTLE {
            assert!(t.add(&format!("v{i}")), "v{i} is new");
            assert!(!t.add(&format!("v{i}")), "v{i} is counted again");
        }
        assert_eq!(t.len(), SETTLE + 1);
        assert_eq!(t.table.len(), 2 * SETTLE, "half full and one more slot");
        // Every count kept through the growths, in order of first sight.
        let counts: Vec<(String, u64)> = t.iter().map(|(_, v, n)| (v.to_string(), n)).collect();
        let expected: Vec<(String, u64)> = (0..=SETTLE).map(|i| (format!("v{i}"), 2)).collect();
        assert_eq!(counts, expected);
        // Cleared, it keeps its room and counts afresh.
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.table.len(), 2 * SETTLE);
        assert!(t.add("v1") && !t.add("v1"));
        assert_eq!(t.iter().map(|(_, _, n)| n).collect::<Vec<_>>(), [2]);
    }
}
