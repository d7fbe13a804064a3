//! The set of lead fingerprints seen in a run, in bounded memory.
//!
//! Recent fingerprints live in a hash table of fixed capacity, in eight shards by
//! their top bits. When a shard is full, all are sorted and written, shard after
//! shard, to a temporary file as a run, with every 256th key kept in memory
//! (fences) and every key added to a Bloom filter of fixed size. A new fingerprint
//! is looked up in the table, then, only if the filter says it may have been
//! spilled, in the runs: one 4 KB read per run. More than `max_runs` runs are
//! merged into one. Memory is the same whatever the number of leads past the first
//! spill (the filter only grows less selective past ~11 million spilled leads,
//! which costs reads, never a wrong answer).

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Fingerprints are already uniform hashes: the table uses their low bits as they are.
#[derive(Default, Clone, Copy)]
pub struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type Table = HashSet<u128, std::hash::BuildHasherDefault<Prehashed>>;

/// Sizes of the parts; [`Limits::DEFAULT`] in use, small ones in tests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fingerprints kept in each of the table's shards before a spill (7/8 of a
    /// power of two fills a shard's allocation exactly).
    pub shard: usize,
    /// Runs on disk before they are merged into one.
    pub max_runs: usize,
    /// Bloom filter size, in 64-byte blocks, allocated at the first spill.
    pub bloom_blocks: usize,
}

impl Limits {
    /// About 8.5 MiB of table and, once it has spilled, 16 MiB of filter: 12 bits
    /// for each of 11 million leads, under 1% false positives. A filter sized for
    /// the leads spilled so far, grown as they were, took less memory at a million
    /// leads (4 MiB) but did not stay the same at ten million.
    pub const DEFAULT: Limits = Limits {
        shard: (1 << 16) / 8 * 7,
        max_runs: 8,
        bloom_blocks: 1 << 18,
    };
}

/// The table's shards, by the fingerprints' top three bits: a spill sorts one
/// shard's keys at a time, holding an eighth of them twice, not all (a spill's
/// 7 MiB copy of the whole table had been the run's peak of memory).
const SHARDS: usize = 8;
const SHARD_SHIFT: u32 = 125;

fn shard(fp: u128) -> usize {
    (fp >> SHARD_SHIFT) as usize
}

/// Keys per fence: one 4 KB read per run per lookup.
const FENCE: usize = 256;
const KEY: usize = 16;

pub struct SeenSet {
    limits: Limits,
    /// `SHARDS` tables, in the order of their keys.
    table: Vec<Table>,
    spill: Option<Spill>,
    /// Spilling failed (no temporary space): the table grows instead.
    unbounded: bool,
}

struct Spill {
    file: File,
    runs: Vec<Run>,
    bloom: Bloom,
}

struct Run {
    /// Offset in keys.
    start: u64,
    len: u64,
    /// The first key of each block of `FENCE` keys.
    fences: Vec<u128>,
}

impl SeenSet {
    pub fn new(limits: Limits) -> SeenSet {
        SeenSet {
            limits,
            table: (0..SHARDS)
                .map(|_| Table::with_capacity_and_hasher(limits.shard, Default::default()))
                .collect(),
            spill: None,
            unbounded: false,
        }
    }

    /// Look the fingerprints up without keeping the answers, so that the memory
    /// their look-ups and inserts will touch is in the cache: done for a batch in a
    /// tight loop, the cache misses overlap, where one insert at a time, amid other
    /// work, waits for each. Returns how many were found (so that the loop is not
    /// optimized away).
    pub fn warm(&self, fps: impl Iterator<Item = u128> + Clone) -> usize {
        let mut found = 0;
        for fp in fps.clone() {
            found += usize::from(self.table[shard(fp)].contains(&fp));
        }
        if let Some(s) = &self.spill {
            for fp in fps {
                found += usize::from(s.may_contain(fp));
            }
        }
        std::hint::black_box(found)
    }

    /// True the first time a fingerprint is seen.
    pub fn insert(&mut self, fp: u128) -> bool {
        let table = shard(fp);
        if self.table[table].contains(&fp) {
            return false;
        }
        if let Some(s) = &self.spill
            && s.may_contain(fp)
        {
            match s.contains(fp) {
                Ok(true) => return false,
                Ok(false) => {}
                // Not knowing, the lead is kept rather than lost.
                Err(e) => tracing::warn!("duplicate check: cannot read its spill file: {e}"),
            }
        }
        self.table[table].insert(fp);
        if self.table[table].len() >= self.limits.shard.max(1)
            && !self.unbounded
            && let Err(e) = self.spill_table()
        {
            tracing::warn!(
                "duplicate check: cannot spill to a temporary file ({e}); keeping every \
                 fingerprint in memory"
            );
            self.unbounded = true;
        }
        true
    }

