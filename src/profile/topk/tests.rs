//! Tests of the exact counts, the hash slots and the Space-Saving bound.

use std::collections::HashMap;

use super::*;
use crate::profile::tally::Tally;

/// A stream with a few heavy values and a long tail, and its true counts.
pub(crate) fn skewed(n: usize, distinct: u64, seed: u64) -> (Vec<String>, HashMap<String, u64>) {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut stream = Vec::with_capacity(n);
    let mut truth = HashMap::new();
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (x >> 33) % 1000;
        // Half the rows among 5 values, the rest spread over `distinct`.
        let v = if r < 500 {
            format!("heavy-{}", r % 5)
        } else {
            format!("tail-{}", (x >> 13) % distinct)
        };
        *truth.entry(v.clone()).or_default() += 1;
        stream.push(v);
    }
    (stream, truth)
}

fn summary(stream: &[String], capacity: usize) -> TopK {
    let mut t = TopK::new(capacity);
    for v in stream {
        t.add(hash(v), v, 1);
    }
    t
}

/// Space-Saving's guarantees against the truth: every count within `error` above
/// the true count, every error at most N/m, every value seen more than N/m times
/// counted; unless merged, the counts add up to N.
pub(crate) fn check_bound(t: &TopK, truth: &HashMap<String, u64>, merged: bool) {
    let n: u64 = truth.values().sum();
    let bound = n / t.capacity as u64;
    let all = t.top(usize::MAX);
    for f in &all {
        let real = truth.get(&f.value).copied().unwrap_or(0);
        assert!(real <= f.count, "{f:?} real {real}");
        assert!(f.count <= real + f.error, "{f:?} real {real}");
        assert!(f.error <= bound, "{f:?} bound {bound}");
    }
    for (v, c) in truth {
        if *c > bound {
            assert!(all.iter().any(|f| &f.value == v), "{v} ({c}) lost");
        }
    }
    if !merged {
        assert_eq!(all.iter().map(|f| f.count).sum::<u64>(), n, "counts add up");
    }
}

/// A tally's counts by value, each hash checked to be its value's own.
fn counts(t: &Tally) -> HashMap<String, u64> {
    t.iter()
        .map(|(h, v, n)| {
            assert_eq!(h, hash(&v), "{}", &*v);
            (v.to_string(), n)
        })
        .collect()
}

#[test]
fn a_tally_counts_a_batch_exactly() {
    let mut t = Tally::default();
    for i in 0..3000 {
        t.add(&format!("v{}", i % 700));
    }
    t.add("v3");
    let counts = counts(&t);
    assert_eq!(counts.len(), 700);
    assert_eq!(counts["v0"], 5);
    assert_eq!(counts["v3"], 6);
    assert_eq!(counts["v699"], 4);
    // Hashes are the values' own.
    assert!(t.iter().all(|(h, v, _)| h == hash(&v)));
}

#[test]
fn values_of_every_length_that_differ_in_one_byte_are_told_apart() {
    // The short-value hash reads overlapping words: every byte position of
    // every length up to past its 16-byte limit must still tell values apart.
    let mut t = Tally::default();
    let mut truth = HashMap::new();
    for len in 0..=40usize {
        for at in 0..len.max(1) {
            for b in [b'a', b'b'] {
                let mut v = vec![b'x'; len];
                if len > 0 {
                    v[at] = b;
                }
                let v = String::from_utf8(v).unwrap();
                t.add(&v);
                *truth.entry(v).or_insert(0u64) += 1;
            }
        }
    }
    assert_eq!(counts(&t), truth);
}

#[test]
fn a_tally_counts_past_several_growths_and_a_cleared_one_counts_again() {
    // Short and long values, past several growths of the table.
    let value = |i: u64| match i % 3 {
        0 => format!("v{i}"),
        1 => format!("domain-{i}.example"),
        _ => format!("a-campaign-name-longer-than-sixteen-{i}"),
    };
    let mut a = Tally::default();
    let mut truth: HashMap<String, u64> = HashMap::new();
    for i in 0..5000u64 {
        let v = if i % 2 == 0 {
            value(i % 1500)
        } else {
            value(i % 900)
        };
        a.add(&v);
        *truth.entry(v).or_default() += 1;
    }
    assert_eq!(counts(&a), truth);
    assert_eq!(a.len(), truth.len());
    // Cleared, the same tally counts from nothing.
    a.clear();
    assert!(a.is_empty());
    a.add("x");
    a.add("x");
    let again: Vec<(String, u64)> = a.iter().map(|(_, v, n)| (v.to_string(), n)).collect();
    assert_eq!(again, [("x".to_string(), 2)]);
}

#[test]
fn long_values_are_cut_at_a_character_boundary() {
    let long = "é".repeat(150); // 300 bytes
    assert_eq!(cut(&long).len(), MAX_VALUE);
    let odd = format!("x{long}"); // boundary at 201
    assert_eq!(cut(&odd).len(), MAX_VALUE - 1);
    let mut t = Tally::default();
    t.add(&long);
    t.add(&format!("{long}tail"));
    let v: Vec<(u64, String, u64)> = t.iter().map(|(h, v, n)| (h, v.to_string(), n)).collect();
    assert_eq!(v.len(), 1, "counted under the same first 200 bytes");
    assert_eq!(v[0].2, 2);
}

