//! Hot paths: time parsing, normalizing one row, profiling one lead (on a
//! normalizing thread) and merging a batch's profile (on the in-order thread).
//! `cargo bench --bench normalize`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use setclick::normalize::time::TimeRules;
use setclick::normalize::{NormalizeOptions, Normalizer, Outcome};
use setclick::profile::{BatchProfile, Profiler};
use setclick::source::{Cell, Row};

fn rules() -> TimeRules {
    TimeRules {
        zone: Some(jiff::tz::TimeZone::get("Europe/Madrid").unwrap()),
        ..TimeRules::default()
    }
}

fn time(c: &mut Criterion) {
    let r = rules();
    for (name, s) in [
        ("naive iso", "2024-07-01 10:31:28"),
        ("rfc3339", "2024-07-01T10:31:28.123+02:00"),
        ("epoch ms", "1719822688123"),
    ] {
        c.bench_function(&format!("time/{name}"), |b| {
            b.iter(|| {
                let w = r.parse_text(black_box(s)).unwrap();
                r.resolve(w, String::new).unwrap()
            })
        });
    }
}

fn normalizer() -> Normalizer {
    let header: Vec<String> = [
        "click_time",
        "email",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "current_url",
        "referrer",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let opts = NormalizeOptions {
        rules: rules(),
        max_ms: i64::MAX,
        ..NormalizeOptions::default()
    };
    Normalizer::new(&header, &opts).unwrap()
}

/// A row like the e2e bench's: 6 sources, 4 mediums, 50 campaigns, 1,000 email
/// domains, times over a year.
fn cells(i: u64) -> Vec<Cell> {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
    [
        format!(
            "2024-{:02}-{:02} {:02}:{:02}:{:02}",
            1 + x % 12,
            1 + x / 12 % 28,
            x / 7 % 24,
            x / 11 % 60,
            x / 13 % 60
        ),
        format!("customer.{i}@example-{}.com", x / 17 % 1000),
        [
            "google",
            "facebook",
            "newsletter",
            "bing",
            "tiktok",
            "linkedin",
        ][(x / 19 % 6) as usize]
            .to_string(),
        ["cpc", "email", "social", "display"][(x / 23 % 4) as usize].to_string(),
        format!("campaign-{}", x / 29 % 50),
        format!(
            "https://shop.example.com/product/{}?utm_content=banner-{}&page=2",
            x % 100_000,
            x / 31 % 20
        ),
        "https://www.google.com/".to_string(),
    ]
    .into_iter()
    .map(|s| Cell::Text(s.into()))
    .collect()
}

fn row(c: &mut Criterion) {
    let n = normalizer();
    let cells = cells(123);
    c.bench_function("normalize/row", |b| {
        b.iter(|| {
            let r = Row {
                ordinal: 1,
                pos: 2,
                cells: cells.clone(),
                defect: None,
            };
            n.normalize(black_box(r))
        })
    });
}

/// The profile's cost per lead: on a normalizing thread (`profile/row+lead`
/// against `profile/row`: values gathered as normalize writes the JSON, then the
/// click; `profile/lead`: the click alone) and on the in-order thread
/// (`profile/count`, a batch of 1,024 leads' clicks and values counted).
fn profile(c: &mut Criterion) {
    let n = normalizer();
    let leads: Vec<_> = (0..8192)
        .filter_map(|i| match n.normalize(row_of(i)) {
            Outcome::Valid(l) => Some(l),
            Outcome::Rejected(_) => None,
        })
        .collect();
    assert_eq!(leads.len(), 8192);
    // What a normalizing thread does per row, with and without the profile: the
    // difference is the profile's cost with the lead fresh in the cache.
    let rows: Vec<Vec<Cell>> = (0..1024).map(cells).collect();
    for with_profile in [false, true] {
        let name = if with_profile {
            "profile/row+lead"
        } else {
            "profile/row"
        };
        c.bench_function(name, |b| {
            let mut batch = BatchProfile::default();
            let mut i = 0;
            b.iter(|| {
                let r = Row {
                    ordinal: 1,
                    pos: 2,
                    cells: rows[i % rows.len()].clone(),
                    defect: None,
                };
                let o = if with_profile {
                    let o = n.normalize_counted(black_box(r), &mut batch);
                    if let Outcome::Valid(lead) = &o {
                        batch.add(lead);
                    }
                    o
                } else {
                    n.normalize(black_box(r))
                };
                i += 1;
                if i % 1024 == 0 {
                    batch.clear();
                }
                o
            })
        });
    }
    c.bench_function("profile/lead", |b| {
        let mut batch = BatchProfile::default();
        let mut i = 0;
        b.iter(|| {
            batch.add(black_box(&leads[i % leads.len()]));
            i += 1;
            if i % 1024 == 0 {
                batch.clear();
            }
        })
    });
    let batches: Vec<BatchProfile> = (0..8192)
        .collect::<Vec<u64>>()
        .chunks(1024)
        .map(|chunk| {
            let mut b = BatchProfile::default();
            for &i in chunk {
                if let Outcome::Valid(l) = n.normalize_counted(row_of(i), &mut b) {
                    b.add(&l);
                }
            }
            b
        })
        .collect();
    let mut group = c.benchmark_group("profile");
    group.throughput(criterion::Throughput::Elements(1024));
    group.bench_function("count", |b| {
        let mut p = Profiler::new(rules().zone.as_ref());
        let mut i = 0;
        b.iter(|| {
            p.add_batch(black_box(&batches[i % batches.len()]));
            i += 1;
        })
    });
    group.finish();
}

/// Row `i` of the generated data.
fn row_of(i: u64) -> Row {
    Row {
        ordinal: i,
        pos: i,
        cells: cells(i),
        defect: None,
    }
}

criterion_group!(benches, time, row, profile);
criterion_main!(benches);