    fn spill_table(&mut self) -> io::Result<()> {
        if self.spill.is_none() {
            self.spill = Some(Spill {
                file: tempfile::tempfile()?,
                runs: Vec::new(),
                bloom: Bloom::new(self.limits.bloom_blocks.max(1)),
            });
        }
        let Some(spill) = self.spill.as_mut() else {
            return Ok(());
        };
        // The shards are cleared only once the whole run is written, so that an
        // error loses nothing.
        let mut run = Run {
            start: spill.end(),
            len: 0,
            fences: Vec::new(),
        };
        let mut keys = Vec::with_capacity(self.limits.shard);
        for table in &self.table {
            keys.clear();
            keys.extend(table.iter().copied());
            keys.sort_unstable();
            spill.write_sorted(&mut run, &keys)?;
            for &k in &keys {
                spill.bloom.add(k);
            }
        }
        spill.runs.push(run);
        self.table.iter_mut().for_each(Table::clear);
        if spill.runs.len() > self.limits.max_runs {
            spill.merge()?;
        }
        Ok(())
    }
}

/// A blocked Bloom filter: each key sets six bits in one 64-byte block.
struct Bloom(Vec<u64>);

impl Bloom {
    fn new(blocks: usize) -> Bloom {
        Bloom(vec![0; blocks * 8])
    }

    fn blocks(&self) -> usize {
        self.0.len() / 8
    }

    /// Block and bit positions: the high 64 bits choose a 512-bit block, six 9-bit
    /// slices of the low 64 the bits in it, so the two are independent.
    fn bits(&self, fp: u128) -> (usize, [u16; 6]) {
        let (high, low) = ((fp >> 64) as u64, fp as u64);
        let block = ((u128::from(high) * self.blocks() as u128) >> 64) as usize;
        let mut bits = [0u16; 6];
        for (i, b) in bits.iter_mut().enumerate() {
            *b = ((low >> (i * 9)) & 511) as u16;
        }
        (block, bits)
    }