proptest::proptest! {
    /// Inserting and removing keeps every present key findable and no removed one.
    #[test]
    fn slots_find_what_is_in_after_removals(
        ops in proptest::collection::vec((0u32..64, proptest::bool::ANY), 1..400),
    ) {
        // Hashes with many collisions on few home slots.
        let hash_of = |i: u32| u64::from(i % 7) * 0x9E37_79B9;
        let mut slots = Slots::default();
        let mut model = std::collections::BTreeSet::new();
        for (key, insert) in ops {
            if insert && !model.contains(&key) {
                slots.insert(hash_of(key), key);
                model.insert(key);
            } else if !insert && model.contains(&key) {
                slots.remove(hash_of(key), key);
                model.remove(&key);
            }
            for k in 0..64u32 {
                let found = slots.find(hash_of(k), |i| i == k).is_some();
                proptest::prop_assert_eq!(found, model.contains(&k), "key {}", k);
            }
            proptest::prop_assert_eq!(slots.len, model.len());
        }
    }
}

#[test]
fn with_room_for_every_value_the_counts_are_exact() {
    let (stream, truth) = skewed(20_000, 100, 1);
    let t = summary(&stream, 1024);
    assert_eq!(t.floor(), 0);
    let all = t.top(usize::MAX);
    assert_eq!(all.len(), truth.len());
    for f in &all {
        assert_eq!((f.count, f.error), (truth[&f.value], 0), "{}", f.value);
    }
    // Largest first, ties by value.
    let top = t.top(3);
    assert!(top[0].count >= top[1].count && top[1].count >= top[2].count);
}

#[test]
fn over_capacity_the_error_stays_within_n_over_m() {
    for seed in 0..5 {
        let (stream, truth) = skewed(50_000, 5_000, seed);
        let t = summary(&stream, 64);
        assert!(t.floor() > 0, "full");
        check_bound(&t, &truth, false);
        // The heavy values are on top.
        let top: Vec<String> = t.top(5).into_iter().map(|f| f.value).collect();
        for h in 0..5 {
            assert!(top.contains(&format!("heavy-{h}")), "{top:?}");
        }
    }
}

#[test]
fn batches_added_with_weights_keep_the_bound() {
    let (stream, truth) = skewed(40_000, 3_000, 9);
    let mut t = TopK::new(50);
    for batch in stream.chunks(1024) {
        let mut tally = Tally::default();
        for v in batch {
            tally.add(v);
        }
        for (h, v, c) in tally.iter() {
            t.add(h, &v, c);
        }
    }
    check_bound(&t, &truth, false);
}

#[test]
fn merged_summaries_keep_the_bound_of_the_whole_stream() {
    let (a, mut truth) = skewed(30_000, 4_000, 3);
    let (b, tb) = skewed(20_000, 4_000, 4);
    for (k, v) in tb {
        *truth.entry(k).or_default() += v;
    }
    let mut left = summary(&a, 80);
    left.merge(&summary(&b, 80));
    check_bound(&left, &truth, true);
    // Merging into an empty summary gives the other back.
    let mut empty = TopK::new(80);
    let right = summary(&b, 80);
    empty.merge(&right);
    assert_eq!(empty.top(usize::MAX), right.top(usize::MAX));
    // And adding after a merge still works (the heap was rebuilt).
    empty.add(hash("new"), "new", 1_000_000);
    assert_eq!(empty.top(1)[0].value, "new");
}

#[test]
fn gathered_values_count_as_the_values_themselves() {
    use crate::profile::tally::Gathered;
    // Empty, short, long and over the cut, some non-ASCII; gathered in batches
    // whose text is reused, as the pipeline does.
    let long = format!("{}é", "c".repeat(MAX_VALUE - 1));
    let mut values: Vec<String> = (0..40u64)
        .map(|i| match i % 8 {
            0 => String::new(),
            1 => "a".repeat((i % 17) as usize + 1),
            2 => format!("ñ{i}"),
            3 => format!("domain-{}.example", i % 5),
            4 => format!("a-campaign-name-longer-than-sixteen-{}", i % 3),
            5 => long.clone(),
            6 => "x".repeat(MAX_VALUE + 50),
            _ => "google".into(),
        })
        .collect();
    // Every length from 0 to 20 bytes (every packed length and past it), in
    // one-byte and two-byte characters, twice.
    for n in 0..=20 {
        for _ in 0..2 {
            values.push("b".repeat(n));
            values.push(format!("{}{}", "é".repeat(n / 2), "b".repeat(n % 2)));
        }
    }
    let (mut gathered, mut direct) = (Tally::default(), Tally::default());
    let mut text = String::new();
    let mut new = 0;
    for batch in values.chunks(7) {
        text.clear();
        let keys: Vec<Gathered> = batch.iter().map(|v| Gathered::of(v, &mut text)).collect();
        new += keys
            .iter()
            .filter(|k| gathered.add_gathered(**k, &text))
            .count();
        batch.iter().for_each(|v| direct.add_present(v));
    }
    assert_eq!(counts(&gathered), counts(&direct));
    assert_eq!(new, gathered.len(), "a value is new once: its first sight");
    assert!(
        !counts(&gathered).contains_key(""),
        "an empty value is none"
    );
    assert_eq!(
        counts(&gathered)[cut(&long)],
        5,
        "cut at a character boundary"
    );
}