    fn add(&mut self, fp: u128) {
        let (block, bits) = self.bits(fp);
        for b in bits {
            self.0[block * 8 + usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    fn may_contain(&self, fp: u128) -> bool {
        let (block, bits) = self.bits(fp);
        bits.iter()
            .all(|&b| self.0[block * 8 + usize::from(b >> 6)] & (1 << (b & 63)) != 0)
    }
}

impl Spill {
    fn may_contain(&self, fp: u128) -> bool {
        self.bloom.may_contain(fp)
    }

    fn end(&self) -> u64 {
        self.runs.last().map_or(0, |r| r.start + r.len)
    }

    /// Write sorted keys, all larger than its last, at the end of `run`.
    fn write_sorted(&self, run: &mut Run, keys: &[u128]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(4096 * KEY);
        for chunk in keys.chunks(4096) {
            buf.clear();
            for (i, k) in chunk.iter().enumerate() {
                buf.extend_from_slice(&k.to_le_bytes());
                if (run.len + i as u64).is_multiple_of(FENCE as u64) {
                    run.fences.push(*k);
                }
            }
            write_at(&self.file, &buf, (run.start + run.len) * KEY as u64)?;
            run.len += chunk.len() as u64;
        }
        Ok(())
    }

    fn contains(&self, fp: u128) -> io::Result<bool> {
        let mut block = [0u8; FENCE * KEY];
        for run in &self.runs {
            // The block whose first key is the last one <= fp.
            let i = match run.fences.partition_point(|&f| f <= fp) {
                0 => continue,
                n => n - 1,
            };
            let first = i as u64 * FENCE as u64;
            let n = (run.len - first).min(FENCE as u64) as usize;
            let bytes = &mut block[..n * KEY];
            read_at(&self.file, bytes, (run.start + first) * KEY as u64)?;
            let (mut lo, mut hi) = (0, n);
            while lo < hi {
                let mid = (lo + hi) / 2;
                match key_at(bytes, mid).cmp(&fp) {
                    std::cmp::Ordering::Equal => return Ok(true),
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                }
            }
        }
        Ok(false)
    }

    /// Merge every run into one, in a new file.
    fn merge(&mut self) -> io::Result<()> {
        let file = tempfile::tempfile()?;
        let total: u64 = self.runs.iter().map(|r| r.len).sum();
        let mut readers: Vec<RunReader> = self
            .runs
            .iter()
            .map(|r| RunReader::new(&self.file, r))
            .collect();
        // Each run's smallest unmerged key, in a heap: a scan of every run's head
        // for each key took 0.75 s of the 10M-row run's two merges.
        let mut heads = BinaryHeap::with_capacity(readers.len());
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(k) = r.next()? {
                heads.push(Reverse((k, i)));
            }
        }
        let mut out = BufWriter::with_capacity(1 << 16, &file);
        let mut fences = Vec::with_capacity(total as usize / FENCE + 1);
        let mut written = 0usize;
        while let Some(mut head) = heads.peek_mut() {
            let Reverse((k, i)) = *head;
            if written.is_multiple_of(FENCE) {
                fences.push(k);
            }
            out.write_all(&k.to_le_bytes())?;
            written += 1;
            match readers[i].next()? {
                Some(next) => *head = Reverse((next, i)),
                None => {
                    PeekMut::pop(head);
                }
            }
        }
        out.flush()?;
        drop(out);
        self.file = file;
        self.runs = vec![Run {
            start: 0,
            len: written as u64,
            fences,
        }];
        Ok(())
    }
}

/// The `i`th little-endian key in `bytes`.
fn key_at(bytes: &[u8], i: usize) -> u128 {
    let mut k = [0u8; KEY];
    k.copy_from_slice(&bytes[i * KEY..(i + 1) * KEY]);
    u128::from_le_bytes(k)
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
}

#[cfg(windows)]
fn read_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn write_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_write(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

/// Reads one run in order, 64 KB at a time.
struct RunReader<'a> {
    file: &'a File,
    next: u64,
    end: u64,
    buf: Vec<u128>,
    at: usize,
}

impl<'a> RunReader<'a> {
    fn new(file: &'a File, run: &Run) -> RunReader<'a> {
        RunReader {
            file,
            next: run.start,
            end: run.start + run.len,
            buf: Vec::new(),
            at: 0,
        }
    }

    fn next(&mut self) -> io::Result<Option<u128>> {
        if self.at == self.buf.len() {
            let n = (self.end - self.next).min(4096) as usize;
            if n == 0 {
                return Ok(None);
            }
            let mut bytes = vec![0u8; n * KEY];
            read_at(self.file, &mut bytes, self.next * KEY as u64)?;
            self.buf = (0..n).map(|i| key_at(&bytes, i)).collect();
            self.next += n as u64;
            self.at = 0;
        }
        let k = self.buf[self.at];
        self.at += 1;
        Ok(Some(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        shard: 1,
        max_runs: 3,
        bloom_blocks: 4,
    };

    proptest::proptest! {
        #[test]
        fn answers_like_a_plain_set(keys in proptest::collection::vec(0u128..300, 0..600), spread in 0u32..4) {
            // Small keys collide in the filter (spread 0) or spread over the whole
            // 128 bits like real fingerprints.
            let mut set = SeenSet::new(SMALL);
            let mut model = std::collections::HashSet::new();
            for k in keys {
                let k = k.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835u128.wrapping_pow(spread));
                proptest::prop_assert_eq!(set.insert(k), model.insert(k), "key {}", k);
            }
        }
    }

    #[test]
    fn a_million_fingerprints_in_a_fixed_table() {
        let limits = Limits {
            shard: 1 << 11,
            max_runs: 4,
            bloom_blocks: 1 << 12,
        };
        let mut set = SeenSet::new(limits);
        let fp = |i: u64| xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes());
        // Warming looks up without inserting.
        let first: Vec<u128> = (0..100).map(fp).collect();
        assert_eq!(set.warm(first.iter().copied()), 0);
        assert!(set.table.iter().all(Table::is_empty));
        for i in 0..200_000 {
            assert!(set.insert(fp(i)), "{i} is new");
        }
        assert!(set.table.iter().all(|t| t.capacity() < 1 << 12));
        let spill = set.spill.as_ref().unwrap();
        assert!(spill.runs.len() <= limits.max_runs + 1);
        for i in (0..200_000).step_by(997) {
            assert!(!set.insert(fp(i)), "{i} was seen");
        }
        assert!(set.insert(fp(1 << 40)));
        // The latest keys are in the table; the first ones were spilled, so the
        // filter says they may be there.
        let latest: Vec<u128> = (199_990..200_000).map(fp).collect();
        assert!(set.warm(latest.iter().copied()) >= 10);
        assert!(set.warm(first.iter().copied()) >= 100);
    }
}
